import { randomUUID } from 'node:crypto';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, inject, it } from 'vitest';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { lambdaContext } from '../bin/local/harness.js';
import { pgLogin, testPassword, uniqueName, type PostgresCluster } from '../bin/local/postgres.js';
import { useRotationSuite } from './support/rotationSuite.js';
import { usePostgresAdmin } from './support/pgAdmin.js';
import { builtHandler } from './support/builtBundle.js';

const cluster = inject('postgres') as unknown as PostgresCluster;
const suite = useRotationSuite();
const { admin } = usePostgresAdmin();

async function arrange(overrides: Record<string, unknown> = {}, raw?: string) {
  const username = uniqueName('eng');
  const password = testPassword();
  await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
  const value = { engine: 'postgres', host: cluster.host, port: cluster.port, username, password, ...overrides };
  const arn = await suite.secret(uniqueName('eng'), raw ?? value);
  suite.sensitive(password);
  return { arn, username, password };
}

const handler = () => suite.handler(postgresKind, { ROTATION_STRATEGY: 'single-user' });

async function expectStep(arn: string, token: string, step: string, message: RegExp) {
  await expect(handler()({ SecretId: arn, ClientRequestToken: token, Step: step }, lambdaContext())).rejects.toThrow(message);
}

describe('rotation engine: validation before every step', () => {
  it('refuses a secret whose rotation is not enabled, for every step', async () => {
    const user = await arrange();
    const token = randomUUID();
    await suite.player.client.send(
      new PutSecretValueCommand({ SecretId: user.arn, ClientRequestToken: token, SecretString: '{}', VersionStages: ['AWSPENDING'] }),
    );
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret']) {
      await expectStep(user.arn, token, step, /rotation is not enabled/);
    }
    expect(await pgLogin(cluster, user.username, user.password)).toBe(true);
  });

  it('refuses a token that is not a version of the secret', async () => {
    const user = await arrange();
    await suite.player.startRotation(user.arn);
    const unknown = randomUUID();
    await expectStep(user.arn, unknown, 'createSecret', new RegExp(`token ${unknown} is not a version of this secret`));
    expect(await pgLogin(cluster, user.username, user.password)).toBe(true);
  });

  it('refuses a token that is not staged AWSPENDING', async () => {
    const user = await arrange();
    await suite.player.rotate(handler(), user.arn);
    const previous = (await suite.player.versionOf(user.arn, 'AWSPREVIOUS'))!;
    await suite.player.startRotation(user.arn);
    await expectStep(user.arn, previous, 'setSecret', /is not staged AWSPENDING/);
    const current = await suite.player.value<{ password: string }>(user.arn);
    expect(await pgLogin(cluster, user.username, current.password)).toBe(true);
  });

  it('does nothing when the token is already AWSCURRENT', async () => {
    const user = await arrange();
    const { token } = await suite.player.rotate(handler(), user.arn);
    const before = await suite.player.versions(user.arn);
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret']) {
      const out = await handler()({ SecretId: user.arn, ClientRequestToken: token, Step: step }, lambdaContext());
      expect(out.outcome).toBe('already-current');
    }
    expect(await suite.player.versions(user.arn)).toEqual(before);
  });

  it('refuses an unknown step and an event without fields', async () => {
    const user = await arrange();
    const token = await suite.player.startRotation(user.arn);
    await expectStep(user.arn, token, 'dropSecret', /unknown step 'dropSecret'/);
    await expect(handler()({ SecretId: user.arn, Step: 'createSecret' }, lambdaContext())).rejects.toThrow(
      /field 'ClientRequestToken' is missing/,
    );
    expect(await pgLogin(cluster, user.username, user.password)).toBe(true);
  });

  it('refuses malformed JSON without echoing it', async () => {
    const password = testPassword();
    const arn = await suite.secret(uniqueName('bad'), `{"engine":"postgres","password":"${password}", "host": `);
    const token = await suite.player.startRotation(arn);
    await expectStep(arn, token, 'createSecret', /value is not valid JSON/);
    // (the suite's leak check proves the password was not printed)
  });

  it('refuses a value that is JSON but not an object', async () => {
    const arn = await suite.secret(uniqueName('bad'), `["${testPassword()}"]`);
    const token = await suite.player.startRotation(arn);
    await expectStep(arn, token, 'createSecret', /value must be a JSON object/);
  });

  for (const field of ['engine', 'host', 'username', 'password']) {
    it(`names the missing field '${field}'`, async () => {
      const user = await arrange();
      const value: Record<string, unknown> = { engine: 'postgres', host: cluster.host, port: cluster.port, username: user.username, password: user.password };
      delete value[field];
      const arn = await suite.secret(uniqueName('miss'), value);
      const token = await suite.player.startRotation(arn);
      await expectStep(arn, token, 'createSecret', new RegExp(`field '${field}' is missing`));
      expect(await pgLogin(cluster, user.username, user.password)).toBe(true);
    });
  }

  it('refuses a wrong engine and a bad port, naming the field', async () => {
    const user = await arrange({ engine: 'mysql' });
    const token = await suite.player.startRotation(user.arn);
    await expectStep(user.arn, token, 'createSecret', /field 'engine' is invalid/);
    const other = await arrange({ port: 'fivefour' });
    const token2 = await suite.player.startRotation(other.arn);
    await expectStep(other.arn, token2, 'createSecret', /field 'port' is invalid/);
    expect(await pgLogin(cluster, user.username, user.password)).toBe(true);
  });

  it('accepts a numeric-string port and keeps fields it does not know', async () => {
    const user = await arrange({ port: String(cluster.port), dbInstanceIdentifier: 'prod-db-1' });
    await suite.player.rotate(handler(), user.arn);
    const now = await suite.player.value<{ dbInstanceIdentifier: string; password: string }>(user.arn);
    expect(now.dbInstanceIdentifier).toBe('prod-db-1');
    expect(await pgLogin(cluster, user.username, now.password)).toBe(true);
  });

  it('refuses createSecret-less steps: setSecret before a pending value exists', async () => {
    const user = await arrange();
    const token = await suite.player.startRotation(user.arn);
    await expectStep(user.arn, token, 'setSecret', /AWSPENDING version has no value yet/);
    expect(await pgLogin(cluster, user.username, user.password)).toBe(true);
  });

  it('makes at most 10 Secrets Manager calls and 3 logins in a warm rotation, 5 in createSecret', async () => {
    const user = await arrange();
    const { outcomes } = await suite.player.rotate(handler(), user.arn);
    // finishSecret: DescribeSecret, two stage moves, TagResource (the keyed fingerprint tags).
    expect(outcomes.map((o) => o.secretsManagerCalls)).toEqual([5, 1, 0, 4]);
    expect(outcomes.map((o) => o.logins)).toEqual([0, 2, 1, 0]);
  });

  it('the built bundle (dist/lambdas/postgres, as deployed) rotates through AWS_ENDPOINT_URL, its driver loaded on first login', async () => {
    const user = await arrange();
    await suite.player.rotate(suite.captured(builtHandler('postgres')), user.arn);
    const now = await suite.player.value<{ password: string }>(user.arn);
    expect(await pgLogin(cluster, user.username, now.password)).toBe(true);
    expect(await pgLogin(cluster, user.username, user.password)).toBe(false);
    expect(suite.logs.records().some((r) => r.message === 'rotation step finished' && r.step === 'finishSecret')).toBe(true);
  });

  it('a bad setting fails the step with a clear error', async () => {
    const user = await arrange();
    const token = await suite.player.startRotation(user.arn);
    const bad = suite.handler(postgresKind, { ROTATION_STRATEGY: 'triple-user' });
    await expect(bad({ SecretId: user.arn, ClientRequestToken: token, Step: 'createSecret' }, lambdaContext())).rejects.toThrow(
      /ROTATION_STRATEGY is invalid/,
    );
  });

  it('refuses a secret the caller cannot describe (unknown secret)', async () => {
    await arrange();
    await expect(
      handler()({ SecretId: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf', ClientRequestToken: randomUUID(), Step: 'createSecret' }, lambdaContext()),
    ).rejects.toThrow(/ResourceNotFound|can't find/i);
  });
});


describe('rotation engine: AWSCURRENT moves only to a proven value', () => {
  it('finishSecret refuses a token whose AWSPENDING version has no value', async () => {
    // Prepare
    const user = await arrange();
    const token = await suite.player.startRotation(user.arn);
    const before = await suite.player.versions(user.arn);
    // Act / Assess
    await expectStep(user.arn, token, 'finishSecret', /AWSPENDING version has no value yet/);
    expect(await suite.player.versions(user.arn)).toEqual(before);
    expect(await pgLogin(cluster, user.username, user.password)).toBe(true);
  });

  it('finishSecret right after createSecret refuses a password the database never got, warm or cold', async () => {
    // Prepare
    const user = await arrange();
    const token = await suite.player.startRotation(user.arn);
    const warm = handler();
    await warm(suite.player.event(user.arn, token, 'createSecret'), lambdaContext());
    const before = await suite.player.versions(user.arn);
    // Act / Assess: on the instance that ran createSecret, and on a fresh one.
    for (const h of [warm, handler()]) {
      await expect(h(suite.player.event(user.arn, token, 'finishSecret'), lambdaContext())).rejects.toThrow(
        /finishSecret refuses to move AWSCURRENT: testSecret has not proven the pending value/,
      );
    }
    expect(await suite.player.versions(user.arn)).toEqual(before);
    expect(await pgLogin(cluster, user.username, user.password)).toBe(true);
    // The rotation still converges when the service sends the remaining steps.
    const outcomes = await suite.player.runSteps(warm, user.arn, token, ['setSecret', 'testSecret', 'finishSecret']);
    expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done']);
    const now = await suite.player.value<{ password: string }>(user.arn);
    expect(await pgLogin(cluster, user.username, now.password)).toBe(true);
  });

  it('finishSecret on an instance that did not run testSecret tests the pending value first (one login), then moves', async () => {
    // Prepare: createSecret, setSecret, testSecret on one instance.
    const user = await arrange();
    const token = await suite.player.startRotation(user.arn);
    await suite.player.runSteps(handler(), user.arn, token, ['createSecret', 'setSecret', 'testSecret']);
    // Act: finishSecret lands on a cold instance.
    const [finish] = await suite.player.runSteps(handler(), user.arn, token, ['finishSecret']);
    // Assess
    expect(finish).toMatchObject({ outcome: 'done', logins: 1 });
    expect(await suite.player.versionOf(user.arn, 'AWSCURRENT')).toBe(token);
    const now = await suite.player.value<{ password: string }>(user.arn);
    expect(await pgLogin(cluster, user.username, now.password)).toBe(true);
    expect(suite.logs.records().some((r) => String(r.message).includes('no testSecret proof in this instance'))).toBe(true);
  });
});

describe('rotation engine: concurrent duplicate deliveries (Secrets Manager stand-in that refuses a reused token)', () => {
  it('two instances running createSecret at once store one password; the rotation converges', async () => {
    // Prepare
    const { startRefusingProxy } = await import('../bin/local/refusingProxy.js');
    const { smClient } = await import('../bin/local/harness.js');
    const { createRotationHandler } = await import('../lambdas/core/handler.js');
    const proxy = await startRefusingProxy(suite.moto.endpoint);
    try {
      const user = await arrange();
      const token = await suite.player.startRotation(user.arn);
      const instance = () => createRotationHandler(postgresKind, { client: smClient(proxy.endpoint), env: { ROTATION_STRATEGY: 'single-user' } });
      const [a, b] = [instance(), instance()];
      // Both read "no pending value" before either stores: their two PutSecretValue calls meet.
      proxy.barrier((operation, body) => operation === 'PutSecretValue' && body.ClientRequestToken === token);
      // Act
      const created = await Promise.all([a, b].map((h) => h(suite.player.event(user.arn, token, 'createSecret'), lambdaContext())));
      proxy.barrier(undefined);
      // Assess: one stored the value, the other kept it.
      expect(created.map((o) => o.outcome).sort()).toEqual(['done', 'pending-exists']);
      expect(proxy.refused).toBe(1);
      const rest = await suite.player.runSteps(b, user.arn, token, ['setSecret', 'testSecret', 'finishSecret']);
      expect(rest.map((o) => o.outcome)).toEqual(['done', 'done', 'done']);
      const now = await suite.player.value<{ password: string }>(user.arn);
      expect(await pgLogin(cluster, user.username, now.password)).toBe(true);
      expect(await pgLogin(cluster, user.username, user.password)).toBe(false);
    } finally {
      await proxy.close();
    }
  });
});
