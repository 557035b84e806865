/**
 * The client library and replica secrets (issue 16): an application in eu-west-1 that names a
 * secret by its primary's ARN (us-east-1) reads the replica in its own region, falls back to the
 * primary where there is none, and follows rotations the same way. Against moto, which
 * replicates at once and serves the replica in its region (see test/replica.test.ts's header).
 */
import {
  RemoveRegionsFromReplicationCommand,
  ReplicateSecretToRegionsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import pgModule from 'pg';
import { describe, expect, it } from 'vitest';
import { SecretCache, pgPool } from '../client/index.js';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { lambdaContext, STEPS } from '../bin/local/harness.js';
import { testPassword, uniqueName } from '../bin/local/postgres.js';
import { usePostgresAdmin } from './support/pgAdmin.js';
import { useRotationSuite } from './support/rotationSuite.js';

const suite = useRotationSuite();
const { cluster, admin } = usePostgresAdmin();
const HERE = 'eu-west-1';

function clientOf(region: string): SecretsManagerClient {
  return new SecretsManagerClient({ endpoint: suite.moto.endpoint, region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
}

/** A PostgreSQL login and its secret in us-east-1, replicated to eu-west-1 unless `replicated: false`. */
async function arrange(opts: { replicated?: boolean } = {}) {
  const username = uniqueName('rcl');
  const password = testPassword();
  await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
  const arn = await suite.secret(uniqueName('rclient'), { engine: 'postgres', host: cluster.host, port: cluster.port, username, password, dbname: 'postgres' });
  if (opts.replicated !== false) {
    await suite.player.client.send(new ReplicateSecretToRegionsCommand({ SecretId: arn, AddReplicaRegions: [{ Region: HERE }] }));
  }
  return { arn, replicaArn: arn.replace(':us-east-1:', `:${HERE}:`), username, password };
}

async function login(s: { username: string; password: string }) {
  const c = new pgModule.Client({ host: cluster.host, port: cluster.port, user: s.username, password: s.password, database: 'postgres' });
  c.on('error', () => undefined);
  try {
    await c.connect();
  } finally {
    await c.end().catch(() => undefined);
  }
}

describe('SecretCache with replica secrets', () => {
  it('in eu-west-1, reads the replica of a secret named by its us-east-1 primary ARN, in one call', async () => {
    const { arn, replicaArn, password } = await arrange();
    const cache = new SecretCache({ client: clientOf(HERE) });
    const version = await cache.getVersion<{ password: string }>(arn);
    expect(version.arn).toBe(replicaArn);
    expect(version.value.password).toBe(password);
    expect(cache.calls).toBe(1);
  });

  it('takes the region from the option when the configured client is the primary region\'s', async () => {
    const { arn, replicaArn } = await arrange();
    const cache = new SecretCache({ client: clientOf('us-east-1'), region: HERE });
    expect((await cache.getVersion(arn)).arn).toBe(replicaArn);
  });

  it('falls back to the primary, in its own region, where there is no replica, and remembers it', async () => {
    const { arn, password } = await arrange({ replicated: false });
    const cache = new SecretCache({ client: clientOf(HERE) });
    const version = await cache.getVersion<{ password: string }>(arn);
    expect(version.arn).toBe(arn);
    expect(version.value.password).toBe(password);
    expect(cache.calls).toBe(2); // the replica's ResourceNotFoundException, then the primary
    await cache.refresh(arn);
    expect(cache.calls).toBe(3); // straight to the primary
  });

  it('falls back to the primary when the replica is removed after it was read', async () => {
    const { arn, replicaArn } = await arrange();
    const cache = new SecretCache({ client: clientOf(HERE) });
    expect((await cache.getVersion(arn)).arn).toBe(replicaArn);
    await suite.player.client.send(new RemoveRegionsFromReplicationCommand({ SecretId: arn, RemoveReplicaRegions: [HERE] }));
    expect((await cache.getVersion(arn, { forceRefresh: true })).arn).toBe(arn);
  });

  it('readReplica: false reads the primary in its own region', async () => {
    const { arn } = await arrange();
    const cache = new SecretCache({ client: clientOf(HERE), readReplica: false });
    expect((await cache.getVersion(arn)).arn).toBe(arn);
    expect(cache.calls).toBe(1);
  });

  it('reads a secret named by its name in the client\'s region, and an ARN of that region as given', async () => {
    const { arn, replicaArn } = await arrange();
    const name = arn.split(':secret:')[1]!.slice(0, -7);
    const cache = new SecretCache({ client: clientOf(HERE) });
    expect((await cache.getVersion(name)).arn).toBe(replicaArn);
    expect((await cache.getVersion(replicaArn)).arn).toBe(replicaArn);
    const home = new SecretCache({ client: clientOf('us-east-1') });
    expect((await home.getVersion(arn)).arn).toBe(arn);
  });

  it('follows a single-user rotation on the replica: AWSPENDING after a refused login, then AWSCURRENT', async () => {
    const { arn, replicaArn } = await arrange();
    const cache = new SecretCache({ client: clientOf(HERE) });
    const handler = suite.handler(postgresKind, { ROTATION_STRATEGY: 'single-user' });
    const before = await cache.getVersion<{ username: string; password: string }>(arn);
    const token = await suite.player.startRotation(arn);
    // Empty AWSPENDING (createSecret not run yet): AWSCURRENT is all there is.
    expect((await cache.getVersion(arn, { failedVersionId: before.versionId })).stage).toBe('AWSCURRENT');
    for (const step of STEPS.slice(0, 2)) await handler(suite.player.event(arn, token, step), lambdaContext());
    await expect(login(before.value)).rejects.toMatchObject({ code: '28P01' });
    const pending = await cache.getVersion<{ username: string; password: string }>(arn, { failedVersionId: before.versionId });
    expect(pending).toMatchObject({ stage: 'AWSPENDING', versionId: token, arn: replicaArn });
    await login(pending.value);
    for (const step of STEPS.slice(2)) await handler(suite.player.event(arn, token, step), lambdaContext());
    const after = await cache.getVersion(arn, { forceRefresh: true });
    expect(after).toMatchObject({ stage: 'AWSCURRENT', versionId: token, arn: replicaArn });
    // Rotor's events name the primary: they drop the replica's entry too (same name).
    expect(cache.invalidate(arn)).toBe(1);
  });

  it('a pg.Pool in eu-west-1 keeps answering across a single-user rotation, reading the replica', async () => {
    const { arn, replicaArn } = await arrange();
    const cache = new SecretCache({ client: clientOf(HERE) });
    const retries: string[] = [];
    const pool = pgPool({ secretId: arn, cache, max: 1, idleTimeoutMillis: 1, onAuthRetry: (i) => retries.push(i.retryStage) });
    try {
      expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
      await suite.player.rotate(suite.handler(postgresKind, { ROTATION_STRATEGY: 'single-user' }), arn);
      // Wait until the idle connection is gone (bounded), so the next query logs in again.
      for (let i = 0; i < 200 && pool.totalCount > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(pool.totalCount).toBe(0);
      expect((await pool.query('SELECT 2 AS two')).rows[0].two).toBe(2);
      expect(retries).toEqual(['AWSCURRENT']);
      // What the pool logged in with came from the replica (the cache holds what the pool read).
      expect((await cache.getVersion(arn)).arn).toBe(replicaArn);
    } finally {
      await pool.end();
    }
  });
});
