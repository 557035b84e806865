import { GetAccessKeyLastUsedCommand } from '@aws-sdk/client-iam';
import { PutSecretValueCommand, TagResourceCommand, UntagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RetireEvidence } from '../lambdas/contract/index.js';
import { evidenceDefaults, readEvidencePolicy, weighEvidence, type EvidencePolicy } from '../lambdas/retire/evidence.js';
import { ConfigurationError, RetireError } from '../lambdas/core/errors.js';
import { createRetireHandler, retireDefaults, type RetireReport } from '../lambdas/retire/retire.js';
import { RotorTags } from '../lambdas/core/types.js';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { lambdaContext } from '../bin/local/harness.js';
import { callerArn, uniqueName, useIamSuite } from './support/iam.js';
import { region } from '../bin/local/awsAdmin.js';

const t = useIamSuite();
const { suite } = t;
const HOUR = 3_600_000;

// moto is not reset between cases (the administrator lives in it): a case's secrets leave
// Rotor's management when it ends, so that later retire runs do not see them.
const owned: string[] = [];
afterEach(async () => {
  for (const arn of owned.splice(0)) {
    await t.sm.send(new UntagResourceCommand({ SecretId: arn, TagKeys: [RotorTags.KIND] }));
  }
});

/** A user whose secret has been rotated once: AWSCURRENT a new key, AWSPREVIOUS the first one. */
async function rotatedOnce(opts: Parameters<typeof t.arrange>[0] = {}) {
  const user = await t.arrange(opts);
  owned.push(user.arn);
  await suite.player.rotate(t.handler(), user.arn);
  return { ...user, current: await t.value(user.arn) };
}

const retire = (now: () => Date) => t.retireHandler({ iam: t.kind() }, now);
const run = (now: Date) => retire(() => now)({}, lambdaContext('rotor-retire'));
const resultFor = (report: RetireReport, arn: string) =>
  [...report.retired, ...report.skipped, ...report.failed].find((r) => r.secretArn === arn);

