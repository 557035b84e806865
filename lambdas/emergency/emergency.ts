import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  DescribeSecretCommand,
  ListSecretsCommand,
  RotateSecretCommand,
  type RotationRulesType,
  type SecretsManagerClient,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { RotationStateError, RotorError } from '../core/errors';
import { fingerprint } from '../core/fingerprint';
import { revokeVersion } from '../core/revoke';
import { tagMap } from '../core/labels';
import { toDescription, versionWithStage, type SecretDescription } from '../core/secretsApi';
import { RotorTags, Stages, type RotationKind, type Strategy } from '../core/types';
import { DetailTypes, emergencyDefaults, parseLeakEvent, type EventBridgeEvent, type LeakReport } from './events';

/** Tags the emergency handler keeps on a secret, for idempotency and the audit trail. */
export const EmergencyTags = {
  /** The version whose value leaked and was revoked. */
  REVOKED_VERSION: 'rotor:revoked-version',
  /** The last leak event handled for this secret (duplicates of it are skipped). */
  LEAK_EVENT: 'rotor:leak-event',
} as const;

export const emergencyHandlerDefaults = {
  /** How long to wait for the rotation RotateSecret started (Secrets Manager runs the four steps). */
  waitTimeoutMs: 240_000,
  pollIntervalMs: 2_000,
} as const;

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
  readonly sleep?: (ms: number) => Promise<void>;
  readonly env?: NodeJS.ProcessEnv;
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
export async function handleLeakEvent(event: EventBridgeEvent, deps: EmergencyDeps): Promise<EmergencyResult[]> {
  const reports = parseLeakEvent(event, deps.source ?? emergencyDefaults.source);
  const results: EmergencyResult[] = [];
  const failures: string[] = [];
  for (const report of reports) {
    try {
      results.push(await handleLeak(report, deps));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      deps.logger.error('leak not handled', { error: err as Error, via: report.via, eventId: report.eventId });
      deps.metrics?.addMetric('LeakFailed', MetricUnit.Count, 1);
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
  const found = await locate(report, deps);
  const kind = Object.hasOwn(deps.kinds, found.kind) ? deps.kinds[found.kind] : undefined;
  if (!kind?.revoke) {
    throw new RotationStateError(`secret ${found.arn}: kind '${found.kind}' cannot revoke a leaked value`);
  }
  const base = { secretArn: found.arn, kind: found.kind, reason: report.reason, via: report.via };
  logger.info('leak located', { secretArn: found.arn, kind: found.kind, leakedStage: found.leakedStage });

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
    description = await rotateAway(found, leakedVersionId, report, deps, logger);
    rotated = true;
  }
  await revokeVersion(kind, { secretArn: found.arn, description, versionId: leakedVersionId, strategy: found.strategy }, {
    client: deps.sm,
    logger,
    env: deps.env,
  });
  // Nothing may fall back to the leaked value. Read the labels again: a concurrent delivery of
  // the same leak may have removed it already.
  const labels = toDescription(await deps.sm.send(new DescribeSecretCommand({ SecretId: found.arn })));
  if ((labels.versions[leakedVersionId] ?? []).includes(Stages.PREVIOUS)) {
    await deps.sm
      .send(
        new UpdateSecretVersionStageCommand({
          SecretId: found.arn,
          VersionStage: Stages.PREVIOUS,
          RemoveFromVersionId: leakedVersionId,
        }),
      )
      .catch((err: Error) => {
        if (!/not found in version|isn't attached|not attached/i.test(err.message)) throw err;
      });
  }
  await deps.sm.send(
    new TagResourceCommand({
      SecretId: found.arn,
      Tags: [
        { Key: EmergencyTags.REVOKED_VERSION, Value: leakedVersionId },
        ...(report.eventId ? [{ Key: EmergencyTags.LEAK_EVENT, Value: report.eventId }] : []),
      ],
    }),
  );
  const result = done(rotated ? 'rotated-and-revoked' : 'revoked', leakedVersionId, description);
  logger.info('leaked value revoked', { ...result });
  await announce(result, found, deps);
  deps.metrics?.addMetric('LeakRevoked', MetricUnit.Count, 1);
  deps.metrics?.addMetric('LeakToRevokedDuration', MetricUnit.Milliseconds, result.durationMs);
  return result;

  function done(outcome: EmergencyResult['outcome'], leaked: string, d: SecretDescription): EmergencyResult {
    return {
      ...base,
      outcome,
      leakedVersionId: leaked,
      currentVersionId: versionWithStage(d, Stages.CURRENT) ?? '',
      durationMs: Date.now() - started,
    };
  }
}

/** Finds the secret a leak report names, and which of its versions leaked. */
async function locate(report: LeakReport, deps: EmergencyDeps): Promise<Located> {
  if (report.secretId) {
    const out = await deps.sm.send(new DescribeSecretCommand({ SecretId: report.secretId })).catch((err: Error) => {
      if (err.name === 'ResourceNotFoundException') {
        throw new RotationStateError(`secret ${report.secretId}: not found`, { cause: err });
      }
      throw err;
    });
    return located(out, Stages.CURRENT);
  }
  const fp = report.fingerprint ?? fingerprint(report.accessKeyId!);
  const what = report.accessKeyId ? `access key ${report.accessKeyId}` : `fingerprint ${fp}`;
  const page = await deps.sm.send(new ListSecretsCommand({ Filters: [{ Key: 'tag-value', Values: [fp] }], MaxResults: 100 }));
  for (const entry of page.SecretList ?? []) {
    const tags = tagMap(entry.Tags);
    if (!tags.get(RotorTags.KIND)) continue;
    const stage =
      tags.get(RotorTags.FINGERPRINT_CURRENT) === fp
        ? Stages.CURRENT
        : tags.get(RotorTags.FINGERPRINT_PREVIOUS) === fp
          ? Stages.PREVIOUS
          : undefined;
    if (!stage) continue;
    const out = await deps.sm.send(new DescribeSecretCommand({ SecretId: entry.ARN }));
    return located(out, stage);
  }
  throw new RotationStateError(
    `no Rotor-managed secret holds ${what} (secrets are fingerprinted at each rotation; one never rotated by Rotor must be named by secretId)`,
  );

  function located(
    out: {
      ARN?: string;
      Name?: string;
      RotationEnabled?: boolean;
      RotationLambdaARN?: string;
      RotationRules?: RotationRulesType;
      VersionIdsToStages?: Record<string, string[]>;
      Tags?: Array<{ Key?: string; Value?: string }>;
    },
    stage: typeof Stages.CURRENT | typeof Stages.PREVIOUS,
  ): Located {
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
      strategy: (tags.get(RotorTags.STRATEGY) as Strategy | undefined) ?? 'single-user',
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
  logger: Logger,
): Promise<SecretDescription> {
  if (!found.description.rotationEnabled) {
    throw new RotationStateError(`secret ${found.arn}: rotation is not enabled, so Rotor cannot rotate it`);
  }
  const inFlight = versionWithStage(found.description, Stages.PENDING);
  if (inFlight && !(found.description.versions[inFlight] ?? []).includes(Stages.CURRENT)) {
    logger.info('a rotation is already in progress: waiting for it instead of starting another', { token: inFlight });
  } else {
    const token = rotationTokenFor(found.arn, report.eventId);
    // Restate the secret's own rotation configuration: it changes nothing on AWS, and emulators
    // that ignore the stored function (moto) then rotate with it too instead of promoting an
    // empty version.
    await deps.sm.send(
      new RotateSecretCommand({
        SecretId: found.arn,
        ClientRequestToken: token,
        RotateImmediately: true,
        RotationLambdaARN: found.rotationLambdaArn,
        RotationRules: found.rotationRules,
      }),
    );
    logger.info('rotation started', { token });
  }
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const timeout = deps.waitTimeoutMs ?? emergencyHandlerDefaults.waitTimeoutMs;
  const deadline = Date.now() + timeout;
  for (;;) {
    const d = toDescription(await deps.sm.send(new DescribeSecretCommand({ SecretId: found.arn })));
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
    Detail: JSON.stringify({ ...detail, revokedVersionId: result.leakedVersionId, durationMs: result.durationMs }),
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
          `Took: ${(result.durationMs / 1000).toFixed(1)} s`,
        ].join('\n'),
      }),
    );
  }
}
