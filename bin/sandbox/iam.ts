import { CreateAccessKeyCommand, CreateUserCommand, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { createRetireHandler, type RetireReport, type RetireResult, type RetireKinds } from '../../lambdas/core/retire';
import { RotorTags } from '../../lambdas/core/types';
import { createIamKind } from '../../lambdas/iam/iamKind';
import { lambdaContext } from '../../test/support/harness';
import { uniqueName } from '../../test/support/postgres';
import { stsAnswer, type KeyPair } from './aws';
import {
  nameOf,
  plural,
  printLabels,
  quietHandler,
  quietLogger,
  sandboxMetrics,
  short,
  tagSecret,
  totals,
  type SandboxContext,
} from './common';

interface IamValue extends KeyPair {
  username: string;
}

const HOUR = 3_600_000;

/** One run of the scheduled retire handler with an injected clock; this secret's result. */
export async function retireRun(ctx: SandboxContext, kinds: RetireKinds, arn: string, at: Date) {
  const handler = createRetireHandler(kinds, {
    client: ctx.client,
    now: () => at,
    logger: quietLogger('rotor-retire'),
    metrics: sandboxMetrics(),
  });
  let report: RetireReport;
  try {
    report = await handler({}, lambdaContext('rotor-retire'));
  } catch (err) {
    // A failed secret fails the run (for the alarm); its report says which.
    const failed = (err as { report?: RetireReport }).report;
    if (!failed) throw err;
    report = failed;
  }
  const result = [...report.retired, ...report.skipped, ...report.failed].find((r) => r.secretArn === arn);
  if (!result) throw new Error(`the retire run did not look at ${nameOf(arn)}`);
  return { result, report };
}

/** "skipped: grace window not over (ends ...)" / "retired AWSPREVIOUS 1a2b3c4d" / "FAILED: ...". */
export function describeRetire(result: RetireResult, report: RetireReport): string {
  const calls = `${plural(report.secretsManagerCalls, 'Secrets Manager call')} for ${plural(report.checked, 'managed secret')}`;
  if (result.outcome === 'retired') return `retired AWSPREVIOUS ${short(result.versionId)}; ${calls}`;
  if (result.outcome === 'skipped') {
    return `skipped: ${result.reason}${result.graceEndsAt ? ` (window ends ${result.graceEndsAt})` : ''}; ${calls}`;
  }
  throw new Error(`retire failed for ${nameOf(result.secretArn)}: ${result.reason}`);
}

/**
 * An IAM user's access key rotated as Rotor does it: a new key per rotation, the previous one
 * still active for a grace window; the scheduled retire run deactivates it once the window is
 * over (an injected clock stands in for the day's wait) and the next rotation deletes it.
 * moto checks signatures here, so STS really refuses a deleted key.
 */
export async function iamSandbox(ctx: SandboxContext): Promise<void> {
  ctx.print("iam: IAM access keys in moto (STS checks each key's signature), grace window 24 h (the default)");
  const username = uniqueName('sandbox-app').replace('_', '-');
  await ctx.iam.send(new CreateUserCommand({ UserName: username }));
  const first = (await ctx.iam.send(new CreateAccessKeyCommand({ UserName: username }))).AccessKey!;
  const arn = await ctx.player.createSecret('sandbox/iam/app-key', {
    username,
    accessKeyId: first.AccessKeyId!,
    secretAccessKey: first.SecretAccessKey!,
  });
  await tagSecret(ctx, arn, { [RotorTags.KIND]: 'iam' });
  ctx.print(`  secret ${nameOf(arn)} (tagged rotor:kind=iam) for user ${username}, key A = ${first.AccessKeyId}`);

  const kind = createIamKind({ iam: ctx.iam });
  const handler = quietHandler(kind, ctx);
  const keys: KeyPair[] = [{ accessKeyId: first.AccessKeyId!, secretAccessKey: first.SecretAccessKey! }];
  /** Keys by letter, in the order they were made: A is the first. */
  const k = (id: string) => {
    const i = keys.findIndex((key) => key.accessKeyId === id);
    return i < 0 ? id : `key ${String.fromCharCode(65 + i)}`;
  };

  /** The user's keys with their status and label, e.g. "AKIA… Active (AWSCURRENT)". */
  const keyTable = async () => {
    const listed = (await ctx.iam.send(new ListAccessKeysCommand({ UserName: username }))).AccessKeyMetadata ?? [];
    const current = await ctx.player.value<IamValue>(arn);
    const previous = await ctx.player.value<IamValue>(arn, 'AWSPREVIOUS').catch(() => undefined);
    const label = (id: string) =>
      id === current.accessKeyId ? ' (AWSCURRENT)' : id === previous?.accessKeyId ? ' (AWSPREVIOUS)' : '';
    return listed.map((key) => `${k(key.AccessKeyId!)} ${key.Status}${label(key.AccessKeyId!)}`).join(', ');
  };
  const sts = async (key: KeyPair) => `${k(key.accessKeyId)} ${(await stsAnswer(ctx.endpoint, key)).text}`;

  const rotate = async (round: number, note: (before: Map<string, string>) => string) => {
    const before = new Map(
      ((await ctx.iam.send(new ListAccessKeysCommand({ UserName: username }))).AccessKeyMetadata ?? []).map((k) => [
        k.AccessKeyId!,
        k.Status!,
      ]),
    );
    const started = Date.now();
    const { token, outcomes } = await ctx.player.rotate(handler, arn);
    const ms = Date.now() - started;
    const now = await ctx.player.value<IamValue>(arn);
    keys.push({ accessKeyId: now.accessKeyId, secretAccessKey: now.secretAccessKey });
    const { calls, logins } = totals(outcomes);
    ctx.print(
      `  rotation ${round}: token ${short(token)} -> AWSCURRENT ${k(now.accessKeyId)} = ${now.accessKeyId}; ` +
        `${ms} ms, ${plural(calls, 'Secrets Manager call')}, ${plural(logins, 'STS check')} of the new key`,
    );
    const extra = note(before);
    if (extra) ctx.print(`    ${extra}`);
    ctx.print(`    keys on the user: ${await keyTable()}`);
  };

  await rotate(1, () => '');
  ctx.print(`    STS: ${await sts(keys[1]!)}; ${await sts(keys[0]!)} (dual-active: both work)`);
  await printLabels(ctx, arn);

  await rotate(2, (before) =>
    before.get(keys[0]!.accessKeyId) === 'Active'
      ? 'key A (AWSPREVIOUS, still Active) deleted to make room (two keys per user): no retire run came between, so this rotation cut its grace window short (Rotor logs a warning)'
      : 'key A deleted to make room',
  );
  ctx.print(`    STS: ${await sts(keys[2]!)}; ${await sts(keys[1]!)}; ${await sts(keys[0]!)}`);
  await printLabels(ctx, arn);

  const kinds = { iam: kind };
  const now = new Date();
  const open = await retireRun(ctx, kinds, arn, now);
  ctx.print(`  retire run at ${now.toISOString()} (now): ${describeRetire(open.result, open.report)}`);
  const ends = Date.parse(open.result.graceEndsAt ?? '');
  if (Number.isNaN(ends)) throw new Error('the retire run gave no end of the grace window');
  const later = new Date(ends + HOUR);
  const done = await retireRun(ctx, kinds, arn, later);
  ctx.print(`  retire run with the clock at ${later.toISOString()} (window end + 1 h): ${describeRetire(done.result, done.report)}`);
  ctx.print(`    keys on the user: ${await keyTable()}`);
  ctx.print(`    (moto still lets an Inactive key sign; AWS refuses it, and IAM's status is what Rotor checks)`);
  const again = await retireRun(ctx, kinds, arn, later);
  ctx.print(`  retire run again: ${describeRetire(again.result, again.report)}`);

  await rotate(3, (before) =>
    before.get(keys[1]!.accessKeyId) === 'Inactive'
      ? 'key B (Inactive since the retire run) deleted to make room; its window was over, no warning'
      : `key B deleted while ${before.get(keys[1]!.accessKeyId) ?? 'gone'}`,
  );
  ctx.print(`    STS: ${await sts(keys[3]!)}; ${await sts(keys[2]!)}; ${await sts(keys[1]!)}`);
  await printLabels(ctx, arn);
}
