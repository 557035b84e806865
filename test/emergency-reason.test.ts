import { TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REDACTED } from '../lambdas/core/redact.js';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { fakeAccessKeyId } from '../bin/local/awsAdmin.js';
import { emergencyDriver, leakEvent } from './support/emergency.js';
import { captureEvents } from '../bin/local/events.js';
import { createRotationFunction } from '../bin/local/moto.js';
import { adminClient, pgLogin, testPassword, uniqueName, type PostgresCluster } from '../bin/local/postgres.js';
import { useRotationSuite } from './support/rotationSuite.js';

/**
 * A leak event's free-text reason is the caller's: it may quote the leaked value or another value
 * of the secret. The handler masks it against every value of the secret (the leaked AWSCURRENT,
 * AWSPREVIOUS, AWSCURRENT after the rotation), and masks token- and access-key-shaped strings,
 * before it reaches the log, the "Secret Rotated" / "Secret Revoked" events and the SNS summary.
 * Short passwords (below the redactor's old 6-character floor) are masked too.
 */
const cluster = inject('postgres') as unknown as PostgresCluster;
const suite = useRotationSuite();
let admin: pg.Client;
let sns: SNSClient;
let sqs: SQSClient;

beforeAll(async () => {
  admin = await adminClient(cluster);
});
afterAll(async () => {
  await admin?.end();
});

/** An SNS topic with an SQS subscriber, to read the summaries the handler publishes. */
async function alarmTopic() {
  const cfg = { endpoint: suite.moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  sns = new SNSClient(cfg);
  sqs = new SQSClient(cfg);
  const topic = await sns.send(new CreateTopicCommand({ Name: uniqueName('alarms') }));
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('audit') }));
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  await sns.send(new SubscribeCommand({ TopicArn: topic.TopicArn, Protocol: 'sqs', Endpoint: queueArn }));
  return {
    topicArn: topic.TopicArn!,
    async summaries() {
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10 }));
      return (got.Messages ?? []).map((m) => JSON.parse(m.Body!) as { Subject: string; Message: string });
    },
  };
}

const emergency = (topicArn: string) =>
  emergencyDriver(() => ({ endpoint: suite.moto.endpoint, player: suite.player, logs: suite.logs, overrides: { sns, topicArn } }));

/**
 * A single-user PostgreSQL secret created with `firstPassword`, then rotated once: AWSPREVIOUS
 * holds `firstPassword`, AWSCURRENT a generated one (the leaked value).
 */
async function arrange(firstPassword: string) {
  await createRotationFunction(suite.moto.endpoint);
  const username = uniqueName('why');
  await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(firstPassword)}`);
  const arn = await suite.secret(uniqueName('why'), { engine: 'postgres', host: cluster.host, port: cluster.port, username, password: firstPassword });
  await suite.player.client.send(
    new TagResourceCommand({ SecretId: arn, Tags: [{ Key: 'rotor:kind', Value: 'postgres' }, { Key: 'rotor:strategy', Value: 'single-user' }] }),
  );
  const rotation = suite.handler(postgresKind, { ROTATION_STRATEGY: 'single-user' });
  await suite.player.rotate(rotation, arn);
  const leaked = await suite.player.value<{ username: string; password: string }>(arn);
  return { arn, rotation, leaked };
}

describe('emergency handler: the caller\'s reason is masked before it is echoed', () => {
  it.each([
    ['a 3-character previous password, quoted as a word', 'Zq~', (p: string) => `old password ${p} too`],
    ['a 5-character previous password, glued to other text', 'k7#Qp', (p: string) => `old one was x${p}x`],
  ])('masks the leaked password, %s, and token- and key-shaped strings: log, events, SNS summary', async (_name, previous, quote) => {
    // Prepare
    const { arn, rotation, leaked } = await arrange(previous);
    const topic = await alarmTopic();
    const seen = await captureEvents(suite.moto.endpoint, { source: ['rotor'], 'detail-type': ['Secret Rotated', 'Secret Revoked'] });
    const otherToken = `ghp_${testPassword().replace(/[^A-Za-z0-9]/g, '')}9`;
    const keyId = fakeAccessKeyId();
    suite.sensitive(otherToken);
    const reason = `found "${leaked.password}" in a gist; ${quote(previous)}; also ${otherToken} and ${keyId} (SEC-42)`;

    // Act
    const [[result]] = await emergency(topic.topicArn).deliver(arn, rotation, leakEvent({ secretId: arn, reason }));

    // Assess: the revocation happened, and no echo of the reason carries a value.
    expect(result!.outcome).toBe('rotated-and-revoked');
    expect(await pgLogin(cluster, leaked.username, leaked.password)).toBe(false);
    const now = await suite.player.value<{ username: string; password: string }>(arn);
    expect(await pgLogin(cluster, now.username, now.password)).toBe(true);

    const expected = `found "${REDACTED}" in a gist; ${quote(REDACTED)}; also ${REDACTED} and ${REDACTED} (SEC-42)`;
    expect(result!.reason).toBe(expected);
    const announced = await seen.drain();
    expect(announced.map((e) => e['detail-type']).sort()).toEqual(['Secret Revoked', 'Secret Rotated']);
    for (const e of announced) expect(e.detail.reason).toBe(expected);
    const summaries = await topic.summaries();
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.Message).toContain(`Reason: ${expected} (via rotor)`);
    const logged = suite.logs.records().filter((r) => r.message === 'leaked value revoked');
    expect(logged).toHaveLength(1);
    expect(logged[0]!.reason).toBe(expected);

    const everything = JSON.stringify({ announced, summaries, result }) + suite.logs.text();
    for (const value of [leaked.password, now.password, otherToken, keyId]) expect(everything).not.toContain(value);
    expect(everything).not.toContain(quote(previous));
    // The suite's own check (after the case) looks for every password of every version in the logs.
    suite.logs.note(JSON.stringify({ announced, summaries }));
  });

  it('masks the reason of a duplicate delivery too (the leaked value is then unlabelled)', async () => {
    const { arn, rotation, leaked } = await arrange(testPassword());
    const event = leakEvent({ secretId: arn, reason: `pasted ${leaked.password} in chat` });
    await emergency('').deliver(arn, rotation, event);
    const [[again]] = await emergency('').deliver(arn, rotation, event);
    expect(again).toMatchObject({ outcome: 'duplicate', reason: `pasted ${REDACTED} in chat` });
    suite.logs.note(JSON.stringify(again));
  });
});
