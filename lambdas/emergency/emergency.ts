import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { DescribeSecretCommandOutput, RotationRulesType, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { CLAIM_STAGE, newClaimOwner, takeClaim, type ClaimOutcome } from '../core/claim.js';
import { InvalidEventError, RotationStateError, RotorError } from '../core/errors.js';
import { candidateFingerprints, type FingerprintKey, type FingerprintKeySource } from '../core/fingerprint.js';
import { maskCredentialShapes, Redactor } from '../core/redact.js';
import { removeLeakedLabel, revokeVersion } from './revoke.js';
import { throttleTolerant } from './throttling.js';
import { heldFingerprint, tagMap } from '../core/labels.js';
import { readSecretValue } from '../core/secretValue.js';
import { SecretsApi, toDescription, versionWithStage, type SecretDescription } from '../core/secretsApi.js';
import { resolveStrategy, RotorMetrics, RotorTags, settings } from '../contract/index.js';
import { Stages, type RotationKind, type Strategy } from '../core/types.js';
import { DetailTypes, emergencyDefaults, parseLeakEvent, type EventBridgeEvent, type LeakReport } from './events.js';

/** Tags the emergency handler keeps on a secret, for idempotency and the audit trail (the contract's RotorTags). */
export const EmergencyTags = {
  /** The version whose value leaked and was revoked. */
  REVOKED_VERSION: RotorTags.REVOKED_VERSION,
  /** The last leak event handled for this secret (duplicates of it are skipped). */
  LEAK_EVENT: RotorTags.LEAK_EVENT,
} as const;

export const emergencyHandlerDefaults = {
  /** How long to wait for the rotation RotateSecret started (Secrets Manager runs the four steps). */
  waitTimeoutMs: settings.waitTimeoutMs.default ?? 240_000,
  pollIntervalMs: 2_000,
  /**
   * How long the delivery that claimed the start of a rotation or a revocation's announcement
   * may take to do it before another delivery may take the claim over.
   */
  announceLeaseMs: 60_000,
} as const;

/** What a caller's reason becomes when the secret's values could not be read to mask it. */
export const REASON_WITHHELD = '[reason withheld: the secret could not be read to mask it]';

/** Kinds that can revoke, by their rotor:kind tag. */
// `any`: each kind has its own value type; the handler only passes a kind's values back to it.
export type EmergencyKinds = Readonly<Record<string, RotationKind<any>>>;

export interface EmergencyDeps {
  readonly sm: SecretsManagerClient;
  readonly events: EventBridgeClient;
  readonly sns?: SNSClient;
  /** Topic that receives the audit summary. @default - no summary is published */
  readonly topicArn?: string;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly kinds: EmergencyKinds;
  /** `source` of Rotor's events. @default emergencyDefaults.source */
  readonly source?: string;
  /** @default emergencyDefaults.eventBusName */
  readonly eventBusName?: string;
  /** @default emergencyHandlerDefaults.waitTimeoutMs */
  readonly waitTimeoutMs?: number;
  /** @default emergencyHandlerDefaults.pollIntervalMs */
  readonly pollIntervalMs?: number;
  /** @default emergencyHandlerDefaults.announceLeaseMs */
  readonly announceLeaseMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Rotor's fingerprint key, to fingerprint a leaked access key id as finishSecret tags it.
   * @default - none: an access key id matches legacy (plain SHA-256) tags only
   */
  readonly fingerprintKey?: FingerprintKeySource;
}

/** What was done about one leak (ids, times and reasons only). */
export interface EmergencyResult {
  readonly secretArn: string;
  readonly kind: string;
  readonly outcome: 'rotated-and-revoked' | 'revoked' | 'already-revoked' | 'duplicate';
  readonly leakedVersionId: string;
  readonly currentVersionId: string;
  readonly reason: string;
  readonly via: LeakReport['via'];
  readonly durationMs: number;
  /**
   * A secret with replicas: each replica's region and state once AWSPREVIOUS left the leaked
   * version (after a bounded wait); absent for a secret without replicas.
   */
  readonly replicas?: ReadonlyArray<{ readonly region: string; readonly status: string }>;
  /** The regions of those not InSync when the wait ended (a replica there may still label the leaked value AWSPREVIOUS). */
  readonly replicasNotInSync?: readonly string[];
}

interface Located {
  readonly arn: string;
  readonly name: string;
  readonly kind: string;
  readonly strategy: Strategy;
  readonly tags: Map<string, string>;
  readonly description: SecretDescription;
  /** The version whose value leaked, if it still has a label; undefined when it is gone. */
  readonly leakedVersionId: string | undefined;
  /** The label the leaked value held when found. */
  readonly leakedStage: 'AWSCURRENT' | 'AWSPREVIOUS' | 'gone';
  readonly rotationLambdaArn?: string;
  readonly rotationRules?: RotationRulesType;
}

/**
 * Handles one input event: for each leak it names, find the Rotor-managed secret, rotate it if
 * the leaked value is AWSCURRENT (waiting for Secrets Manager to finish), then revoke the leaked
 * value, remove AWSPREVIOUS, and report. At-least-once safe: a duplicate ends in the same state.
 */
export async function handleLeakEvent(event: EventBridgeEvent | unknown, deps: EmergencyDeps): Promise<EmergencyResult[]> {
  let reports: LeakReport[];
  try {
    reports = parseLeakEvent(event, deps.source ?? emergencyDefaults.source);
  } catch (err) {
    // The message names fields and kinds of values only (never a value): safe to log.
    if (err instanceof InvalidEventError) {
      deps.logger.error('event refused', { error: err });
      deps.metrics?.addMetric(RotorMetrics.LEAK_EVENT_INVALID, MetricUnit.Count, 1);
    }
    throw err;
  }
  const results: EmergencyResult[] = [];
  const failures: string[] = [];
  // Many leaks at once meet Secrets Manager's rate quotas: throttled calls are retried with backoff (throttling.ts).
  const calls: EmergencyDeps = { ...deps, sm: throttleTolerant(deps.sm, { sleep: deps.sleep }) };
  for (const report of reports) {
    try {
      results.push(await handleLeak(report, calls));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      deps.logger.error('leak not handled', { error: err as Error, via: report.via, eventId: report.eventId });
      deps.metrics?.addMetric(RotorMetrics.LEAK_FAILED, MetricUnit.Count, 1);
      failures.push(message);
      if (reports.length === 1) throw err;
    }
  }
  if (failures.length > 0) {
    throw new RotorError(`${failures.length} of ${reports.length} leaks not handled: ${failures.join('; ')}`);
  }
  return results;
}

async function handleLeak(report: LeakReport, deps: EmergencyDeps): Promise<EmergencyResult> {
  const started = Date.now();
  const logger = deps.logger.createChild({ persistentKeys: { via: report.via, leakEventId: report.eventId } });
  const api = new SecretsApi(deps.sm);
  const found = await locate(report, api, deps, logger);
  const kind = Object.hasOwn(deps.kinds, found.kind) ? deps.kinds[found.kind] : undefined;
  if (!kind?.revoke) {
    throw new RotationStateError(`secret ${found.arn}: kind '${found.kind}' cannot revoke a leaked value`);
  }
  logger.info('leak located', { secretArn: found.arn, kind: found.kind, leakedStage: found.leakedStage });
  // The reason is the caller's text: it may quote the leaked value or another of the secret's.
  // It is masked against every value of the secret read here before it goes anywhere.
  const masker = new ReasonMasker(kind, found.arn, api, logger);
  await masker.learn(found.description, [found.leakedVersionId, found.tags.get(EmergencyTags.REVOKED_VERSION)]);
  const base = { secretArn: found.arn, kind: found.kind, via: report.via };

  if (report.eventId && found.tags.get(EmergencyTags.LEAK_EVENT) === report.eventId) {
    logger.info('this leak event was already handled: nothing to do');
    return done('duplicate', found.tags.get(EmergencyTags.REVOKED_VERSION) ?? '', found.description);
  }
  if (!found.leakedVersionId || found.tags.get(EmergencyTags.REVOKED_VERSION) === found.leakedVersionId) {
    if (found.leakedStage === 'AWSCURRENT') {
      // A revoked version can never be current again; this would be a corrupted state.
      throw new RotationStateError(`secret ${found.arn}: the revoked version is AWSCURRENT`);
    }
    logger.info('the leaked value was already revoked: nothing to do');
    return done('already-revoked', found.leakedVersionId ?? found.tags.get(EmergencyTags.REVOKED_VERSION) ?? '', found.description);
  }

  const leakedVersionId = found.leakedVersionId;
  let description = found.description;
  let rotated = false;
  if (found.leakedStage === 'AWSCURRENT') {
    description = await rotateAway(found, leakedVersionId, report, deps, api, logger);
    rotated = true;
    await masker.learn(description, []);
  }
  await revokeVersion(kind, { secretArn: found.arn, description, versionId: leakedVersionId, strategy: found.strategy }, {
    client: deps.sm,
    logger,
    env: deps.env,
  });
  // Nothing may fall back to the leaked value, on the primary or a replica (revoke.ts).
  const removal = await removeLeakedLabel(api, found.arn, leakedVersionId, {
    logger,
    sleep: deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
  });
  const labels = removal.labels;
  const replicaReport: Pick<EmergencyResult, 'replicas' | 'replicasNotInSync'> =
    removal.replicas.length === 0
      ? {}
      : {
          replicas: removal.replicas.map((r) => ({ region: r.region, status: r.status })),
          replicasNotInSync: removal.replicasNotInSync.map((r) => r.region),
        };
  await api.tag(found.arn, {
    [EmergencyTags.REVOKED_VERSION]: leakedVersionId,
    ...(report.eventId ? { [EmergencyTags.LEAK_EVENT]: report.eventId } : {}),
  });
  // One announcement per revoked value, however many deliveries (duplicates, or several
  // reports of one leak) got here at once: the one that wins the claim announces.
  const announcement = await claim(`announce:${leakedVersionId}`, Object.keys(labels.versions), deps, api, found.arn, logger);
  if (!announcement.won) {
    logger.info('the leaked value is revoked; another delivery announces it', { revokedVersionId: leakedVersionId });
    return done('duplicate', leakedVersionId, description);
  }
  const result: EmergencyResult = { ...done(rotated ? 'rotated-and-revoked' : 'revoked', leakedVersionId, description), ...replicaReport };
  logger.info('leaked value revoked', { ...result });
  await announce(result, found, deps);
  deps.metrics?.addMetric(RotorMetrics.LEAK_REVOKED, MetricUnit.Count, 1);
  deps.metrics?.addMetric(RotorMetrics.LEAK_TO_REVOKED_DURATION, MetricUnit.Milliseconds, result.durationMs);
  return result;

  function done(outcome: EmergencyResult['outcome'], leaked: string, d: SecretDescription): EmergencyResult {
    return {
      ...base,
      reason: masker.mask(report.reason),
      outcome,
      leakedVersionId: leaked,
      currentVersionId: versionWithStage(d, Stages.CURRENT) ?? '',
      durationMs: Date.now() - started,
    };
  }
}

/** Finds the secret a leak report names, and which of its versions leaked. */
async function locate(report: LeakReport, api: SecretsApi, deps: EmergencyDeps, logger: Logger): Promise<Located> {
  if (report.secretId) {
    const out = await api.describeSecret(report.secretId).catch((err: Error) => {
      if (err.name === 'ResourceNotFoundException') {
        // The name is the caller's text: mask anything credential-shaped in it.
        throw new RotationStateError(`secret ${maskCredentialShapes(report.secretId!)}: not found`, { cause: err });
      }
      throw err;
    });
    // A redelivery of this event after the rotation it started has finished (the delivery that
    // started it failed before recording the event): what leaked is the value that rotation
    // replaced, now AWSPREVIOUS. Taking AWSCURRENT would rotate the new value away with the
    // event's token again, and never revoke the leaked one.
    const ownRotation = report.eventId ? out.VersionIdsToStages?.[rotationTokenFor(out.ARN ?? report.secretId, report.eventId)] : undefined;
    return located(out, ownRotation?.includes(Stages.CURRENT) ? Stages.PREVIOUS : Stages.CURRENT);
  }
  // A fingerprint in the event is matched as given (keyed or legacy); an access key id is
  // fingerprinted here both ways: keyed with Rotor's key, and plain for secrets tagged before.
  let keyProblem: Error | undefined;
  let candidates: string[];
  if (report.fingerprint) {
    candidates = [report.fingerprint];
  } else {
    let key: FingerprintKey | undefined;
    try {
      key = await deps.fingerprintKey?.();
    } catch (err) {
      keyProblem = err as Error;
      logger.error('the fingerprint key cannot be read: matching legacy fingerprint tags only', { error: keyProblem });
    }
    candidates = candidateFingerprints(report.accessKeyId!, key ? [key] : []);
  }
  const what = report.accessKeyId ? `access key ${report.accessKeyId}` : `fingerprint ${report.fingerprint}`;
  for await (const entry of api.listSecrets([{ Key: 'tag-value', Values: candidates }])) {
    const tags = tagMap(entry.Tags);
    if (!tags.get(RotorTags.KIND)) continue;
    const held = heldFingerprint(tags, candidates);
    if (!held) continue;
    return located(await api.describeSecret(entry.ARN ?? entry.Name ?? ''), held.which === 'current' ? Stages.CURRENT : Stages.PREVIOUS);
  }
  throw new RotationStateError(
    `no Rotor-managed secret holds ${what} (secrets are fingerprinted at each rotation; one never rotated by Rotor must be named by secretId)` +
      (keyProblem ? `; only legacy fingerprints were matched: ${keyProblem.message}` : ''),
    keyProblem ? { cause: keyProblem } : undefined,
  );

  function located(out: DescribeSecretCommandOutput, stage: typeof Stages.CURRENT | typeof Stages.PREVIOUS): Located {
    const tags = tagMap(out.Tags);
    const kind = tags.get(RotorTags.KIND);
    if (!kind) {
      throw new RotationStateError(`secret ${out.ARN ?? report.secretId}: not managed by Rotor (no ${RotorTags.KIND} tag); nothing was changed`);
    }
    const description = toDescription(out);
    const leakedVersionId = versionWithStage(description, stage);
    return {
      arn: description.arn,
      name: description.name,
      kind,
      // The tag as written by the construct; without one, the contract's one default rule.
      strategy: resolveStrategy(kind, { stated: tags.get(RotorTags.STRATEGY) }),
      tags,
      description,
      leakedVersionId,
      leakedStage: leakedVersionId ? stage : 'gone',
      rotationLambdaArn: out.RotationLambdaARN,
      rotationRules: out.RotationRules,
    };
  }
}

/** A RotateSecret token that is the same for every delivery of one event (idempotent on AWS). */
export function rotationTokenFor(secretArn: string, eventId: string | undefined): string {
  if (!eventId) return randomUUID();
  const h = createHash('sha256').update(`${secretArn}\u0000${eventId}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Rotates the leaked AWSCURRENT away: starts a rotation unless one is already in flight (a
 * scheduled rotation or a concurrent delivery of this event), then waits, bounded, until
 * AWSCURRENT has left the leaked version and no AWSPENDING remains.
 */
async function rotateAway(
  found: Located,
  leakedVersionId: string,
  report: LeakReport,
  deps: EmergencyDeps,
  api: SecretsApi,
  logger: Logger,
): Promise<SecretDescription> {
  if (!found.description.rotationEnabled) {
    throw new RotationStateError(`secret ${found.arn}: rotation is not enabled, so Rotor cannot rotate it`);
  }
  const inFlight = versionWithStage(found.description, Stages.PENDING);
  if (inFlight && !(found.description.versions[inFlight] ?? []).includes(Stages.CURRENT)) {
    logger.info('a rotation is already in progress: waiting for it instead of starting another', { token: inFlight });
  } else if (!(await claim(`rotate:${leakedVersionId}`, Object.keys(found.description.versions), deps, api, found.arn, logger)).won) {
    // Several reports of one leak (distinct event ids, so distinct tokens) at once: one starts
    // the rotation, the others wait for it (AWS would refuse their RotateSecret anyway).
    logger.info('another delivery is starting the rotation: waiting for it');
  } else {
    const token = rotationTokenFor(found.arn, report.eventId);
    // Restate the secret's own rotation configuration: it changes nothing on AWS, and emulators
    // that ignore the stored function (moto) then rotate with it too instead of promoting an
    // empty version.
    const started = await api
      .rotate({
        SecretId: found.arn,
        ClientRequestToken: token,
        RotateImmediately: true,
        RotationLambdaARN: found.rotationLambdaArn,
        RotationRules: found.rotationRules,
      })
      .then(
        () => true,
        (err: Error) => {
          // Another report of this leak (another event id) started one a moment ago: wait for it.
          if (err.name === 'InvalidRequestException' && /in progress|isn't complete|not complete/i.test(err.message)) return false;
          throw err;
        },
      );
    if (started) logger.info('rotation started', { token });
    else logger.info('a rotation started meanwhile: waiting for it', { token });
  }
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const timeout = deps.waitTimeoutMs ?? emergencyHandlerDefaults.waitTimeoutMs;
  const deadline = Date.now() + timeout;
  for (;;) {
    const d = await api.describe(found.arn);
    const current = versionWithStage(d, Stages.CURRENT);
    const pending = Object.entries(d.versions).some(([, s]) => s.includes(Stages.PENDING) && !s.includes(Stages.CURRENT));
    if (current && current !== leakedVersionId && !pending) {
      logger.info('rotation finished', { currentVersionId: current });
      return d;
    }
    if (Date.now() >= deadline) {
      throw new RotationStateError(
        `secret ${found.arn}: the rotation did not finish within ${Math.round(timeout / 1000)} s; the leaked value is still ${current === leakedVersionId ? 'AWSCURRENT' : 'not revoked'} (see the rotation function's logs)`,
      );
    }
    await sleep(deps.pollIntervalMs ?? emergencyHandlerDefaults.pollIntervalMs);
  }
}

