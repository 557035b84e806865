import { RetireEvidence, settings, type RetireInUseAction } from '../contract/index.js';
import { readSetting } from '../core/settings.js';
import type { RotationKind } from '../core/types.js';
import type { RetireContext } from './context.js';

/**
 * Retiring on evidence, not only on a timer. A dual-active kind that can tell when its previous
 * credential was last used (IAM: GetAccessKeyLastUsed) gives the retire run a `lastUse` hook;
 * the run weighs that evidence (weighEvidence, a pure function) before it calls `retire`.
 */

/** When and where a credential was last used, as the target system reports it (no value). */
export interface LastUse {
  /** The credential's non-secret id (an access key id), for the log and the notification. */
  readonly credentialId: string;
  /** Undefined: no use recorded (IAM answers ServiceName 'N/A'). */
  readonly at?: Date;
  /** The service that saw the last use (`sts`, `s3`, ...). */
  readonly service?: string;
  readonly region?: string;
}

/** What a kind adds to take part: the last use of a previous value, or undefined when there is nothing to weigh (already gone or inactive). */
export interface UsageEvidence<S> {
  /** Called before `retire`, with the same context (AWSCURRENT as the reference). */
  lastUse(previous: S, ctx: RetireContext<S>): Promise<LastUse | undefined>;
}

// `any`: each kind has its own value type; the run only passes a kind's values back to it.
export type RetireKind = RotationKind<any> & Partial<UsageEvidence<any>>;

/** The retire run's evidence settings, read from the contract (RETIRE_IN_USE_*, RETIRE_QUIET_HOURS). */
export interface EvidencePolicy {
  /** A use at most this long after the new value took over is the switch-over's tail. */
  readonly marginMs: number;
  /** A credential unused for this long is no longer in use. */
  readonly quietMs: number;
  /** How long past the grace window a credential in use is kept before `action` applies. */
  readonly limitMs: number;
  readonly action: RetireInUseAction;
}

const HOUR = 3_600_000;

export const evidenceDefaults: EvidencePolicy = {
  marginMs: RetireEvidence.marginSeconds.default * 1000,
  quietMs: RetireEvidence.quietHours.default * HOUR,
  limitMs: RetireEvidence.limitHours.default * HOUR,
  action: RetireEvidence.ACTIONS.DEACTIVATE,
};

/** Reads the policy from a function's environment through the contract's settings. */
export function readEvidencePolicy(env: Readonly<Record<string, string | undefined>>): EvidencePolicy {
  const what = 'retire handler';
  const margin = readSetting(settings.retireInUseMarginSeconds, env, what) ?? RetireEvidence.marginSeconds.default;
  const quiet = readSetting(settings.retireQuietHours, env, what) ?? RetireEvidence.quietHours.default;
  const limit = readSetting(settings.retireInUseLimitHours, env, what) ?? RetireEvidence.limitHours.default;
  const action = readSetting(settings.retireInUseAction, env, what) ?? RetireEvidence.ACTIONS.DEACTIVATE;
  return { marginMs: margin * 1000, quietMs: quiet * HOUR, limitMs: limit * HOUR, action };
}

export type Verdict =
  /** Retire it: no use, or none that says a consumer still holds it. */
  | { readonly verdict: 'unused'; readonly why: string }
  /** Keep it for now: try again at the next run; `retryAfter` is the earliest a run can retire it. */
  | { readonly verdict: 'in-use'; readonly retryAfter: Date; readonly limitAt: Date }
  /** Still in use past the hard limit: `action` applies. */
  | { readonly verdict: 'limit'; readonly action: RetireInUseAction; readonly limitAt: Date };

export interface EvidenceInput {
  readonly lastUse: LastUse | undefined;
  /** When the new value took over (AWSCURRENT). */
  readonly since: number;
  /** When the grace window ended. */
  readonly graceEnds: number;
  readonly now: number;
  readonly policy: EvidencePolicy;
}

/**
 * The rule. A previous credential is still in use when its last use came after the new value took
 * over plus the margin (later than any consumer cache explains) and is no older than the quiet
 * period (a consumer that stopped using it lets it go). In use before the hard limit (grace end +
 * limit): keep it and try again. In use past it: the configured action.
 */
export function weighEvidence({ lastUse, since, graceEnds, now, policy }: EvidenceInput): Verdict {
  const at = lastUse?.at?.getTime();
  if (at === undefined || Number.isNaN(at)) return { verdict: 'unused', why: 'no use recorded' };
  if (at <= since + policy.marginMs) return { verdict: 'unused', why: 'not used since the new value took over (plus the margin)' };
  if (at <= now - policy.quietMs) return { verdict: 'unused', why: 'not used within the quiet period' };
  const limitAt = graceEnds + policy.limitMs;
  if (now < limitAt) return { verdict: 'in-use', retryAfter: new Date(Math.min(limitAt, at + policy.quietMs)), limitAt: new Date(limitAt) };
  return { verdict: 'limit', action: policy.action, limitAt: new Date(limitAt) };
}
