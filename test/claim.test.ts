import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLAIM_STAGE, claimVersionId, newClaimOwner, takeClaim } from '../lambdas/core/claim.js';
import { SecretsApi } from '../lambdas/core/secretsApi.js';
import { createRotationHandler } from '../lambdas/core/handler.js';
import type { StepOutcome } from '../lambdas/core/engine.js';
import { PENDING_STORE_FAILED_METRIC } from '../lambdas/core/engine.js';
import { region } from '../bin/local/awsAdmin.js';
import { lambdaContext, type Handler } from '../bin/local/harness.js';
import { callerArn, useIamSuite } from './support/iam.js';
import { startRefusingProxy, type RefusingProxy } from '../bin/local/refusingProxy.js';

/*
 * lambdas/core/claim.ts and the engine's use of it: createSecret of a kind that issues a
 * credential (here IAM access keys, against moto with signatures checked) runs once per token
 * even when Secrets Manager's at-least-once delivery starts it on two instances at the same
 * time. The stand-in in front of moto refuses a reused ClientRequestToken with a different
 * value, atomically, as AWS does.
 */

const t = useIamSuite();
const { suite } = t;
let proxy: RefusingProxy;

beforeAll(async () => {
  proxy = await startRefusingProxy(suite.moto.endpoint);
});
afterAll(async () => {
  await proxy?.close();
});

const proxied = () => new SecretsManagerClient({ endpoint: proxy.endpoint, region, credentials: t.admin });

/** A fresh function instance talking to Secrets Manager through the stand-in. */
function instance(options: { bounds?: Record<string, number> } = {}): Handler {
  suite.sensitive(t.admin.secretAccessKey);
  return suite.captured(createRotationHandler(t.kind({ testFirstDelayMs: 20 }), { client: proxied(), env: {}, bounds: options.bounds }));
}

const contextWith = (remainingMs: number) => ({ ...lambdaContext(), getRemainingTimeInMillis: () => remainingMs });

