import * as z from 'zod/mini';
import './zodMessages.js';

/**
 * `rotor preflight <secret>`: a Rotor-specific invocation of a rotation function (not a Secrets
 * Manager step) that checks, from the function's own network and with its own permissions,
 * whether the secret's next rotation would work, and changes nothing. The event and the report
 * are defined here once: the rotation handler (lambdas/core/handler.ts) parses the event and
 * answers the report, the CLI (bin/cli/preflight.ts) sends the event and parses the report.
 */
export const PREFLIGHT_EVENT_TAG = 'preflight';

/** The most characters of a secret id (Secrets Manager: an ARN or a name of at most 2048). */
const SECRET_ID_MAX = 2048;

/** `{ "rotor": "preflight", "secretId": "<name or ARN>" }` */
export const preflightEventSchema = z.strictObject({
  rotor: z.literal(PREFLIGHT_EVENT_TAG),
  secretId: z.string().check(z.minLength(1), z.maxLength(SECRET_ID_MAX)),
});
export type PreflightEvent = z.output<typeof preflightEventSchema>;

/** Whether an invocation event is meant as a preflight (it may still be malformed). */
export function looksLikePreflight(event: unknown): boolean {
  return typeof event === 'object' && event !== null && !Array.isArray(event) && (event as Record<string, unknown>).rotor === PREFLIGHT_EVENT_TAG;
}

/** What one check found. */
export const CheckStatuses = {
  OK: 'ok',
  PROBLEM: 'problem',
  /** Not run: an earlier check failed that it depends on, or it does not apply. */
  SKIPPED: 'skipped',
} as const;
export type CheckStatus = (typeof CheckStatuses)[keyof typeof CheckStatuses];
export const CHECK_STATUSES = Object.values(CheckStatuses) as [CheckStatus, ...CheckStatus[]];

/** One check: its name, what it found (never a value), and for a problem how to fix it. */
export const preflightCheckSchema = z.object({
  check: z.string().check(z.minLength(1)),
  status: z.enum(CHECK_STATUSES),
  detail: z.string(),
  fix: z.optional(z.string()),
});
export type PreflightCheck = z.output<typeof preflightCheckSchema>;

/** A check's finding: ok, a problem with its fix, or skipped (the kinds' preflights build theirs with these). */
export const finding = {
  ok: (check: string, detail: string): PreflightCheck => ({ check, status: CheckStatuses.OK, detail }),
  problem: (check: string, detail: string, fix: string): PreflightCheck => ({ check, status: CheckStatuses.PROBLEM, detail, fix }),
  skipped: (check: string, detail: string): PreflightCheck => ({ check, status: CheckStatuses.SKIPPED, detail }),
} as const;

/** The report a preflight answers. `ok` is true when no check is a problem. */
export const preflightReportSchema = z.object({
  rotor: z.literal(PREFLIGHT_EVENT_TAG),
  secretId: z.string(),
  secretArn: z.optional(z.string()),
  kind: z.string(),
  strategy: z.optional(z.string()),
  ok: z.boolean(),
  checks: z.array(preflightCheckSchema),
  secretsManagerCalls: z.number(),
  logins: z.number(),
  durationMs: z.number(),
});
export type PreflightReport = z.output<typeof preflightReportSchema>;

/** The names of the checks the engine itself makes (kinds add their own). */
export const PreflightChecks = {
  EVENT: 'event',
  SECRET_DESCRIBED: 'secret-described',
  ROTATION_FUNCTION: 'rotation-function',
  ROTATION_ENABLED: 'rotation-enabled',
  NO_ROTATION_IN_PROGRESS: 'no-rotation-in-progress',
  SETTINGS: 'function-settings',
  SECRET_READABLE: 'secret-readable',
  SECRET_FORMAT: 'secret-format',
  PASSWORD_POLICY: 'password-policy',
  RANDOM_PASSWORD: 'random-password',
  KIND: 'kind-checks',
} as const;
