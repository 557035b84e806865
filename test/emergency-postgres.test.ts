import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { PutSecretValueCommand, SecretsManagerClient, TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, inject, it } from 'vitest';
import { revokeVersion } from '../lambdas/emergency/revoke.js';
import { SecretsApi } from '../lambdas/core/secretsApi.js';
import { createEmergencyHandler } from '../lambdas/emergency/index.js';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { credentialVersions } from './support/emergency.js';
import { captureEvents, eventsClient } from '../bin/local/events.js';
import { lambdaContext, playRotations, smClient } from '../bin/local/harness.js';
import { createRotationFunction } from '../bin/local/moto.js';
import { startRefusingProxy } from '../bin/local/refusingProxy.js';
import { pgLogin, testPassword, uniqueName, type PostgresCluster } from '../bin/local/postgres.js';
import { useRotationSuite } from './support/rotationSuite.js';
import { usePostgresAdmin } from './support/pgAdmin.js';
import { errorText } from './support/logCapture.js';
import { fakeAccessKeyId } from '../bin/local/awsAdmin.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RotorTags } from '../lambdas/contract/index.js';
import { plainFingerprint } from '../lambdas/core/fingerprint.js';
import { cliEnv, runCli } from './support/cli.js';

const cluster = inject('postgres') as unknown as PostgresCluster;
const suite = useRotationSuite();
const { admin } = usePostgresAdmin();

type Strategy = 'single-user' | 'alternating-users';

/** A Rotor-managed PostgreSQL secret whose rotation is configured (as the construct leaves it). */
async function arrange(strategy: Strategy, opts: { managed?: boolean } = {}) {
  await createRotationFunction(suite.moto.endpoint);
  const username = uniqueName('leak');
  const password = testPassword();
  await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
  const value: Record<string, unknown> = { engine: 'postgres', host: cluster.host, port: cluster.port, username, password };
  if (strategy === 'alternating-users') {
    value.masterarn = await suite.secret(uniqueName('master'), {
      engine: 'postgres', host: cluster.host, port: cluster.port,
      username: cluster.superuser.username, password: cluster.superuser.password,
    });
  }
  const arn = await suite.secret(uniqueName('leaky'), value);
  if (opts.managed !== false) {
    await suite.player.client.send(
      new TagResourceCommand({ SecretId: arn, Tags: [{ Key: 'rotor:kind', Value: 'postgres' }, { Key: 'rotor:strategy', Value: strategy }] }),
    );
  }
  const rotation = suite.handler(postgresKind, { ROTATION_STRATEGY: strategy });
  // Configure rotation the way the construct's RotationSchedule does, and run that first rotation.
  await suite.player.rotate(rotation, arn);
  const leaked = await suite.player.value<{ username: string; password: string }>(arn);
  const leakedVersionId = (await suite.player.versionOf(arn, 'AWSCURRENT'))!;
  return { arn, rotation, leaked, leakedVersionId };
}

function emergency() {
  return createEmergencyHandler({
    sm: smClient(suite.moto.endpoint),
    events: eventsClient(suite.moto.endpoint),
    pollIntervalMs: 50,
    waitTimeoutMs: 20_000,
  });
}

function leakEvent(detail: Record<string, unknown>, id = randomUUID()) {
  return { id, source: 'rotor', 'detail-type': 'Secret Leak Detected', detail };
}

/** Delivers the event to the emergency handler while playing Secrets Manager's rotation. */
async function deliver(arn: string, rotation: ReturnType<typeof suite.handler>, ...events: unknown[]) {
  const service = playRotations(suite.player, rotation, arn);
  try {
    return await Promise.all(events.map((e) => emergency()(e as never, lambdaContext('rotor-emergency'))));
  } finally {
    await service.stop();
    expect(service.errors).toEqual([]);
  }
}

