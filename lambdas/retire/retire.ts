import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SecretsManagerClient, type SecretListEntry } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { ConfigurationError, RetireError, RotationStateError, UnsafeRotationError } from '../core/errors.js';
import { Redactor } from '../core/redact.js';
import { readSecretValue, sharesCredential } from '../core/secretValue.js';
import { DEFAULT_GRACE_HOURS, resolveStrategy, RetireEvidence, RotorMetrics, ServiceNames, settings } from '../contract/index.js';
import { readSetting } from '../core/settings.js';
import { RotorTags, Stages, type RotationKind, type Strategy } from '../core/types.js';
import { tagMap, versionHolding } from '../core/labels.js';
import { SecretsApi } from '../core/secretsApi.js';
import type { RetireContext } from './context.js';
import {
  evidenceDefaults,
  readEvidencePolicy,
  weighEvidence,
  type EvidencePolicy,
  type LastUse,
  type RetireKind,
  type Verdict,
} from './evidence.js';

/**
 * The scheduled retire run: for every Rotor-managed secret of a dual-active kind whose
 * AWSPREVIOUS value is past its grace window, call the kind's `retire` hook (deactivate the
 * old IAM key, revoke the old API token), then tag the secret so later runs skip that version.
 * The hooks get AWSCURRENT as the reference and refuse a previous value that points elsewhere
 * (another IAM user, a token the provider does not confirm): that secret fails, the others go on.
 */
export const retireDefaults = {
  /** Hours the previous value stays valid when neither the value nor the `rotor:grace-hours` tag says. */
  graceHours: DEFAULT_GRACE_HOURS,
  /** Secrets handled at once. */
  concurrency: 4,
  /** ListSecrets page size (the API's maximum). */
  pageSize: 100,
  serviceName: ServiceNames.RETIRE,
  metricsNamespace: RotorMetrics.NAMESPACE,
} as const;

/**
 * Dual-active kinds by the value of their `rotor:kind` tag. Registering a kind is one entry:
 * `createRetireHandler({ iam: iamKind, 'api-token': apiTokenKind })`.
 */
// A kind with a `lastUse` hook (lambdas/retire/evidence.ts) is retired on evidence, not only on the timer.
export type RetireKinds = Readonly<Record<string, RetireKind>>;

export interface RetireDeps {
  readonly client: SecretsManagerClient;
  readonly logger: Logger;
  /** The clock grace windows are measured with. */
  readonly now: () => Date;
  /** @default retireDefaults.concurrency */
  readonly concurrency?: number;
  /**
   * How a kind's evidence of use is weighed (RETIRE_IN_USE_MARGIN_SECONDS, RETIRE_QUIET_HOURS,
   * RETIRE_IN_USE_LIMIT_HOURS, RETIRE_IN_USE_ACTION).
   * @default evidenceDefaults
   */
  readonly evidence?: EvidencePolicy;
  /**
   * Publishes PreviousCredentialInUse (dimension kind).
   * @default - the figure is only logged
   */
  readonly metrics?: Metrics;
  /**
   * Where a previous credential still in use is announced (ALARM_TOPIC_ARN).
   * @default - no notification, the log and the metric only
   */
  readonly notify?: { readonly sns: SNSClient; readonly topicArn: string };
}

export const RetireOutcomes = {
  RETIRED: 'retired',
  SKIPPED: 'skipped',
  FAILED: 'failed',
} as const;
export type RetireOutcome = (typeof RetireOutcomes)[keyof typeof RetireOutcomes];

/** What happened to one secret (no value, only ids, dates and reasons). */
export interface RetireResult {
  readonly secretArn: string;
  readonly kind: string;
  readonly outcome: RetireOutcome;
  /** Why it was skipped, or the (redacted) error that failed it. */
  readonly reason?: string;
  /** The AWSPREVIOUS version retired or looked at. */
  readonly versionId?: string;
  /** When the grace window of AWSPREVIOUS ends (or ended). */
  readonly graceEndsAt?: string;
  /** The previous credential's last use, when its kind reports one and a use was recorded after the switch-over. */
  readonly lastUse?: { readonly at: string; readonly service?: string; readonly region?: string; readonly credentialId: string };
  /** Still in use: when the hard limit (grace end + RETIRE_IN_USE_LIMIT_HOURS) is reached. */
  readonly inUseLimitAt?: string;
}

