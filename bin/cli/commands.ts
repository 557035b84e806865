import type { DescribeSecretCommandOutput } from '@aws-sdk/client-secrets-manager';
import { SecretsApi } from '../../lambdas/core/secretsApi.js';
import { Stages } from '../../lambdas/core/types.js';
import { explainAwsError, functionNameOf, type AwsClients } from './aws.js';
import { CliError, ExitCodes, NotConfirmedError, SecretNotFoundError, UsageError, type ExitCode } from './errors.js';
import { leakDetail, sendLeakEvent, type LeakTarget } from './leak.js';
import { formatDuration, formatTime, type Output } from './output.js';
import { RotationLog, type StepRecord } from './rotationLog.js';
import { collectStatus, failOnNote, renderStatus, statusDefaults } from './status.js';
import { REVOKED_VERSION_TAG, waitForLeakResponse, waitForRotation, type Progress, type WaitDeps } from './wait.js';
import { versionHolding } from '../../lambdas/core/labels.js';

/** What every command runs with; tests of the waiting replace the clock and sleep. */
export interface CommandContext {
  readonly clients: AwsClients;
  readonly out: Output;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** @default waitDefaults.pollIntervalMs */
  readonly pollIntervalMs?: number;
  /**
   * Asks a person to confirm a destructive action (on stderr, answered on stdin); undefined when
   * stdin is not a terminal, so nobody can answer.
   * @default - no terminal
   */
  readonly confirm?: (question: string) => Promise<boolean>;
}

/**
 * Goes ahead with a destructive action only when `--yes` was given or a person said yes at the
 * terminal; otherwise throws NotConfirmedError (exit 5) before anything is sent.
 */
export async function confirmDestructive(what: string, yes: boolean, ctx: CommandContext): Promise<void> {
  if (yes) return;
  if (!ctx.confirm) {
    throw new NotConfirmedError(
      `${what}: this needs confirmation, and stdin is not a terminal to ask on. Pass --yes to go ahead without asking (scripts, CI). Nothing was sent.`,
    );
  }
  if (!(await ctx.confirm(`${what}. Continue? [y/N] `))) {
    throw new NotConfirmedError(`${what}: not confirmed. Nothing was sent.`);
  }
}

function where(clients: AwsClients): string {
  return `${clients.region}${clients.endpoint ? ` at ${clients.endpoint}` : ''}`;
}

/** DescribeSecret, with a clear error for an unknown or deleted secret. Reads no value. */
export async function describeSecret(clients: AwsClients, secretId: string): Promise<DescribeSecretCommandOutput> {
  let out: DescribeSecretCommandOutput;
  try {
    out = await new SecretsApi(clients.secrets).describeSecret(secretId);
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') {
      throw new SecretNotFoundError(
        `secret '${secretId}' not found in ${where(clients)}: check the name or ARN, and the region (AWS_REGION or --region)`,
        { cause: err },
      );
    }
    throw explainAwsError(err, `reading secret '${secretId}' (DescribeSecret)`, clients);
  }
  if (out.DeletedDate) {
    throw new CliError(`secret '${out.Name ?? secretId}' is scheduled for deletion (since ${formatTime(out.DeletedDate)})`);
  }
  return out;
}


// ---------------------------------------------------------------------------------------------
// rotor status

export interface StatusCommandOptions {
  readonly json: boolean;
  /** Judge overdue, stuck and grace at this time. @default - now */
  readonly at?: Date;
  /** @default statusDefaults.stuckAfterMinutes */
  readonly stuckAfterMinutes?: number;
  /** Exit ATTENTION (4) when any secret is in one of these conditions. @default - none: exit 0 */
  readonly failOn?: readonly FailOnCondition[];
}

import { FAIL_ON_CONDITIONS, parseFailOn, type FailOnCondition } from './defaults.js';

export { FAIL_ON_CONDITIONS, parseFailOn, type FailOnCondition };

