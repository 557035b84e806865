import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialVersions, emergencyDriver, guardDutyEvent, healthEvent, leakEvent } from './support/emergency.js';
import { captureEvents } from '../bin/local/events.js';
import { callerArn, useIamSuite, type KeyPair } from './support/iam.js';
import { createRotationFunction } from '../bin/local/moto.js';
import { TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { RotorTags } from '../lambdas/contract/index.js';
import { plainFingerprint } from '../lambdas/core/fingerprint.js';

/**
 * Emergency rotation of IAM access keys against a moto server that checks signatures: STS
 * really refuses a deleted key. The emergency handler runs as deployed (the IAM kind with the
 * function's own credentials from the environment: here the bootstrapped administrator's).
 */
const t = useIamSuite();
const { suite } = t;
const emergency = emergencyDriver(() => ({
  endpoint: suite.moto.endpoint,
  player: suite.player,
  logs: suite.logs,
  credentials: t.admin,
}));
const figures: string[] = [];
const savedEnv = { ...process.env };

beforeAll(async () => {
  // RotateSecret names this function (the player's rotationLambdaArn); moto then rotates like AWS.
  await createRotationFunction(suite.moto.endpoint, 'rotor-rotation', t.admin);
  // The deployed emergency function signs with its role's credentials, read from the environment.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: t.admin.accessKeyId, AWS_SECRET_ACCESS_KEY: t.admin.secretAccessKey });
});
afterAll(() => {
  process.env = savedEnv;
  for (const f of figures) console.info(f);
});

const userArn = (username: string) => `arn:aws:iam::123456789012:user/${username}`;

/** A Rotor-managed IAM secret after one normal rotation: key A is AWSPREVIOUS, key B AWSCURRENT. */
async function arrange() {
  const user = await t.arrange();
  suite.sensitive(t.admin.secretAccessKey);
  const rotation = t.handler();
  await suite.player.rotate(rotation, user.arn);
  const current = await t.value(user.arn);
  const leakedVersionId = (await suite.player.versionOf(user.arn, 'AWSCURRENT'))!;
  const previousVersionId = (await suite.player.versionOf(user.arn, 'AWSPREVIOUS'))!;
  expect(await t.keys(user.username)).toEqual({ [user.key.accessKeyId]: 'Active', [current.accessKeyId]: 'Active' });
  return { ...user, rotation, older: user.key as KeyPair, current: current as KeyPair, leakedVersionId, previousVersionId };
}

/** Polls STS until it refuses the key; the time since `started`. */
async function refusedAfter(key: KeyPair, started: number): Promise<number> {
  for (let i = 0; i < 100 && !(await callerArn(key)).startsWith('refused'); i++) await new Promise((r) => setTimeout(r, 20));
  return Date.now() - started;
}

describe('emergency rotation and revocation: IAM access keys', () => {
  it('AWS Health AWS_RISK_CREDENTIALS_EXPOSED on the current key: rotates, deletes the leaked key, STS refuses it', async () => {
    const s = await arrange();
    const seen = await captureEvents(
      suite.moto.endpoint,
      { source: ['rotor'], 'detail-type': ['Secret Rotated', 'Secret Revoked'] },
      t.admin,
    );
    expect(await callerArn(s.current)).toBe(userArn(s.username));

    const started = Date.now();
    const [[result]] = await emergency.deliver(s.arn, s.rotation, healthEvent([s.current.accessKeyId]));
    const took = await refusedAfter(s.current, started);

    expect(result).toMatchObject({ outcome: 'rotated-and-revoked', leakedVersionId: s.leakedVersionId, kind: 'iam', via: 'aws.health' });
    expect(await callerArn(s.current)).toBe('refused: InvalidClientTokenId');
    const now = await t.value(s.arn);
    expect(now.accessKeyId).not.toBe(s.current.accessKeyId);
    expect(await callerArn(now)).toBe(userArn(s.username));
    // The older key made room for the new one (two keys at most); the leaked one is deleted.
    expect(await t.keys(s.username)).toEqual({ [now.accessKeyId]: 'Active' });
    const versions = await suite.player.versions(s.arn);
    expect(Object.values(versions).flat()).not.toContain('AWSPREVIOUS');
    expect(versions[s.leakedVersionId]).toEqual([]);
    expect((await suite.player.describe(s.arn)).Tags).toContainEqual({ Key: 'rotor:revoked-version', Value: s.leakedVersionId });
    const announced = await seen.drain();
    suite.logs.note(JSON.stringify(announced));
    expect(announced.map((e) => e['detail-type']).sort()).toEqual(['Secret Revoked', 'Secret Rotated']);
    expect(announced.find((e) => e['detail-type'] === 'Secret Revoked')!.detail).toMatchObject({
      secretArn: s.arn, revokedVersionId: s.leakedVersionId, kind: 'iam', via: 'aws.health',
    });
    figures.push(`[figure] iam (AWS Health): leak event to leaked key refused by STS in ${took} ms`);
  });

  it('a secret tagged before keyed fingerprints (plain SHA-256 of the key id): AWS Health still finds it; the rotation tags it keyed', async () => {
    const s = await arrange();
    await t.sm.send(new TagResourceCommand({ SecretId: s.arn, Tags: [{ Key: RotorTags.FINGERPRINT_CURRENT, Value: plainFingerprint(s.current.accessKeyId) }] }));
    const [[result]] = await emergency.deliver(s.arn, s.rotation, healthEvent([s.current.accessKeyId]));
    expect(result).toMatchObject({ outcome: 'rotated-and-revoked', leakedVersionId: s.leakedVersionId, kind: 'iam', via: 'aws.health' });
    await refusedAfter(s.current, Date.now());
    expect(await callerArn(s.current)).toBe('refused: InvalidClientTokenId');
    const now = await t.value(s.arn);
    const tags = new Map(((await suite.player.describe(s.arn)).Tags ?? []).map((x) => [x.Key!, x.Value!]));
    expect(tags.get(RotorTags.FINGERPRINT_CURRENT)).toBe(suite.fingerprintKey.key.fingerprint(now.accessKeyId));
    expect(tags.get(RotorTags.FINGERPRINT_PREVIOUS)).toBe(suite.fingerprintKey.key.fingerprint(s.current.accessKeyId));
  });

  it('a fingerprint key the handler cannot read: an access key id matches legacy tags only, and the error names the key secret and the variable', async () => {
    const s = await arrange();
    const missing = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rotor-no-such-key-AbCdEf';
    const keyless = emergencyDriver(() => ({
      endpoint: suite.moto.endpoint,
      player: suite.player,
      logs: suite.logs,
      credentials: t.admin,
      overrides: { env: { ...process.env, ROTOR_FINGERPRINT_KEY_ARN: missing } },
    }));
    await expect(keyless.deliver(s.arn, s.rotation, healthEvent([s.current.accessKeyId]))).rejects.toThrow(
      `no Rotor-managed secret holds access key ${s.current.accessKeyId} (secrets are fingerprinted at each rotation; one never rotated by Rotor must be named by secretId); ` +
        `only legacy fingerprints were matched: emergency handler (ROTOR_FINGERPRINT_KEY_ARN): the fingerprint key secret ${missing} does not exist`,
    );
    // Nothing was touched: the key still works, AWSCURRENT did not move.
    expect(await callerArn(s.current)).toBe(userArn(s.username));
    expect(await suite.player.versionOf(s.arn, 'AWSCURRENT')).toBe(s.leakedVersionId);
  });

  it('GuardDuty CredentialAccess:IAMUser/AnomalousBehavior on the current key: the same end state', async () => {
    const s = await arrange();
    const started = Date.now();
    const [[result]] = await emergency.deliver(s.arn, s.rotation, guardDutyEvent(s.current.accessKeyId, s.username));
    const took = await refusedAfter(s.current, started);

    expect(result).toMatchObject({ outcome: 'rotated-and-revoked', leakedVersionId: s.leakedVersionId, via: 'aws.guardduty' });
    expect(await callerArn(s.current)).toBe('refused: InvalidClientTokenId');
    const now = await t.value(s.arn);
    expect(await callerArn(now)).toBe(userArn(s.username));
    expect(await t.keys(s.username)).toEqual({ [now.accessKeyId]: 'Active' });
    expect(Object.values(await suite.player.versions(s.arn)).flat()).not.toContain('AWSPREVIOUS');
    figures.push(`[figure] iam (GuardDuty): leak event to leaked key refused by STS in ${took} ms`);
  });

  it('a leak of the AWSPREVIOUS key revokes it without a new rotation', async () => {
    const s = await arrange();
    const before = Object.keys(await credentialVersions(suite.player, s.arn)).length;
    const started = Date.now();
    const [[result]] = await emergency.deliver(s.arn, s.rotation, healthEvent([s.older.accessKeyId]));
    const took = await refusedAfter(s.older, started);

    expect(result).toMatchObject({ outcome: 'revoked', leakedVersionId: s.previousVersionId });
    expect(Object.keys(await credentialVersions(suite.player, s.arn)).length).toBe(before);
    expect(await suite.player.versionOf(s.arn, 'AWSCURRENT')).toBe(s.leakedVersionId);
    expect(await callerArn(s.older)).toBe('refused: InvalidClientTokenId');
    expect(await t.keys(s.username)).toEqual({ [s.current.accessKeyId]: 'Active' });
    expect(await callerArn(s.current)).toBe(userArn(s.username));
    expect(Object.values(await suite.player.versions(s.arn)).flat()).not.toContain('AWSPREVIOUS');
    figures.push(`[figure] iam (AWSPREVIOUS key, no rotation): leak event to leaked key refused by STS in ${took} ms`);
  });

  it('a duplicate delivery, and a second report of the same key, change nothing more', async () => {
    const s = await arrange();
    const event = healthEvent([s.current.accessKeyId]);
    await emergency.deliver(s.arn, s.rotation, event);
    const after = await suite.player.versions(s.arn);
    const now = await t.value(s.arn);

    const [[again]] = await emergency.deliver(s.arn, s.rotation, event);
    expect(again!.outcome).toBe('duplicate');
    // Another source reports the same key later (a Rotor event by access key id): already revoked.
    const [[later]] = await emergency.deliver(s.arn, s.rotation, leakEvent({ accessKeyId: s.current.accessKeyId, reason: 'scanner' }));
    expect(later).toMatchObject({ outcome: 'already-revoked', leakedVersionId: s.leakedVersionId });

    expect(await suite.player.versions(s.arn)).toEqual(after);
    expect(await t.keys(s.username)).toEqual({ [now.accessKeyId]: 'Active' });
    expect(await callerArn(now)).toBe(userArn(s.username));
  });

  it('an access key id Rotor does not know: clear error, nothing touched', async () => {
    const s = await arrange();
    const stranger = await t.createKey(await t.createUser('stranger'));
    const versions = await suite.player.versions(s.arn);
    const keys = await t.keys(s.username);

    await expect(emergency.deliver(s.arn, s.rotation, healthEvent([stranger.accessKeyId]))).rejects.toThrow(
      new RegExp(`no Rotor-managed secret holds access key ${stranger.accessKeyId}`),
    );
    expect(await suite.player.versions(s.arn)).toEqual(versions);
    expect(await t.keys(s.username)).toEqual(keys);
    expect(await callerArn(stranger)).toMatch(/^arn:aws:iam::123456789012:user\/stranger/);
    expect(await callerArn(s.current)).toBe(userArn(s.username));
  });
});
