/**
 * Replica secrets (issue 16): a rotation finishes only once every replica is in sync, and the
 * emergency revocation leaves no AWSPREVIOUS for a replica to fall back to.
 *
 * What moto (5.2.1) emulates of replication, checked with the SDK against moto_server:
 * - CreateSecret with AddReplicaRegions and ReplicateSecretToRegions: work; the answer and
 *   DescribeSecret on the primary list ReplicationStatus (Region, KmsKeyId, Status, StatusMessage).
 * - The status is always `InSync` ("Replication succeeded"), at once: moto never reports
 *   `InProgress` or `Failed`. That one answer is the stand-in's (bin/local/replicaStatusProxy.ts:
 *   an HTTP proxy in front of moto that rewrites only DescribeSecret's ReplicationStatus, so the
 *   engine's real code path runs against moto's real state).
 * - The replica is readable in its region with a client of that region, by the replica ARN (the
 *   primary's with the region replaced: same name and suffix) or by name; DescribeSecret there
 *   names PrimaryRegion (the primary's DescribeSecret does not). A client of another region gets
 *   ResourceNotFoundException for it.
 * - PutSecretValue, UpdateSecretVersionStage (moving AWSCURRENT, removing AWSPREVIOUS) and
 *   TagResource on the primary show up on the replica at once (AWS takes seconds).
 * - PutSecretValue, RotateSecret and DeleteSecret on a replica are refused
 *   (InvalidParameterException "Operation not permitted on a replica secret").
 * - RemoveRegionsFromReplication works (the replica is gone: ResourceNotFoundException there).
 * - StopReplicationToReplica is not implemented (HTTP 500, an HTML page).
 * - ListSecrets in the replica's region lists the replica, with PrimaryRegion.
 */
import { randomUUID } from 'node:crypto';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ReplicateSecretToRegionsCommand,
  SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRotationHandler } from '../lambdas/core/handler.js';
import { ReplicaSyncError } from '../lambdas/core/errors.js';
import type { EngineBounds } from '../lambdas/core/engine.js';
import { Bounds, RotorMetrics } from '../lambdas/contract/index.js';
import { createEmergencyHandler } from '../lambdas/emergency/index.js';
import type { EmergencyResult } from '../lambdas/emergency/emergency.js';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { captureEvents, eventsClient } from '../bin/local/events.js';
import { lambdaContext, playRotations, smClient, STEPS, type Handler } from '../bin/local/harness.js';
import { createRotationFunction } from '../bin/local/moto.js';
import { pgLogin, testPassword, uniqueName } from '../bin/local/postgres.js';
import { startReplicaStatusProxy, statusSequence, type ReplicaStatusProxy } from '../bin/local/replicaStatusProxy.js';
import { usePostgresAdmin } from './support/pgAdmin.js';
import { useRotationSuite } from './support/rotationSuite.js';
import { errorText } from './support/logCapture.js';

const suite = useRotationSuite();
const { cluster, admin } = usePostgresAdmin();
const REPLICA_REGION = 'eu-west-1';
let proxy: ReplicaStatusProxy;

beforeAll(async () => {
  proxy = await startReplicaStatusProxy(suite.moto.endpoint);
});
afterAll(async () => {
  await proxy?.close();
});

type PgSecret = { username: string; password: string; dbname?: string };

/** A PostgreSQL role with a password and a Rotor-managed secret for it, replicated to eu-west-1 unless `replicated: false`. */
async function arrange(opts: { replicated?: boolean; strategy?: 'single-user' | 'alternating-users' } = {}) {
  const username = uniqueName('repl');
  const password = testPassword();
  await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
  const value: Record<string, unknown> = { engine: 'postgres', host: cluster.host, port: cluster.port, username, password };
  if (opts.strategy === 'alternating-users') {
    value.masterarn = await suite.secret(uniqueName('master'), {
      engine: 'postgres', host: cluster.host, port: cluster.port,
      username: cluster.superuser.username, password: cluster.superuser.password,
    });
  }
  const arn = await suite.secret(uniqueName('replicated'), value);
  if (opts.replicated !== false) {
    await suite.player.client.send(new ReplicateSecretToRegionsCommand({ SecretId: arn, AddReplicaRegions: [{ Region: REPLICA_REGION }] }));
  }
  return { arn, replicaArn: arn.replace(':us-east-1:', `:${REPLICA_REGION}:`), username, password };
}

