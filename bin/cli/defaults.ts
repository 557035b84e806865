/**
 * The CLI's defaults and option vocabularies: what the command definitions (program.ts) need
 * before any command runs. Nothing here loads the AWS SDK, so `rotor --help` does not either.
 */
import { DEFAULT_GRACE_HOURS, KIND_NAMES, KIND_TRAITS } from '../../lambdas/contract/index.js';
import { UsageError } from './errors.js';

export const statusDefaults = {
  /** An AWSPENDING version older than this, not yet AWSCURRENT, is reported stuck. */
  stuckAfterMinutes: 60,
  /** Grace hours of a dual-active kind's previous value when the secret has no `rotor:grace-hours` tag (the retire handler's default). */
  graceHours: DEFAULT_GRACE_HOURS,
  /**
   * Kinds whose previous value stays valid for a grace window, then is retired: the contract's
   * KIND_TRAITS, as the retire handler's `retireKinds` (a test checks that they agree).
   */
  dualActiveKinds: KIND_NAMES.filter((kind) => KIND_TRAITS[kind].dualActive) as readonly string[],
  /** Secrets looked at in parallel (each may need one ListSecretVersionIds). */
  concurrency: 8,
} as const;

export const waitDefaults = {
  /** Seconds `rotor rotate` waits for a rotation (or a leak response) to finish. */
  timeoutSeconds: 300,
  pollIntervalMs: 1000,
  /** Once the labels show a rotation done, how long to wait for its last step lines to reach the log group. */
  settleMs: 5000,
} as const;

export const FAIL_ON_CONDITIONS = ['overdue', 'stuck'] as const;
export type FailOnCondition = (typeof FAIL_ON_CONDITIONS)[number];

/** `overdue,stuck` → the conditions; anything else is a usage error. */
export function parseFailOn(value: string): FailOnCondition[] {
  return parseConditions(value, FAIL_ON_CONDITIONS);
}

export const runDefaults = {
  /** Seconds between two looks at the referenced secrets' AWSCURRENT versions (--watch). */
  intervalSeconds: 30,
  /** Seconds a child has to exit after the restart signal before it is killed. */
  stopTimeoutSeconds: 10,
  /** The signal that stops the child for a restart. */
  restartSignal: "SIGTERM" as NodeJS.Signals,
} as const;

/** What `rotor audit` reports, and `--fail-on` takes. */
export const AUDIT_CONDITIONS = [
  'rotation-off',
  'never-rotated',
  'overdue',
  'last-rotation-failed',
  'stuck',
  'function-missing',
  'function-not-rotor',
  'replica-out-of-sync',
  'old-unmanaged-key',
] as const;
export type AuditCondition = (typeof AUDIT_CONDITIONS)[number];

export const auditDefaults = {
  /** An AWSPENDING version older than this, not yet AWSCURRENT, is reported stuck (as `status`). */
  stuckAfterMinutes: statusDefaults.stuckAfterMinutes,
  /** IAM access keys older than this many days that no secret holds are reported. */
  keyMaxAgeDays: 90,
  /** Secrets judged in parallel per region (as `status`). */
  concurrency: statusDefaults.concurrency,
} as const;

/** `a,b` → the conditions of `vocabulary`; anything else is a usage error naming the choices. */
export function parseConditions<T extends string>(value: string, vocabulary: readonly T[]): T[] {
  const parts = value.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new UsageError(`--fail-on: name one or more of ${vocabulary.join(', ')} (comma-separated)`);
  for (const p of parts) {
    if (!(vocabulary as readonly string[]).includes(p)) {
      throw new UsageError(`--fail-on: unknown condition '${p}' (choose from ${vocabulary.join(', ')}, comma-separated)`);
    }
  }
  return [...new Set(parts as T[])];
}
