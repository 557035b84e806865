import { KIND_TRAITS } from '../contract/index.js';
import { RotationStepError, SecretFormatError, UnsafeRotationError } from '../core/errors.js';
import {
  Strategies,
  type CreateContext,
  type KindContext,
  type PasswordPolicy,
  type RevokeContext,
  type RotationKind,
  type SetContext,
  type TestContext,
} from '../core/types.js';
import { alternateUsername, baseUsername, checkAlternatePending, CLONE_SUFFIX } from './alternatingUsers.js';
import { checkSameLogin, knownPasswords, type KnownPasswordSource } from './singleUser.js';

/** What the shared flows need of a database secret (AWS's rotation template fields). */
export interface DatabaseSecret {
  readonly username: string;
  readonly password: string;
  readonly masterarn?: string;
}

/**
 * The pair the master secret may act on: the base login, its clone, and the secret that rotates
 * them. A master action first proves, in its own master session, that Rotor made this pair for
 * this secret (`checkPairing` over the engine's marker), and refuses otherwise.
 */
export interface AlternatePair {
  readonly base: string;
  readonly clone: string;
  readonly secretArn: string;
}

/** What proveCurrent found: the AWSCURRENT login works (with what master actions need), or it is refused. */
export type CurrentProof<P> = { readonly accepted: true; readonly proof: P } | { readonly accepted: false; readonly cause?: unknown };

/** What changeOwnPassword did: false when its login was refused, else what to log about the change. */
export type PasswordChange = false | Readonly<Record<string, unknown>>;

/**
 * What a database engine (lambdas/postgres, lambdas/mysql) gives the shared flows of this file:
 * its logins and its SQL. The flows own the order of the checks: the same login and server for
 * single-user, the alternate login and the same master secret for alternating users, a working
 * AWSCURRENT credential and a master secret for the same server (and not for the rotated
 * login) before any master action, and a pairing check inside every master action.
 *
 * Logins: the flows count (ctx.recordLogin) the login of each call they make to `login`,
 * `changeOwnPassword`, `proveCurrent`, `setAlternate` and `lockAlternate`; the engine's own hooks
 * (`revokeSameLogin`, `test`, `retire`) count theirs.
 */
export interface DatabaseEngine<S extends DatabaseSecret, P> {
  /** The kind's `rotor:kind` name; its strategies are the contract's KIND_TRAITS. */
  readonly name: 'postgres' | 'mysql';
  /** As AWS's rotation templates for this engine. */
  readonly passwordPolicy: PasswordPolicy;
  parse(value: unknown, where: string): S;
  /**
   * Reads and validates the engine's own settings (MySQL: MAX_USERNAME_LENGTH, DUAL_PASSWORD);
   * called first by every hook, so a bad setting fails any step with a logged error.
   */
  checkSettings?(): void;
  /** Same server: host and port, compared as the engine resolves host names. */
  sameServer(a: S, b: S): boolean;
  /** Logs in and out: true when accepted, false when the password is refused; throws on anything else. */
  login(creds: S): Promise<boolean>;
  /**
   * Alternating users: the engine's own limits, checked by createSecret and setSecret before
   * anything is created or changed (the clone's name length, settings that exclude the strategy).
   */
  checkAlternating(current: S, ctx: KindContext): void;
  /**
   * Single-user setSecret: logs in with `login` and sets `pending.password` as that login's own
   * password. False when that login is refused (the flow tries the next known password); any
   * failure after the login is thrown.
   */
  changeOwnPassword(login: S, pending: S, source: KnownPasswordSource, ctx: KindContext): Promise<PasswordChange>;
  /**
   * No confused deputy: logs in with AWSCURRENT and checks the server matched it to the account
   * it names. What it answers (MySQL: the account's host part) is passed to the master actions.
   */
  proveCurrent(current: S, ctx: KindContext): Promise<CurrentProof<P>>;
  /**
   * Master action, one master session: verifies the pairing first (a clone that exists must carry
   * Rotor's marker for `pair`; one that is missing is created with it, only as the pending login),
   * then sets `pending.password` on the pending login and makes the clone stand in for the base
   * login (grants, memberships, settings).
   */
  setAlternate(master: S, pending: S, pair: AlternatePair, proof: P, ctx: KindContext): Promise<void>;
  /**
   * Master action, one master session: verifies the pairing first, then sets `lock` (a password
   * nobody keeps) on the leaked alternate login and ends its sessions.
   */
  lockAlternate(master: S, leaked: S, lock: string, pair: AlternatePair, proof: P, ctx: KindContext): Promise<void>;
  /** Revoke of a single-user secret: the leaked (old) password of the current login must end refused. */
  revokeSameLogin(leaked: S, current: S, ctx: RevokeContext<S>): Promise<void>;
  /** testSecret: log in with the pending value and check who the server says it is. */
  test(pending: S, ctx: TestContext): Promise<void>;
  /** Present when the engine keeps a previous password working for a while (MySQL's dual passwords). */
  retire?(previous: S, ctx: KindContext): Promise<void>;
}

