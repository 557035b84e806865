/**
 * The CLI's defaults and option vocabularies: what the command definitions (program.ts) need
 * before any command runs. Nothing here loads the AWS SDK, so `rotor --help` does not either.
 */
import { Audit, AUDIT_CONDITIONS, DEFAULT_GRACE_HOURS, KIND_NAMES, KIND_TRAITS, Organization, type AuditCondition } from '../../lambdas/contract/index.js';
import { UsageError } from './errors.js';

export const statusDefaults = {
  /** An AWSPENDING version older than this, not yet AWSCURRENT, is reported stuck (the audit's, lambdas/contract `Audit`). */
  stuckAfterMinutes: Audit.stuckAfterMinutes.default,
  /** Grace hours of a dual-active kind's previous value when the secret has no `rotor:grace-hours` tag (the retire handler's default). */
  graceHours: DEFAULT_GRACE_HOURS,
  /**
   * Kinds whose previous value stays valid for a grace window, then is retired: the contract's
   * KIND_TRAITS, as the retire handler's `retireKinds` (a test checks that they agree).
   */
  dualActiveKinds: KIND_NAMES.filter((kind) => KIND_TRAITS[kind].dualActive) as readonly string[],
  /** Secrets looked at in parallel (each may need one ListSecretVersionIds); with --accounts/--org, also accounts at once. */
  concurrency: Audit.concurrency,
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

/** What `rotor audit` reports, and `--fail-on` takes: the contract's, shared with the scheduled audit function. */
export { AUDIT_CONDITIONS, type AuditCondition };

export const auditDefaults = {
  /** An AWSPENDING version older than this, not yet AWSCURRENT, is reported stuck (as `status`). */
  stuckAfterMinutes: Audit.stuckAfterMinutes.default,
  /** IAM access keys older than this many days that no secret holds are reported. */
  keyMaxAgeDays: Audit.keyMaxAgeDays.default,
  /** Secrets judged in parallel per region, and accounts at once with --accounts/--org (as `status`). */
  concurrency: Audit.concurrency,
} as const;

export const accountsDefaults = {
  /** The role `--accounts`/`--org` assume in each account: the one the member stack creates. */
  roleName: Organization.READ_ROLE_NAME,
  /** The session name the assumed roles show in CloudTrail. */
  sessionName: 'rotor-cli',
} as const;

/** `111111111111,222222222222` → the account ids; anything else is a usage error. */
export function parseAccounts(value: string): string[] {
  const parts = value.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new UsageError('--accounts: name one or more 12-digit account ids (comma-separated)');
  for (const p of parts) {
    if (!/^\d{12}$/.test(p)) throw new UsageError(`--accounts: '${p.slice(0, 40)}' is not a 12-digit account id`);
  }
  return [...new Set(parts)];
}

/** An IAM role name (not a path or an ARN: the account comes from --accounts or --org). */
export function parseRoleName(value: string): string {
  if (!/^[\w+=,.@-]{1,64}$/.test(value)) throw new UsageError(`--role-name: '${value.slice(0, 70)}' is not an IAM role name (1-64 of letters, digits and +=,.@_-)`);
  return value;
}

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
