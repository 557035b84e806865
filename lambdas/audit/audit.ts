/**
 * The audit: every secret of the account and the given regions (not only Rotor's), and the IAM
 * users' access keys, judged for rotation hygiene. `rotor audit` (bin/cli/audit.ts) prints it; the
 * scheduled audit function (./index.ts) counts it as metrics. It reads metadata only: ListSecrets
 * (with tags), DescribeSecret (replicas), ListSecretVersionIds where a date is needed, the rotation
 * functions' configuration, IAM's key lists. No secret value is read.
 */
import type { SecretListEntry, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Audit, AUDIT_CONDITIONS, KIND_TRAITS, RotorTags, ServiceNames, settings, type AuditCondition, type KindName } from '../contract/index.js';
import { plainFingerprint } from '../core/fingerprint.js';
import { heldFingerprints, tagMap, versionHolding } from '../core/labels.js';
import { SecretsApi } from '../core/secretsApi.js';
import { Stages } from '../core/types.js';
import { formatDuration, formatTime } from './format.js';
import { nextRotation } from './schedule.js';

export { AUDIT_CONDITIONS, type AuditCondition };


/** One secret's findings: each a condition and the sentence that explains it. */
export interface SecretAudit {
  readonly region: string;
  readonly name: string;
  readonly arn: string;
  /** `rotor:kind` when the secret is Rotor's. */
  readonly kind?: string;
  readonly rotationEnabled: boolean;
  readonly rotationFunction?: string;
  readonly lastRotated?: string;
  readonly findings: ReadonlyArray<{ readonly condition: AuditCondition; readonly detail: string }>;
}

export interface AccessKeyAudit {
  readonly userName: string;
  readonly accessKeyId: string;
  readonly status?: string;
  readonly createdAt?: string;
  readonly ageDays: number;
  readonly condition: 'old-unmanaged-key';
  readonly detail: string;
}

export interface AuditReport {
  readonly regions: readonly string[];
  readonly secrets: readonly SecretAudit[];
  readonly accessKeys: readonly AccessKeyAudit[];
  /** How many secrets (and IAM keys) are in each condition. */
  readonly counts: Readonly<Record<AuditCondition, number>>;
  readonly checked: { readonly secrets: number; readonly accessKeys: number };
}

/** What a rotation function is, as the audit sees it: missing, Rotor's, or someone else's. */
export type FunctionKind = 'missing' | 'rotor' | 'other' | 'unknown';

export interface AccessKeyEntry {
  readonly userName: string;
  readonly accessKeyId: string;
  readonly status?: string;
  readonly createdAt?: Date;
  /** The secret whose IAM-kind marker (a tag on the user keyed by this key id) names the key. */
  readonly heldBy?: string;
}

export interface AuditClients {
  readonly secretsFor: (region: string) => SecretsManagerClient;
  /** The kind of a rotation function (GetFunctionConfiguration); `unknown` when it cannot be read. */
  readonly functionKind: (region: string, functionArn: string) => Promise<FunctionKind>;
  /**
   * Every IAM user's access keys, with their creation dates and, for a key the IAM kind created
   * for one of `secretArns`, that secret (IAM is global: asked once).
   */
  readonly accessKeys?: (secretArns: readonly string[]) => AsyncIterable<AccessKeyEntry>;
}

export interface AuditOptions {
  readonly regions: readonly string[];
  readonly now: Date;
  /** @default Audit.stuckAfterMinutes.default */
  readonly stuckAfterMinutes?: number;
  /** @default Audit.keyMaxAgeDays.default */
  readonly keyMaxAgeDays?: number;
  /** Called as each region starts and as secrets are judged (the CLI's progress on a terminal). */
  readonly progress?: (text: string) => void;
}

/** Rotor's rotation functions say so in their environment: POWERTOOLS_SERVICE_NAME is Rotor's rotation service. */
export function isRotorFunction(environment: Record<string, string> | undefined): boolean {
  return environment?.[settings.serviceName.name] === ServiceNames.ROTATION;
}