function missingMasterArn(ctx: KindContext): SecretFormatError {
  return new SecretFormatError(
    `secret ${ctx.secretArn} (AWSCURRENT): field 'masterarn' is missing (required by the alternating-users strategy)`,
  );
}

/** Counts and makes one login: false when the password is refused. */
export async function canLogin<S extends DatabaseSecret>(engine: DatabaseEngine<S, unknown>, creds: S, ctx: KindContext): Promise<boolean> {
  ctx.recordLogin();
  return engine.login(creds);
}

/**
 * Before the master acts for this secret: whoever wrote it must hold a working credential for it
 * (AWSCURRENT logs in as the account it names), and the master secret must be for the same server.
 */
async function masterActingFor<S extends DatabaseSecret, P>(
  engine: DatabaseEngine<S, P>,
  current: S,
  masterArn: string,
  readSecret: (secretId: string) => Promise<S>,
  ctx: KindContext,
): Promise<{ master: S; proof: P }> {
  ctx.recordLogin();
  const proven = await engine.proveCurrent(current, ctx);
  if (!proven.accepted) {
    throw new UnsafeRotationError(
      `secret ${ctx.secretArn}: the AWSCURRENT credential does not log in; refusing to act with the master secret`,
      proven.cause !== undefined ? { cause: proven.cause } : undefined,
    );
  }
  const master = await readSecret(masterArn);
  if (!engine.sameServer(master, current)) {
    throw new UnsafeRotationError(`secret ${ctx.secretArn}: the master secret ${masterArn} is for a different host or port`);
  }
  return { master, proof: proven.proof };
}

function pairOf(current: DatabaseSecret, secretArn: string): AlternatePair {
  const base = baseUsername(current.username);
  return { base, clone: `${base}${CLONE_SUFFIX}`, secretArn };
}

async function setSingleUser<S extends DatabaseSecret, P>(engine: DatabaseEngine<S, P>, pending: S, ctx: SetContext<S>): Promise<void> {
  const current = ctx.current.value;
  const sameLogin = (a: S, b: S) => a.username === b.username && engine.sameServer(a, b);
  checkSameLogin(current, pending, sameLogin, ctx.secretArn);
  if (await canLogin(engine, pending, ctx)) {
    ctx.logger.info('pending password already accepted: nothing to set');
    return;
  }
  for await (const [label, creds] of knownPasswords(current, ctx, sameLogin)) {
    ctx.recordLogin();
    const changed = await engine.changeOwnPassword(creds, pending, label, ctx);
    if (changed !== false) {
      ctx.logger.info('password changed', { loggedInWith: label, ...changed });
      return;
    }
    ctx.logger.info('login refused, trying the next known password', { tried: label });
  }
  throw new RotationStepError(
    `secret ${ctx.secretArn}: cannot log in as ${JSON.stringify(pending.username)} with the pending, current or previous password`,
  );
}

async function setAlternating<S extends DatabaseSecret, P>(engine: DatabaseEngine<S, P>, pending: S, ctx: SetContext<S>): Promise<void> {
  const current = ctx.current.value;
  if (!current.masterarn) throw missingMasterArn(ctx);
  engine.checkAlternating(current, ctx);
  const pair = pairOf(current, ctx.secretArn);
  checkAlternatePending(current, pending, (a, b) => engine.sameServer(a, b), ctx.secretArn);
  const { master, proof } = await masterActingFor(engine, current, current.masterarn, ctx.readSecret, ctx);
  if (master.username === pair.base || master.username === pair.clone) {
    throw new UnsafeRotationError(`secret ${ctx.secretArn}: refusing to rotate the master user itself`);
  }
  ctx.recordLogin();
  await engine.setAlternate(master, pending, pair, proof, ctx);
}