/**
 * Takes a claim (core/claim.ts: a small ROTOR_CLAIM version whose id derives from the purpose;
 * Secrets Manager refuses a second writer): `rotate:<leaked version>` to start the rotation,
 * `announce:<revoked version>` to announce the revocation. A function not allowed to write the
 * claim (PutSecretValue denied) goes ahead, with a warning: twice is better than never.
 */
async function claim(
  purpose: string,
  existingVersionIds: string[],
  deps: EmergencyDeps,
  api: SecretsApi,
  secretArn: string,
  logger: Logger,
): Promise<ClaimOutcome> {
  try {
    return await takeClaim(api, secretArn, {
      purpose,
      owner: newClaimOwner(),
      leaseMs: deps.announceLeaseMs ?? emergencyHandlerDefaults.announceLeaseMs,
      existingVersionIds,
    });
  } catch (err) {
    if ((err as Error).name !== 'AccessDeniedException') throw err;
    logger.warn('cannot take a claim (PutSecretValue denied): going ahead without it', { purpose, error: err as Error });
    return { won: true, attempt: 0 };
  }
}

/**
 * Masks a caller's free text against every value of one secret that the handler reads: each
 * labelled version (AWSCURRENT, AWSPREVIOUS, AWSPENDING, any other label but ROTOR_CLAIM), the
 * leaked version, the version last revoked, and AWSCURRENT again after the rotation; then
 * token-shaped runs and access key ids. If a version cannot be read, the text is withheld.
 */