export async function statusCommand(options: StatusCommandOptions, ctx: CommandContext): Promise<ExitCode> {
  const now = options.at ?? new Date(ctx.now());
  const stuckAfterMinutes = options.stuckAfterMinutes ?? statusDefaults.stuckAfterMinutes;
  let statuses;
  try {
    statuses = await collectStatus({ secrets: ctx.clients.secrets, now, stuckAfterMinutes });
  } catch (err) {
    throw explainAwsError(err, 'listing Rotor-managed secrets (ListSecrets)', ctx.clients);
  }
  const failOn = options.failOn ?? [];
  const matched: Record<string, string[]> = {};
  for (const condition of failOn) {
    const names = statuses.filter((s) => (condition === 'overdue' ? s.overdue : s.pending?.stuck === true)).map((s) => s.name);
    if (names.length) matched[condition] = names;
  }
  const attention = Object.keys(matched).length > 0;
  ctx.out.result({
    region: ctx.clients.region,
    at: now.toISOString(),
    stuckAfterMinutes,
    secrets: statuses,
    ...(failOn.length ? { failOn: { conditions: failOn, matched, exitCode: attention ? ExitCodes.ATTENTION : ExitCodes.OK } } : {}),
  });
  ctx.out.line(renderStatus(statuses, { region: ctx.clients.region, now, at: options.at !== undefined }));
  if (!attention) return ExitCodes.OK;
  ctx.out.note(failOnNote(failOn, matched));
  return ExitCodes.ATTENTION;
}

// ---------------------------------------------------------------------------------------------
// rotor leak

export interface LeakCommandOptions {
  readonly json: boolean;
  readonly target: LeakTarget;
  readonly reason?: string;
  readonly source?: string;
  readonly eventBus?: string;
  /** Go ahead without asking. */
  readonly yes?: boolean;
}

export async function leakCommand(options: LeakCommandOptions, ctx: CommandContext): Promise<ExitCode> {
  let target = options.target;
  let resourceArn: string | undefined;
  if (target.secretId !== undefined) {
    const secret = await describeSecret(ctx.clients, target.secretId);
    resourceArn = secret.ARN;
    target = { secretId: secret.ARN ?? target.secretId };
  }
  const detail = leakDetail(target, options.reason);
  const naming = detail.secretId ? `secret ${detail.secretId}` : detail.accessKeyId ? `access key ${detail.accessKeyId}` : `fingerprint ${detail.fingerprint}`;
  await confirmDestructive(
    `rotor leak: report ${naming} as leaked; Rotor's emergency handler will rotate it and revoke the leaked value`,
    options.yes === true,
    ctx,
  );
  let sent;
  try {
    sent = await sendLeakEvent(ctx.clients.events, detail, { source: options.source, eventBusName: options.eventBus, resourceArn });
  } catch (err) {
    throw explainAwsError(err, 'sending the leak event (EventBridge PutEvents)', ctx.clients);
  }
  ctx.out.result(sent);
  ctx.out.line(`Leak event sent: ${sent.eventId}`);
  ctx.out.line(`  ${sent.detailType} from source '${sent.source}' on bus '${sent.eventBusName}', naming ${naming}`);
  return ExitCodes.OK;
}

// ---------------------------------------------------------------------------------------------
// rotor rotate

export interface RotateCommandOptions {
  readonly json: boolean;
  readonly leaked: boolean;
  readonly reason?: string;
  readonly timeoutSeconds: number;
  readonly source?: string;
  readonly eventBus?: string;
  /** Where the rotation function logs. @default - its LoggingConfig, else /aws/lambda/<function> */
  readonly logGroup?: string;
  /** Start the rotation (or send the leak event) and return at once. @default true */
  readonly wait?: boolean;
  /** Go ahead with --leaked without asking. */
  readonly yes?: boolean;
}

function stepLine(record: StepRecord): string {
  if (record.finished) {
    const took = record.durationMs === undefined ? '' : formatDuration(record.durationMs);
    return `  ${record.step.padEnd(13)} ${(record.outcome ?? 'finished').padEnd(16)} ${took}`.trimEnd();
  }
  return `  ${record.step.padEnd(13)} FAILED: ${record.error?.name ?? 'Error'}: ${record.error?.message ?? '(no message)'}`;
}