describe('retire handler with the IAM kind', () => {
  it('keeps the previous key active until its grace window ends, deactivates it after, and the next rotation deletes it', async () => {
    // Prepare
    const user = await rotatedOnce();
    const open = await run(new Date());
    const window = resultFor(open, user.arn);
    expect(window).toMatchObject({ outcome: 'skipped', reason: 'grace window not over' });
    const ends = Date.parse(window!.graceEndsAt!);
    expect(ends - Date.now()).toBeGreaterThan(23.9 * HOUR);
    expect(ends - Date.now()).toBeLessThanOrEqual(24 * HOUR);
    // Act 1: one millisecond before the window ends
    const before = await run(new Date(ends - 1));
    // Assess 1
    expect(resultFor(before, user.arn)).toMatchObject({ outcome: 'skipped' });
    expect(await t.keys(user.username)).toEqual({ [user.key.accessKeyId]: 'Active', [user.current.accessKeyId]: 'Active' });
    // Act 2: when it ends
    const after = await run(new Date(ends));
    // Assess 2
    const versionId = await suite.player.versionOf(user.arn, 'AWSPREVIOUS');
    expect(resultFor(after, user.arn)).toMatchObject({ outcome: 'retired', versionId });
    expect(await t.keys(user.username)).toEqual({ [user.key.accessKeyId]: 'Inactive', [user.current.accessKeyId]: 'Active' });
    expect(await callerArn(user.current)).toMatch(/:user\//);
    const tags = (await suite.player.describe(user.arn)).Tags ?? [];
    expect(tags).toContainEqual({ Key: RotorTags.RETIRED_VERSION, Value: versionId });
    // Act 3: the next rotation
    await suite.player.rotate(t.handler(), user.arn);
    // Assess 3: the inactive key is gone, without a "cut short" warning
    const next = await t.value(user.arn);
    expect(await t.keys(user.username)).toEqual({ [user.current.accessKeyId]: 'Active', [next.accessKeyId]: 'Active' });
    expect(suite.logs.records().some((r) => String(r.message).includes('cuts that window short'))).toBe(false);
  });

  it('is idempotent: a second run leaves everything as the first left it', async () => {
    const user = await rotatedOnce();
    const later = new Date(Date.now() + 25 * HOUR);
    const first = await run(later);
    expect(resultFor(first, user.arn)).toMatchObject({ outcome: 'retired' });
    const second = await run(later);
    expect(resultFor(second, user.arn)).toMatchObject({ outcome: 'skipped', reason: 'AWSPREVIOUS already retired' });
    expect(await t.keys(user.username)).toEqual({ [user.key.accessKeyId]: 'Inactive', [user.current.accessKeyId]: 'Active' });
    // Without the tag (a run that stopped after deactivating), IAM's status says there is nothing to do.
    await t.sm.send(new UntagResourceCommand({ SecretId: user.arn, TagKeys: [RotorTags.RETIRED_VERSION] }));
    const third = await run(later);
    expect(resultFor(third, user.arn)).toMatchObject({ outcome: 'retired' });
    expect(suite.logs.records().some((r) => r.message === 'the previous access key is already inactive')).toBe(true);
    expect(await t.keys(user.username)).toEqual({ [user.key.accessKeyId]: 'Inactive', [user.current.accessKeyId]: 'Active' });
  });

  it('takes the grace window from the secret, else from the rotor:grace-hours tag, else 24 hours', async () => {
    const fromValue = await rotatedOnce({ extra: { graceperiod: 2 }, tags: { [RotorTags.KIND]: 'iam', [RotorTags.GRACE_HOURS]: '48' } });
    const fromTag = await rotatedOnce({ tags: { [RotorTags.KIND]: 'iam', [RotorTags.GRACE_HOURS]: '48' } });
    const byDefault = await rotatedOnce();
    const at = (hours: number) => run(new Date(Date.now() + hours * HOUR));

    const three = await at(3);
    expect(resultFor(three, fromValue.arn)?.outcome).toBe('retired');
    expect(resultFor(three, fromTag.arn)?.outcome).toBe('skipped');
    expect(resultFor(three, byDefault.arn)?.outcome).toBe('skipped');
    const day = await at(25);
    expect(resultFor(day, fromTag.arn)?.outcome).toBe('skipped');
    expect(resultFor(day, byDefault.arn)?.outcome).toBe('retired');
    const twoDays = await at(49);
    expect(resultFor(twoDays, fromTag.arn)?.outcome).toBe('retired');
    expect(retireDefaults.graceHours).toBe(24);
  });

  it('skips secrets Rotor does not manage and kinds that are not dual-active', async () => {
    // An IAM secret without the rotor:kind tag, and one tagged as a PostgreSQL secret.
    const unmanaged = await t.arrange({ tags: null });
    const otherKind = await t.arrange({ tags: { [RotorTags.KIND]: 'postgres' } });
    owned.push(otherKind.arn);
    for (const s of [unmanaged, otherKind]) await suite.player.rotate(t.handler(), s.arn);
    const report = await run(new Date(Date.now() + 100 * HOUR));
    expect(resultFor(report, unmanaged.arn)).toBeUndefined();
    expect(resultFor(report, otherKind.arn)).toMatchObject({ outcome: 'skipped', reason: "kind 'postgres' is not dual-active" });
    for (const s of [unmanaged, otherKind]) {
      expect(Object.values(await t.keys(s.username))).toEqual(['Active', 'Active']);
    }
  });

  it('reports a failure on one secret and still retires the others; the run fails without any value in its error', async () => {
    // Prepare: a secret whose AWSPREVIOUS is not valid, next to a healthy one.
    const healthy = await rotatedOnce();
    const broken = await t.arrange();
    owned.push(broken.arn);
    await t.sm.send(
      new PutSecretValueCommand({
        SecretId: broken.arn,
        SecretString: JSON.stringify({ username: broken.username, secretAccessKey: broken.key.secretAccessKey }),
        VersionStages: ['AWSCURRENT'],
      }),
    );
    await t.sm.send(
      new PutSecretValueCommand({
        SecretId: broken.arn,
        SecretString: JSON.stringify({ username: broken.username, ...(await t.createKey(broken.username)) }),
        VersionStages: ['AWSCURRENT'],
      }),
    );
    // Act
    const failure = run(new Date(Date.now() + 25 * HOUR));
    // Assess
    await expect(failure).rejects.toThrow(RetireError);
    const error = (await failure.catch((e: unknown) => e)) as RetireError & { report: RetireReport };
    expect(error.message).toMatch(new RegExp(`${broken.arn} \\(SecretFormatError: .*AWSPREVIOUS.*field 'accessKeyId' is missing\\)`));
    expect(resultFor(error.report, healthy.arn)).toMatchObject({ outcome: 'retired' });
    expect(await t.keys(healthy.username)).toEqual({ [healthy.key.accessKeyId]: 'Inactive', [healthy.current.accessKeyId]: 'Active' });
  });

  it('refuses to retire an AWSPREVIOUS that holds the current key', async () => {
    const user = await t.arrange();
    owned.push(user.arn);
    // The same key put twice: AWSPREVIOUS and AWSCURRENT hold one credential.
    await t.sm.send(
      new PutSecretValueCommand({
        SecretId: user.arn,
        SecretString: JSON.stringify({ username: user.username, ...user.key, note: 'again' }),
        VersionStages: ['AWSCURRENT'],
      }),
    );
    const report = await retire(() => new Date(Date.now() + 25 * HOUR))({}, lambdaContext()).catch(
      (e: RetireError & { report: RetireReport }) => e.report,
    );
    expect(resultFor(report, user.arn)).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/same credential as AWSCURRENT/) });
    expect(await t.keys(user.username)).toEqual({ [user.key.accessKeyId]: 'Active' });
  });

  it('refuses a registry it could not use, naming the kind', () => {
    suite.sensitive(t.admin.secretAccessKey);
    expect(() => createRetireHandler({})).toThrow(/no kinds registered/);
    expect(() => createRetireHandler({ postgres: postgresKind })).toThrow(
      new ConfigurationError("retire: kind 'postgres' has no retire hook (only dual-active kinds can be registered)"),
    );
    expect(() => createRetireHandler({ token: t.kind() })).toThrow(/kind 'iam' is registered as 'token'/);
  });

  it('reads a malformed rotor:grace-hours tag as a failure of that secret only', async () => {
    const user = await rotatedOnce();
    await t.sm.send(new TagResourceCommand({ SecretId: user.arn, Tags: [{ Key: RotorTags.GRACE_HOURS, Value: 'a day' }] }));
    const report = await retire(() => new Date(Date.now() + 25 * HOUR))({}, lambdaContext()).catch(
      (e: RetireError & { report: RetireReport }) => e.report,
    );
    expect(resultFor(report, user.arn)).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/tag rotor:grace-hours 'a day' is not a number of hours/) });
    expect(Object.values(await t.keys(user.username))).toEqual(['Active', 'Active']);
  });

  it('the deployed entry (lambdas/retire/index.ts) runs with the function\'s own credentials and clock', async () => {
    const user = await rotatedOnce();
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: t.admin.accessKeyId, AWS_SECRET_ACCESS_KEY: t.admin.secretAccessKey });
    suite.sensitive(t.admin.secretAccessKey);
    try {
      const { handler, retireKinds } = await import('../lambdas/retire/index.js');
      expect(Object.keys(retireKinds)).toContain('iam');
      const report = await handler({}, lambdaContext('rotor-retire'));
      expect(resultFor(report, user.arn)).toMatchObject({ outcome: 'skipped', reason: 'grace window not over' });
      expect(report.failed).toEqual([]);
    } finally {
      process.env = saved;
    }
  });
});

