import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { IAMClient } from '@aws-sdk/client-iam';
import { TagResourceCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { StepOutcome } from '../../lambdas/core/engine.js';
import { settings } from '../../lambdas/contract/index.js';
import { createRotationHandler } from '../../lambdas/core/handler.js';
import type { RotationKind } from '../../lambdas/core/types.js';
import { SecretsManagerPlayer, type Handler } from '../local/harness.js';
import type { PostgresCluster } from '../local/postgres.js';
import type { KeyPair } from './aws.js';

/** What every sandbox scenario gets: the emulated AWS account, shared services, a way to print. */
export interface SandboxContext {
  /** moto's server (signatures checked: every client signs with `admin`). */
  readonly endpoint: string;
  readonly admin: KeyPair;
  readonly client: SecretsManagerClient;
  readonly iam: IAMClient;
  readonly player: SecretsManagerPlayer;
  print(line: string): void;
  /** Registers a clean-up; all run at the end (or on Ctrl-C), the last registered first. */
  defer(what: string, cleanup: () => unknown): void;
  /** The throwaway PostgreSQL cluster, started on first use and shared by the scenarios. */
  postgres(): Promise<PostgresCluster>;
}

/** A logger that only prints errors (the sandbox prints its own summary). */
export function quietLogger(serviceName = 'rotor-sandbox'): Logger {
  return new Logger({ serviceName, logLevel: 'ERROR' });
}

/**
 * Metrics as deployed; POWERTOOLS_METRICS_DISABLED keeps them off the screen, and their own
 * warnings (an invocation with nothing to publish) go to a quiet logger.
 */
export function sandboxMetrics(): Metrics {
  return new Metrics({ namespace: 'RotorSandbox', serviceName: 'rotor-sandbox', singleMetric: false, logger: quietLogger() });
}

/** A handler as deployed, with quiet logs. */
export function quietHandler<S>(kind: RotationKind<S>, ctx: SandboxContext, env: Record<string, string> = {}) {
  // The sandbox's fingerprint key (bin/sandbox.ts puts its ARN in the environment), as the constructs set it.
  const key = process.env[settings.fingerprintKeyArn.name];
  return createRotationHandler(kind, {
    client: ctx.client,
    env: { ...(key ? { [settings.fingerprintKeyArn.name]: key } : {}), ...env },
    logger: quietLogger(),
    metrics: sandboxMetrics(),
  });
}

export function mark(ok: boolean): string {
  return ok ? 'logs in' : 'refused';
}

export function short(id: string | undefined): string {
  return id ? id.slice(0, 8) : '-';
}

/** The secret's name as Secrets Manager shows it (the ARN's last part). */
export function nameOf(arn: string): string {
  return arn.split(':').at(-1) ?? arn;
}

/** Totals of one rotation's four steps, as the handler reported them. */
export function totals(outcomes: readonly StepOutcome[]) {
  return {
    calls: outcomes.reduce((n, o) => n + o.secretsManagerCalls, 0),
    logins: outcomes.reduce((n, o) => n + o.logins, 0),
    stepMs: outcomes.reduce((n, o) => n + o.durationMs, 0),
  };
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Tags a secret as the CDK constructs do (rotor:kind, and rotor:strategy where it matters). */
export async function tagSecret(ctx: SandboxContext, arn: string, tags: Record<string, string>): Promise<void> {
  await ctx.client.send(
    new TagResourceCommand({ SecretId: arn, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }),
  );
}

/** Labels of every version, oldest first. */
export async function labels(ctx: SandboxContext, secretId: string): Promise<string> {
  const versions = await ctx.player.versions(secretId);
  return Object.entries(versions)
    .map(([id, stages]) => `${short(id)}=${stages.join('+') || '(none)'}`)
    .join('  ');
}

export async function printLabels(ctx: SandboxContext, secretId: string, indent = '    '): Promise<void> {
  ctx.print(`${indent}labels: ${await labels(ctx, secretId)}`);
}

/** A database login as a secret holds it. */
export interface DatabaseLogin {
  readonly username: string;
  readonly password: string;
}

/**
 * Three rotations of a database secret, each printed with its figures and which logins work:
 * the new one, the previous one (alternating users keep it) and the one before.
 * `extraChecks` adds scenario-specific lines (e.g. the clone's grants).
 */
export async function rotateThreeTimes<L extends DatabaseLogin>(
  ctx: SandboxContext,
  handler: Handler,
  arn: string,
  first: L,
  login: (l: L) => Promise<boolean>,
  extraChecks: (round: number, current: L) => Promise<string[]> = async () => [],
): Promise<void> {
  const seen: L[] = [first];
  for (let round = 1; round <= 3; round++) {
    const started = Date.now();
    const { token, outcomes } = await ctx.player.rotate(handler, arn);
    const ms = Date.now() - started;
    const current = await ctx.player.value<L>(arn);
    const { calls, logins } = totals(outcomes);
    ctx.print(
      `    rotation ${round}: token ${short(token)} -> AWSCURRENT as ${current.username}; ` +
        `${ms} ms, ${plural(calls, 'Secrets Manager call')}, ${plural(logins, 'database login')}`,
    );
    const checks = [`new ${mark(await login(current))}`];
    const previous = seen.at(-1)!;
    checks.push(`previous (${previous.username}) ${mark(await login(previous))}`);
    if (seen.length > 1) {
      const older = seen.at(-2)!;
      checks.push(`the one before (${older.username}) ${mark(await login(older))}`);
    }
    checks.push(...(await extraChecks(round, current)));
    ctx.print(`      ${checks.join('; ')}`);
    await printLabels(ctx, arn, '      ');
    seen.push(current);
  }
}
