/**
 * The words deploy time (lib/) and run time (lambdas/, bin/) share: kind and strategy names,
 * tag keys, event source and detail-types, metric names, bounds. Defined once here, so that a
 * rename is a compile error on both sides. No AWS SDK import, no CDK import.
 */

/** Rotation strategies (ROTATION_STRATEGY of a rotation function, `rotor:strategy` tag). */
export const Strategies = {
  SINGLE_USER: 'single-user',
  ALTERNATING_USERS: 'alternating-users',
} as const;
export type Strategy = (typeof Strategies)[keyof typeof Strategies];
export const STRATEGY_NAMES = Object.values(Strategies) as [Strategy, ...Strategy[]];

/** The kinds of secret Rotor rotates (the `rotor:kind` tag). */
export const Kinds = {
  POSTGRES: 'postgres',
  MYSQL: 'mysql',
  IAM: 'iam',
  API_TOKEN: 'api-token',
} as const;
export type KindName = (typeof Kinds)[keyof typeof Kinds];
export const KIND_NAMES = Object.values(Kinds) as [KindName, ...KindName[]];

/** What deploy time and run time both need to know of a kind (its behaviour lives in lambdas/<kind>/). */
export interface KindTraits {
  /** Strategies it supports. */
  readonly strategies: readonly Strategy[];
  /** A database kind: passwords from GetRandomPassword, alternating users with a master secret. */
  readonly database: boolean;
  /** The previous value stays valid for a grace window and is retired by the hourly retire run. */
  readonly dualActive: boolean;
  /** createSecret issues a credential outside Secrets Manager (claims, the PendingStoreFailed alarm). */
  readonly issuesCredentials: boolean;
}

/** The one registry of kinds. Adding a kind is one entry here, its folder and its construct. */
export const KIND_TRAITS: Readonly<Record<KindName, KindTraits>> = {
  postgres: {
    strategies: [Strategies.SINGLE_USER, Strategies.ALTERNATING_USERS],
    database: true,
    dualActive: false,
    issuesCredentials: false,
  },
  mysql: {
    strategies: [Strategies.SINGLE_USER, Strategies.ALTERNATING_USERS],
    database: true,
    dualActive: false,
    issuesCredentials: false,
  },
  iam: { strategies: [Strategies.SINGLE_USER], database: false, dualActive: true, issuesCredentials: true },
  'api-token': { strategies: [Strategies.SINGLE_USER], database: false, dualActive: true, issuesCredentials: true },
};

export function isKindName(value: unknown): value is KindName {
  return typeof value === 'string' && (KIND_NAMES as readonly string[]).includes(value);
}

/**
 * The one rule for a strategy nobody stated, used by the constructs, the config-driven stack,
 * the rotation functions, the retire run and the emergency handler: a database kind whose master
 * secret is known rotates alternating users (dual-active, no client ever refused); everything
 * else rotates single-user. A stated strategy always wins.
 */
export function resolveStrategy(
  kind: string,
  options: { readonly stated?: string | undefined; readonly masterSecret?: boolean } = {},
): Strategy {
  if (options.stated === Strategies.SINGLE_USER || options.stated === Strategies.ALTERNATING_USERS) return options.stated;
  const traits = isKindName(kind) ? KIND_TRAITS[kind] : undefined;
  return traits?.database && options.masterSecret ? Strategies.ALTERNATING_USERS : Strategies.SINGLE_USER;
}

/** Tags Rotor puts on secrets (constructs write the first three, functions the rest). */
export const RotorTags = {
  KIND: 'rotor:kind',
  STRATEGY: 'rotor:strategy',
  /** Hours the previous value of a dual-active kind stays valid after a rotation. */
  GRACE_HOURS: 'rotor:grace-hours',
  /** Fingerprint of AWSCURRENT's leak identity (written by finishSecret). */
  FINGERPRINT_CURRENT: 'rotor:fp-current',
  /** Fingerprint of AWSPREVIOUS's leak identity (written by finishSecret). */
  FINGERPRINT_PREVIOUS: 'rotor:fp-previous',
  /** The AWSPREVIOUS version id the retire run retired (later runs skip it). */
  RETIRED_VERSION: 'rotor:retired-version',
  /** The version whose value leaked and was revoked (the emergency handler). */
  REVOKED_VERSION: 'rotor:revoked-version',
  /** The last leak event handled for this secret (duplicates of it are skipped). */
  LEAK_EVENT: 'rotor:leak-event',
  /**
   * The last failed rotation step, `<step> <ISO time> <error name>` (written by the rotation
   * function when a step fails, removed when a rotation finishes): `rotor audit` reads it.
   */
  LAST_FAILURE: 'rotor:last-failure',
} as const;