async function auditSecret(
  region: string,
  entry: SecretListEntry,
  options: AuditOptions,
  api: SecretsApi,
  functionKind: (arn: string) => Promise<FunctionKind>,
): Promise<SecretAudit> {
  const tags = tagMap(entry.Tags);
  const arn = entry.ARN ?? entry.Name ?? '(unknown)';
  const now = options.now.getTime();
  const findings: Array<{ condition: AuditCondition; detail: string }> = [];
  const rotationEnabled = entry.RotationEnabled === true;
  const kind = tags.get(RotorTags.KIND);

  if (!rotationEnabled) findings.push({ condition: 'rotation-off', detail: 'rotation is not enabled' });
  if (!entry.LastRotatedDate) findings.push({ condition: 'never-rotated', detail: 'never rotated' });
  const next = nextRotation({ rotationEnabled, nextRotationDate: entry.NextRotationDate, lastRotatedDate: entry.LastRotatedDate, rules: entry.RotationRules });
  if (next?.at && now > next.at.getTime()) findings.push({ condition: 'overdue', detail: `overdue since ${formatTime(next.at)} (its own schedule)` });

  const failure = tags.get(RotorTags.LAST_FAILURE);
  if (failure) findings.push({ condition: 'last-rotation-failed', detail: `last rotation failed: ${failure}` });

  const stages = (entry.SecretVersionsToStages ?? {}) as Record<string, string[]>;
  const pendingId = versionHolding(stages, Stages.PENDING, undefined);
  if (pendingId && !stages[pendingId]!.includes(Stages.CURRENT)) {
    const created = (await api.listVersions(arn)).find((v) => v.versionId === pendingId)?.created;
    const age = created ? now - created.getTime() : undefined;
    if (age === undefined || age > (options.stuckAfterMinutes ?? Audit.stuckAfterMinutes.default) * 60_000) {
      findings.push({ condition: 'stuck', detail: `AWSPENDING version ${pendingId.slice(0, 8)} ${age === undefined ? 'of unknown age' : `stuck for ${formatDuration(age)}`}` });
    }
  }

  if (entry.RotationLambdaARN) {
    const fn = await functionKind(entry.RotationLambdaARN);
    if (fn === 'missing') findings.push({ condition: 'function-missing', detail: `rotation function ${entry.RotationLambdaARN} does not exist` });
    else if (fn === 'other') {
      const detail = kind !== undefined ? `tagged ${RotorTags.KIND}=${kind} but its rotation function is not Rotor's` : "rotation function is not Rotor's";
      findings.push({ condition: 'function-not-rotor', detail });
    }
  } else if (rotationEnabled) findings.push({ condition: 'function-missing', detail: 'rotation is on but no rotation function is set' });

  // ListSecrets does not say how replicas are: DescribeSecret does (metadata only).
  const replication = (await api.describeSecret(arn)).ReplicationStatus ?? [];
  for (const replica of replication) {
    if (replica.Status !== 'InSync') {
      findings.push({ condition: 'replica-out-of-sync', detail: `replica in ${replica.Region ?? '?'} is ${replica.Status ?? 'in an unknown state'}${replica.StatusMessage ? `: ${replica.StatusMessage}` : ''}` });
    }
  }

  return {
    region,
    name: entry.Name ?? arn,
    arn,
    kind,
    rotationEnabled,
    rotationFunction: entry.RotationLambdaARN,
    lastRotated: entry.LastRotatedDate?.toISOString(),
    findings,
  };
}

/**
 * The legacy (plain SHA-256) fingerprints of access key ids the account's credential-issuing
 * secrets hold, from their tags. Keyed ones (k1:) cannot be matched without Rotor's fingerprint
 * key, a secret value the audit never reads: those keys are found by the IAM kind's marker tags.
 */
