import * as z from 'zod/mini';
import './zodMessages.js';
import { ALLOW_LOOPBACK_FOR_TESTS } from './testing.js';
import {
  Audit,
  Bounds,
  RETIRE_IN_USE_ACTIONS,
  RetireEvidence,
  RotorEvents,
  RotorMetrics,
  ServiceNames,
  STRATEGY_NAMES,
  Strategies,
} from './vocabulary.js';

/**
 * Every environment setting of Rotor's functions, as one record each: the variable's name, a
 * zod schema with its bounds, and its default. The constructs write settings through `write`
 * (validated at synth time), the handlers read them through `read` (validated at run time), and
 * neither spells a variable name.
 */
export class SettingError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'SettingError';
  }
}

export interface Setting<T> {
  /** The environment variable. */
  readonly name: string;
  /** What it means, for messages and the README. */
  readonly description: string;
  /** The value when the variable is absent (undefined: the kind or the caller decides). */
  readonly default: T | undefined;
  /** Reads and validates the variable; absent (or empty, unless empty is a value) gives the default. */
  read(env: Readonly<Record<string, string | undefined>>): T | undefined;
  /** The variable as a construct writes it, or nothing for undefined; throws on a bad value. */
  write(value: T | undefined): Record<string, string>;
}

function setting<T>(
  name: string,
  description: string,
  schema: z.ZodMiniType<T>,
  defaultValue: T | undefined,
  fromText: (raw: string) => unknown,
  toText: (value: T) => string = String,
  /** An empty variable is a value (EXCLUDE_CHARACTERS='' excludes nothing), not "absent". */
  emptyIsValue = false,
): Setting<T> {
  const check = (value: unknown, where: string): T => {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    // zod's message describes the rule, never the value.
    throw new SettingError(`${where} ${name} is invalid: ${parsed.error.issues[0]?.message ?? 'bad value'}`);
  };
  return {
    name,
    description,
    default: defaultValue,
    read(env) {
      const raw = env[name];
      if (raw === undefined || (raw === '' && !emptyIsValue)) return defaultValue;
      return check(fromText(raw), 'environment variable');
    },
    write(value) {
      if (value === undefined) return {};
      return { [name]: toText(check(value, 'setting')) };
    },
  };
}

const wholeNumber = (raw: string): unknown => (/^\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw);
const boolean = (raw: string): unknown => (raw === 'true' ? true : raw === 'false' ? false : raw);
const text = (raw: string): unknown => raw;
const int = (min: number, max: number) => z.int().check(z.gte(min), z.lte(max));

