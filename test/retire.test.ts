import { PutSecretValueCommand, TagResourceCommand, UntagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError, RetireError } from '../lambdas/core/errors';
import { createRetireHandler, retireDefaults, type RetireReport } from '../lambdas/retire/retire';
import { RotorTags } from '../lambdas/core/types';
import { postgresKind } from '../lambdas/postgres/postgresKind';
import { lambdaContext } from '../bin/local/harness';
import { callerArn, useIamSuite } from './support/iam';

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
      const { handler, retireKinds } = await import('../lambdas/retire/index');
      expect(Object.keys(retireKinds)).toContain('iam');
      const report = await handler({}, lambdaContext('rotor-retire'));
      expect(resultFor(report, user.arn)).toMatchObject({ outcome: 'skipped', reason: 'grace window not over' });
      expect(report.failed).toEqual([]);
    } finally {
      process.env = saved;
    }
  });
});