/**
 * Makes a leaked credential useless once it is no longer AWSCURRENT. Alternating users: the
 * leaked login (the alternate of the current one) gets a random password nobody keeps, set with
 * the master secret, and its open sessions are ended. Single-user: the engine proves the leaked
 * password refused. Never touches the current login's password or the master. Idempotent.
 */
async function revoke<S extends DatabaseSecret, P>(engine: DatabaseEngine<S, P>, leaked: S, ctx: RevokeContext<S>): Promise<void> {
  const current = ctx.current?.value;
  if (!current || !ctx.readSecret || !ctx.randomPassword) {
    throw new RotationStepError(`secret ${ctx.secretArn}: revoke needs the current value, the master secret and GetRandomPassword`);
  }
  if (!engine.sameServer(leaked, current)) {
    throw new UnsafeRotationError(`secret ${ctx.secretArn}: the leaked version is for a different host or port`);
  }
  if (leaked.username === current.username) return engine.revokeSameLogin(leaked, current, ctx);
  if (leaked.username !== alternateUsername(current.username) || !current.masterarn) {
    throw new UnsafeRotationError(
      `secret ${ctx.secretArn}: the leaked login is not the alternate of ${JSON.stringify(current.username)}; refusing to touch it`,
    );
  }
  // No confused deputy, as in setSecret: the current credential must work before the master
  // acts for this secret.
  const { master, proof } = await masterActingFor(engine, current, current.masterarn, ctx.readSecret, ctx);
  if (master.username === leaked.username || master.username === current.username) {
    throw new UnsafeRotationError(`secret ${ctx.secretArn}: refusing to lock the master user itself`);
  }
  const lock = await ctx.randomPassword();
  ctx.recordLogin();
  await engine.lockAlternate(master, leaked, lock, pairOf(current, ctx.secretArn), proof, ctx);
}

/**
 * A database kind: the single-user, alternating-users and revoke flows over an engine's logins
 * and SQL. Strategies are the contract's (KIND_TRAITS).
 */
export function databaseKind<S extends DatabaseSecret, P>(engine: DatabaseEngine<S, P>): RotationKind<S> {
  const kind: RotationKind<S> = {
    name: engine.name,
    strategies: KIND_TRAITS[engine.name].strategies,
    passwordPolicy: engine.passwordPolicy,
    parse: (value, where) => engine.parse(value, where),
    sensitive: (secret) => [secret.password],
    // What a scanner finds in a leaked connection string is the password: finishSecret tags its
    // keyed fingerprint (never a plain hash: a chosen password may be guessable).
    leakIdentity: (secret) => secret.password,

    async create(current: S, ctx: CreateContext<S>): Promise<S> {
      engine.checkSettings?.();
      if (ctx.strategy === Strategies.SINGLE_USER) {
        return { ...current, password: await ctx.randomPassword() };
      }
      if (!current.masterarn) throw missingMasterArn(ctx);
      engine.checkAlternating(current, ctx);
      return { ...current, username: alternateUsername(current.username), password: await ctx.randomPassword() };
    },

    async set(pending: S, ctx: SetContext<S>): Promise<void> {
      engine.checkSettings?.();
      return ctx.strategy === Strategies.ALTERNATING_USERS ? setAlternating(engine, pending, ctx) : setSingleUser(engine, pending, ctx);
    },

    async test(pending: S, ctx: TestContext): Promise<void> {
      engine.checkSettings?.();
      return engine.test(pending, ctx);
    },

    /** Emergencies: lock the leaked alternate login, or prove the leaked password refused. */
    async revoke(leaked: S, ctx: RevokeContext<S>): Promise<void> {
      engine.checkSettings?.();
      return revoke(engine, leaked, ctx);
    },
  };
  const retire = engine.retire;
  if (!retire) return kind;
  return {
    ...kind,
    async retire(previous: S, ctx: KindContext): Promise<void> {
      engine.checkSettings?.();
      return retire.call(engine, previous, ctx);
    },
  };
}