/** Shows progress as it comes: step lines on stdout, notes on how progress is read on stderr. */
function progressPrinter(out: Output): (p: Progress) => void {
  return (p) => {
    switch (p.kind) {
      case 'step':
        return out.line(stepLine(p.record));
      case 'logs-unavailable':
        return out.note(
          `rotor: cannot read the rotation function's log group ${p.logGroupName} (${p.reason}); ` +
            'showing progress from the staging labels instead',
        );
      case 'logs-available':
        return out.note(`rotor: reading step lines from ${p.logGroupName} again`);
      case 'pending-staged':
        return out.line(`  AWSPENDING staged on ${p.versionId} (labels)`);
      case 'current-moved':
        return out.line(`  AWSCURRENT moved to ${p.versionId}${p.from ? ` from ${p.from}` : ''} (labels)`);
      case 'rotation-started':
        return out.line(`  rotation started: token ${p.versionId}`);
      case 'revoked':
        return out.line(`  leaked version ${p.versionId} revoked (tag ${REVOKED_VERSION_TAG})`);
      case 'previous-removed':
        return out.line('  AWSPREVIOUS removed: nothing falls back to the leaked version');
    }
  };
}

function stepJson(record: StepRecord) {
  return {
    step: record.step,
    finished: record.finished,
    outcome: record.outcome,
    durationMs: record.durationMs,
    error: record.error,
  };
}

interface RotationTarget {
  readonly description: DescribeSecretCommandOutput;
  readonly arn: string;
  readonly name: string;
  readonly functionArn?: string;
  readonly logGroupName?: string;
}

async function rotationTarget(secretId: string, options: RotateCommandOptions, ctx: CommandContext): Promise<RotationTarget> {
  const description = await describeSecret(ctx.clients, secretId);
  const arn = description.ARN ?? secretId;
  const name = description.Name ?? secretId;
  if (!description.RotationEnabled) {
    const hint = options.leaked
      ? ` The emergency handler cannot rotate it; to report the leak anyway: rotor leak --secret ${name}`
      : ' Deploy a Rotor rotation construct for it (or turn rotation on) first.';
    throw new CliError(`rotation is not enabled for secret ${name}.${hint}`);
  }
  const functionArn = description.RotationLambdaARN || undefined;
  let logGroupName = options.logGroup;
  if (!logGroupName && functionArn && options.wait !== false) {
    const found = await ctx.clients.functionLogGroup(functionArn);
    if (found.note) ctx.out.note(`rotor: ${found.note}; assuming log group ${found.logGroupName}`);
    logGroupName = found.logGroupName;
  }
  return { description, arn, name, functionArn, logGroupName };
}

function waitDeps(target: RotationTarget, options: RotateCommandOptions, ctx: CommandContext, since: number): WaitDeps {
  const logGroupName = target.logGroupName;
  return {
    secrets: ctx.clients.secrets,
    stepLog: logGroupName ? (token) => new RotationLog(ctx.clients.logs, logGroupName, token, since) : undefined,
    now: ctx.now,
    sleep: ctx.sleep,
    pollIntervalMs: ctx.pollIntervalMs,
    timeoutMs: options.timeoutSeconds * 1000,
    onProgress: progressPrinter(ctx.out),
  };
}

/** Options that only make sense together: an option silently ignored is a usage error. */
export function checkRotateOptions(options: Pick<RotateCommandOptions, 'leaked' | 'reason' | 'source' | 'eventBus'>): void {
  if (options.leaked) return;
  for (const [flag, value] of [['--reason', options.reason], ['--source', options.source], ['--event-bus', options.eventBus]] as const) {
    if (value !== undefined) throw new UsageError(`${flag} applies only with --leaked`);
  }
}

export async function rotateCommand(secretId: string, options: RotateCommandOptions, ctx: CommandContext): Promise<ExitCode> {
  checkRotateOptions(options);
  const target = await rotationTarget(secretId, options, ctx);
  return options.leaked ? rotateLeaked(target, options, ctx) : rotateNow(target, options, ctx);
}