describe('createSecret claims (IAM access keys)', () => {
  it('two instances running createSecret at once create one key, in every one of 5 trials', async () => {
    for (let trial = 0; trial < 5; trial++) {
      // Prepare
      const user = await t.arrange();
      const token = await suite.player.startRotation(user.arn);
      const [a, b] = [instance(), instance()];
      // Act
      const settled = await Promise.allSettled(
        [a, b].map((h) => h(suite.player.event(user.arn, token, 'createSecret'), lambdaContext())),
      );
      // Assess: one created and stored the key; the other issued nothing and kept it.
      const outcomes = settled.map((s) => (s.status === 'fulfilled' ? s.value.outcome : `failed: ${String(s.reason)}`));
      expect(outcomes.sort()).toEqual(['done', 'pending-exists']);
      const pending = await t.value(user.arn, 'AWSPENDING');
      expect(await t.keys(user.username)).toEqual({ [user.key.accessKeyId]: 'Active', [pending.accessKeyId]: 'Active' });
      const rest = await suite.player.runSteps(a, user.arn, token, ['setSecret', 'testSecret', 'finishSecret']);
      expect(rest.map((o: StepOutcome) => o.outcome)).toEqual(['done', 'done', 'done']);
      expect(await callerArn(pending)).toMatch(new RegExp(`user/${user.username}$`));
    }
  });

  it('a claim whose holder died blocks a retry only until its lease ends; then the retry takes over and converges', async () => {
    // Prepare: an invocation took the claim (lease 1.5 s) and died before issuing anything.
    const user = await t.arrange();
    const token = await suite.player.startRotation(user.arn);
    const sm = proxied();
    const described = await sm.send(new DescribeSecretCommand({ SecretId: user.arn }));
    const dead = await takeClaim(new SecretsApi(sm), user.arn, {
      purpose: `create:${token}`,
      owner: newClaimOwner(),
      leaseMs: 1_500,
      existingVersionIds: Object.keys(described.VersionIdsToStages ?? {}),
    });
    expect(dead).toMatchObject({ won: true, attempt: 1 });
    // Act 1: a retry while the lease runs: it waits (bounded), issues nothing, and says why.
    const early = instance({ bounds: { claimWaitMs: 300, claimPollMs: 100 } });
    await expect(early(suite.player.event(user.arn, token, 'createSecret'), contextWith(20_000))).rejects.toThrow(
      /another invocation holds the createSecret claim of token .* nothing was issued here/,
    );
    expect(Object.keys(await t.keys(user.username))).toEqual([user.key.accessKeyId]);
    // Act 2: after the lease, the service's next retry takes over.
    await new Promise((r) => setTimeout(r, 1_600));
    const outcomes = await suite.player.runSteps(instance(), user.arn, token);
    // Assess
    expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
    const now = await t.value(user.arn);
    expect(await t.keys(user.username)).toEqual({ [user.key.accessKeyId]: 'Active', [now.accessKeyId]: 'Active' });
    const versions = await suite.player.versions(user.arn);
    expect(versions[claimVersionId(`create:${token}`, 2)]).toEqual([CLAIM_STAGE]);
  });

  it('retries a failed store of the new key within the invocation, and the rotation goes on', async () => {
    // Prepare: Secrets Manager answers the first two PutSecretValue of the pending value with a 500.
    const user = await t.arrange();
    const token = await suite.player.startRotation(user.arn);
    let failures = 0;
    proxy.intercept((operation, body) => {
      const stages = body.VersionStages as string[] | undefined;
      if (operation === 'PutSecretValue' && stages?.includes('AWSPENDING') && failures < 2) {
        failures++;
        return 'InternalServiceError';
      }
      return undefined;
    });
    try {
      // Act
      const outcomes = await suite.player.runSteps(instance({ bounds: { storeBackoffMs: 10 } }), user.arn, token);
      // Assess
      expect(failures).toBe(2);
      expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
      const now = await t.value(user.arn);
      expect(await t.keys(user.username)).toEqual({ [user.key.accessKeyId]: 'Active', [now.accessKeyId]: 'Active' });
    } finally {
      proxy.intercept(undefined);
    }
  });

  it('when the store keeps failing: PendingStoreFailed names the key id, the claim is released, and the next attempt converges', async () => {
    // Prepare: every PutSecretValue of the pending value fails.
    const user = await t.arrange();
    const token = await suite.player.startRotation(user.arn);
    proxy.intercept((operation, body) =>
      operation === 'PutSecretValue' && (body.VersionStages as string[] | undefined)?.includes('AWSPENDING')
        ? 'InternalServiceError'
        : undefined,
    );
    let issuedId: string | undefined;
    try {
      // Act 1
      const h = instance({ bounds: { storeBackoffMs: 10, storeAttempts: 3 } });
      const err = await h(suite.player.event(user.arn, token, 'createSecret'), contextWith(60_000)).catch((e: unknown) => e);
      // Assess 1
      expect(String((err as Error).message)).toMatch(/the new credential \(id \S+\) was issued but storing it as AWSPENDING failed 3 time/);
      issuedId = /\(id (\S+)\)/.exec((err as Error).message)?.[1];
      const metric = suite.logs.records().find((r) => PENDING_STORE_FAILED_METRIC in r);
      expect(metric).toMatchObject({ [PENDING_STORE_FAILED_METRIC]: 1, kind: 'iam', service: 'rotor', issuedId });
      // What the construct's alarm watches (test/iam-rotation.cdk.test.ts): namespace Rotor, dimensions kind + service.
      const emf = (metric as { _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][] }> } })._aws;
      expect(emf.CloudWatchMetrics[0]!.Namespace).toBe('Rotor');
      expect([...emf.CloudWatchMetrics[0]!.Dimensions[0]!].sort()).toEqual(['kind', 'service']);
    } finally {
      proxy.intercept(undefined);
    }
    // Act 2: the service retries on a cold instance at once: the released claim lets it in; the
    // unstored key carries Rotor's mark, so it is deleted rather than left live.
    const outcomes = await suite.player.runSteps(instance(), user.arn, token);
    // Assess 2
    expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
    const now = await t.value(user.arn);
    expect(now.accessKeyId).not.toBe(issuedId);
    expect(await t.keys(user.username)).toEqual({ [user.key.accessKeyId]: 'Active', [now.accessKeyId]: 'Active' });
  });
});