/**
 * Issue 11: retire on evidence, not only on a timer. The evidence is moto's own: with signature
 * checks on, every signed call records the key's LastUsedDate, ServiceName and Region at the
 * server's (real) time, and GetAccessKeyLastUsed answers it. moto's clock cannot be moved, so the
 * retire run's injected clock is moved instead (past the grace window, past the last use plus
 * the quiet period, past the hard limit).
 */
describe('retire on evidence (issue 11): the previous IAM key is kept while a consumer still uses it', () => {
  const alarms = { topicArn: '', queueUrl: '', sns: undefined as unknown as SNSClient, sqs: undefined as unknown as SQSClient };
  beforeAll(async () => {
    const clientConfig = { endpoint: suite.moto.endpoint, region, credentials: t.admin };
    alarms.sns = new SNSClient(clientConfig);
    alarms.sqs = new SQSClient(clientConfig);
    alarms.topicArn = (await alarms.sns.send(new CreateTopicCommand({ Name: uniqueName('rotor-alarms') }))).TopicArn!;
    alarms.queueUrl = (await alarms.sqs.send(new CreateQueueCommand({ QueueName: uniqueName('alarm-inbox') }))).QueueUrl!;
    const queueArn = (await alarms.sqs.send(new GetQueueAttributesCommand({ QueueUrl: alarms.queueUrl, AttributeNames: ['QueueArn'] })))
      .Attributes!.QueueArn!;
    await alarms.sns.send(new SubscribeCommand({ TopicArn: alarms.topicArn, Protocol: 'sqs', Endpoint: queueArn }));
  });
  /** The notifications the alarm topic delivered since the last call (SNS envelopes from the SQS subscription). */
  async function notifications(): Promise<Array<{ Subject: string; Message: string }>> {
    const out = await alarms.sqs.send(new ReceiveMessageCommand({ QueueUrl: alarms.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    return (out.Messages ?? []).map((m) => JSON.parse(m.Body!) as { Subject: string; Message: string });
  }
  const notify = () => ({ sns: alarms.sns, topicArn: alarms.topicArn });
  const runWith = (env: Record<string, string>, now: Date) =>
    t.retireHandler({ iam: t.kind() }, () => now, { env, notify: notify() })({}, lambdaContext('rotor-retire'));
  const lastUsed = async (accessKeyId: string) =>
    (await t.iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: accessKeyId }))).AccessKeyLastUsed!;
  const inUseMetrics = () => suite.logs.records().filter((r) => 'PreviousCredentialInUse' in r);

  it('kept while used: a call signed with the old key after the rotation keeps it Active, with the metric and a notification; retired once unused for the quiet period', async () => {
    // Prepare: rotated, then a consumer that still holds the old key signs a call with it.
    const user = await rotatedOnce();
    expect((await lastUsed(user.key.accessKeyId)).ServiceName).toBe('N/A'); // moto: never used so far
    expect(await callerArn(user.key)).toMatch(/:user\//);
    const use = await lastUsed(user.key.accessKeyId);
    expect(use).toMatchObject({ ServiceName: 'sts', Region: region });
    const usedAt = use.LastUsedDate!.getTime();
    // moto records the use at the server's time, a moment after the rotation: the test sets the
    // margin to 0 so that this use counts (with the default hour it is the switch-over's tail),
    // and a quiet period of two days (a consumer must leave the key unused that long).
    const env = { RETIRE_IN_USE_MARGIN_SECONDS: '0', RETIRE_QUIET_HOURS: '48' };
    const ends = Date.parse(resultFor(await run(new Date()), user.arn)!.graceEndsAt!);
    await notifications();

    // Act 1: the first run after the grace window
    const first = await runWith(env, new Date(ends));
    // Assess 1: kept, reported with the service and region that used it
    const limitAt = new Date(ends + RetireEvidence.limitHours.default * HOUR).toISOString();
    expect(resultFor(first, user.arn)).toMatchObject({
      outcome: 'skipped',
      reason: 'previous credential still in use',
      lastUse: { at: new Date(usedAt).toISOString(), service: 'sts', region, credentialId: user.key.accessKeyId },
      inUseLimitAt: limitAt,
    });
    expect(await t.keys(user.username)).toEqual({ [user.key.accessKeyId]: 'Active', [user.current.accessKeyId]: 'Active' });
    const warning = suite.logs.records().find((r) => r.message === 'the previous credential is still in use: a consumer still holds it');
    expect(warning).toMatchObject({ lastUsedService: 'sts', lastUsedRegion: region, credentialId: user.key.accessKeyId, secretArn: user.arn });
    const metric = inUseMetrics().at(-1) as Record<string, unknown> & { _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][] }> } };
    expect(metric).toMatchObject({ PreviousCredentialInUse: 1, kind: 'iam', service: 'rotor-retire' });
    expect(metric._aws.CloudWatchMetrics[0]!.Namespace).toBe('Rotor');
    expect([...metric._aws.CloudWatchMetrics[0]!.Dimensions[0]!].sort()).toEqual(['kind', 'service']);
    const sent = (await notifications()).filter((n) => n.Message.includes(user.arn));
    expect(sent).toHaveLength(1);
    expect(sent[0]!.Subject).toMatch(/^Rotor: previous iam credential of iam\/secret-\w+ still in use$/);
    expect(sent[0]!.Message).toContain(`Last used: ${new Date(usedAt).toISOString()} by sts in ${region}`);
    expect(sent[0]!.Message).toContain(`Credential: ${user.key.accessKeyId}`);
    expect(sent[0]!.Message).toMatch(/tries again at its next run/);

    // Act 2: the next run, an hour later, and a day later: no new use, still within the quiet period
    const second = await runWith(env, new Date(ends + HOUR));
    expect(resultFor(second, user.arn)).toMatchObject({ outcome: 'skipped', reason: 'previous credential still in use' });
    const nextDay = await runWith(env, new Date(ends + 24 * HOUR));
    expect(resultFor(nextDay, user.arn)).toMatchObject({
      outcome: 'skipped',
      reason: 'previous credential still in use',
      lastUse: { at: new Date(usedAt).toISOString() },
    });
    expect((await t.keys(user.username))[user.key.accessKeyId]).toBe('Active');

    // Act 3: the consumer stopped: no use since, and the run's clock is past the last use plus the quiet period
    expect((await lastUsed(user.key.accessKeyId)).LastUsedDate!.getTime()).toBe(usedAt);
    const quiet = usedAt + 48 * HOUR;
    const justBefore = await runWith(env, new Date(quiet - 1));
    expect(resultFor(justBefore, user.arn)).toMatchObject({ outcome: 'skipped', reason: 'previous credential still in use' });
    const after = await runWith(env, new Date(quiet));
    // Assess 3: retired (deactivated), as without evidence
    expect(resultFor(after, user.arn)).toMatchObject({ outcome: 'retired' });
    expect(resultFor(after, user.arn)?.lastUse).toBeUndefined();
    expect(await t.keys(user.username)).toEqual({ [user.key.accessKeyId]: 'Inactive', [user.current.accessKeyId]: 'Active' });
    expect(await callerArn(user.current)).toMatch(/:user\//);
  });

  it('a use within the margin after the switch-over (a consumer cache refreshing) does not hold the key', async () => {
    const user = await rotatedOnce();
    expect(await callerArn(user.key)).toMatch(/:user\//); // moments after the rotation, well within the default hour
    const ends = Date.parse(resultFor(await run(new Date()), user.arn)!.graceEndsAt!);
    const report = await runWith({}, new Date(ends));
    expect(resultFor(report, user.arn)).toMatchObject({ outcome: 'retired' });
    expect((await t.keys(user.username))[user.key.accessKeyId]).toBe('Inactive');
    expect(suite.logs.records().find((r) => r.message === 'the previous credential was last used before it could hold the retirement')).toMatchObject({
      why: 'not used since the new value took over (plus the margin)',
    });
  });

  it('past the hard limit: deactivates a key still in use with a warning (the default), or keeps it and fails the run (keep)', async () => {
    // Prepare: two rotated users whose old keys are still used; a quiet period longer than the
    // hard limit, so that moto's (real-time) use still counts when the clock is past the limit.
    const anyway = await rotatedOnce();
    const kept = await rotatedOnce();
    for (const u of [anyway, kept]) expect(await callerArn(u.key)).toMatch(/:user\//);
    const env = { RETIRE_IN_USE_MARGIN_SECONDS: '0', RETIRE_QUIET_HOURS: String(RetireEvidence.quietHours.max) };
    const open = await run(new Date());
    const endsOf = (u: { arn: string }) => Date.parse(resultFor(open, u.arn)!.graceEndsAt!);
    const limit = RetireEvidence.limitHours.default * HOUR;

    // One millisecond before the limit: both kept.
    const before = await runWith({ ...env, RETIRE_IN_USE_ACTION: 'keep' }, new Date(Math.min(endsOf(anyway), endsOf(kept)) + limit - 1));
    for (const u of [anyway, kept]) expect(resultFor(before, u.arn)).toMatchObject({ outcome: 'skipped', reason: 'previous credential still in use' });
    await notifications();

    const atLimit = new Date(Math.max(endsOf(anyway), endsOf(kept)) + limit);

    // Act 1: keep and alarm (RETIRE_IN_USE_ACTION=keep): both kept, the run fails
    const failure = runWith({ ...env, RETIRE_IN_USE_ACTION: 'keep' }, atLimit);
    await expect(failure).rejects.toThrow(RetireError);
    const error = (await failure.catch((e: unknown) => e)) as RetireError & { report: RetireReport };
    for (const u of [anyway, kept]) {
      expect(resultFor(error.report, u.arn)).toMatchObject({
        outcome: 'failed',
        reason: expect.stringMatching(/still in use past the hard limit .*by sts in us-east-1.*kept as RETIRE_IN_USE_ACTION=keep says/),
      });
      expect(await t.keys(u.username)).toEqual({ [u.key.accessKeyId]: 'Active', [u.current.accessKeyId]: 'Active' });
    }
    expect(error.message).toMatch(/2 of \d+ secrets could not be retired/);
    expect((await notifications()).find((n) => n.Message.includes(kept.arn))?.Message).toMatch(/kept past the hard limit/);

    // Act 2: the default action (deactivate anyway, with a warning)
    const deactivated = await runWith(env, atLimit);
    for (const u of [anyway, kept]) {
      expect(resultFor(deactivated, u.arn)).toMatchObject({
        outcome: 'retired',
        reason: 'retired while still in use: the hard limit passed',
        lastUse: { service: 'sts', region, credentialId: u.key.accessKeyId },
      });
      expect(await t.keys(u.username)).toEqual({ [u.key.accessKeyId]: 'Inactive', [u.current.accessKeyId]: 'Active' });
    }
    expect(suite.logs.records().some((r) => r.message === 'the previous credential is still in use past the hard limit' && r.action === 'deactivate')).toBe(true);
    expect((await notifications()).find((n) => n.Message.includes(anyway.arn))?.Message).toMatch(/retired anyway: the hard limit .* passed/);
    expect(inUseMetrics().length).toBeGreaterThanOrEqual(4);
  });
});

describe('weighEvidence (the rule, every branch)', () => {
  // No secret is made here: the administrator's key is what the log capture looks for.
  beforeEach(() => suite.sensitive(t.admin.secretAccessKey));
  const since = Date.UTC(2026, 0, 1);
  const graceEnds = since + 24 * HOUR;
  const policy: EvidencePolicy = { marginMs: HOUR, quietMs: 24 * HOUR, limitMs: 7 * 24 * HOUR, action: 'deactivate' };
  const at = (ms: number) => ({ credentialId: 'AKIAEXAMPLE', at: new Date(ms), service: 's3', region: 'eu-west-1' });
  const weigh = (lastUse: ReturnType<typeof at> | undefined, now: number, p: Partial<EvidencePolicy> = {}) =>
    weighEvidence({ lastUse, since, graceEnds, now, policy: { ...policy, ...p } });

  it('unused: no use recorded, a use within the margin after the switch-over, or none within the quiet period', () => {
    expect(weigh(undefined, graceEnds)).toEqual({ verdict: 'unused', why: 'no use recorded' });
    expect(weigh({ credentialId: 'AKIAEXAMPLE' } as ReturnType<typeof at>, graceEnds).verdict).toBe('unused');
    expect(weigh(at(since - HOUR), graceEnds).verdict).toBe('unused');
    expect(weigh(at(since + HOUR), graceEnds).verdict).toBe('unused');
    expect(weigh(at(since + HOUR + 1), graceEnds).verdict).toBe('in-use');
    expect(weigh(at(since + 2 * HOUR), since + 26 * HOUR)).toMatchObject({ verdict: 'unused', why: 'not used within the quiet period' });
    expect(weigh(at(since + 2 * HOUR), since + 26 * HOUR - 1).verdict).toBe('in-use');
  });

  it('in use before the hard limit: try again, naming the earliest run that can retire it and the limit', () => {
    expect(weigh(at(since + 2 * HOUR), graceEnds)).toEqual({
      verdict: 'in-use',
      retryAfter: new Date(since + 26 * HOUR),
      limitAt: new Date(graceEnds + 7 * 24 * HOUR),
    });
    // A use right before the limit: the limit comes first.
    const late = graceEnds + 7 * 24 * HOUR - HOUR;
    expect(weigh(at(late), late)).toMatchObject({ verdict: 'in-use', retryAfter: new Date(graceEnds + 7 * 24 * HOUR) });
  });

  it('in use at the hard limit: the configured action, deactivate anyway or keep', () => {
    const limitAt = graceEnds + 7 * 24 * HOUR;
    expect(weigh(at(limitAt - 1), limitAt)).toEqual({ verdict: 'limit', action: 'deactivate', limitAt: new Date(limitAt) });
    expect(weigh(at(limitAt - 1), limitAt, { action: 'keep' })).toMatchObject({ verdict: 'limit', action: 'keep' });
    expect(weigh(at(limitAt - 1), limitAt - 1).verdict).toBe('in-use');
    // limit 0: the grace window's end is the limit.
    expect(weigh(at(graceEnds - 1), graceEnds, { limitMs: 0 })).toMatchObject({ verdict: 'limit', action: 'deactivate' });
  });

  it('reads its policy from the contract settings, with their defaults and bounds', () => {
    expect(readEvidencePolicy({})).toEqual(evidenceDefaults);
    expect(evidenceDefaults).toEqual({ marginMs: 3_600_000, quietMs: 24 * HOUR, limitMs: 7 * 24 * HOUR, action: 'deactivate' });
    expect(
      readEvidencePolicy({ RETIRE_IN_USE_MARGIN_SECONDS: '300', RETIRE_QUIET_HOURS: '48', RETIRE_IN_USE_LIMIT_HOURS: '0', RETIRE_IN_USE_ACTION: 'keep' }),
    ).toEqual({ marginMs: 300_000, quietMs: 48 * HOUR, limitMs: 0, action: 'keep' });
    expect(() => readEvidencePolicy({ RETIRE_IN_USE_ACTION: 'ignore' })).toThrow(ConfigurationError);
    expect(() => readEvidencePolicy({ RETIRE_QUIET_HOURS: '0' })).toThrow(/retire handler: environment variable RETIRE_QUIET_HOURS is invalid/);
    expect(() => readEvidencePolicy({ RETIRE_IN_USE_MARGIN_SECONDS: '86401' })).toThrow(/RETIRE_IN_USE_MARGIN_SECONDS/);
    expect(() => createRetireHandler({ iam: t.kind() }, { env: { RETIRE_IN_USE_LIMIT_HOURS: 'a week' } })).toThrow(/RETIRE_IN_USE_LIMIT_HOURS/);
  });
});
