import { TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { InvalidEventError } from '../lambdas/core/errors.js';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { emergencyDriver, guardDutyEvent, healthEvent, leakEvent } from './support/emergency.js';
import { captureEvents } from '../bin/local/events.js';
import { smClient } from '../bin/local/harness.js';
import { createRotationFunction } from '../bin/local/moto.js';
import { adminClient, pgLogin, testPassword, uniqueName, type PostgresCluster } from '../bin/local/postgres.js';
import { startRefusingProxy, type RefusingProxy } from '../bin/local/refusingProxy.js';
import { useRotationSuite } from './support/rotationSuite.js';
import { fakeAccessKeyId } from '../bin/local/awsAdmin.js';

/**
 * Malformed input events of the emergency handler: each is refused with an InvalidEventError that
 * names the problem by its field path and never echoes a value, before the handler makes a single
 * Secrets Manager call (counted by a stand-in in front of moto), so nothing is rotated or revoked.
 */
const cluster = inject('postgres') as unknown as PostgresCluster;
const suite = useRotationSuite();
let admin: pg.Client;
let proxy: RefusingProxy;
const emergency = emergencyDriver(() => ({
  endpoint: suite.moto.endpoint,
  player: suite.player,
  logs: suite.logs,
  overrides: { sm: smClient(proxy.endpoint) },
}));

beforeAll(async () => {
  admin = await adminClient(cluster);
});
afterAll(async () => {
  await admin?.end();
});
beforeEach(async () => {
  proxy = await startRefusingProxy(suite.moto.endpoint);
});
afterEach(async () => {
  await proxy?.close();
});

/** A Rotor-managed single-user PostgreSQL secret after one rotation (rotation configured, as deployed). */
async function arrange() {
  await createRotationFunction(suite.moto.endpoint);
  const username = uniqueName('evt');
  const password = testPassword();
  await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
  const arn = await suite.secret(uniqueName('evt'), { engine: 'postgres', host: cluster.host, port: cluster.port, username, password });
  await suite.player.client.send(
    new TagResourceCommand({ SecretId: arn, Tags: [{ Key: 'rotor:kind', Value: 'postgres' }, { Key: 'rotor:strategy', Value: 'single-user' }] }),
  );
  const rotation = suite.handler(postgresKind, { ROTATION_STRATEGY: 'single-user' });
  await suite.player.rotate(rotation, arn);
  const current = await suite.player.value<{ username: string; password: string }>(arn);
  return { arn, rotation, current };
}

/** A value planted in the malformed field: the error must not echo it. */
const PLANTED = 'Planted0Value9Kx';

type Case = readonly [name: string, event: (arn: string, planted: string) => unknown, message: RegExp];

const cases: readonly Case[] = [
  ['a null event', () => null, /^event: must be an object, got null/],
  ['a number', () => 42, /^event: must be an object, got a number/],
  ['a string', (_, p) => p, /^event: must be an object, got a string/],
  ['an array', (arn) => [leakEvent({ secretId: arn })], /^event: must be an object, got an array/],
  ['no source nor detail-type', () => ({ id: 'e1', detail: {} }), /field 'source' is missing; field 'detail-type' is missing/],
  ['a non-string source', (arn) => ({ ...leakEvent({ secretId: arn }), source: 7 }), /field 'source' must be a string, got a number/],
  ['an id that is an object', (arn) => ({ ...leakEvent({ secretId: arn }), id: { p: PLANTED } }), /field 'id' must be a string, got an object/],
  ['an unsupported source', (_, p) => ({ source: p, 'detail-type': p, detail: {} }), /^unsupported event: fields 'source' and 'detail-type'/],
  ['a leak event without detail', (arn) => ({ ...leakEvent({ secretId: arn }), detail: undefined }), /^leak event: field 'detail' is missing/],
  ['a leak event whose detail is null', (arn) => ({ ...leakEvent({ secretId: arn }), detail: null }), /^leak event: field 'detail' must be an object, got null/],
  ['a leak event whose detail is a string', (_, p) => leakEvent(p as never), /^leak event: field 'detail' must be an object, got a string/],
  ['secretId a number', () => leakEvent({ secretId: 12345678901234 }), /field 'detail.secretId' must be a string, got a number/],
  ['secretId empty', () => leakEvent({ secretId: '' }), /field 'detail.secretId' is empty/],
  ['fingerprint not a string', (arn) => leakEvent({ secretId: arn, fingerprint: ['x'] }), /field 'detail.fingerprint' must be a string, got an array/],
  ['fingerprint not hex', (_, p) => leakEvent({ fingerprint: p }), /field 'detail.fingerprint' must be 32 lowercase hex digits/],
  ['accessKeyId not a key id', (_, p) => leakEvent({ accessKeyId: `${p}!` }), /field 'detail.accessKeyId' must be an access key id/],
  ['none of secretId, accessKeyId, fingerprint', (_, p) => leakEvent({ reason: p }), /field 'detail' names none of secretId, accessKeyId, fingerprint/],
  [
    'secretId and accessKeyId at once',
    (arn) => leakEvent({ secretId: arn, accessKeyId: fakeAccessKeyId() }),
    /field 'detail' names secretId and accessKeyId, which is ambiguous: name exactly one of secretId, accessKeyId, fingerprint/,
  ],
  ['an oversized reason', (arn, p) => leakEvent({ secretId: arn, reason: p.repeat(100) }), /field 'detail.reason' is longer than 1024 characters/],
  ['reason not a string', (arn) => leakEvent({ secretId: arn, reason: 42 }), /field 'detail.reason' must be a string, got a number/],
  ['reporter not a string', (arn) => leakEvent({ secretId: arn, reporter: {} }), /field 'detail.reporter' must be a string, got an object/],
  [
    'a Health event with affectedEntities [null, 42, {}]',
    () => ({ ...healthEvent([]), detail: { ...healthEvent([]).detail, affectedEntities: [null, 42, {}] } }),
    /^health event: field 'detail.affectedEntities\[0\]' must be an object, got null; field 'detail.affectedEntities\[1\]' must be an object, got a number; field 'detail.affectedEntities\[2\].entityValue' is missing/,
  ],
  [
    'a Health event naming a real key beside a malformed entry',
    () => ({ ...healthEvent([]), detail: { ...healthEvent([]).detail, affectedEntities: [{ entityValue: fakeAccessKeyId() }, { entityValue: 9 }] } }),
    /field 'detail.affectedEntities\[1\].entityValue' must be a string, got a number/,
  ],
  ['a Health event without affectedEntities', () => ({ ...healthEvent([]), detail: { eventTypeCode: 'AWS_RISK_CREDENTIALS_EXPOSED' } }), /field 'detail.affectedEntities' is missing/],
  ['a Health event with no entity', () => healthEvent([]), /field 'detail.affectedEntities' must be a non-empty array, got an empty array/],
  ['a Health event of another type', (_, p) => ({ ...healthEvent([fakeAccessKeyId()]), detail: { eventTypeCode: p } }), /field 'detail.eventTypeCode' is not a credential exposure/],
  ['a Health event with a null detail', () => ({ ...healthEvent([]), detail: null }), /^health event: field 'detail' must be an object, got null/],
  ['a GuardDuty finding with no detail', () => ({ ...guardDutyEvent(fakeAccessKeyId(), 'u'), detail: undefined }), /^guardduty finding: field 'detail' is missing/],
  ['a GuardDuty finding with no type', () => ({ ...guardDutyEvent(fakeAccessKeyId(), 'u'), detail: { resource: {} } }), /field 'detail.type' is missing/],
  [
    'a GuardDuty finding with no resource',
    () => ({ ...guardDutyEvent(fakeAccessKeyId(), 'u'), detail: { type: 'CredentialAccess:IAMUser/AnomalousBehavior' } }),
    /field 'detail.resource' is missing/,
  ],
  [
    'a GuardDuty finding whose accessKeyDetails is null',
    () => ({ ...guardDutyEvent(fakeAccessKeyId(), 'u'), detail: { type: 'CredentialAccess:IAMUser/AnomalousBehavior', resource: { accessKeyDetails: null } } }),
    /field 'detail.resource.accessKeyDetails' must be an object, got null/,
  ],
  [
    'a GuardDuty finding whose access key id is a number',
    () => ({ ...guardDutyEvent(fakeAccessKeyId(), 'u'), detail: { type: 'CredentialAccess:IAMUser/AnomalousBehavior', resource: { accessKeyDetails: { accessKeyId: 1 } } } }),
    /field 'detail.resource.accessKeyDetails.accessKeyId' must be a string, got a number/,
  ],
  [
    'a GuardDuty finding whose access key id is no key id',
    (_, p) => ({ ...guardDutyEvent(fakeAccessKeyId(), 'u'), detail: { type: 'CredentialAccess:IAMUser/AnomalousBehavior', resource: { accessKeyDetails: { accessKeyId: `${p}-` } } } }),
    /field 'detail.resource.accessKeyDetails.accessKeyId' is not an access key id/,
  ],
];

describe('emergency handler: malformed events', () => {
  it.each(cases)('refuses %s with an InvalidEventError naming the field, echoing no value, changing nothing', async (_name, make, message) => {
    // Prepare
    const { arn, rotation, current } = await arrange();
    const versions = await suite.player.versions(arn);
    const seen = await captureEvents(suite.moto.endpoint, { source: ['rotor'] });
    suite.sensitive(PLANTED);

    // Act
    const delivered = emergency.deliver(arn, rotation, make(arn, PLANTED));

    // Assess
    const err = await delivered.then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(InvalidEventError);
    expect(err!.message).toMatch(message);
    expect(err!.message).not.toContain(PLANTED);
    expect(err!.message).not.toContain(arn);
    expect(err!.message).not.toMatch(/TypeError|Cannot read/);
    expect(err!.message).toMatch(/nothing was changed$/);
    // Not one Secrets Manager call: nothing read, nothing rotated, nothing revoked.
    expect([...proxy.calls.entries()]).toEqual([]);
    expect(await suite.player.versions(arn)).toEqual(versions);
    expect(await pgLogin(cluster, current.username, current.password)).toBe(true);
    expect(await seen.drain()).toEqual([]);
  });
});