export interface RetireReport {
  /** Rotor-managed secrets looked at (every secret with a `rotor:kind` tag). */
  readonly checked: number;
  readonly retired: RetireResult[];
  readonly skipped: RetireResult[];
  readonly failed: RetireResult[];
  readonly secretsManagerCalls: number;
  readonly durationMs: number;
}

/** Refuses a registry a run could not use: a kind without `retire`, or one filed under another name. */
export function validateRetireKinds(kinds: RetireKinds): void {
  const names = Object.keys(kinds);
  if (names.length === 0) throw new ConfigurationError('retire: no kinds registered');
  for (const [tag, kind] of Object.entries(kinds)) {
    if (typeof kind?.retire !== 'function') {
      throw new ConfigurationError(`retire: kind '${tag}' has no retire hook (only dual-active kinds can be registered)`);
    }
    if (kind.name !== tag) {
      throw new ConfigurationError(`retire: kind '${kind.name}' is registered as '${tag}' (the key must be its rotor:kind tag)`);
    }
  }
}


/** Grace hours: the value's own setting, else the tag, else the default. */
function graceHoursOf(kind: RotationKind<unknown>, current: unknown, tags: Map<string, string>, where: string): number {
  const fromValue = kind.graceHours?.(current);
  if (fromValue !== undefined) return fromValue;
  const tag = tags.get(RotorTags.GRACE_HOURS);
  if (tag === undefined || tag === '') return retireDefaults.graceHours;
  if (!/^\d+(\.\d+)?$/.test(tag)) {
    throw new ConfigurationError(`${where}: tag ${RotorTags.GRACE_HOURS} '${tag.slice(0, 20)}' is not a number of hours`);
  }
  return Number(tag);
}

/** The `rotor:strategy` tag, or the contract's one default rule (resolveStrategy) when there is none. */
function strategyOf(kind: RotationKind<unknown>, tags: Map<string, string>, where: string): Strategy {
  const tag = tags.get(RotorTags.STRATEGY);
  if (tag === undefined || tag === '') return resolveStrategy(kind.name);
  const found = kind.strategies.find((s) => s === tag);
  if (!found) {
    throw new ConfigurationError(
      `${where}: tag ${RotorTags.STRATEGY} '${tag.slice(0, 40)}' is not a strategy of kind ${kind.name} (${kind.strategies.join(', ')})`,
    );
  }
  return found;
}

