import { CreateAccessKeyCommand, CreateUserCommand, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { RotorTags } from '../../lambdas/core/types.js';
import { createIamKind } from '../../lambdas/iam/iamKind.js';
import { uniqueName } from '../local/postgres.js';
import { stsAnswer, type KeyPair } from './aws.js';
import { nameOf, plural, printLabels, quietHandler, short, tagSecret, totals, type SandboxContext } from './common.js';
import { describeRetire, pastGraceWindow, resultFor, retireRun } from './retire.js';

interface IamValue extends KeyPair {
  username: string;
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

  const now = new Date();
  const open = await retireRun(ctx, now, 'now');
  ctx.print(`    this secret: ${describeRetire(resultFor(open, arn))}`);
  const later = pastGraceWindow(resultFor(open, arn));
  const done = await retireRun(ctx, later, 'window end + 1 h');
  ctx.print(`    this secret: ${describeRetire(resultFor(done, arn))}`);
  ctx.print(`    keys on the user: ${await keyTable()}`);
  ctx.print(`    (moto still lets an Inactive key sign; AWS refuses it, and IAM's status is what Rotor checks)`);
  const again = await retireRun(ctx, later, 'the same time, again');
  ctx.print(`    this secret: ${describeRetire(resultFor(again, arn))}`);

  await rotate(3, (before) =>
    before.get(keys[1]!.accessKeyId) === 'Inactive'
      ? 'key B (Inactive since the retire run) deleted to make room; its window was over, no warning'
      : `key B deleted while ${before.get(keys[1]!.accessKeyId) ?? 'gone'}`,
  );
  ctx.print(`    STS: ${await sts(keys[3]!)}; ${await sts(keys[2]!)}; ${await sts(keys[1]!)}`);
  await printLabels(ctx, arn);
}
