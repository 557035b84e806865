import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { AUDIT_CONDITIONS, RotorMetrics, ServiceNames, settings } from '../contract/index.js';
import { ConfigurationError } from '../core/errors.js';
import { readSetting } from '../core/settings.js';
import { collectAudit, type AuditClients, type AuditReport } from './audit.js';
import { auditSdkClients } from './clients.js';

export const scheduledAuditDefaults = {
  serviceName: ServiceNames.AUDIT,
  metricsNamespace: RotorMetrics.NAMESPACE,
} as const;

/** What one scheduled run returns (and logs): the counts, never a value. */
export interface ScheduledAuditResult {
  readonly regions: readonly string[];
  readonly counts: AuditReport['counts'];
  readonly checked: AuditReport['checked'];
}

export interface ScheduledAuditDeps {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** @default - the SDK's clients with the function's own credentials */
  readonly clients: AuditClients;
  readonly now: () => Date;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export type ScheduledAuditHandler = (event: unknown, context: Context) => Promise<ScheduledAuditResult>;

/**
 * Publishes the report's counts: AuditFindings once per condition of AUDIT_CONDITIONS (dimension
 * `condition`, beside Powertools' `service`), zeros included, so each condition is one series an
 * alarm can read as it is; and SecretsChecked (service only).
 */
export function publishAuditMetrics(metrics: Metrics, report: AuditReport): void {
  for (const condition of AUDIT_CONDITIONS) {
    const single = metrics.singleMetric();
    single.addDimensions({ condition });
    single.addMetric(RotorMetrics.AUDIT_FINDINGS, MetricUnit.Count, report.counts[condition]);
  }
  metrics.addMetric(RotorMetrics.SECRETS_CHECKED, MetricUnit.Count, report.checked.secrets);
}

/**
 * The scheduled audit function (an EventBridge schedule invokes it, daily by default): the same
 * audit as `rotor audit` (./audit.ts) over AUDIT_REGIONS (default: its own region) and the IAM
 * users' keys, counted as metrics (the stack alarms on overdue and last-rotation-failed) and
 * logged by name: secrets' names and ARNs, IAM user names and access key ids, never a value (it
 * reads none). A run that cannot list fails, so the function's error alarm fires.
 */
export function createScheduledAuditHandler(overrides: Partial<ScheduledAuditDeps> = {}): ScheduledAuditHandler {
  const env = overrides.env ?? process.env;
  const what = 'scheduled audit';
  const regions = readSetting(settings.auditRegions, env, what) ?? (env.AWS_REGION ? [env.AWS_REGION] : undefined);
  if (!regions) throw new ConfigurationError(`${what}: neither ${settings.auditRegions.name} nor AWS_REGION is set: no region to audit`);
  const keyMaxAgeDays = readSetting(settings.auditKeyMaxAgeDays, env, what);
  const stuckAfterMinutes = readSetting(settings.auditStuckAfterMinutes, env, what);
  const logger = overrides.logger ?? new Logger({ serviceName: scheduledAuditDefaults.serviceName });
  const metrics =
    overrides.metrics ?? new Metrics({ namespace: scheduledAuditDefaults.metricsNamespace, serviceName: scheduledAuditDefaults.serviceName });
  const now = overrides.now ?? (() => new Date());
  let clients: Promise<AuditClients> | undefined = overrides.clients ? Promise.resolve(overrides.clients) : undefined;

  return middy(async (): Promise<ScheduledAuditResult> => {
    clients ??= auditSdkClients({ region: regions[0]! });
    const report = await collectAudit(await clients, { regions, now: now(), keyMaxAgeDays, stuckAfterMinutes });
    publishAuditMetrics(metrics, report);
    const flagged = report.secrets.filter((s) => s.findings.length > 0);
    logger.info('audit finished', {
      regions,
      checked: report.checked,
      counts: report.counts,
      // Names and conditions only; the details are the CLI's (`rotor audit`).
      secrets: flagged.map((s) => ({ region: s.region, name: s.name, arn: s.arn, kind: s.kind, conditions: s.findings.map((f) => f.condition) })),
      accessKeys: report.accessKeys.map((k) => ({ userName: k.userName, accessKeyId: k.accessKeyId, ageDays: k.ageDays })),
    });
    return { regions, counts: report.counts, checked: report.checked };
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics)) as unknown as ScheduledAuditHandler;
}