/** Works through one secret; never throws (a failure is a result). */
async function retireOne(
  entry: SecretListEntry,
  kinds: RetireKinds,
  deps: RetireDeps,
  api: SecretsApi,
): Promise<RetireResult | undefined> {
  const tags = tagMap(entry.Tags);
  const kindName = tags.get(RotorTags.KIND);
  const secretArn = entry.ARN ?? entry.Name ?? '(unknown)';
  // ListSecrets' tag-key filter matches prefixes: check the exact tag.
  if (kindName === undefined) return undefined;
  const base = { secretArn, kind: kindName };
  const kind = Object.hasOwn(kinds, kindName) ? (kinds[kindName] as RetireKind) : undefined;
  if (!kind) return { ...base, outcome: RetireOutcomes.SKIPPED, reason: `kind '${kindName.slice(0, 40)}' is not dual-active` };
  const previousId = versionHolding(entry.SecretVersionsToStages, Stages.PREVIOUS);
  if (!previousId) return { ...base, outcome: RetireOutcomes.SKIPPED, reason: 'no AWSPREVIOUS version' };
  if (tags.get(RotorTags.RETIRED_VERSION) === previousId) {
    return { ...base, outcome: RetireOutcomes.SKIPPED, reason: 'AWSPREVIOUS already retired', versionId: previousId };
  }

  const where = `secret ${secretArn}`;
  const redactor = new Redactor();
  const logger = deps.logger.createChild({ persistentKeys: { secretArn, kind: kindName, previousVersionId: previousId } });
  let graceEndsAt: string | undefined;
  try {
    const currentId = versionHolding(entry.SecretVersionsToStages, Stages.CURRENT);
    if (!currentId) throw new RotationStateError(`${where}: no version is staged AWSCURRENT`);
    const read = async (versionId: string, stage: typeof Stages.CURRENT | typeof Stages.PREVIOUS) => {
      const out = await api.getVersion(secretArn, versionId, stage);
      const value = readSecretValue(kind, out?.secretString, `${where} (${stage})`, redactor);
      return { value, createdDate: out?.createdDate };
    };
    const current = await read(currentId, Stages.CURRENT);
    // When AWSCURRENT took over: the later of the last rotation and the current version's
    // creation (a value put by hand becomes current when it is created). The later one never
    // cuts a grace window short.
    const since = Math.max(entry.LastRotatedDate?.getTime() ?? 0, current.createdDate?.getTime() ?? 0);
    if (since === 0) throw new RotationStateError(`${where}: neither LastRotatedDate nor the AWSCURRENT version's date is known`);
    const hours = graceHoursOf(kind, current.value, tags, where);
    const ends = since + hours * 3_600_000;
    graceEndsAt = new Date(ends).toISOString();
    if (deps.now().getTime() < ends) {
      return { ...base, outcome: RetireOutcomes.SKIPPED, reason: 'grace window not over', versionId: previousId, graceEndsAt };
    }
    const strategy = strategyOf(kind, tags, where);
    const previous = await read(previousId, Stages.PREVIOUS);
    if (sharesCredential(kind, previous.value, current.value)) {
      throw new UnsafeRotationError(`${where}: AWSPREVIOUS holds the same credential as AWSCURRENT; refusing to retire it`);
    }
    // AWSCURRENT goes to the hooks as the reference: a hand-written AWSPREVIOUS must not lead
    // them to another user's key or another token (lambdas/retire/context.ts).
    const ctx: RetireContext<unknown> = {
      secretArn,
      token: previousId,
      strategy,
      logger,
      recordLogin: () => undefined,
      redact: (value) => redactor.add(value),
      current: { versionId: currentId, value: current.value },
    };
    let retiredInUse: Record<string, unknown> = {};
    if (kind.lastUse) {
      const use = await kind.lastUse(previous.value, ctx);
      const verdict = weighEvidence({
        lastUse: use,
        since,
        graceEnds: ends,
        now: deps.now().getTime(),
        policy: deps.evidence ?? evidenceDefaults,
      });
      if (verdict.verdict !== 'unused') {
        const found = { ...base, versionId: previousId, graceEndsAt, lastUse: describeUse(use!), inUseLimitAt: verdict.limitAt.toISOString() };
        await reportInUse(entry, found, verdict, deps, logger);
        if (verdict.verdict === 'in-use') {
          return { ...found, outcome: RetireOutcomes.SKIPPED, reason: 'previous credential still in use' };
        }
        if (verdict.action === RetireEvidence.ACTIONS.KEEP) {
          throw new RetireError(
            `${where}: the previous credential ${use!.credentialId} is still in use past the hard limit ` +
              `(last used ${found.lastUse.at}${via(found.lastUse)}; limit ${found.inUseLimitAt}); ` +
              `kept as ${settings.retireInUseAction.name}=${RetireEvidence.ACTIONS.KEEP} says`,
          );
        }
        retiredInUse = { reason: 'retired while still in use: the hard limit passed', lastUse: found.lastUse, inUseLimitAt: found.inUseLimitAt };
      } else if (use?.at) {
        logger.info('the previous credential was last used before it could hold the retirement', {
          lastUsedAt: use.at.toISOString(),
          why: verdict.why,
        });
      }
    }
    await kind.retire!(previous.value, ctx);
    await api.tag(secretArn, { [RotorTags.RETIRED_VERSION]: previousId });
    logger.info('retired the previous value', { graceEndsAt });
    return { ...base, outcome: RetireOutcomes.RETIRED, versionId: previousId, graceEndsAt, ...retiredInUse };
  } catch (err) {
    const safe = redactor.error(err);
    const reason = `${safe.name}: ${safe.message}`;
    logger.error('could not retire the previous value', { error: safe });
    return { ...base, outcome: RetireOutcomes.FAILED, reason, versionId: previousId, graceEndsAt };
  }
}

