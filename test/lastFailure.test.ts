/**
 * The rotation function records a failed step on the secret (RotorTags.LAST_FAILURE: step,
 * time, error name), which `rotor audit` reports without a log search, and clears it when a
 * rotation finishes. Real PostgreSQL; the failure is a real one (the secret points at a closed port).
 */
import { DescribeSecretCommand, TagResourceCommand, UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, inject, it } from 'vitest';
import { RotorTags } from '../lambdas/contract/index.js';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { freePort } from '../bin/local/ports.js';
import { testPassword, uniqueName, type PostgresCluster } from '../bin/local/postgres.js';
import { useRotationSuite } from './support/rotationSuite.js';
import { usePostgresAdmin } from './support/pgAdmin.js';

const cluster = inject('postgres') as unknown as PostgresCluster;
const suite = useRotationSuite();
const { admin } = usePostgresAdmin();

const tagsOf = async (arn: string) =>
  Object.fromEntries(((await suite.player.client.send(new DescribeSecretCommand({ SecretId: arn }))).Tags ?? []).map((t) => [t.Key, t.Value]));

describe('the last failed step, recorded on the secret', () => {
  it('is written when a step fails, naming the step, the time and the error, never a value', async () => {
    const password = testPassword();
    const arn = await suite.secret(uniqueName('lf'), { engine: 'postgres', host: '127.0.0.1', port: await freePort(), username: uniqueName('app'), password });
    const handler = suite.handler(postgresKind, { ROTATION_STRATEGY: 'single-user' });
    const token = await suite.player.startRotation(arn);
    await handler(suite.player.event(arn, token, 'createSecret'), {} as never);
    await expect(handler(suite.player.event(arn, token, 'setSecret'), {} as never)).rejects.toThrow();
    const tag = (await tagsOf(arn))[RotorTags.LAST_FAILURE];
    expect(tag).toMatch(/^setSecret \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ [A-Za-z]+Error$/);
    expect(tag).not.toContain(password);
  });

  it('is cleared when a rotation finishes', async () => {
    const username = uniqueName('app');
    const password = testPassword();
    await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
    const arn = await suite.secret(uniqueName('lf'), { engine: 'postgres', host: cluster.host, port: cluster.port, username, password, dbname: 'postgres' });
    await suite.player.client.send(new TagResourceCommand({ SecretId: arn, Tags: [{ Key: RotorTags.LAST_FAILURE, Value: 'setSecret 2026-11-30T03:00:00Z DatabaseUnreachable' }] }));
    await suite.player.rotate(suite.handler(postgresKind, { ROTATION_STRATEGY: 'single-user' }), arn);
    expect(await tagsOf(arn)).not.toHaveProperty(RotorTags.LAST_FAILURE);
  });

  it('is cleared by a finishSecret delivered again after the one that moved AWSCURRENT stopped', async () => {
    const username = uniqueName('app');
    const password = testPassword();
    await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
    const arn = await suite.secret(uniqueName('lf'), { engine: 'postgres', host: cluster.host, port: cluster.port, username, password, dbname: 'postgres' });
    const handler = suite.handler(postgresKind, { ROTATION_STRATEGY: 'single-user' });
    const token = await suite.player.startRotation(arn);
    for (const step of ['createSecret', 'setSecret', 'testSecret'] as const) await handler(suite.player.event(arn, token, step), {} as never);
    // The first finishSecret moved AWSCURRENT and stopped before anything else; a failure was recorded earlier.
    const current = await suite.player.versionOf(arn, 'AWSCURRENT');
    await suite.player.client.send(new UpdateSecretVersionStageCommand({ SecretId: arn, VersionStage: 'AWSCURRENT', MoveToVersionId: token, RemoveFromVersionId: current }));
    await suite.player.client.send(new TagResourceCommand({ SecretId: arn, Tags: [{ Key: RotorTags.LAST_FAILURE, Value: 'testSecret 2026-11-30T03:00:00Z DatabaseUnreachable' }] }));
    expect((await handler(suite.player.event(arn, token, 'finishSecret'), {} as never)).outcome).toBe('already-current');
    expect(await tagsOf(arn)).not.toHaveProperty(RotorTags.LAST_FAILURE);
  });
});