/**
 * Fingerprints (the `rotor:fp-*` tag values, leak events' `fingerprint`): a keyed one is
 * `k1:` + the first 32 hex digits of HMAC-SHA-256(Rotor's fingerprint key, identity); a legacy
 * one (written before keyed fingerprints) is the first 32 hex digits of a plain SHA-256. Writers
 * write keyed ones only; readers match both. Rotor's fingerprint key is a secret of its own,
 * tagged KEY_TAG (the CLI finds it by that tag; the functions get its ARN in
 * ROTOR_FINGERPRINT_KEY_ARN).
 */
export const Fingerprints = {
  KEYED_PREFIX: 'k1:',
  HEX_DIGITS: 32,
  /** Tag key (value KEY_TAG_VALUE) that marks Rotor's fingerprint key secret. */
  KEY_TAG: 'rotor:fingerprint-key',
  KEY_TAG_VALUE: 'hmac-sha256',
  /** Length of the generated key (letters and digits), and the shortest key the functions accept. */
  KEY_LENGTH: 64,
  MIN_KEY_LENGTH: 32,
} as const;

/** A fingerprint as tags and leak events carry it: keyed (`k1:` + 32 lowercase hex) or legacy plain (32 lowercase hex). */
export const FINGERPRINT_PATTERN = new RegExp(`^(?:${Fingerprints.KEYED_PREFIX})?[0-9a-f]{${Fingerprints.HEX_DIGITS}}$`);

/** The tags each function may write: their IAM grants are conditioned on exactly these keys. */
export const TagsWrittenBy = {
  rotation: [RotorTags.FINGERPRINT_CURRENT, RotorTags.FINGERPRINT_PREVIOUS, RotorTags.LAST_FAILURE],
  retire: [RotorTags.RETIRED_VERSION],
  emergency: [RotorTags.REVOKED_VERSION, RotorTags.LEAK_EVENT],
} as const;

/** Rotor's own events on EventBridge. */
export const RotorEvents = {
  /** `source` of Rotor's events (configurable in the stack and the CLI). */
  SOURCE: 'rotor',
  /** Event bus the CLI sends to and the emergency handler emits on. */
  BUS: 'default',
  LEAK_DETECTED: 'Secret Leak Detected',
  ROTATED: 'Secret Rotated',
  REVOKED: 'Secret Revoked',
} as const;

/** Powertools service names (the `service` dimension of every metric). */
export const ServiceNames = {
  ROTATION: 'rotor',
  RETIRE: 'rotor-retire',
  EMERGENCY: 'rotor-emergency',
  AUDIT: 'rotor-audit',
} as const;