/** A client of the replica's region (what an application there reads with). */
function replicaRegionClient(): SecretsManagerClient {
  return new SecretsManagerClient({
    endpoint: suite.moto.endpoint,
    region: REPLICA_REGION,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
}

async function replicaValue(replicaArn: string, stage = 'AWSCURRENT'): Promise<PgSecret & { versionId: string }> {
  const out = await replicaRegionClient().send(new GetSecretValueCommand({ SecretId: replicaArn, VersionStage: stage }));
  return { ...(JSON.parse(out.SecretString!) as PgSecret), versionId: out.VersionId! };
}

/**
 * The rotation function with its Secrets Manager client behind the replica-status stand-in and
 * an instant sleep that records each pause (the engine's injectable sleep).
 */
function rotation(sleeps: number[], opts: { bounds?: Partial<EngineBounds>; strategy?: string } = {}): Handler {
  return suite.captured(
    createRotationHandler(postgresKind, {
      client: smClient(proxy.endpoint),
      env: { ROTATION_STRATEGY: opts.strategy ?? 'single-user' },
      bounds: opts.bounds,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    }),
  );
}

async function describeCalls<T>(act: () => Promise<T>): Promise<{ result: T; describes: number }> {
  const before = proxy.calls.get('DescribeSecret') ?? 0;
  const result = await act();
  return { result, describes: (proxy.calls.get('DescribeSecret') ?? 0) - before };
}

const logsIn = (s: PgSecret) => pgLogin(cluster, s.username, s.password, s.dbname ?? 'postgres');

describe('finishSecret of a secret with replicas', () => {
  it('waits while the replica reports InProgress, then finishes once it is InSync; the replica serves the new password', async () => {
    // Prepare
    const user = await arrange();
    const sleeps: number[] = [];
    const handler = rotation(sleeps);
    const token = await suite.player.startRotation(user.arn);
    await suite.player.runSteps(handler, user.arn, token, STEPS.slice(0, 3));
    // Act: the replica reports InProgress (to the step's own DescribeSecret, before AWSCURRENT
    // moves, and twice after), then InSync.
    proxy.rule(statusSequence(REPLICA_REGION, ['InProgress', 'InProgress', 'InProgress']));
    const { result: finish, describes } = await describeCalls(() => handler(suite.player.event(user.arn, token, 'finishSecret'), lambdaContext()));
    proxy.rule(undefined);
    // Assess
    expect(finish.outcome).toBe('done');
    expect(sleeps).toEqual([Bounds.replicaSync.pollMs, Bounds.replicaSync.pollMs]);
    // The step's own DescribeSecret, then three looks at the replicas (InProgress, InProgress, InSync).
    expect(describes).toBe(4);
    expect(suite.logs.text()).toContain('every replica is in sync');
    const current = await suite.player.value<PgSecret>(user.arn);
    const replica = await replicaValue(user.replicaArn);
    expect(replica.versionId).toBe(token);
    expect(replica.password).toBe(current.password);
    expect(await logsIn(replica)).toBe(true);
    expect(await logsIn({ ...replica, password: user.password })).toBe(false);
  });

  it('costs one DescribeSecret more than a rotation without replicas, and nothing more for a secret without them', async () => {
    const replicated = await arrange();
    const plain = await arrange({ replicated: false });
    const sleeps: number[] = [];
    const handler = rotation(sleeps);
    const cost = async (arn: string) => {
      const { outcomes } = await suite.player.rotate(handler, arn);
      expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
      return { total: outcomes.reduce((n, o) => n + o.secretsManagerCalls, 0), finish: outcomes[3]!.secretsManagerCalls };
    };
    const withReplicas = await cost(replicated.arn);
    const without = await cost(plain.arn);
    expect(withReplicas.finish).toBe(without.finish + 1);
    expect(withReplicas.total).toBe(without.total + 1);
    expect(without.total).toBeLessThanOrEqual(10);
    expect(sleeps).toEqual([]);
    console.info(
      `[figure] replicated rotation (replica InSync, as moto reports): ${withReplicas.total} Secrets Manager calls ` +
        `(finishSecret ${withReplicas.finish}); the same rotation without replicas: ${without.total} (finishSecret ${without.finish})`,
    );
  });

  it('fails while a replica reports Failed, naming the region and status; the retry finishes once it is InSync; AWSCURRENT logs in throughout', async () => {
    // Prepare
    const user = await arrange({ strategy: 'alternating-users' });
    const sleeps: number[] = [];
    const handler = rotation(sleeps, { strategy: 'alternating-users' });
    const token = await suite.player.startRotation(user.arn);
    await suite.player.runSteps(handler, user.arn, token, STEPS.slice(0, 3));
    const message = `Replication failed: the KMS key alias/app does not exist in ${REPLICA_REGION}`;
    proxy.rule(() => ({ Status: 'Failed', StatusMessage: message }));
    // The per-secret RotationFinished metric (EMF records in the captured output).
    const finishedMetrics = () => suite.logs.records().filter((r) => RotorMetrics.ROTATION_FINISHED in r).length;
    const finishedBefore = finishedMetrics();
    // Act
    const failed = await handler(suite.player.event(user.arn, token, 'finishSecret'), lambdaContext()).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    // Assess: the step failed with the region and its state, without waiting, after AWSCURRENT moved.
    expect(failed).toBeInstanceOf(ReplicaSyncError);
    expect(failed!.message).toContain(`replication failed: ${REPLICA_REGION} Failed (${message})`);
    expect(failed!.message).toContain('A retry of finishSecret waits again');
    expect((failed as ReplicaSyncError).replicas).toEqual([{ region: REPLICA_REGION, status: 'Failed' }]);
    expect(sleeps).toEqual([]);
    expect((await suite.player.versions(user.arn))[token]).toEqual(['AWSCURRENT']);
    const during = await suite.player.value<PgSecret>(user.arn);
    expect(await logsIn(during)).toBe(true);
    const tags = (await suite.player.describe(user.arn)).Tags ?? [];
    expect(tags.find((t) => t.Key === 'rotor:last-failure')?.Value).toMatch(/^finishSecret \S+ ReplicaSyncError$/);

    // Act: Secrets Manager retries finishSecret while the replica is still Failed, then once it is InSync.
    const again = await handler(suite.player.event(user.arn, token, 'finishSecret'), lambdaContext()).catch((err: Error) => err);
    expect(again).toBeInstanceOf(ReplicaSyncError);
    proxy.rule(undefined);
    const retry = await handler(suite.player.event(user.arn, token, 'finishSecret'), lambdaContext());
    // Assess
    expect(retry.outcome).toBe('already-current');
    // The rotation is counted once: by the retry that finished it, not by the attempts that failed.
    expect(finishedMetrics()).toBe(finishedBefore + 1);
    expect((await handler(suite.player.event(user.arn, token, 'finishSecret'), lambdaContext())).outcome).toBe('already-current');
    expect(finishedMetrics()).toBe(finishedBefore + 1);
    const after = (await suite.player.describe(user.arn)).Tags ?? [];
    expect(after.find((t) => t.Key === 'rotor:last-failure')).toBeUndefined();
    const current = await suite.player.value<PgSecret>(user.arn);
    expect(await logsIn(current)).toBe(true);
    expect(await logsIn(await replicaValue(user.replicaArn))).toBe(true);
    expect(current.username).not.toBe(user.username);
    // The old login keeps working until the next rotation (alternating users).
    expect(await logsIn({ username: user.username, password: user.password })).toBe(true);
  });

  it('fails with a clear error when a replica is still InProgress at the bound (capped by the invocation\'s deadline)', async () => {
    const user = await arrange();
    const sleeps: number[] = [];
    const handler = rotation(sleeps);
    const token = await suite.player.startRotation(user.arn);
    await suite.player.runSteps(handler, user.arn, token, STEPS.slice(0, 3));
    proxy.rule(() => ({ Status: 'InProgress', StatusMessage: 'Replication in progress' }));
    const { result: failed, describes } = await describeCalls(() =>
      handler(suite.player.event(user.arn, token, 'finishSecret'), lambdaContext()).then(
        () => undefined,
        (err: unknown) => err as Error,
      ),
    );
    proxy.rule(undefined);
    // The harness's invocation has 30 s left; 2 s are kept in hand: 28 s of 1 s polls, not the 30 s bound.
    const expectedSleeps = Math.floor((30_000 - 2_000) / Bounds.replicaSync.pollMs);
    expect(Bounds.replicaSync.waitMs).toBeGreaterThanOrEqual(30_000 - 2_000);
    expect(sleeps).toHaveLength(expectedSleeps);
    expect(describes).toBe(1 + 1 + expectedSleeps);
    expect(failed).toBeInstanceOf(ReplicaSyncError);
    expect(failed!.message).toBe(
      `secret ${user.arn}: AWSCURRENT is version ${token} on the primary, but not every replica is in sync after ${expectedSleeps} s: ` +
        `${REPLICA_REGION} InProgress (Replication in progress); clients reading that replica still get the previous value. ` +
        'A retry of finishSecret waits again',
    );
    expect(suite.logs.text()).toContain('replicas not in sync');
    // A smaller bound of the deployment's own is honoured too.
    const short: number[] = [];
    const token2Handler = rotation(short, { bounds: { replicaSyncWaitMs: 3_000, replicaSyncPollMs: 500 } });
    proxy.rule(() => ({ Status: 'InProgress' }));
    const second = await token2Handler(suite.player.event(user.arn, token, 'finishSecret'), lambdaContext()).catch((err: Error) => err);
    proxy.rule(undefined);
    expect(second).toBeInstanceOf(ReplicaSyncError);
    expect(short).toEqual([500, 500, 500, 500, 500, 500]);
    // Once in sync, the retry succeeds.
    expect((await handler(suite.player.event(user.arn, token, 'finishSecret'), lambdaContext())).outcome).toBe('already-current');
  });
});

describe('emergency revocation of a secret with replicas', () => {
  async function arrangeLeak() {
    await createRotationFunction(suite.moto.endpoint);
    const user = await arrange({ strategy: 'alternating-users' });
    await suite.player.client.send(
      new TagResourceCommand({ SecretId: user.arn, Tags: [{ Key: 'rotor:kind', Value: 'postgres' }, { Key: 'rotor:strategy', Value: 'alternating-users' }] }),
    );
    const rotationFn = suite.handler(postgresKind, { ROTATION_STRATEGY: 'alternating-users' });
    await suite.player.rotate(rotationFn, user.arn);
    const leaked = await suite.player.value<PgSecret>(user.arn);
    const leakedVersionId = (await suite.player.versionOf(user.arn, 'AWSCURRENT'))!;
    return { ...user, rotationFn, leaked, leakedVersionId };
  }

  async function deliver(arn: string, rotationFn: Handler, sleeps: number[]): Promise<EmergencyResult> {
    const handler = createEmergencyHandler({
      sm: smClient(proxy.endpoint),
      events: eventsClient(suite.moto.endpoint),
      pollIntervalMs: 50,
      waitTimeoutMs: 20_000,
      sleep: async (ms) => {
        sleeps.push(ms);
        await new Promise((r) => setTimeout(r, Math.min(ms, 50)));
      },
    });
    const service = playRotations(suite.player, rotationFn, arn);
    try {
      const event = { id: randomUUID(), source: 'rotor', 'detail-type': 'Secret Leak Detected', detail: { secretId: arn, reason: 'replica test' } };
      const [result] = await handler(event as never, lambdaContext('rotor-emergency')).catch((err: unknown) => {
        suite.logs.note(errorText(err));
        throw err;
      });
      return result!;
    } finally {
      await service.stop();
      expect(service.errors).toEqual([]);
    }
  }

  it('removes AWSPREVIOUS from the leaked version on the primary and on the replica, and reports the replica in sync', async () => {
    const leak = await arrangeLeak();
    const seen = await captureEvents(suite.moto.endpoint, { source: ['rotor'], 'detail-type': ['Secret Revoked'] });
    const result = await deliver(leak.arn, leak.rotationFn, []);
    expect(result).toMatchObject({
      outcome: 'rotated-and-revoked',
      leakedVersionId: leak.leakedVersionId,
      replicas: [{ region: REPLICA_REGION, status: 'InSync' }],
      replicasNotInSync: [],
    });
    expect(await logsIn(leak.leaked)).toBe(false);
    expect((await suite.player.versions(leak.arn))[leak.leakedVersionId]).toEqual([]);
    // In the replica's region: no label on the leaked version, no AWSPREVIOUS to fall back to.
    const replica = await replicaRegionClient().send(new DescribeSecretCommand({ SecretId: leak.replicaArn }));
    expect(replica.VersionIdsToStages?.[leak.leakedVersionId]).toEqual([]);
    expect(Object.values(replica.VersionIdsToStages ?? {}).flat()).not.toContain('AWSPREVIOUS');
    await expect(replicaValue(leak.replicaArn, 'AWSPREVIOUS')).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    const current = await replicaValue(leak.replicaArn);
    expect(current.versionId).not.toBe(leak.leakedVersionId);
    expect(await logsIn(current)).toBe(true);
    const [revoked] = await seen.drain();
    expect(revoked?.detail).toMatchObject({ revokedVersionId: leak.leakedVersionId, replicas: [{ region: REPLICA_REGION, status: 'InSync' }], replicasNotInSync: [] });
    suite.logs.note(JSON.stringify(revoked));
  });

  it('reports a replica still not in sync at the bound in the result and the Revoked event, and still revokes', async () => {
    const leak = await arrangeLeak();
    const seen = await captureEvents(suite.moto.endpoint, { source: ['rotor'], 'detail-type': ['Secret Revoked'] });
    // Only the emergency handler's client goes through the stand-in; the played rotation function sees moto's InSync.
    proxy.rule(() => ({ Status: 'InProgress' }));
    const sleeps: number[] = [];
    let result: EmergencyResult;
    try {
      result = await deliver(leak.arn, leak.rotationFn, sleeps);
    } finally {
      proxy.rule(undefined);
    }
    expect(result).toMatchObject({
      outcome: 'rotated-and-revoked',
      replicas: [{ region: REPLICA_REGION, status: 'InProgress' }],
      replicasNotInSync: [REPLICA_REGION],
    });
    const replicaPolls = sleeps.filter((ms) => ms === Bounds.replicaSync.pollMs);
    expect(replicaPolls).toHaveLength(Bounds.replicaSync.waitMs / Bounds.replicaSync.pollMs);
    expect(await logsIn(leak.leaked)).toBe(false);
    expect((await suite.player.versions(leak.arn))[leak.leakedVersionId]).toEqual([]);
    const [revoked] = await seen.drain();
    expect(revoked?.detail).toMatchObject({ replicasNotInSync: [REPLICA_REGION] });
    expect(suite.logs.text()).toContain(`replicas not in sync after AWSPREVIOUS was removed: ${REPLICA_REGION} InProgress`);
    suite.logs.note(JSON.stringify(revoked));
  });
});
