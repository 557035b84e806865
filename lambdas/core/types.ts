import type { Logger } from '@aws-lambda-powertools/logger';

/** The four steps Secrets Manager calls, in order. */
export const Steps = {
  CREATE: 'createSecret',
  SET: 'setSecret',
  TEST: 'testSecret',
  FINISH: 'finishSecret',
} as const;
export type Step = (typeof Steps)[keyof typeof Steps];

/** Staging labels Secrets Manager and Rotor use. */
export const Stages = {
  CURRENT: 'AWSCURRENT',
  PENDING: 'AWSPENDING',
  PREVIOUS: 'AWSPREVIOUS',
} as const;
export type Stage = (typeof Stages)[keyof typeof Stages];

/** Rotation strategies: the contract's (lambdas/contract), the one definition both sides use. */
export { Strategies, type Strategy } from '../contract/index.js';
import type { RotorMetrics, Strategy } from '../contract/index.js';

/** What Secrets Manager sends to a rotation function. */
export interface RotationEvent {
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly Step: Step;
  /** Sent by newer Secrets Manager versions; Rotor does not need it. */
  readonly RotationToken?: string;
}

/** The password policy used with GetRandomPassword. */
export interface PasswordPolicy {
  readonly length: number;
  readonly excludeCharacters: string;
}

/** A secret version as the engine hands it to a kind: parsed, with where it came from. */
export interface SecretVersion<S> {
  readonly versionId: string;
  readonly value: S;
}

/** What every hook of a kind receives. */
export interface KindContext {
  /** ARN of the secret being rotated. */
  readonly secretArn: string;
  /** The rotation's token (version id of the pending value). */
  readonly token: string;
  readonly strategy: Strategy;
  readonly logger: Logger;
  /** Count a login to the target system (reported as a metric per step). */
  recordLogin(): void;
  /** Register a sensitive string so that it is redacted from any error message. */
  redact(value: string | undefined): void;
  /**
   * Publish one figure the kind measured (e.g. RotorMetrics.OLD_LOGIN_SESSIONS), as its own
   * metric with the kind as dimension. Absent outside a rotation step (then: log only).
   */
  recordMetric?(name: (typeof RotorMetrics)[keyof typeof RotorMetrics], value: number): void;
}

export interface CreateContext<S = unknown> extends KindContext {
  /** A new random password from Secrets Manager's GetRandomPassword, with the kind's policy. */
  randomPassword(): Promise<string>;
  /** The AWSPREVIOUS version, read only when asked for; undefined when there is none. */
  previous(): Promise<SecretVersion<S> | undefined>;
}

export interface SetContext<S> extends KindContext {
  readonly current: SecretVersion<S>;
  /** The AWSPREVIOUS version, read only when asked for; undefined when there is none. */
  previous(): Promise<SecretVersion<S> | undefined>;
  /** Reads another secret (a master secret named by `masterarn`), parsed with the kind's parser. */
  readSecret(secretId: string): Promise<S>;
  /**
   * The secret's other versions (not AWSCURRENT, AWSPREVIOUS or this token; labelled or not),
   * newest first, at most a few, each read and parsed only when the caller gets to it; versions
   * that do not parse are skipped. The last resort of single-user setSecret: after a cancelled
   * rotation whose setSecret had already changed the password, the only working password sits in
   * a version that lost its label. Costs nothing unless iterated.
   */
  history(): AsyncIterable<SecretVersion<S>>;
}

/**
 * What revoke receives. The emergency handler (emergency/revoke.ts) always provides every member;
 * they are optional so that a kind's own tests can call `revoke` with a plain KindContext, and a
 * kind that needs one fails clearly without it.
 */
export interface RevokeContext<S> extends KindContext {
  /** The value that is AWSCURRENT now. */
  readonly current?: SecretVersion<S>;
  /** Reads another secret (a master secret named by `masterarn`), parsed with the kind's parser. */
  readSecret?(secretId: string): Promise<S>;
  /** A random password (GetRandomPassword with the kind's policy), for locking an old login. */
  randomPassword?(): Promise<string>;
}

/** testSecret needs only the pending value: it proves that value works, nothing else. */
export type TestContext = KindContext;

/** One finding of a kind's preflight (the contract's report entry): ok, problem (with its fix) or skipped; never a value. */
export type { PreflightCheck as PreflightFinding } from '../contract/index.js';
import type { PreflightCheck } from '../contract/index.js';

/**
 * What a kind's `preflight` receives (lambdas/core/preflight.ts): the AWSCURRENT value, the
 * function's effective password policy, and read-only access to the master secret and
 * AWSPREVIOUS. Nothing in it writes: a preflight changes nothing.
 */