/** Metrics Rotor publishes (namespace NAMESPACE) that constructs alarm on or dashboards show. */
export const RotorMetrics = {
  NAMESPACE: 'Rotor',
  /**
   * A credential was issued (an IAM key, an API token) but storing it as AWSPENDING failed
   * within the invocation; the same EMF record names the issued id. Dimensions: service, kind.
   */
  PENDING_STORE_FAILED: 'PendingStoreFailed',
  /**
   * Sessions still open on the database login a rotation is about to change (clients on a
   * credential a full rotation old). Dimensions: service, kind.
   */
  OLD_LOGIN_SESSIONS: 'OldLoginSessions',
  /**
   * The retire run found the previous credential still in use after the new one became current
   * (e.g. IAM's GetAccessKeyLastUsed), so it did not retire it yet. Dimensions: service, kind.
   */
  PREVIOUS_CREDENTIAL_IN_USE: 'PreviousCredentialInUse',
  /** Revoking an old or leaked API token failed (retried by the retire run). Dimensions: service, kind, provider. */
  TOKEN_REVOKE_FAILED: 'TokenRevokeFailed',
  /**
   * finishSecret wrote no fingerprint tags (no fingerprint key configured, or its secret not
   * readable): the rotation finished, the secret is found by name only. Dimensions: service, kind.
   */
  FINGERPRINT_TAGS_SKIPPED: 'FingerprintTagsSkipped',
  /** Every rotation step (STEP_DIMENSIONS): it succeeded, or failed. */
  STEP_SUCCEEDED: 'StepSucceeded',
  STEP_FAILED: 'StepFailed',
  /** Per step (STEP_DIMENSIONS): Secrets Manager calls, target logins, and how long it took. */
  SECRETS_MANAGER_CALLS: 'SecretsManagerCalls',
  LOGINS: 'Logins',
  STEP_DURATION: 'StepDuration',
  /** Per secret (SECRET_DIMENSIONS): a rotation finished (finishSecret moved AWSCURRENT), or one of its steps failed. */
  ROTATION_FINISHED: 'RotationFinished',
  ROTATION_STEP_FAILED: 'RotationStepFailed',
  /** The emergency handler (service only): a leaked value revoked, the time from the leak event to that, failures, refused events. */
  LEAK_REVOKED: 'LeakRevoked',
  LEAK_TO_REVOKED_DURATION: 'LeakToRevokedDuration',
  LEAK_FAILED: 'LeakFailed',
  LEAK_EVENT_INVALID: 'LeakEventInvalid',
  /** The retire run and the scheduled audit (service only): secrets looked at; the retire run: previous values retired, failures. */
  SECRETS_CHECKED: 'SecretsChecked',
  SECRETS_RETIRED: 'SecretsRetired',
  RETIRE_FAILED: 'RetireFailed',
  /**
   * The scheduled audit (AUDIT dimensions): how many secrets (and, for `old-unmanaged-key`, IAM
   * access keys) are in one condition of AUDIT_CONDITIONS, one series per condition, published at
   * every run (0 included), so an alarm on one condition is a plain metric alarm.
   */
  AUDIT_FINDINGS: 'AuditFindings',
} as const;

/**
 * The dimension sets Rotor's metrics carry (`service` is Powertools' default dimension, the
 * function's ServiceNames value). The dashboard reads these; the handlers emit them.
 */
export const MetricDimensions = {
  /** Per-step metrics of rotation functions. */
  STEP: ['kind', 'service', 'step'],
  /** Per-secret rotation metrics: the secret's name. */
  SECRET: ['kind', 'secret', 'service'],
  /** Per-kind metrics (PendingStoreFailed, OldLoginSessions, PreviousCredentialInUse). */
  KIND: ['kind', 'service'],
  /** Run-level metrics of the emergency and retire handlers. */
  SERVICE: ['service'],
  /** The scheduled audit's counts: the condition (AUDIT_CONDITIONS). */
  AUDIT: ['condition', 'service'],
} as const;

/** Bounds both sides check. */
export const Bounds = {
  /** Grace window of a dual-active kind's previous value, hours (the secret's `graceperiod`, the tag, the construct). */
  graceHours: { min: 0, max: 24 * 365 },
  /** Generated password length. */
  passwordLength: { min: 8, max: 4096 },
  /** MySQL user-name limit Rotor accepts as MAX_USERNAME_LENGTH. */
  mysqlUsernameLength: { min: 1, max: 128 },
  /** A Lambda runs at most 15 minutes: no wait may be longer. */
  lambdaMs: { min: 0, max: 900_000 },
  /**
   * A secret with replicas in other regions: after AWSCURRENT moves (finishSecret) or AWSPREVIOUS
   * leaves a leaked version (the emergency revocation), wait until DescribeSecret reports every
   * replica InSync, asking every `pollMs`, for at most `waitMs` (and never past the invocation's
   * deadline). Well under the rotation function's 60 s default timeout; Secrets Manager usually
   * replicates within seconds.
   */
  replicaSync: { waitMs: 30_000, pollMs: 1_000 },
} as const;

/** Replica states as DescribeSecret's ReplicationStatus reports them. */
export const ReplicaStatuses = {
  IN_SYNC: 'InSync',
  IN_PROGRESS: 'InProgress',
  FAILED: 'Failed',
} as const;

/** Hours the previous value of a dual-active kind stays valid when neither the value nor the tag says. */
export const DEFAULT_GRACE_HOURS = 24;

/**
 * The AWS events the emergency handler acts on (its EventBridge rules, the Health forwarders
 * and the handler's parser all use these words).
 */