function describeUse(use: LastUse): NonNullable<RetireResult['lastUse']> {
  return { at: use.at!.toISOString(), service: use.service, region: use.region, credentialId: use.credentialId };
}

const via = (use: NonNullable<RetireResult['lastUse']>) =>
  use.service || use.region ? ` by ${use.service ?? 'an unknown service'} in ${use.region ?? 'an unknown region'}` : '';

/**
 * A previous credential is still in use: a log line, the PreviousCredentialInUse metric (dimension
 * kind) and, when the function has an alarm topic, a notification naming the service and region
 * that used it. Neither the metric nor the notification may fail the run.
 */
async function reportInUse(
  entry: SecretListEntry,
  found: Omit<RetireResult, 'outcome'> & { lastUse: NonNullable<RetireResult['lastUse']>; inUseLimitAt: string },
  verdict: Exclude<Verdict, { verdict: 'unused' }>,
  deps: RetireDeps,
  logger: Logger,
): Promise<void> {
  const use = found.lastUse;
  const next =
    verdict.verdict === 'in-use'
      ? `not retired yet; the retire run tries again at its next run (the earliest it can retire it: ${verdict.retryAfter.toISOString()}; ` +
        `after ${found.inUseLimitAt} it ${(deps.evidence ?? evidenceDefaults).action === RetireEvidence.ACTIONS.KEEP ? 'keeps it and fails' : 'retires it anyway'})`
      : verdict.action === RetireEvidence.ACTIONS.KEEP
        ? `kept past the hard limit (${found.inUseLimitAt}) as ${settings.retireInUseAction.name}=${verdict.action} says; the run fails until it is retired`
        : `retired anyway: the hard limit (${found.inUseLimitAt}) passed (${settings.retireInUseAction.name}=${verdict.action})`;
  const fields = {
    credentialId: use.credentialId,
    lastUsedAt: use.at,
    lastUsedService: use.service,
    lastUsedRegion: use.region,
    graceEndsAt: found.graceEndsAt,
    inUseLimitAt: found.inUseLimitAt,
    ...(verdict.verdict === 'in-use' ? { retryAfter: verdict.retryAfter.toISOString() } : {}),
  };
  if (verdict.verdict === 'in-use') logger.warn('the previous credential is still in use: a consumer still holds it', fields);
  else logger.error('the previous credential is still in use past the hard limit', { ...fields, action: verdict.action });
  if (deps.metrics) {
    const single = deps.metrics.singleMetric();
    single.addDimensions({ kind: found.kind });
    single.addMetric(RotorMetrics.PREVIOUS_CREDENTIAL_IN_USE, MetricUnit.Count, 1);
  }
  if (!deps.notify) return;
  const name = entry.Name ?? found.secretArn;
  try {
    await deps.notify.sns.send(
      new PublishCommand({
        TopicArn: deps.notify.topicArn,
        // SNS subjects: at most 100 printable ASCII characters, no line breaks.
        Subject: `Rotor: previous ${found.kind} credential of ${name} still in use`.replace(/[^\x20-\x7e]/g, '?').slice(0, 100),
        Message: [
          `Secret: ${found.secretArn}`,
          `Kind: ${found.kind}`,
          `Previous version: ${found.versionId}`,
          `Credential: ${use.credentialId}`,
          `Last used: ${use.at}${via(use)}`,
          `Grace window ended: ${found.graceEndsAt}`,
          `What happens: ${next}`,
          'Find the consumer still using it (e.g. CloudTrail events for this access key id) and make it read the current value.',
        ].join('\n'),
      }),
    );
  } catch (err) {
    logger.warn('could not publish the in-use notification', { error: (err as Error).name });
  }
}