describe('emergency rotation and revocation: PostgreSQL', () => {
  it('alternating users: rotates, locks the leaked login, removes AWSPREVIOUS, announces it', async () => {
    const { arn, rotation, leaked, leakedVersionId } = await arrange('alternating-users');
    const seen = await captureEvents(suite.moto.endpoint, { source: ['rotor'], 'detail-type': ['Secret Rotated', 'Secret Revoked'] });
    expect(await pgLogin(cluster, leaked.username, leaked.password)).toBe(true);

    const started = Date.now();
    const [[result]] = await deliver(arn, rotation, leakEvent({ secretId: arn, reason: 'found in a public gist' }));
    const took = Date.now() - started;

    expect(result).toMatchObject({ outcome: 'rotated-and-revoked', leakedVersionId, kind: 'postgres', via: 'rotor' });
    expect(await pgLogin(cluster, leaked.username, leaked.password)).toBe(false);
    const now = await suite.player.value<{ username: string; password: string }>(arn);
    expect(now.username).not.toBe(leaked.username);
    expect(await pgLogin(cluster, now.username, now.password)).toBe(true);
    const versions = await suite.player.versions(arn);
    expect(Object.values(versions).flat()).not.toContain('AWSPREVIOUS');
    expect(versions[leakedVersionId]).toEqual([]);
    const tags = (await suite.player.describe(arn)).Tags ?? [];
    expect(tags).toContainEqual({ Key: 'rotor:revoked-version', Value: leakedVersionId });
    const announced = await seen.drain();
    expect(announced.map((e) => e['detail-type']).sort()).toEqual(['Secret Revoked', 'Secret Rotated']);
    expect(announced.find((e) => e['detail-type'] === 'Secret Revoked')!.detail).toMatchObject({
      secretArn: arn, revokedVersionId: leakedVersionId, reason: 'found in a public gist', kind: 'postgres',
    });
    suite.logs.note(JSON.stringify(announced));
    console.info(`[figure] postgres alternating: leak event to leaked login refused in ${took} ms`);
  });

  it('publishes an audit summary to the alarm topic, with ids and the reason but no value', async () => {
    const { arn, rotation, leakedVersionId } = await arrange('alternating-users');
    const endpoint = suite.moto.endpoint;
    const cfg = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    const sns = new SNSClient(cfg);
    const sqs = new SQSClient(cfg);
    const topic = await sns.send(new CreateTopicCommand({ Name: uniqueName('alarms') }));
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('audit') }));
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await sns.send(new SubscribeCommand({ TopicArn: topic.TopicArn, Protocol: 'sqs', Endpoint: queueArn }));
    const handler = createEmergencyHandler({ sm: smClient(endpoint), events: eventsClient(endpoint), sns, topicArn: topic.TopicArn, pollIntervalMs: 50 });
    const service = playRotations(suite.player, rotation, arn);
    try {
      await handler(leakEvent({ secretId: arn, reason: 'ticket SEC-42' }) as never, lambdaContext('rotor-emergency'));
    } finally {
      await service.stop();
    }
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10 }));
    const bodies = (got.Messages ?? []).map((m) => JSON.parse(m.Body!) as { Subject: string; Message: string });
    expect(bodies).toHaveLength(1);
    expect(bodies[0]!.Subject).toMatch(/^Rotor: leaked postgres secret .* rotated and revoked$/);
    expect(bodies[0]!.Message).toContain(`Revoked version: ${leakedVersionId}`);
    expect(bodies[0]!.Message).toContain('Reason: ticket SEC-42 (via rotor)');
    suite.logs.note(JSON.stringify(bodies));
  });

  it('single-user: the rotation replaces the leaked password, which is then refused', async () => {
    const { arn, rotation, leaked, leakedVersionId } = await arrange('single-user');
    const [[result]] = await deliver(arn, rotation, leakEvent({ secretId: arn, reason: 'pasted in chat' }));
    expect(result).toMatchObject({ outcome: 'rotated-and-revoked', leakedVersionId });
    expect(await pgLogin(cluster, leaked.username, leaked.password)).toBe(false);
    const now = await suite.player.value<{ username: string; password: string }>(arn);
    expect(await pgLogin(cluster, now.username, now.password)).toBe(true);
    expect(Object.values(await suite.player.versions(arn)).flat()).not.toContain('AWSPREVIOUS');
  });

  it('a duplicate delivery of the same event changes nothing more', async () => {
    const { arn, rotation } = await arrange('alternating-users');
    const event = leakEvent({ secretId: arn, reason: 'dup test' });
    await deliver(arn, rotation, event);
    const versionsAfterFirst = await suite.player.versions(arn);
    const current = await suite.player.value<{ username: string; password: string }>(arn);
    const [[again]] = await deliver(arn, rotation, event);
    expect(again!.outcome).toBe('duplicate');
    expect(await suite.player.versions(arn)).toEqual(versionsAfterFirst);
    expect(await pgLogin(cluster, current.username, current.password)).toBe(true);
  });

  it('two deliveries at once end in one rotation and one revocation', async () => {
    const { arn, rotation, leaked } = await arrange('alternating-users');
    const before = Object.keys(await credentialVersions(suite.player, arn)).length;
    const event = leakEvent({ secretId: arn, reason: 'concurrent' });
    const results = (await deliver(arn, rotation, event, event)).flat();
    expect(results.map((r) => r.outcome).sort()).toEqual(expect.arrayContaining(['rotated-and-revoked']));
    expect(Object.keys(await credentialVersions(suite.player, arn)).length).toBe(before + 1);
    expect(await pgLogin(cluster, leaked.username, leaked.password)).toBe(false);
    const now = await suite.player.value<{ username: string; password: string }>(arn);
    expect(await pgLogin(cluster, now.username, now.password)).toBe(true);
  });

  it('a leak that races a scheduled rotation waits for it instead of starting another', async () => {
    const { arn, rotation, leaked } = await arrange('alternating-users');
    const before = Object.keys(await credentialVersions(suite.player, arn)).length;
    await suite.player.startRotation(arn); // the scheduled rotation has begun: AWSPENDING staged
    const [[result]] = await deliver(arn, rotation, leakEvent({ secretId: arn, reason: 'race' }));
    expect(result!.outcome).toBe('rotated-and-revoked');
    expect(Object.keys(await credentialVersions(suite.player, arn)).length).toBe(before + 1);
    expect(await pgLogin(cluster, leaked.username, leaked.password)).toBe(false);
  });

  it('a redelivery after a delivery that failed past the rotation revokes the leaked login and rotates nothing more', async () => {
    // Prepare: the first delivery's function dies after the rotation finished, before it revokes
    // (its GetRandomPassword, which only the revocation asks for, fails as a stopped function would).
    const { arn, rotation, leaked, leakedVersionId } = await arrange('alternating-users');
    const before = Object.keys(await credentialVersions(suite.player, arn)).length;
    const event = leakEvent({ secretId: arn, reason: 'redelivered' });
    const dying = smClient(suite.moto.endpoint);
    dying.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'GetRandomPasswordCommand') {
          throw Object.assign(new Error('injected failure: the function stopped'), { name: 'InjectedFailure', $fault: 'client' });
        }
        return next(args);
      },
      { step: 'initialize', name: 'dieBeforeRevoking' },
    );
    const first = createEmergencyHandler({ sm: dying, events: eventsClient(suite.moto.endpoint), pollIntervalMs: 50, waitTimeoutMs: 20_000 });
    const service = playRotations(suite.player, rotation, arn);
    try {
      await expect(
        first(event as never, lambdaContext('rotor-emergency')).catch((err: unknown) => {
          suite.logs.note(errorText(err));
          throw err;
        }),
      ).rejects.toThrow(/injected failure/);
    } finally {
      await service.stop();
    }
    expect(await suite.player.versionOf(arn, 'AWSPREVIOUS')).toBe(leakedVersionId);
    expect(await pgLogin(cluster, leaked.username, leaked.password)).toBe(true);
    const rotatedTo = await suite.player.value<{ username: string; password: string }>(arn);

    // Act: Lambda delivers the same event again.
    const [[again]] = await deliver(arn, rotation, event);

    // Assess: the value that leaked is revoked; the new one is left alone.
    expect(again).toMatchObject({ outcome: 'revoked', leakedVersionId });
    expect(await pgLogin(cluster, leaked.username, leaked.password)).toBe(false);
    expect(await suite.player.value<{ username: string; password: string }>(arn)).toEqual(rotatedTo);
    expect(await pgLogin(cluster, rotatedTo.username, rotatedTo.password)).toBe(true);
    expect(Object.keys(await credentialVersions(suite.player, arn)).length).toBe(before + 1);
    expect(Object.values(await suite.player.versions(arn)).flat()).not.toContain('AWSPREVIOUS');
  });

  it('absorbs Secrets Manager throttling (RotateSecret, label moves, tags) with backoff instead of failing the leak', async () => {
    // Prepare: a stand-in that answers ThrottlingException to the first three calls of each
    // quota-limited operation, and a client that does not retry by itself (the SDK's own attempts spent).
    const { arn, rotation, leaked } = await arrange('alternating-users');
    const proxy = await startRefusingProxy(suite.moto.endpoint);
    const limited = ['RotateSecret', 'UpdateSecretVersionStage', 'TagResource'];
    const throttled: Record<string, number> = {};
    proxy.intercept((operation) => {
      if (!limited.includes(operation) || (throttled[operation] ?? 0) >= 3) return undefined;
      throttled[operation] = (throttled[operation] ?? 0) + 1;
      return 'ThrottlingException';
    });
    const sm = new SecretsManagerClient({ endpoint: proxy.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 });
    const handler = createEmergencyHandler({ sm, events: eventsClient(suite.moto.endpoint), pollIntervalMs: 50, waitTimeoutMs: 20_000 });
    const service = playRotations(suite.player, rotation, arn);
    let result;
    try {
      // Act
      [result] = await handler(leakEvent({ secretId: arn, reason: 'mass leak' }) as never, lambdaContext('rotor-emergency')).catch((err: unknown) => {
        suite.logs.note(errorText(err));
        throw err;
      });
    } finally {
      await service.stop();
      await proxy.close();
    }
    // Assess
    expect(throttled).toEqual({ RotateSecret: 3, UpdateSecretVersionStage: 3, TagResource: 3 });
    expect(result).toMatchObject({ outcome: 'rotated-and-revoked' });
    expect(await pgLogin(cluster, leaked.username, leaked.password)).toBe(false);
    const now = await suite.player.value<{ username: string; password: string }>(arn);
    expect(await pgLogin(cluster, now.username, now.password)).toBe(true);
    expect(Object.values(await suite.player.versions(arn)).flat()).not.toContain('AWSPREVIOUS');
  });

  it('refuses a secret Rotor does not manage and touches nothing', async () => {
    const { arn, rotation, leaked } = await arrange('single-user', { managed: false });
    const before = await suite.player.versions(arn);
    await expect(deliver(arn, rotation, leakEvent({ secretId: arn, reason: 'not ours' }))).rejects.toThrow(
      /not managed by Rotor/,
    );
    expect(await suite.player.versions(arn)).toEqual(before);
    expect(await pgLogin(cluster, leaked.username, leaked.password)).toBe(true);
  });

  it('refuses an unknown secret and a malformed leak event clearly', async () => {
    const { arn, rotation } = await arrange('single-user');
    await expect(deliver(arn, rotation, leakEvent({ secretId: 'no-such-secret', reason: 'x' }))).rejects.toThrow(/not found/);
    await expect(deliver(arn, rotation, leakEvent({ secretId: arn, accessKeyId: fakeAccessKeyId() }))).rejects.toThrow(
      /exactly one of secretId, accessKeyId, fingerprint/,
    );
  });

  it('fails within its bound when the rotation never finishes, leaving the current login working', async () => {
    const { arn, leaked } = await arrange('alternating-users');
    const slow = createEmergencyHandler({
      sm: smClient(suite.moto.endpoint),
      events: eventsClient(suite.moto.endpoint),
      pollIntervalMs: 50,
      waitTimeoutMs: 1_000,
    });
    await expect(slow(leakEvent({ secretId: arn, reason: 'nobody rotates' }) as never, lambdaContext())).rejects.toThrow(
      /did not finish within 1 s/,
    );
    expect(await pgLogin(cluster, leaked.username, leaked.password)).toBe(true);
  });

  it('the revoke hook locks neither login of a boss / boss_clone pair Rotor did not make for this secret', async () => {
    // Prepare: both logins made by the administrator; a secret whose versions name one then the other.
    const boss = { username: uniqueName('boss'), password: testPassword() };
    const clone = { username: `${boss.username}_clone`, password: testPassword() };
    suite.sensitive(boss.password, clone.password);
    for (const login of [boss, clone]) {
      await admin.query(`CREATE ROLE ${admin.escapeIdentifier(login.username)} LOGIN PASSWORD ${admin.escapeLiteral(login.password)}`);
    }
    const masterarn = await suite.secret(uniqueName('master'), {
      engine: 'postgres', host: cluster.host, port: cluster.port,
      username: cluster.superuser.username, password: cluster.superuser.password,
    });
    const value = (login: { username: string; password: string }) =>
      JSON.stringify({ engine: 'postgres', host: cluster.host, port: cluster.port, ...login, masterarn });
    for (const [leaked, now] of [[clone, boss], [boss, clone]] as const) {
      const arn = await suite.secret(uniqueName('foreign'), JSON.parse(value(leaked)));
      const leakedVersionId = (await suite.player.versionOf(arn, 'AWSCURRENT'))!;
      await suite.player.client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: value(now), VersionStages: ['AWSCURRENT'] }));
      const description = await new SecretsApi(suite.player.client).describe(arn);
      // Act
      const revoked = revokeVersion(
        postgresKind,
        { secretArn: arn, description, versionId: leakedVersionId, strategy: 'alternating-users' },
        { client: suite.player.client, logger: new Logger({ serviceName: 'rotor-emergency' }) },
      ).catch((err: unknown) => {
        suite.logs.note(errorText(err));
        throw err;
      });
      // Assess
      await expect(revoked).rejects.toThrow(
        new RegExp(`login "${clone.username}" has no Rotor pairing marker .*refusing to act with the master secret`),
      );
      expect(await pgLogin(cluster, leaked.username, leaked.password)).toBe(true);
      expect(await pgLogin(cluster, now.username, now.password)).toBe(true);
    }
  });
});