class ReasonMasker {
  readonly #redactor = new Redactor();
  readonly #read = new Set<string>();
  readonly #api: SecretsApi;
  #unreadable = false;

  public constructor(
    private readonly kind: RotationKind<any>,
    private readonly secretArn: string,
    api: SecretsApi,
    private readonly logger: Logger,
  ) {
    this.#api = api;
  }

  public async learn(description: SecretDescription, also: ReadonlyArray<string | undefined>): Promise<void> {
    const labelled = Object.entries(description.versions)
      .filter(([, stages]) => stages.some((s) => s !== CLAIM_STAGE))
      .map(([id]) => id);
    for (const versionId of new Set([...labelled, ...also.filter((v): v is string => !!v)])) {
      if (this.#read.has(versionId)) continue;
      this.#read.add(versionId);
      const stages = description.versions[versionId] ?? [];
      const stage = [Stages.CURRENT, Stages.PREVIOUS, Stages.PENDING].find((s) => stages.includes(s));
      let raw: string | undefined;
      try {
        raw = await this.#api.getValue(this.secretArn, versionId, stage);
      } catch (err) {
        this.#unreadable = true;
        this.logger.warn('a version could not be read to mask the reason: the reason is withheld', {
          versionId,
          error: new Redactor().error(err),
        });
        continue;
      }
      if (raw !== undefined) this.#register(raw, versionId);
    }
  }

  public mask(text: string): string {
    if (this.#unreadable) return REASON_WITHHELD;
    return maskCredentialShapes(this.#redactor.text(text));
  }

  #register(raw: string, versionId: string): void {
    try {
      readSecretValue(this.kind, raw, `secret ${this.secretArn} (version ${versionId})`, this.#redactor);
      return;
    } catch {
      // Not a value of this kind (a hand-made or half-written version): mask what looks secret in it.
    }
    this.#redactor.add(raw);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return;
    }
    if (parsed === null || typeof parsed !== 'object' || 'rotorClaim' in parsed) return;
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof value === 'string' && /pass|secret|token|key|credential/i.test(key)) this.#redactor.add(value);
    }
  }
}