/** Every secret with a `rotor:kind` tag, page by page (the filter matches key prefixes: retireOne checks the exact key). */
function managedSecrets(api: SecretsApi): AsyncGenerator<SecretListEntry> {
  return api.listSecrets([{ Key: 'tag-key', Values: [RotorTags.KIND] }], retireDefaults.pageSize);
}

/**
 * One retire run. A failure on one secret is reported in the result and does not stop the
 * others. Idempotent: a retired version is tagged and skipped later, and kinds' retire hooks
 * do nothing to a value already retired.
 */
export async function runRetire(kinds: RetireKinds, deps: RetireDeps): Promise<RetireReport> {
  validateRetireKinds(kinds);
  const started = Date.now();
  const api = new SecretsApi(deps.client);
  const results: RetireResult[] = [];
  let checked = 0;
  const running = new Set<Promise<void>>();
  const limit = deps.concurrency ?? retireDefaults.concurrency;
  for await (const entry of managedSecrets(api)) {
    checked++;
    const task: Promise<void> = retireOne(entry, kinds, deps, api).then((r) => {
      if (r) results.push(r);
      else checked--;
    });
    running.add(task);
    void task.finally(() => running.delete(task));
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
  const by = (o: RetireOutcome) => results.filter((r) => r.outcome === o);
  return {
    checked,
    retired: by(RetireOutcomes.RETIRED),
    skipped: by(RetireOutcomes.SKIPPED),
    failed: by(RetireOutcomes.FAILED),
    secretsManagerCalls: api.calls,
    durationMs: Date.now() - started,
  };
}

export type RetireHandler = (event: unknown, context: Context) => Promise<RetireReport>;

/**
 * The scheduled retire Lambda for the given dual-active kinds. Logs and counts every run; fails
 * the invocation (after handling every secret) when a secret could not be retired, so that the
 * function's Errors metric can raise an alarm.
 */
export function createRetireHandler(
  kinds: RetireKinds,
  overrides: Partial<RetireDeps> & { env?: Readonly<Record<string, string | undefined>> } = {},
): RetireHandler {
  validateRetireKinds(kinds);
  const logger = overrides.logger ?? new Logger({ serviceName: retireDefaults.serviceName });
  const metrics =
    overrides.metrics ??
    new Metrics({ namespace: retireDefaults.metricsNamespace, serviceName: retireDefaults.serviceName });
  const env = overrides.env ?? process.env;
  const topicArn = readSetting(settings.alarmTopicArn, env, 'retire handler');
  const deps: RetireDeps = {
    client: overrides.client ?? new SecretsManagerClient({}),
    logger,
    now: overrides.now ?? (() => new Date()),
    concurrency: overrides.concurrency ?? retireDefaults.concurrency,
    evidence: overrides.evidence ?? readEvidencePolicy(env),
    metrics,
    notify: overrides.notify ?? (topicArn ? { sns: new SNSClient({}), topicArn } : undefined),
  };
  return middy(async () => {
    const report = await runRetire(kinds, deps);
    metrics.addMetric(RotorMetrics.SECRETS_CHECKED, MetricUnit.Count, report.checked);
    metrics.addMetric(RotorMetrics.SECRETS_RETIRED, MetricUnit.Count, report.retired.length);
    metrics.addMetric(RotorMetrics.RETIRE_FAILED, MetricUnit.Count, report.failed.length);
    logger.info('retire run finished', {
      checked: report.checked,
      retired: report.retired.map((r) => r.secretArn),
      failed: report.failed.map((r) => r.secretArn),
      skipped: report.skipped.length,
      inUse: report.skipped.filter((r) => r.lastUse).map((r) => r.secretArn),
      secretsManagerCalls: report.secretsManagerCalls,
      durationMs: report.durationMs,
    });
    if (report.failed.length > 0) {
      const error = new RetireError(
        `retire: ${report.failed.length} of ${report.checked} secrets could not be retired: ` +
          report.failed.map((r) => `${r.secretArn} (${r.reason})`).join('; '),
      );
      Object.assign(error, { report });
      throw error;
    }
    return report;
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics)) as unknown as RetireHandler;
}