describe('emergency rotation of a PostgreSQL secret found by a leaked connection string (keyed fingerprint)', () => {
  for (const strategy of ['alternating-users', 'single-user'] as const) {
    it(`${strategy}: gitleaks report → rotor leak --from → one event with the fingerprint only → the handler rotates, the leaked password stops logging in`, async () => {
      // Prepare: a rotated secret (finishSecret tagged its password's keyed fingerprint), and a
      // scanner's report of a connection string holding that password.
      const { arn, rotation, leaked, leakedVersionId } = await arrange(strategy);
      const key = suite.fingerprintKey.key;
      const name = (await suite.player.describe(arn)).Name!;
      expect(await pgLogin(cluster, leaked.username, leaked.password)).toBe(true);
      const url = `postgres://${leaked.username}:${encodeURIComponent(leaked.password)}@${cluster.host}:${cluster.port}/postgres?sslmode=disable`;
      const dir = mkdtempSync(join(tmpdir(), 'rotor-leak-pg-'));
      const report = join(dir, 'gitleaks.json');
      writeFileSync(report, JSON.stringify([{ RuleID: 'generic-api-key', File: 'deploy/.env', StartLine: 4, Commit: 'deadbeef', Secret: leaked.password, Match: `DATABASE_URL=${url}` }]));
      const inbox = await captureEvents(suite.moto.endpoint, { source: ['rotor'], 'detail-type': ['Secret Leak Detected'] });
      try {
        // Act 1: the CLI matches the finding and sends the event.
        const cli = await runCli(['leak', '--from', 'gitleaks', report, '--yes', '--output', 'json'], cliEnv(suite.moto.endpoint, { AWS_REGION: 'us-east-1' }));
        suite.logs.note(cli.stdout + cli.stderr);
        expect(cli.stderr).toBe('');
        expect(cli.code).toBe(0);
        expect(JSON.parse(cli.stdout)).toMatchObject({ findings: 1, matched: 1, eventsSent: 1, results: [{ secret: name, which: 'current' }] });
        const events = await inbox.drain();
        suite.logs.note(JSON.stringify(events));
        expect(events).toHaveLength(1);
        expect(Object.keys(events[0]!.detail).sort()).toEqual(['fingerprint', 'reason', 'reporter']);
        expect(events[0]!.detail.fingerprint).toBe(key.fingerprint(leaked.password));

        // Act 2: EventBridge delivers it to the emergency handler.
        const [[result]] = await deliver(arn, rotation, { id: events[0]!.id, source: 'rotor', 'detail-type': 'Secret Leak Detected', detail: events[0]!.detail });

        // Assess: the strategy's promise for a leak.
        expect(result).toMatchObject({ outcome: 'rotated-and-revoked', leakedVersionId, kind: 'postgres', via: 'rotor' });
        expect(await pgLogin(cluster, leaked.username, leaked.password)).toBe(false);
        const now = await suite.player.value<{ username: string; password: string }>(arn);
        expect(await pgLogin(cluster, now.username, now.password)).toBe(true);
        const tags = new Map(((await suite.player.describe(arn)).Tags ?? []).map((t) => [t.Key!, t.Value!]));
        expect(tags.get(RotorTags.FINGERPRINT_CURRENT)).toBe(key.fingerprint(now.password));
        expect(tags.get(RotorTags.REVOKED_VERSION)).toBe(leakedVersionId);
        // A second delivery of the same event finds the leaked value already revoked.
        const [[again]] = await deliver(arn, rotation, { id: events[0]!.id, source: 'rotor', 'detail-type': 'Secret Leak Detected', detail: events[0]!.detail });
        expect(['duplicate', 'already-revoked']).toContain(again!.outcome);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('a secret tagged before keyed fingerprints (legacy plain SHA-256) is still found by that fingerprint and rotated', async () => {
    const { arn, rotation, leaked, leakedVersionId } = await arrange('single-user');
    await suite.player.client.send(
      new TagResourceCommand({ SecretId: arn, Tags: [{ Key: RotorTags.FINGERPRINT_CURRENT, Value: plainFingerprint(leaked.password) }] }),
    );
    const [[result]] = await deliver(arn, rotation, leakEvent({ fingerprint: plainFingerprint(leaked.password), reason: 'old scanner integration' }));
    expect(result).toMatchObject({ outcome: 'rotated-and-revoked', leakedVersionId });
    expect(await pgLogin(cluster, leaked.username, leaked.password)).toBe(false);
    // The rotation rewrote the tags keyed.
    const tags = new Map(((await suite.player.describe(arn)).Tags ?? []).map((t) => [t.Key!, t.Value!]));
    expect(tags.get(RotorTags.FINGERPRINT_PREVIOUS)).toBe(suite.fingerprintKey.key.fingerprint(leaked.password));
  });
});