/** "Secret Rotated" / "Secret Revoked" events and the audit summary: ids and reasons, no values. */
async function announce(result: EmergencyResult, found: Located, deps: EmergencyDeps): Promise<void> {
  const source = deps.source ?? emergencyDefaults.source;
  const bus = deps.eventBusName ?? emergencyDefaults.eventBusName;
  const detail = {
    secretArn: result.secretArn,
    secretName: found.name,
    kind: result.kind,
    reason: result.reason,
    via: result.via,
  };
  const entries = [];
  if (result.outcome === 'rotated-and-revoked') {
    entries.push({
      Source: source,
      DetailType: DetailTypes.ROTATED,
      EventBusName: bus,
      Resources: [result.secretArn],
      Detail: JSON.stringify({ ...detail, previousVersionId: result.leakedVersionId, currentVersionId: result.currentVersionId }),
    });
  }
  entries.push({
    Source: source,
    DetailType: DetailTypes.REVOKED,
    EventBusName: bus,
    Resources: [result.secretArn],
    Detail: JSON.stringify({
      ...detail,
      revokedVersionId: result.leakedVersionId,
      durationMs: result.durationMs,
      ...(result.replicas ? { replicas: result.replicas, replicasNotInSync: result.replicasNotInSync } : {}),
    }),
  });
  const out = await deps.events.send(new PutEventsCommand({ Entries: entries }));
  if ((out.FailedEntryCount ?? 0) > 0) deps.logger.warn('some audit events were not accepted', { failed: out.FailedEntryCount });
  if (deps.sns && deps.topicArn) {
    await deps.sns.send(
      new PublishCommand({
        TopicArn: deps.topicArn,
        Subject: `Rotor: leaked ${result.kind} secret ${found.name} ${result.outcome === 'rotated-and-revoked' ? 'rotated and revoked' : 'revoked'}`,
        Message: [
          `Secret: ${result.secretArn}`,
          `Kind: ${result.kind}`,
          `Reason: ${result.reason} (via ${result.via})`,
          `Revoked version: ${result.leakedVersionId}`,
          `Current version: ${result.currentVersionId}`,
          ...(result.replicas ? [`Replicas: ${result.replicas.map((r) => `${r.region} ${r.status}`).join(', ')}`] : []),
          `Took: ${(result.durationMs / 1000).toFixed(1)} s`,
        ].join('\n'),
      }),
    );
  }
}