async function rotateNow(target: RotationTarget, options: RotateCommandOptions, ctx: CommandContext): Promise<ExitCode> {
  const { description, arn, name, functionArn, logGroupName } = target;
  const current = versionHolding(description.VersionIdsToStages, Stages.CURRENT);
  const pending = versionHolding(description.VersionIdsToStages, Stages.PENDING);
  if (pending && pending !== current) {
    throw new CliError(
      `a rotation of secret ${name} is already in progress: version ${pending} is staged AWSPENDING. ` +
        'Wait for it (rotor status shows how long it has been pending); if it is abandoned, remove the label: ' +
        `aws secretsmanager update-secret-version-stage --secret-id ${arn} --version-stage AWSPENDING --remove-from-version-id ${pending}`,
    );
  }
  const noWait = options.wait === false;
  ctx.out.line(
    `Rotating ${name}` +
      (functionArn ? ` with ${functionNameOf(functionArn)}` : '') +
      (noWait
        ? ' (--no-wait)'
        : logGroupName
          ? `; steps from log group ${logGroupName}`
          : '; no rotation function log group to read, progress from the staging labels'),
  );
  const started = ctx.now();
  let token: string | undefined;
  try {
    // The configured function is named again (not changed): without it, an emulator may treat the
    // call as "no function" and promote the empty pending version; AWS uses the configured one either way.
    const out = await new SecretsApi(ctx.clients.secrets).rotate({
      SecretId: arn,
      RotateImmediately: true,
      ...(functionArn ? { RotationLambdaARN: functionArn } : {}),
    });
    token = out.VersionId;
  } catch (err) {
    throw explainAwsError(err, `starting the rotation of ${name} (RotateSecret)`, ctx.clients);
  }
  if (!token) {
    const after = await describeSecret(ctx.clients, arn);
    token = versionHolding(after.VersionIdsToStages, Stages.PENDING);
    if (!token) throw new CliError(`RotateSecret on ${name} returned no version id and staged no AWSPENDING version`);
  }
  ctx.out.line(`Token: ${token}`);
  if (noWait) {
    ctx.out.result({ secret: { name, arn }, token, outcome: 'started' });
    ctx.out.line(`Rotation of ${name} started (token ${token}); not waiting. Follow it with: rotor status`);
    return ExitCodes.OK;
  }

  const result = await waitForRotation(arn, token, waitDeps(target, options, ctx, started)).catch((err: unknown) => {
    throw explainAwsError(err, `waiting for the rotation of ${name} (token ${token}; it may still finish, see rotor status)`, ctx.clients);
  });
  const failedStep = result.failed;
  ctx.out.result({
    secret: { name, arn },
    token,
    outcome: result.outcome,
    elapsedMs: result.elapsedMs,
    progressFrom: result.progressFrom,
    logGroup: logGroupName,
    steps: result.steps.map(stepJson),
    failedStep: failedStep?.step,
    error: failedStep?.error,
    currentVersionId: result.currentVersionId,
    previousVersionId: result.previousVersionId,
    state: result.state,
  });
  switch (result.outcome) {
    case 'rotated': {
      if (result.progressFrom === 'logs' && result.steps.length === 0) {
        ctx.out.note(`rotor: no step lines of this rotation appeared in ${logGroupName}; if the function logs elsewhere, pass --log-group`);
      }
      const previous = result.previousVersionId ? `; ${result.previousVersionId} is AWSPREVIOUS` : '';
      ctx.out.line(`Rotated ${name} in ${formatDuration(result.elapsedMs)}: AWSCURRENT is now ${token}${previous}`);
      return ExitCodes.OK;
    }
    case 'failed':
      ctx.out.note(
        `rotor: rotation of ${name} failed at ${failedStep!.step}: ${failedStep!.error?.name ?? 'Error'}: ${failedStep!.error?.message ?? '(no message)'}\n` +
          `rotor: AWSCURRENT is unchanged. Secrets Manager retries a failed rotation; see ${logGroupName} and rotor status.`,
      );
      return ExitCodes.FAILURE;
    case 'timed-out':
      ctx.out.note(
        `rotor: timed out after ${options.timeoutSeconds} s waiting for the rotation of ${name}: ${result.state}. ` +
          'It may still finish: check rotor status.',
      );
      return ExitCodes.TIMED_OUT;
    case 'abandoned':
      ctx.out.note(`rotor: the rotation of ${name} did not finish: ${result.state}`);
      return ExitCodes.FAILURE;
  }
}