function heldKeyFingerprints(entries: Iterable<SecretListEntry>): Set<string> {
  const held = new Set<string>();
  for (const entry of entries) {
    const tags = tagMap(entry.Tags);
    const kind = tags.get(RotorTags.KIND) as KindName | undefined;
    if (kind === undefined || !(kind in KIND_TRAITS) || !KIND_TRAITS[kind].issuesCredentials) continue;
    for (const { fingerprint: fp } of heldFingerprints(tags)) held.add(fp);
  }
  return held;
}

/** Audits the regions' secrets (bounded concurrency) and, once, the IAM users' keys. */
export async function collectAudit(clients: AuditClients, options: AuditOptions): Promise<AuditReport> {
  const secrets: SecretAudit[] = [];
  const entriesSeen: SecretListEntry[] = [];
  for (const [i, region] of options.regions.entries()) {
    options.progress?.(`region ${i + 1}/${options.regions.length} (${region}): listing secrets`);
    const api = new SecretsApi(clients.secretsFor(region));
    const entries: SecretListEntry[] = [];
    for await (const entry of api.listSecrets([])) entries.push(entry);
    entriesSeen.push(...entries);
    const fnCache = new Map<string, Promise<FunctionKind>>();
    const functionKind = (arn: string) => {
      if (!fnCache.has(arn)) fnCache.set(arn, clients.functionKind(region, arn));
      return fnCache.get(arn)!;
    };
    let next = 0;
    let done = 0;
    const results: SecretAudit[] = new Array(entries.length);
    const worker = async () => {
      while (next < entries.length) {
        const j = next++;
        results[j] = await auditSecret(region, entries[j]!, options, api, functionKind);
        if (++done % 25 === 0) options.progress?.(`region ${i + 1}/${options.regions.length} (${region}): ${done}/${entries.length} secrets`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(Audit.concurrency, entries.length) }, worker));
    secrets.push(...results);
  }

  const accessKeys: AccessKeyAudit[] = [];
  let keysChecked = 0;
  if (clients.accessKeys) {
    options.progress?.('IAM: access keys of every user');
    const held = heldKeyFingerprints(entriesSeen);
    const maxAge = options.keyMaxAgeDays ?? Audit.keyMaxAgeDays.default;
    const secretArns = entriesSeen.map((e) => e.ARN).filter((arn): arn is string => arn !== undefined);
    for await (const key of clients.accessKeys(secretArns)) {
      keysChecked++;
      if (!key.createdAt) continue;
      const ageDays = Math.floor((options.now.getTime() - key.createdAt.getTime()) / 86_400_000);
      // Held: marked by the IAM kind for a listed secret, or named by a legacy (plain) fingerprint tag.
      if (ageDays <= maxAge || key.heldBy !== undefined || held.has(plainFingerprint(key.accessKeyId))) continue;
      accessKeys.push({
        userName: key.userName,
        accessKeyId: key.accessKeyId,
        status: key.status,
        createdAt: key.createdAt.toISOString(),
        ageDays,
        condition: 'old-unmanaged-key',
        detail: `${ageDays} days old (more than ${maxAge}), and no secret holds it (no Rotor marker tag on the user names it, nor a legacy ${RotorTags.FINGERPRINT_CURRENT}/${RotorTags.FINGERPRINT_PREVIOUS} tag)`,
      });
    }
  }

  const counts = Object.fromEntries(AUDIT_CONDITIONS.map((c) => [c, 0])) as Record<AuditCondition, number>;
  for (const s of secrets) for (const c of new Set(s.findings.map((f) => f.condition))) counts[c]++;
  counts['old-unmanaged-key'] = accessKeys.length;
  secrets.sort((a, b) => a.region.localeCompare(b.region) || a.name.localeCompare(b.name));
  return { regions: options.regions, secrets, accessKeys, counts, checked: { secrets: secrets.length, accessKeys: keysChecked } };
}
