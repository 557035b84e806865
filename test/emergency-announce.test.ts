import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CLAIM_STAGE } from '../lambdas/core/claim.js';
import { REDACTED } from '../lambdas/core/redact.js';
import { region } from '../bin/local/awsAdmin.js';
import { credentialVersions, emergencyDriver, guardDutyEvent, healthEvent, leakEvent } from './support/emergency.js';
import { captureEvents } from '../bin/local/events.js';
import { callerArn, uniqueName, useIamSuite, type KeyPair } from './support/iam.js';
import { createRotationFunction } from '../bin/local/moto.js';
import { startRefusingProxy, type RefusingProxy } from '../bin/local/refusingProxy.js';

/**
 * One revocation, one announcement: concurrent deliveries of one leak (at-least-once delivery, or
 * several reporters of one key) revoke it once and announce it once: one "Secret Revoked" (and
 * "Secret Rotated") event and one SNS summary; the others return 'duplicate' or
 * 'already-revoked'. The emergency handler's Secrets Manager client goes through a stand-in that,
 * like AWS and unlike moto, refuses a reused ClientRequestToken with another value, which is
 * what the announcement claim relies on. IAM access keys, on a moto that checks signatures: STS
 * really refuses the leaked key.
 */
const t = useIamSuite();
const { suite } = t;
let proxy: RefusingProxy;
let sns: SNSClient;
let sqs: SQSClient;
let topicArn = '';
let queueUrl = '';
const savedEnv = { ...process.env };

const emergency = emergencyDriver(() => ({
  endpoint: suite.moto.endpoint,
  player: suite.player,
  logs: suite.logs,
  credentials: t.admin,
  overrides: {
    sm: new SecretsManagerClient({ endpoint: proxy.endpoint, region, credentials: t.admin }),
    sns,
    topicArn,
  },
}));

beforeAll(async () => {
  await createRotationFunction(suite.moto.endpoint, 'rotor-rotation', t.admin);
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: t.admin.accessKeyId, AWS_SECRET_ACCESS_KEY: t.admin.secretAccessKey });
  const cfg = { endpoint: suite.moto.endpoint, region, credentials: t.admin };
  sns = new SNSClient(cfg);
  sqs = new SQSClient(cfg);
});
afterAll(() => {
  process.env = savedEnv;
});
beforeEach(async () => {
  proxy = await startRefusingProxy(suite.moto.endpoint);
  // A topic and a queue per case: each case counts only its own summaries.
  const topic = await sns.send(new CreateTopicCommand({ Name: uniqueName('alarms') }));
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('audit') }));
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  await sns.send(new SubscribeCommand({ TopicArn: topic.TopicArn, Protocol: 'sqs', Endpoint: queueArn }));
  topicArn = topic.TopicArn!;
  queueUrl = queue.QueueUrl!;
});
afterEach(async () => {
  await proxy?.close();
});

async function summaries() {
  const out: Array<{ Subject: string; Message: string }> = [];
  for (let i = 0; i < 10; i++) {
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    if (!got.Messages?.length) break;
    out.push(...got.Messages.map((m) => JSON.parse(m.Body!) as { Subject: string; Message: string }));
  }
  return out;
}

/** A Rotor-managed IAM secret after one normal rotation: the current key is the one that leaks. */
async function arrange() {
  const user = await t.arrange();
  suite.sensitive(t.admin.secretAccessKey);
  const rotation = t.handler();
  await suite.player.rotate(rotation, user.arn);
  const current = (await t.value(user.arn)) as KeyPair;
  const leakedVersionId = (await suite.player.versionOf(user.arn, 'AWSCURRENT'))!;
  const seen = await captureEvents(suite.moto.endpoint, { source: ['rotor'], 'detail-type': ['Secret Rotated', 'Secret Revoked'] }, t.admin);
  return { ...user, rotation, current, leakedVersionId, seen };
}

/** The ids of the versions that hold a value. */
async function withValues(arn: string, versions: Record<string, string[]>): Promise<string[]> {
  const out: string[] = [];
  for (const id of Object.keys(versions)) {
    const value = await suite.player.client
      .send(new GetSecretValueCommand({ SecretId: arn, VersionId: id }))
      .then((v) => v.SecretString ?? '', () => '');
    if (value !== '') out.push(id);
  }
  return out;
}

const userArn = (username: string) => `arn:aws:iam::123456789012:user/${username}`;