async function rotateLeaked(target: RotationTarget, options: RotateCommandOptions, ctx: CommandContext): Promise<ExitCode> {
  const { description, arn, name } = target;
  const leaked = versionHolding(description.VersionIdsToStages, Stages.CURRENT);
  if (!leaked) throw new CliError(`secret ${name} has no AWSCURRENT version to revoke`);
  const detail = leakDetail({ secretId: arn }, options.reason);
  await confirmDestructive(
    `rotor rotate --leaked: rotate ${name} now and revoke its current value (version ${leaked}); whoever still uses it loses access`,
    options.yes === true,
    ctx,
  );
  const started = ctx.now();
  let sent;
  try {
    sent = await sendLeakEvent(ctx.clients.events, detail, { source: options.source, eventBusName: options.eventBus, resourceArn: arn });
  } catch (err) {
    throw explainAwsError(err, 'sending the leak event (EventBridge PutEvents)', ctx.clients);
  }
  ctx.out.line(`Leak event sent: ${sent.eventId} (source '${sent.source}', bus '${sent.eventBusName}')`);
  ctx.out.line(`Leaked version: ${leaked} (AWSCURRENT of ${name})`);
  if (options.wait === false) {
    ctx.out.result({ secret: { name, arn }, eventId: sent.eventId, outcome: 'sent', leakedVersionId: leaked });
    ctx.out.line('Not waiting (--no-wait): the emergency handler rotates and revokes it; follow it with: rotor status');
    return ExitCodes.OK;
  }
  ctx.out.line(`Waiting up to ${options.timeoutSeconds} s for the emergency handler to rotate and revoke it`);

  const result = await waitForLeakResponse(arn, leaked, waitDeps(target, options, ctx, started)).catch((err: unknown) => {
    throw explainAwsError(err, `waiting for the emergency handler to rotate and revoke ${name} (the leak event ${sent.eventId} was sent)`, ctx.clients);
  });
  ctx.out.result({
    secret: { name, arn },
    eventId: sent.eventId,
    outcome: result.outcome,
    leakedVersionId: leaked,
    newVersionId: result.newVersionId,
    rotated: result.rotated,
    revoked: result.revoked,
    previousRemoved: result.previousRemoved,
    elapsedMs: result.elapsedMs,
    steps: result.steps.map(stepJson),
    failedStep: result.failed?.step,
    error: result.failed?.error,
  });
  switch (result.outcome) {
    case 'revoked':
      ctx.out.line(
        `Rotated and revoked in ${formatDuration(result.elapsedMs)}: leaked version ${leaked}, new version ${result.newVersionId}`,
      );
      return ExitCodes.OK;
    case 'failed':
      ctx.out.note(
        `rotor: the emergency rotation of ${name} failed at ${result.failed!.step}: ` +
          `${result.failed!.error?.name ?? 'Error'}: ${result.failed!.error?.message ?? '(no message)'}`,
      );
      return ExitCodes.FAILURE;
    case 'timed-out': {
      const missing = [
        result.rotated ? undefined : `AWSCURRENT is still on the leaked version ${leaked}`,
        result.revoked ? undefined : `no ${REVOKED_VERSION_TAG} tag names it`,
        !result.rotated || result.previousRemoved ? undefined : 'AWSPREVIOUS is still staged',
      ].filter(Boolean);
      ctx.out.note(
        `rotor: timed out after ${options.timeoutSeconds} s: the leak event was sent (${sent.eventId}) but ${missing.join(', ')}. ` +
          `Is Rotor's emergency rule deployed on bus '${sent.eventBusName}' for source '${sent.source}'? Check rotor status.`,
      );
      return ExitCodes.TIMED_OUT;
    }
  }
}

