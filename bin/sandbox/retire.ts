import type { RetireReport, RetireResult } from '../../lambdas/retire/retire.js';
import { createRetireHandler } from '../../lambdas/retire/retire.js';
import { retireKinds } from '../../lambdas/retire/index.js';
import { lambdaContext } from '../local/harness.js';
import { nameOf, plural, quietLogger, sandboxMetrics, short, type SandboxContext } from './common.js';

/**
 * One run of the scheduled retire function with every dual-active kind it deploys with
 * (lambdas/retire: the kinds' own IAM and Secrets Manager clients, signing as the sandbox's
 * administrator), quiet logs and an injected clock. Prints a summary line; returns the report.
 */
export async function retireRun(ctx: SandboxContext, at: Date, when: string): Promise<RetireReport> {
  const handler = createRetireHandler(retireKinds, {
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
  ctx.print(
    `  retire run with the clock at ${at.toISOString()} (${when}): ${plural(report.checked, 'Rotor-managed secret')} checked, ` +
      `${report.retired.length} retired; ${plural(report.secretsManagerCalls, 'Secrets Manager call')}, ${report.durationMs} ms`,
  );
  return report;
}

/** This secret's result in a run; fails the scenario if the run failed it or did not see it. */
export function resultFor(report: RetireReport, arn: string): RetireResult {
  const result = [...report.retired, ...report.skipped, ...report.failed].find((r) => r.secretArn === arn);
  if (!result) throw new Error(`the retire run did not look at ${nameOf(arn)}`);
  if (result.outcome === 'failed') throw new Error(`the retire run failed ${nameOf(arn)}: ${result.reason}`);
  return result;
}

/** "retired AWSPREVIOUS 1a2b3c4d" / "skipped: grace window not over (ends ...)". */
export function describeRetire(result: RetireResult): string {
  if (result.outcome === 'retired') return `retired AWSPREVIOUS ${short(result.versionId)}`;
  return `skipped: ${result.reason}${result.graceEndsAt && result.reason === 'grace window not over' ? ` (it ends ${result.graceEndsAt})` : ''}`;
}

/** The end of the grace window a run reported for a secret, plus an hour: a clock past it. */
export function pastGraceWindow(result: RetireResult): Date {
  const ends = Date.parse(result.graceEndsAt ?? '');
  if (Number.isNaN(ends)) throw new Error(`the retire run gave no end of the grace window for ${nameOf(result.secretArn)}`);
  return new Date(ends + 3_600_000);
}