export const AwsEvents = {
  HEALTH_SOURCE: 'aws.health',
  HEALTH_DETAIL_TYPE: 'AWS Health Event',
  /** AWS Health event type codes that mean an access key is exposed or compromised. */
  HEALTH_EXPOSURE_CODES: [
    'AWS_RISK_CREDENTIALS_EXPOSED',
    'AWS_RISK_CREDENTIALS_COMPROMISED',
    'AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED',
    'AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED',
  ],
  /** Regions where AWS Health publishes an account's credential-exposure events (us-west-2 as backup). */
  HEALTH_EVENT_REGIONS: ['us-east-1', 'us-west-2'],
  GUARDDUTY_SOURCE: 'aws.guardduty',
  GUARDDUTY_DETAIL_TYPE: 'GuardDuty Finding',
  /** GuardDuty finding types (prefixes) that name misuse of an IAM user's credentials. */
  GUARDDUTY_CREDENTIAL_FINDING_PREFIXES: [
    'CredentialAccess:IAMUser/',
    'UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration',
    'UnauthorizedAccess:IAMUser/ConsoleLoginSuccess',
    'UnauthorizedAccess:IAMUser/MaliciousIPCaller',
    'UnauthorizedAccess:IAMUser/TorIPCaller',
  ],
} as const;

/**
 * The IAM kind marks each key it creates with a user tag keyed by the access key id; the
 * functions may set and remove only tags whose key has this shape (an IAM `StringLike` pattern).
 */
export const IAM_KEY_MARKER_TAG_PATTERN = 'AKIA*';

/**
 * Retiring on evidence (the retire run, lambdas/retire/evidence.ts): before it retires a previous
 * credential whose kind can say when it was last used (IAM's GetAccessKeyLastUsed), a use after
 * the new value took over keeps it. The settings of lambdas/contract/settings.ts
 * (RETIRE_IN_USE_*, RETIRE_QUIET_HOURS) carry these defaults and bounds.
 */
export const RetireEvidence = {
  /** What the run does with a credential still in use once the hard limit has passed. */
  ACTIONS: { DEACTIVATE: 'deactivate', KEEP: 'keep' },
  /**
   * A use this soon after the new value took over is the tail of the switch-over (a consumer's
   * cache refreshing: the Secrets Manager Lambda extension and Agent cache 300 s, the SDK caching
   * clients 1 h) and does not hold the credential. Seconds.
   */
  marginSeconds: { default: 3_600, min: 0, max: 86_400 },
  /**
   * A credential last used longer ago than this counts as no longer in use (IAM reports a use
   * with a delay, and a consumer may run only daily). Hours.
   */
  quietHours: { default: 24, min: 1, max: 24 * 365 },
  /** Hours past the grace window after which a credential still in use is handled as `action` says. */
  limitHours: { default: 24 * 7, min: 0, max: 24 * 365 },
} as const;
export type RetireInUseAction = (typeof RetireEvidence.ACTIONS)[keyof typeof RetireEvidence.ACTIONS];
export const RETIRE_IN_USE_ACTIONS = Object.values(RetireEvidence.ACTIONS) as [RetireInUseAction, ...RetireInUseAction[]];

/**
 * Many accounts (an AWS Organization): the names the per-account (member) stack gives what the
 * central account and the CLI reach into, so the deploy side and `rotor status|audit --accounts`
 * agree on them.
 */
export const Organization = {
  /** The read-only role each member account gives `rotor status|audit --accounts|--org` to assume. */
  READ_ROLE_NAME: 'RotorReadOnly',
  /** The event bus in each member account that the central bus routes leak events to. */
  MEMBER_BUS_NAME: 'rotor-emergency',
  /** The central account's event bus that member accounts, Health and GuardDuty send to. */
  CENTRAL_BUS_NAME: 'rotor-organization',
} as const;

/**
 * The audit (`rotor audit` and the scheduled audit function, lambdas/audit/): what it reports
 * (and `--fail-on` takes, and the function counts as AuditFindings), and its defaults and bounds.
 */
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

export const Audit = {
  /** An AWSPENDING version older than this, not yet AWSCURRENT, is stuck (`rotor status` too). Minutes. */
  stuckAfterMinutes: { default: 60, min: 0, max: 525_600 },
  /** IAM access keys older than this that no secret holds are reported. Days. */
  keyMaxAgeDays: { default: 90, min: 0, max: 36_500 },
  /** Secrets judged in parallel per region (`rotor status` too). */
  concurrency: 8,
  /** The conditions the scheduled audit alarms on (count above 0). */
  ALARM_CONDITIONS: ['overdue', 'last-rotation-failed'] as const satisfies readonly AuditCondition[],
} as const;