export const settings = {
  strategy: setting(
    'ROTATION_STRATEGY',
    'rotation strategy',
    z.enum(STRATEGY_NAMES),
    Strategies.SINGLE_USER,
    text,
  ),
  passwordLength: setting(
    'PASSWORD_LENGTH',
    'length of generated passwords',
    int(Bounds.passwordLength.min, Bounds.passwordLength.max),
    undefined,
    wholeNumber,
  ),
  excludeCharacters: setting(
    'EXCLUDE_CHARACTERS',
    'characters generated passwords never contain',
    z.string(),
    undefined,
    text,
    String,
    true,
  ),
  maxUsernameLength: setting(
    'MAX_USERNAME_LENGTH',
    "longest MySQL user name the server accepts (checked for '<user>_clone')",
    int(Bounds.mysqlUsernameLength.min, Bounds.mysqlUsernameLength.max),
    32,
    wholeNumber,
  ),
  dualPassword: setting(
    'DUAL_PASSWORD',
    'MySQL 8.0.14+ single-user: keep the old password as the secondary one',
    z.boolean(),
    false,
    boolean,
  ),
  reassignCloneObjects: setting(
    'REASSIGN_CLONE_OBJECTS',
    'PostgreSQL alternating users: reassign objects the clone owns (made before its sessions ran as the user) to the user',
    z.boolean(),
    false,
    boolean,
  ),
  iamTestTimeoutMs: setting(
    'IAM_TEST_TIMEOUT_MS',
    "how long testSecret waits for STS to accept a new key, ms",
    int(Bounds.lambdaMs.min, Bounds.lambdaMs.max),
    60_000,
    wholeNumber,
  ),
  eventSource: setting('ROTOR_EVENT_SOURCE', "`source` of Rotor's events", z.string().check(z.minLength(1), z.maxLength(256)), RotorEvents.SOURCE, text),
  eventBus: setting('ROTOR_EVENT_BUS', 'event bus the emergency handler emits on', z.string().check(z.minLength(1), z.maxLength(1600)), RotorEvents.BUS, text),
  alarmTopicArn: setting('ALARM_TOPIC_ARN', 'SNS topic of the audit summary', z.string().check(z.startsWith('arn:')), undefined, text),
  waitTimeoutMs: setting(
    'WAIT_TIMEOUT_MS',
    'how long the emergency handler waits for a rotation to finish, ms',
    int(1_000, Bounds.lambdaMs.max),
    240_000,
    wholeNumber,
  ),
  allowLoopbackForTests: setting(
    ALLOW_LOOPBACK_FOR_TESTS,
    'local tests only: allow plain http and loopback provider hosts (no construct ever sets it)',
    z.literal(true),
    undefined,
    (raw) => (raw === '1' ? true : raw),
    () => '1',
  ),
  retireInUseMarginSeconds: setting(
    'RETIRE_IN_USE_MARGIN_SECONDS',
    'retire run: a use of the previous credential this long after the new one took over does not hold it (consumer caches), s',
    int(RetireEvidence.marginSeconds.min, RetireEvidence.marginSeconds.max),
    RetireEvidence.marginSeconds.default,
    wholeNumber,
  ),
  retireQuietHours: setting(
    'RETIRE_QUIET_HOURS',
    'retire run: a previous credential last used longer ago than this is no longer in use, hours',
    int(RetireEvidence.quietHours.min, RetireEvidence.quietHours.max),
    RetireEvidence.quietHours.default,
    wholeNumber,
  ),
  retireInUseLimitHours: setting(
    'RETIRE_IN_USE_LIMIT_HOURS',
    'retire run: hours past the grace window a previous credential still in use is kept before RETIRE_IN_USE_ACTION applies',
    int(RetireEvidence.limitHours.min, RetireEvidence.limitHours.max),
    RetireEvidence.limitHours.default,
    wholeNumber,
  ),
  retireInUseAction: setting(
    'RETIRE_IN_USE_ACTION',
    "retire run: past the hard limit, 'deactivate' a previous credential still in use (with a warning) or 'keep' it and fail the run (alarm)",
    z.enum(RETIRE_IN_USE_ACTIONS),
    RetireEvidence.ACTIONS.DEACTIVATE,
    text,
  ),
  fingerprintKeyArn: setting(
    'ROTOR_FINGERPRINT_KEY_ARN',
    "ARN of Rotor's fingerprint key secret (the HMAC key of the rotor:fp-* tags)",
    z.string().check(z.startsWith('arn:')),
    undefined,
    text,
  ),
  auditStuckAfterMinutes: setting(
    'AUDIT_STUCK_AFTER_MINUTES',
    'scheduled audit: an AWSPENDING version older than this, not yet AWSCURRENT, is stuck, minutes',
    int(Audit.stuckAfterMinutes.min, Audit.stuckAfterMinutes.max),
    Audit.stuckAfterMinutes.default,
    wholeNumber,
  ),
  auditKeyMaxAgeDays: setting(
    'AUDIT_KEY_MAX_AGE_DAYS',
    'scheduled audit: IAM access keys older than this that no secret holds are reported, days',
    int(Audit.keyMaxAgeDays.min, Audit.keyMaxAgeDays.max),
    Audit.keyMaxAgeDays.default,
    wholeNumber,
  ),
  auditRegions: setting(
    'AUDIT_REGIONS',
    "scheduled audit: the regions whose secrets it audits, comma-separated (absent: the function's own region)",
    z.array(z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d+$/))).check(z.minLength(1), z.maxLength(40)),
    undefined,
    (raw) => raw.split(',').map((r) => r.trim()).filter((r) => r !== ''),
    (regions) => regions.join(','),
  ),
  /** Read by Powertools itself (Logger, Metrics); the constructs write it so both agree. */
  serviceName: setting(
    'POWERTOOLS_SERVICE_NAME',
    'Powertools service name (the `service` dimension of every metric)',
    z.enum(Object.values(ServiceNames) as [string, ...string[]]),
    undefined,
    text,
  ),
  /** Read by Powertools Metrics itself; the constructs write it so alarms and metrics agree. */
  metricsNamespace: setting(
    'POWERTOOLS_METRICS_NAMESPACE',
    'CloudWatch namespace of Rotor metrics',
    z.literal(RotorMetrics.NAMESPACE),
    RotorMetrics.NAMESPACE,
    text,
  ),
} as const;

export type SettingName = keyof typeof settings;