describe('emergency handler: one revocation, one announcement', () => {
  it.each([
    ['the same event delivered three times at once', (key: string, _user: string) => {
      const event = healthEvent([key]);
      return [event, event, event];
    }],
    ['three reports of the same key at once (AWS Health, GuardDuty, a scanner)', (key: string, user: string) => [
      healthEvent([key]),
      guardDutyEvent(key, user),
      leakEvent({ accessKeyId: key, reason: 'scanner: key in a public repository' }),
    ]],
  ])('%s: one Secret Revoked event, one summary, the leaked key refused, AWSCURRENT working', async (_name, events) => {
    // Prepare
    const s = await arrange();
    const before = (await withValues(s.arn, await credentialVersions(suite.player, s.arn))).length;

    // Act
    const results = (await emergency.deliver(s.arn, s.rotation, ...events(s.current.accessKeyId, s.username))).flat();

    // Assess
    expect(results).toHaveLength(3);
    const outcomes = results.map((r) => r.outcome);
    expect(outcomes.filter((o) => o === 'rotated-and-revoked')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate' || o === 'already-revoked')).toHaveLength(2);
    for (const r of results) expect(r.leakedVersionId).toBe(s.leakedVersionId);

    const announced = await s.seen.drain();
    suite.logs.note(JSON.stringify(announced));
    expect(announced.filter((e) => e['detail-type'] === 'Secret Revoked')).toHaveLength(1);
    expect(announced.filter((e) => e['detail-type'] === 'Secret Rotated')).toHaveLength(1);
    expect(announced.find((e) => e['detail-type'] === 'Secret Revoked')!.detail).toMatchObject({ revokedVersionId: s.leakedVersionId });
    const published = await summaries();
    suite.logs.note(JSON.stringify(published));
    expect(published).toHaveLength(1);
    expect(published[0]!.Message).toContain(`Revoked version: ${s.leakedVersionId}`);

    // One rotation: one new credential (plus a claim version, which holds none). Concurrent
    // RotateSecret calls with different tokens leave empty unlabelled versions in moto (AWS
    // refuses a second RotateSecret while one is in progress): they hold no value, so not counted.
    const versions = await credentialVersions(suite.player, s.arn);
    expect(await withValues(s.arn, versions)).toHaveLength(before + 1);
    expect(Object.values(versions).flat()).not.toContain('AWSPREVIOUS');
    expect(Object.values(await suite.player.versions(s.arn)).flat()).toContain(CLAIM_STAGE);
    expect(await callerArn(s.current)).toBe('refused: InvalidClientTokenId');
    const now = (await t.value(s.arn)) as KeyPair;
    expect(now.accessKeyId).not.toBe(s.current.accessKeyId);
    expect(await callerArn(now)).toBe(userArn(s.username));
    expect(await t.keys(s.username)).toEqual({ [now.accessKeyId]: 'Active' });
    // The stand-in refuses the claims (start the rotation, announce) of the deliveries that lost.
    expect(proxy.refused).toBeLessThanOrEqual(4);
  });

  it('a delivery after the announcement changes nothing and announces nothing', async () => {
    const s = await arrange();
    await emergency.deliver(s.arn, s.rotation, healthEvent([s.current.accessKeyId]));
    const after = await suite.player.versions(s.arn);
    await s.seen.drain();
    await summaries();

    const [[later]] = await emergency.deliver(s.arn, s.rotation, guardDutyEvent(s.current.accessKeyId, s.username));
    expect(later).toMatchObject({ outcome: 'already-revoked', leakedVersionId: s.leakedVersionId });
    expect(await s.seen.drain()).toEqual([]);
    expect(await summaries()).toEqual([]);
    expect(await suite.player.versions(s.arn)).toEqual(after);
  });

  it('a reason quoting the leaked secret access key is masked in the log, the events and the summary', async () => {
    const s = await arrange();
    const reason = `key ${s.current.accessKeyId} with secret ${s.current.secretAccessKey} pasted in a ticket`;
    const [[result]] = await emergency.deliver(s.arn, s.rotation, leakEvent({ accessKeyId: s.current.accessKeyId, reason }));
    const expected = `key ${REDACTED} with secret ${REDACTED} pasted in a ticket`;
    expect(result).toMatchObject({ outcome: 'rotated-and-revoked', reason: expected });
    const announced = await s.seen.drain();
    const published = await summaries();
    expect(announced.map((e) => e.detail.reason)).toEqual([expected, expected]);
    expect(published.map((p) => p.Message.includes(`Reason: ${expected} (via rotor)`))).toEqual([true]);
    expect(JSON.stringify({ announced, published }) + suite.logs.text()).not.toContain(s.current.secretAccessKey);
    suite.logs.note(JSON.stringify({ announced, published }));
  });
});
