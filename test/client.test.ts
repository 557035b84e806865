import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import secretsManager from '@middy/secrets-manager';
import { clearCache } from '@middy/util';
import { describe, expect, inject, it } from 'vitest';
import { invalidateOnRotorEvent, refreshOnAuthFailure, SecretCache, SecretReadError } from '../client/index.js';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { lambdaContext, smClient, STEPS } from '../bin/local/harness.js';
import { testPassword, uniqueName, type PostgresCluster } from '../bin/local/postgres.js';
import { errorText } from './support/logCapture.js';
import { useRotationSuite } from './support/rotationSuite.js';
import { usePostgresAdmin } from './support/pgAdmin.js';
import pgModule from 'pg';

const cluster = inject('postgres') as unknown as PostgresCluster;
const suite = useRotationSuite();
const { admin } = usePostgresAdmin();

async function pgSecret() {
  const username = uniqueName('cli');
  const password = testPassword();
  await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
  const arn = await suite.secret(uniqueName('client'), { engine: 'postgres', host: cluster.host, port: cluster.port, username, password, dbname: 'postgres' });
  return { arn, username, password };
}
/**
 * moto answers a GetSecretValue that names no stage with the version it last stored as its
 * default, which UpdateSecretVersionStage does not move (TESTING.md); AWS answers AWSCURRENT.
 * middy's fetch names no stage, so under moto its client names the one AWS would use.
 */
class AwsCurrentClient extends SecretsManagerClient {
  public override send(command: any, ...rest: any[]): any {
    if (command instanceof GetSecretValueCommand && !command.input.VersionStage && !command.input.VersionId) {
      command = new GetSecretValueCommand({ ...command.input, VersionStage: 'AWSCURRENT' });
    }
    return (super.send as (...a: unknown[]) => unknown)(command, ...rest);
  }
}
const cache = () => new SecretCache({ client: smClient(suite.moto.endpoint) });
async function login(s: { username: string; password: string }) {
  const c = new pgModule.Client({ host: cluster.host, port: cluster.port, user: s.username, password: s.password, database: 'postgres' });
  c.on('error', () => undefined);
  try {
    await c.connect();
  } finally {
    await c.end().catch(() => undefined);
  }
}

describe('SecretCache (getSecret)', () => {
  it('serves AWSCURRENT from the cache, shares one read among concurrent callers, refresh() reads again', async () => {
    const { arn, password } = await pgSecret();
    const c = cache();
    const values = await Promise.all(Array.from({ length: 8 }, () => c.get<{ password: string }>(arn)));
    expect(values.every((v) => v.password === password)).toBe(true);
    expect(c.calls).toBe(1);
    await c.get(arn);
    expect(c.calls).toBe(1);
    await c.refresh(arn);
    expect(c.calls).toBe(2);
  });

  it('after an authentication failure during a single-user rotation, serves AWSPENDING; after finishSecret, AWSCURRENT', async () => {
    const { arn } = await pgSecret();
    const c = cache();
    const handler = suite.handler(postgresKind, { ROTATION_STRATEGY: 'single-user' });
    const before = await c.getVersion<{ password: string }>(arn);
    const token = await suite.player.startRotation(arn);
    // Empty AWSPENDING (createSecret not run yet): AWSCURRENT is all there is.
    expect((await c.getVersion(arn, { failedVersionId: before.versionId })).stage).toBe('AWSCURRENT');
    for (const step of STEPS.slice(0, 2)) await handler(suite.player.event(arn, token, step), lambdaContext());
    await expect(login(before.value as never)).rejects.toMatchObject({ code: '28P01' });
    const pending = await c.getVersion<{ username: string; password: string }>(arn, { failedVersionId: before.versionId });
    expect(pending).toMatchObject({ stage: 'AWSPENDING', versionId: token });
    await login(pending.value);
    for (const step of STEPS.slice(2)) await handler(suite.player.event(arn, token, step), lambdaContext());
    const after = await c.getVersion(arn, { forceRefresh: true });
    expect(after).toMatchObject({ stage: 'AWSCURRENT', versionId: token });
  });

  it('names the secret in its errors, never the value', async () => {
    const text = `not json ${testPassword()}`;
    const arn = await suite.secret(uniqueName('broken'), text);
    const err = await cache().get(arn).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretReadError);
    expect(errorText(err)).toContain('is not JSON');
    expect(errorText(err)).not.toContain(text.slice(9));
    const missing = await cache().get('no-such-secret').catch((e: unknown) => e);
    expect(missing).toMatchObject({ name: 'SecretReadError', code: 'ResourceNotFoundException' });
  });

  it('drops a secret on Rotor\'s "Secret Rotated" / "Secret Revoked" events, by ARN or name, and ignores others', async () => {
    const { arn } = await pgSecret();
    const c = cache();
    await c.get(arn);
    const name = arn.split(':secret:')[1]!.slice(0, -7);
    expect(invalidateOnRotorEvent({ source: 'someone', 'detail-type': 'Secret Rotated', detail: { secretArn: arn } }, { cache: c }).dropped).toBe(0);
    expect(invalidateOnRotorEvent({ source: 'rotor', 'detail-type': 'Secret Leak Detected', detail: { secretId: arn } }, { cache: c }).dropped).toBe(0);
    const sqsBody = JSON.stringify({ source: 'rotor', 'detail-type': 'Secret Revoked', detail: { secretArn: arn, secretName: name } });
    expect(invalidateOnRotorEvent(sqsBody, { cache: c }).dropped).toBe(1);
    await c.get(arn);
    expect(c.calls).toBe(2);
  });
});

describe('refreshOnAuthFailure (middy)', () => {
  it('with @middy/secrets-manager: a refused login clears its cache, so the next invocation logs in with the rotated value', async () => {
    const { arn } = await pgSecret();
    const rotate = () => suite.player.rotate(suite.handler(postgresKind, { ROTATION_STRATEGY: 'single-user' }), arn);
    const lambda = (withRefresh: boolean, cacheKey: string) => {
      const h = middy(async (_event: unknown, context: object) => {
        await login((context as { db: { username: string; password: string } }).db);
        return 'ok';
      }).use(
        secretsManager({
          fetchData: { db: arn },
          setToContext: true,
          cacheKey,
          AwsClient: AwsCurrentClient,
          awsClientOptions: { endpoint: suite.moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } },
        }),
      );
      if (withRefresh) h.use(refreshOnAuthFailure({ secretIds: [arn], middyCacheKeys: [cacheKey] }));
      return (event: unknown) => h(event as never, lambdaContext() as never);
    };
    const plain = lambda(false, uniqueName('plain'));
    const refreshing = lambda(true, uniqueName('refreshing'));
    try {
      expect(await plain({})).toBe('ok');
      expect(await refreshing({})).toBe('ok');
      await rotate();
      // Without the middleware, middy's cache (cacheExpiry -1: until the next rotation date) keeps the refused value.
      await expect(plain({})).rejects.toMatchObject({ code: '28P01' });
      await expect(plain({})).rejects.toMatchObject({ code: '28P01' });
      await expect(refreshing({})).rejects.toMatchObject({ code: '28P01' });
      expect(await refreshing({})).toBe('ok');
    } finally {
      clearCache();
    }
  });
});