export interface PreflightContext<S> extends KindContext {
  readonly current: SecretVersion<S>;
  /** The password policy the function would use (PASSWORD_LENGTH, EXCLUDE_CHARACTERS or the kind's). */
  readonly passwordPolicy: PasswordPolicy;
  /** One password GetRandomPassword made with that policy (never stored): to check a server's password rules. */
  readonly samplePassword?: string;
  /** Reads another secret (a master secret named by `masterarn`), parsed with the kind's parser. */
  readSecret(secretId: string): Promise<S>;
  /** The AWSPREVIOUS version, read only when asked for; undefined when there is none. */
  previous(): Promise<SecretVersion<S> | undefined>;
}

/**
 * A secret kind plugs into the engine as a small object. The engine owns validation,
 * labels, idempotency, logging and metrics; a kind only knows its target system.
 */
export interface RotationKind<S> {
  /** Short name used in logs and metrics (`postgres`, `mysql`, `iam`, `api-token`). */
  readonly name: string;
  /** Strategies this kind supports. */
  readonly strategies: readonly Strategy[];
  /** Default password policy (overridable through the environment); absent for kinds that make no passwords. */
  readonly passwordPolicy?: PasswordPolicy;
  /**
   * Parse and validate a secret value (already JSON-decoded). Throw SecretFormatError naming
   * the field; never include a value. `where` names the secret for messages.
   */
  parse(value: unknown, where: string): S;
  /** The strings of a parsed value that are secret (redacted from errors). */
  sensitive(value: S): string[];
  /**
   * Build the pending value from the current one. For kinds with `issuedId`, create issues or
   * rolls a credential outside Secrets Manager; the engine makes sure that, for one token, only
   * one invocation at a time runs it (a claim taken before the call, see core/claim.ts), so
   * concurrent duplicate deliveries issue once.
   */
  create(current: S, ctx: CreateContext<S>): Promise<S>;
  /**
   * Present for kinds whose create issues or rolls a credential outside Secrets Manager (an IAM
   * key, an API token): the non-secret id of what a value holds (access key id, token id). Its
   * presence makes the engine claim the rotation before create and retry storing the pending
   * value; when the store still fails, the engine names this id in its log and in the
   * PendingStoreFailed alarm metric, so an operator can find the issued credential.
   */
  issuedId?(value: S): string | undefined;
  /** Make the target accept the pending value. Must be idempotent. */
  set(pending: S, ctx: SetContext<S>): Promise<void>;
  /** Prove the pending value works by using it for real. */
  test(pending: S, ctx: TestContext): Promise<void>;
  /**
   * Dual-active kinds: retire the AWSPREVIOUS value once its grace window has passed
   * (deactivate an IAM key, revoke an API token). Called by the scheduled retire handler.
   */
  retire?(previous: S, ctx: KindContext): Promise<void>;
  /**
   * Dual-active kinds: hours the previous value stays valid, as the current value sets it
   * (e.g. a `graceperiod` field); undefined when the value does not say. The retire handler
   * falls back to the `rotor:grace-hours` tag, then to its default.
   */
  graceHours?(current: S): number | undefined;
  /**
   * The string that identifies a value when it leaks (an access key id, a token, a database
   * password). finishSecret stores its keyed fingerprint (core/fingerprint.ts: HMAC-SHA-256 under
   * Rotor's fingerprint key, never a plain hash) in the secret's tags so that the emergency
   * handler can find the secret from a leaked value without reading every secret.
   */
  leakIdentity?(value: S): string;
  /**
   * Emergencies: make a leaked value useless at once (called by the emergency handler once the
   * leaked value is no longer AWSCURRENT). Must be idempotent: events arrive at least once.
   */
  revoke?(leaked: S, ctx: RevokeContext<S>): Promise<void>;
  /**
   * `rotor preflight`: checks, from this function's network, what the next rotation needs of the
   * target (reachable, the current credential logs in, the master's privileges, room for a new
   * key, the provider and its management credential), and CHANGES NOTHING: read-only catalog
   * queries, list and verify calls only; no password set, no key or token issued, no clone made.
   * It follows the same trust rules as the steps (the kind's own connection and host checks: no
   * credential goes to a host the secret was not told to trust). Each finding is ok, a problem
   * with its fix, or skipped; an error thrown is reported as one problem.
   */
  preflight?(current: S, ctx: PreflightContext<S>): Promise<PreflightCheck[]>;
}

/** Tags that mark a secret as Rotor-managed: the contract's (lambdas/contract). */
export { RotorTags } from '../contract/index.js';
