import { createHash } from 'node:crypto';
import {
  ConfigurationError,
  RotationStepError,
  SecretFormatError,
  UnsafeRotationError,
} from '../core/errors.js';
import { Strategies, type KindContext, type RevokeContext, type RotationKind, type TestContext } from '../core/types.js';
import { baseUsername, checkPairing, CLONE_SUFFIX, type PairingRecord } from '../database/alternatingUsers.js';
import { canLogin, databaseKind, type AlternatePair, type DatabaseEngine } from '../database/databaseKind.js';
import type { KnownPasswordSource } from '../database/singleUser.js';
import { isAuthFailure, withSession, type Credentials, type Session } from './connection.js';
import { RotorMetrics } from '../contract/index.js';
import {
  definerObjectsStatement,
  expiresUnder,
  expiryClause,
  optionsSyncStatement,
  parseAccountOptions,
  passwordAgeStatement,
  sessionCountStatement,
  type ExpiryPolicy,
} from './accountOptions.js';
import { defaultRoleStatement, grantSyncStatements, parseDefaultRoles, parseGrants, parseRequire } from './grants.js';
import { readMysqlOptions, type MysqlOptions } from './options.js';
import { parseMysqlSecret, type MysqlSecret } from './secret.js';
import {
  accountName,
  deletePairingStatement,
  describeServer,
  discardOldPasswordStatement,
  hexLiteral,
  masterPasswordStatement,
  PAIRING_SCHEMA,
  PAIRING_TABLE,
  pairingTableStatements,
  parseServer,
  quoteIdentifier,
  readPairingStatement,
  selfPasswordStatement,
  supportsDualPassword,
  writePairingStatement,
  type ServerInfo,
} from './sql.js';

/** As AWS's MySQL rotation templates: 32 characters, none of these. */
export const mysqlPasswordPolicy = { length: 32, excludeCharacters: '/@"\'\\' } as const;


const characters = (s: string) => [...s].length;

function sameTarget(a: MysqlSecret, b: MysqlSecret): boolean {
  return a.host.toLowerCase() === b.host.toLowerCase() && a.port === b.port;
}

function checkCloneLength(username: string, options: MysqlOptions, ctx: KindContext): void {
  const clone = `${baseUsername(username)}${CLONE_SUFFIX}`;
  if (characters(clone) > options.maxUsernameLength) {
    throw new SecretFormatError(
      `secret ${ctx.secretArn} (AWSCURRENT): field 'username' is too long for alternating users: ` +
        `'${CLONE_SUFFIX}' would make it ${characters(clone)} characters, over MAX_USERNAME_LENGTH ${options.maxUsernameLength}`,
    );
  }
}

/**
 * Counts the open sessions of `user` (Rotor's own connection excepted) before its password
 * changes: clients still on a credential a full rotation old (alternating users) or on the
 * current one (single-user). Published as RotorMetrics.OLD_LOGIN_SESSIONS and logged. A failure
 * to count is logged and does not fail the rotation. Without the PROCESS privilege the count
 * covers only the sessions of the account the session runs as (enough for single-user).
 */
async function countOldSessions(s: Session, user: string, ctx: KindContext): Promise<number | undefined> {
  try {
    const [row] = await s.rows<{ n: number | string }>(sessionCountStatement(user));
    const n = Number(row?.n ?? 0);
    ctx.recordMetric?.(RotorMetrics.OLD_LOGIN_SESSIONS, n);
    ctx.logger.info('open sessions of the login about to get a new password', { login: user, oldLoginSessions: n });
    return n;
  } catch (err) {
    ctx.logger.warn('could not count the sessions of the login about to get a new password', {
      login: user,
      error: err instanceof Error ? err.message : String(err),
    });
    return undefined;
  }
}

/** Wraps a database failure with what was being done; the cause is already statement-free. */
function failed(ctx: KindContext, doing: string, err: unknown): RotationStepError {
  const detail = err instanceof Error ? err.message : String(err);
  return new RotationStepError(`secret ${ctx.secretArn}: ${doing} failed: ${detail}`, { cause: err });
}

/**
 * Logs in and out; answers false on a refused password (so the caller may try another),
 * throws on anything else (a host that does not answer is not a wrong password).
 */
async function login(creds: Credentials, options: MysqlOptions): Promise<boolean> {
  try {
    await withSession(creds, options, async () => undefined);
    return true;
  } catch (err) {
    if (isAuthFailure(err)) return false;
    throw err;
  }
}

/** The server matched the login to the account the secret names, not an anonymous or proxied one. */
function expectAccount(who: { user: string }, username: string, ctx: KindContext, label: string): void {
  if (who.user !== username) {
    throw new UnsafeRotationError(
      `secret ${ctx.secretArn}: the ${label} login was matched to a different account ` +
        `(an anonymous user or a proxy shadows ${JSON.stringify(username)}); refusing to change it`,
    );
  }
}

function refuseDualPassword(server: ServerInfo, ctx: KindContext): ConfigurationError {
  return new ConfigurationError(
    `secret ${ctx.secretArn}: DUAL_PASSWORD=true needs MySQL 8.0.14 or later (RETAIN CURRENT PASSWORD); ` +
      `the server is ${describeServer(server)}${server.flavour === 'mariadb' ? ', which has no dual passwords' : ''}`,
  );
}

/**
 * Single-user: logs in with `creds` and sets the pending password as the account's own (with
 * dual passwords, the current one is retained as the secondary). False when that login is refused.
 */
async function changeOwnPassword(
  creds: MysqlSecret,
  pending: MysqlSecret,
  label: KnownPasswordSource,
  ctx: KindContext,
  options: MysqlOptions,
): Promise<false | { dualPassword: boolean; oldLoginSessions?: number }> {
  let loggedIn = false;
  let oldLoginSessions: number | undefined;
  try {
    await withSession(creds, options, async (s) => {
      loggedIn = true;
      const who = await s.identify().catch((err: unknown) => {
        throw failed(ctx, 'reading CURRENT_USER() and VERSION()', err);
      });
      expectAccount(who, creds.username, ctx, label);
      if (options.dualPassword && !supportsDualPassword(who.server)) throw refuseDualPassword(who.server, ctx);
      // Dual-password: keep the current password as the secondary one. After a fallback to
      // AWSPREVIOUS the password that logged in is not AWSCURRENT: keep nothing.
      const retain = options.dualPassword && label === 'AWSCURRENT';
      oldLoginSessions = await countOldSessions(s, who.user, ctx);
      const sql = selfPasswordStatement(who.server, {
        password: pending.password,
        loggedInWith: creds.password,
        retainCurrent: retain,
      });
      await s.run(sql).catch((err: unknown) => {
        throw failed(ctx, `changing the password of ${accountName(who.user, who.host)}`, err);
      });
      if (options.dualPassword && !retain) {
        await s.run(discardOldPasswordStatement(who.server)).catch((err: unknown) => {
          throw failed(ctx, 'discarding the old password', err);
        });
      }
    });
    return { dualPassword: options.dualPassword, ...(oldLoginSessions !== undefined ? { oldLoginSessions } : {}) };
  } catch (err) {
    if (loggedIn || !isAuthFailure(err)) throw err;
    return false;
  }
}

interface AccountState {
  exists: boolean;
  grants: string[];
  /** The first row of SHOW CREATE USER. */
  createUser: string;
  /** Every row (MariaDB adds `ALTER USER ... PASSWORD EXPIRE INTERVAL n DAY` for an expired password). */
  createUserRows: string[];
}

async function readAccount(master: Session, user: string, host: string, exists: boolean): Promise<AccountState> {
  if (!exists) return { exists, grants: [], createUser: '', createUserRows: [] };
  const account = accountName(user, host);
  const grants = await master.rows<Record<string, string>>(`SHOW GRANTS FOR ${account}`);
  const create = await master.rows<Record<string, string>>(`SHOW CREATE USER ${account}`);
  const createUserRows = create.map((row) => String(Object.values(row)[0]));
  return {
    exists,
    grants: grants.map((row) => String(Object.values(row)[0])),
    createUser: createUserRows[0] ?? '',
    createUserRows,
  };
}

/**
 * No confused deputy: the AWSCURRENT credential must log in as the account it names before the
 * master credential acts for this secret; its login also tells the account's host part, which
 * the alternate login shares.
 */
async function proveCurrent(current: MysqlSecret, ctx: KindContext, options: MysqlOptions) {
  try {
    const host = await withSession(current, options, async (s) => {
      const who = await s.identify();
      expectAccount(who, current.username, ctx, 'AWSCURRENT');
      return who.host;
    });
    return { accepted: true as const, proof: host };
  } catch (err) {
    if (isAuthFailure(err)) return { accepted: false as const, cause: err };
    if (ACCOUNT_LOCKED.has((err as { errno?: number }).errno ?? 0)) {
      throw new RotationStepError(
        `secret ${ctx.secretArn}: the AWSCURRENT login ${JSON.stringify(current.username)} is locked (ACCOUNT LOCK). ` +
          "Rotor gives the clone the user's lock state; to rotate, unlock both logins (ALTER USER ... ACCOUNT UNLOCK)",
        { cause: err },
      );
    }
    throw err;
  }
}

/** The server accepted the password and refused the login because the account is locked (MariaDB 4151, MySQL 3118). */
const ACCOUNT_LOCKED = new Set([4151, 3118]);

/** ER_BAD_DB_ERROR, ER_NO_SUCH_TABLE: no clone was ever created on this server by this Rotor version. */
const NO_PAIRING_TABLE = new Set([1049, 1146]);
export const PAIRING_WHERE = `table ${PAIRING_SCHEMA}.${PAIRING_TABLE}`;

/** The marker Rotor recorded for a clone account (undefined when none), read over the master session. */
export async function readPairing(s: Session, clone: { user: string; host: string }, ctx: KindContext): Promise<PairingRecord> {
  try {
    const [row] = await s.rows<{ base: Buffer | string; secret: Buffer | string }>(readPairingStatement(clone));
    return row ? { base: row.base.toString(), secret: row.secret.toString() } : undefined;
  } catch (err) {
    if (NO_PAIRING_TABLE.has((err as { errno?: number }).errno ?? 0)) return undefined;
    throw failed(ctx, `reading the pairing marker of ${accountName(clone.user, clone.host)} in ${PAIRING_WHERE}`, err);
  }
}

/**
 * A named lock on the pair (MySQL/MariaDB GET_LOCK, held by the master session until it ends):
 * two Rotor actions on the same alternate login (a setSecret delivered twice at once, a leak
 * revoked during a rotation) run one after the other, as PostgreSQL's advisory lock makes them.
 * Without it, two concurrent first rotations both try to create the clone, and the loser took
 * the winner's pairing marker back, leaving a clone Rotor could no longer prove it made.
 */
const PAIR_LOCK_SECONDS = 20;
async function lockPair(s: Session, clone: { user: string; host: string }, ctx: KindContext): Promise<void> {
  // Lock names are at most 64 characters: a digest of the account, not the account itself.
  const name = `rotor:${createHash('sha256').update(`${clone.user}@${clone.host}`).digest('hex').slice(0, 40)}`;
  const [row] = await s.rows<{ got: number | null }>(`SELECT GET_LOCK(${hexLiteral(name)}, ${PAIR_LOCK_SECONDS}) AS got`).catch((err: unknown) => {
    throw failed(ctx, `locking the pair of ${accountName(clone.user, clone.host)}`, err);
  });
  if (Number(row?.got) !== 1) {
    throw new RotationStepError(
      `secret ${ctx.secretArn}: another Rotor action on ${accountName(clone.user, clone.host)} held its lock for ${PAIR_LOCK_SECONDS} s; retry the step`,
    );
  }
}

/**
 * Records that this secret's clone of `base` is Rotor's, before the account is created: if the
 * creation then fails and the account does not exist, the marker is taken back (a marker for an
 * account that does not exist is replaced the next time Rotor creates it, as a dropped
 * PostgreSQL role loses its comment). One that exists keeps its marker.
 */
async function createPairedClone(
  s: Session,
  clone: { user: string; host: string },
  base: string,
  create: string,
  ctx: KindContext,
): Promise<void> {
  for (const sql of [...pairingTableStatements(), writePairingStatement(clone, base, ctx.secretArn)]) {
    await s.run(sql).catch((err: unknown) => {
      throw failed(ctx, `recording the pairing of ${accountName(clone.user, clone.host)} in ${PAIRING_WHERE}`, err);
    });
  }
  try {
    await s.run(create);
  } catch (err) {
    const [row] = await s
      .rows<{ n: number }>(`SELECT COUNT(*) AS n FROM mysql.user WHERE User = ${hexLiteral(clone.user)} AND Host = ${hexLiteral(clone.host)}`)
      .catch(() => [{ n: 1 }]);
    if (Number(row?.n) === 0) await s.run(deletePairingStatement(clone, ctx.secretArn)).catch(() => undefined);
    throw failed(ctx, `creating ${accountName(clone.user, clone.host)}`, err);
  }
}

/**
 * The master's part of alternating users, in one master session: checks the master is not the
 * user itself and the base account exists, verifies the pairing, then sets the pending login's
 * password (the clone is created with its marker the first time) and makes the clone's TLS
 * requirement, grants and default roles follow the user's.
 */
async function setAlternate(
  master: MysqlSecret,
  pending: MysqlSecret,
  { base, clone }: AlternatePair,
  host: string,
  ctx: KindContext,
  options: MysqlOptions,
): Promise<void> {
  await withSession(master, options, async (s) => {
    await lockPair(s, { user: clone, host }, ctx);
    const [row] = await s.rows<{ account: string; version: string; sqlMode: string; base: number; clone: number }>(
      `SELECT CURRENT_USER() AS account, VERSION() AS version, @@SESSION.sql_mode AS sqlMode,
              (SELECT COUNT(*) FROM mysql.user WHERE User = ${hexLiteral(base)} AND Host = ${hexLiteral(host)}) AS base,
              (SELECT COUNT(*) FROM mysql.user WHERE User = ${hexLiteral(clone)} AND Host = ${hexLiteral(host)}) AS clone`,
    );
    if (!row) throw new Error('the master session returned no row');
    const masterUser = String(row.account).slice(0, String(row.account).lastIndexOf('@'));
    if (masterUser === base || masterUser === clone) {
      throw new UnsafeRotationError(`secret ${ctx.secretArn}: refusing to rotate the master user itself`);
    }
    const server = parseServer(String(row.version), String(row.sqlMode ?? ''));
    if (Number(row.base) === 0) {
      throw new RotationStepError(`secret ${ctx.secretArn}: the user ${accountName(base, host)} does not exist`);
    }
    // No confused deputy: the master acts only on a pair Rotor made for this secret. A clone
    // that exists must carry its marker; a missing one is created below with it, and only when
    // it is the pending login (the current login being a clone that is gone proves nothing).
    const pair = { clone, base, secretArn: ctx.secretArn, where: PAIRING_WHERE };
    if (Number(row.clone) > 0) checkPairing(await readPairing(s, { user: clone, host }, ctx), pair);
    else if (pending.username !== clone) checkPairing(undefined, { ...pair, where: 'no such account' });
    const reading = (err: unknown) => failed(ctx, `reading the grants of ${accountName(base, host)} and its clone`, err);
    const user = await readAccount(s, base, host, true).catch((err: unknown) => {
      throw reading(err);
    });
    const copy = await readAccount(s, clone, host, Number(row.clone) > 0).catch((err: unknown) => {
      throw reading(err);
    });
    const bs = server.backslashEscapes;
    const wanted = parseGrants(user.grants, { user: base, host }, bs);
    const have = parseGrants(copy.grants, { user: clone, host }, bs);
    const require = parseRequire(user.createUser, bs);
    const pendingIsClone = pending.username === clone;

    // 0. Clients still on the login about to get a new password (a full rotation old).
    if (pendingIsClone ? copy.exists : true) await countOldSessions(s, pending.username, ctx);
    else {
      ctx.recordMetric?.(RotorMetrics.OLD_LOGIN_SESSIONS, 0);
      ctx.logger.info('open sessions of the login about to get a new password', { login: pending.username, oldLoginSessions: 0 });
    }

    // 1. The pending login's password (the clone is created the first time, with its pairing
    // marker), with the user's TLS requirement.
    const setPassword = masterPasswordStatement(server, {
      user: pending.username,
      host,
      exists: pendingIsClone ? copy.exists : true,
      password: pending.password,
      require: pendingIsClone ? require : undefined,
    });
    if (pendingIsClone && !copy.exists) {
      await createPairedClone(s, { user: clone, host }, base, setPassword, ctx);
      ctx.logger.info('created the alternate login', { login: clone });
    } else {
      await s.run(setPassword).catch((err: unknown) => {
        throw failed(ctx, `setting the password of ${accountName(pending.username, host)}`, err);
      });
    }

    // 2. The clone's TLS requirement, grants, default roles, resource limits, lock state and
    // password policy follow the user's on every rotation.
    const statements: string[] = [];
    const synced: string[] = [];
    if (!pendingIsClone && parseRequire(copy.createUser, bs) !== require) {
      statements.push(`ALTER USER ${accountName(clone, host)} REQUIRE ${require}`);
      synced.push('REQUIRE');
    }
    const grantStatements = grantSyncStatements(server.flavour, wanted, have, { user: clone, host });
    statements.push(...grantStatements);
    synced.push(...grantStatements);
    if (server.flavour === 'mysql') {
      const roles = defaultRoleStatement(parseDefaultRoles(user.createUser, bs), parseDefaultRoles(copy.createUser, bs), {
        user: clone,
        host,
      });
      if (roles) {
        statements.push(roles);
        synced.push('DEFAULT ROLE');
      }
    }
    for (const sql of statements) {
      await s.run(sql).catch((err: unknown) => {
        throw failed(ctx, `copying the grants of ${accountName(base, host)} to ${accountName(clone, host)}`, err);
      });
    }
    const options = await syncAccountOptions(s, server, user, pendingIsClone ? undefined : copy, { user: clone, host }, ctx);
    synced.push(...options.changed);
    ctx.logger.info('alternate login password set and synced with the user', {
      login: pending.username,
      grantChanges: grantStatements.length,
      synced,
      ...(options.skipped.length > 0 ? { notSynced: options.skipped } : {}),
    });
    await reportDefinerObjects(s, { user: clone, host }, ctx);
  });
}

/**
 * Makes the clone's resource limits, lock state and password policy the user's (from SHOW
 * CREATE USER). `copy` is the clone as it was before this rotation when it keeps its password
 * (it is the current login), undefined when it just got a new one (then it is read again). A
 * policy that would leave the current clone's password expired waits for the next rotation.
 */
async function syncAccountOptions(
  s: Session,
  server: ServerInfo,
  user: AccountState,
  copy: AccountState | undefined,
  clone: { user: string; host: string },
  ctx: KindContext,
): Promise<{ changed: string[]; skipped: Array<{ option: string; reason: string }> }> {
  const bs = server.backslashEscapes;
  const doing = `copying the limits, lock and password policy of the user to ${accountName(clone.user, clone.host)}`;
  const rows = copy
    ? copy.createUserRows
    : await s.rows<Record<string, string>>(`SHOW CREATE USER ${accountName(clone.user, clone.host)}`).then(
        (r) => r.map((row) => String(Object.values(row)[0])),
        (err: unknown) => {
          throw failed(ctx, doing, err);
        },
      );
  const wanted = parseAccountOptions(user.createUserRows, bs);
  const have = parseAccountOptions(rows, bs);
  let age: { age: number; defaultDays: number } | undefined;
  if (copy && wanted.expiry !== undefined && (have.expiry === undefined || expiryClause(wanted.expiry) !== expiryClause(have.expiry))) {
    const [row] = await s.rows<{ age: number | string | null; defaultDays: number | string | null }>(passwordAgeStatement(server.flavour, clone)).catch(
      (err: unknown) => {
        throw failed(ctx, doing, err);
      },
    );
    // Unknown age (no row, no timestamp): treat as old, so the policy waits for a new password.
    age = { age: row?.age == null ? Number.POSITIVE_INFINITY : Number(row.age), defaultDays: Number(row?.defaultDays ?? 0) };
  }
  const mayExpire = (policy: ExpiryPolicy) => age !== undefined && expiresUnder(policy, age.age, age.defaultDays);
  const sync = optionsSyncStatement(server.flavour, wanted, have, clone, mayExpire);
  if (sync.statement) {
    await s.run(sync.statement).catch((err: unknown) => {
      throw failed(ctx, doing, err);
    });
  }
  return { changed: sync.changed, skipped: sync.skipped };
}

/** Most names of DEFINER objects a log line lists. */
const DEFINER_REPORT_LIMIT = 50;

/**
 * Views, routines, triggers and events created through the clone name the clone as DEFINER
 * (SQL SECURITY DEFINER objects then run with the clone's privileges, and dropping the clone
 * would orphan them): reported by name at every rotation, never changed. A failure to read them
 * is logged and does not fail the rotation.
 */
async function reportDefinerObjects(s: Session, clone: { user: string; host: string }, ctx: KindContext): Promise<void> {
  try {
    const rows = await s.rows<{ type: string; db: string; name: string }>(definerObjectsStatement(clone));
    if (rows.length === 0) return;
    const names = rows.map((r) => `${String(r.type)} ${quoteIdentifier(String(r.db))}.${quoteIdentifier(String(r.name))}`);
    ctx.logger.warn('objects whose DEFINER is the alternate login (create them as the user or with an explicit DEFINER)', {
      definer: `${clone.user}@${clone.host}`,
      count: names.length,
      definerObjects: names.slice(0, DEFINER_REPORT_LIMIT),
    });
  } catch (err) {
    ctx.logger.warn('could not list the objects whose DEFINER is the alternate login', {
      definer: `${clone.user}@${clone.host}`,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

/** Dual-password mode: drop the secondary password (the previous one) by logging in with it. */
async function discardOld(previous: MysqlSecret, ctx: KindContext, options: MysqlOptions): Promise<void> {
  ctx.recordLogin();
  try {
    await withSession(previous, options, async (s) => {
      const who = await s.identify();
      expectAccount(who, previous.username, ctx, 'AWSPREVIOUS');
      await s.run(discardOldPasswordStatement(who.server));
    });
    ctx.logger.info('old password discarded');
  } catch (err) {
    if (!isAuthFailure(err)) throw failed(ctx, 'discarding the old password', err);
    ctx.logger.info('the previous password no longer logs in: nothing to discard');
  }
}

/** ER_NO_SUCH_THREAD: the session ended between the process list and KILL. */
const NO_SUCH_THREAD = 1094;

/**
 * Single-user: the leaked password is the login's old one. The rotation replaced it, unless the
 * server keeps it as the secondary password (dual-password mode, MySQL 8.0.14+, RETAIN CURRENT
 * PASSWORD): then it is discarded, logged in with the current credential, whatever this
 * function's DUAL_PASSWORD setting says. Either way the leaked password must end refused.
 */
async function revokeSameLogin(
  leaked: MysqlSecret,
  current: MysqlSecret,
  ctx: RevokeContext<MysqlSecret>,
  options: MysqlOptions,
  engine: DatabaseEngine<MysqlSecret, string>,
): Promise<void> {
  if (!(await canLogin(engine, leaked, ctx))) {
    ctx.logger.info('the leaked password is already refused (the rotation replaced it)');
    return;
  }
  ctx.recordLogin();
  const discarded = await withSession(current, options, async (s) => {
    const who = await s.identify().catch((err: unknown) => {
      throw failed(ctx, 'reading CURRENT_USER() and VERSION()', err);
    });
    expectAccount(who, current.username, ctx, 'AWSCURRENT');
    if (!supportsDualPassword(who.server)) return false;
    await s.run(discardOldPasswordStatement(who.server)).catch((err: unknown) => {
      throw failed(ctx, 'discarding the old (leaked) password', err);
    });
    return true;
  }).catch((err: unknown) => {
    if (isAuthFailure(err)) {
      throw new UnsafeRotationError(
        `secret ${ctx.secretArn}: the AWSCURRENT credential does not log in; cannot discard the leaked password`,
        { cause: err },
      );
    }
    throw err;
  });
  if (discarded && !(await canLogin(engine, leaked, ctx))) {
    ctx.logger.info('the leaked password was the retained secondary password: discarded (DISCARD OLD PASSWORD)');
    return;
  }
  throw new UnsafeRotationError(
    `secret ${ctx.secretArn}: the leaked password of ${JSON.stringify(leaked.username)} still logs in, and it is the current login; rotate it`,
  );
}

/**
 * The master's part of revoking a leaked alternate login (same host part as the current one), in
 * one master session: checks the master is not the login itself, verifies the pairing, sets a
 * password nobody keeps (when the account exists) and kills its sessions.
 */
async function lockAlternate(
  master: MysqlSecret,
  leaked: MysqlSecret,
  lock: string,
  pair: AlternatePair,
  host: string,
  ctx: KindContext,
  options: MysqlOptions,
): Promise<void> {
  const current = { username: pair.base === leaked.username ? pair.clone : pair.base };
  const account = accountName(leaked.username, host);
  const outcome = await withSession(master, options, async (s) => {
    await lockPair(s, { user: pair.clone, host }, ctx);
    const [row] = await s
      .rows<{ account: string; version: string; sqlMode: string; leaked: number }>(
        `SELECT CURRENT_USER() AS account, VERSION() AS version, @@SESSION.sql_mode AS sqlMode,
                (SELECT COUNT(*) FROM mysql.user WHERE User = ${hexLiteral(leaked.username)} AND Host = ${hexLiteral(host)}) AS leaked`,
      )
      .catch((err: unknown) => {
        throw failed(ctx, `looking up ${account}`, err);
      });
    if (!row) throw new RotationStepError(`secret ${ctx.secretArn}: the master session returned no row`);
    const masterUser = String(row.account).slice(0, String(row.account).lastIndexOf('@'));
    if (masterUser === leaked.username || masterUser === current.username) {
      throw new UnsafeRotationError(`secret ${ctx.secretArn}: refusing to lock the master user itself`);
    }
    const server = parseServer(String(row.version), String(row.sqlMode ?? ''));
    // No confused deputy: lock only a login of a pair Rotor made for this secret. The marker
    // outlives a dropped account, so it is checked whether or not the leaked login still exists.
    const clone = { user: pair.clone, host };
    checkPairing(await readPairing(s, clone, ctx), { clone: pair.clone, base: pair.base, secretArn: pair.secretArn, where: PAIRING_WHERE });
    const exists = Number(row.leaked) > 0;
    if (exists) {
      // The password first, so that a killed session cannot log in again with the leaked one.
      await s
        .run(masterPasswordStatement(server, { user: leaked.username, host, exists: true, password: lock }))
        .catch((err: unknown) => {
          throw failed(ctx, `locking ${account}`, err);
        });
    }
    const sessions = await s
      .rows<{ id: number }>(
        `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ${hexLiteral(leaked.username)} AND ID <> CONNECTION_ID()`,
      )
      .catch((err: unknown) => {
        throw failed(ctx, `listing the sessions of ${account}`, err);
      });
    let killed = 0;
    for (const { id } of sessions) {
      try {
        await s.run(`KILL CONNECTION ${Number(id)}`);
        killed++;
      } catch (err) {
        if ((err as { errno?: number }).errno !== NO_SUCH_THREAD) throw failed(ctx, `ending a session of ${account}`, err);
      }
    }
    return { exists, killed };
  });
  ctx.logger.info(
    outcome.exists ? 'leaked login locked with a password nobody keeps' : 'the leaked login does not exist: nothing to lock',
    { login: leaked.username, sessionsEnded: outcome.killed },
  );
}

/**
 * The MySQL/MariaDB kind: the shared database flows (lambdas/database) over this engine. Its own
 * settings (MAX_USERNAME_LENGTH, DUAL_PASSWORD, see `mysqlDefaults`) are read from `env` on
 * first use, so a bad value fails a step with a logged error rather than the cold start.
 */
/** The MySQL kind, with its engine and settings for the preflight that the rotation entry attaches (preflight.ts). */
export interface MysqlKind extends RotationKind<MysqlSecret> {
  readonly engine: DatabaseEngine<MysqlSecret, string>;
  readonly options: () => MysqlOptions;
}

export function createMysqlKind(source: { env?: NodeJS.ProcessEnv } = {}): MysqlKind {
  let options: MysqlOptions | undefined;
  const settings = () => (options ??= readMysqlOptions(source.env ?? process.env));

  const engine: DatabaseEngine<MysqlSecret, string> = {
    name: 'mysql',
    passwordPolicy: mysqlPasswordPolicy,
    parse: parseMysqlSecret,
    checkSettings: () => void settings(),
    sameServer: sameTarget,
    login: (creds) => login(creds, settings()),

    checkAlternating(current: MysqlSecret, ctx: KindContext): void {
      const opts = settings();
      if (opts.dualPassword) {
        throw new ConfigurationError(`secret ${ctx.secretArn}: DUAL_PASSWORD applies to the single-user strategy only`);
      }
      checkCloneLength(current.username, opts, ctx);
    },

    changeOwnPassword: (creds, pending, label, ctx) => changeOwnPassword(creds, pending, label, ctx, settings()),
    proveCurrent: (current, ctx) => proveCurrent(current, ctx, settings()),
    setAlternate: (master, pending, pair, host, ctx) => setAlternate(master, pending, pair, host, ctx, settings()),
    lockAlternate: (master, leaked, lock, pair, host, ctx) => lockAlternate(master, leaked, lock, pair, host, ctx, settings()),
    revokeSameLogin: (leaked, current, ctx) => revokeSameLogin(leaked, current, ctx, settings(), engine),

    async test(pending: MysqlSecret, ctx: TestContext): Promise<void> {
      const opts = settings();
      ctx.recordLogin();
      const who = await withSession(pending, opts, (s) => s.identify());
      if (who.user !== pending.username) {
        throw new RotationStepError(`secret ${ctx.secretArn}: the pending value logged in as an unexpected user`);
      }
    },

    /** Dual-password mode only: the previous password stops working (DISCARD OLD PASSWORD). */
    async retire(previous: MysqlSecret, ctx: KindContext): Promise<void> {
      const opts = settings();
      if (ctx.strategy !== Strategies.SINGLE_USER || !opts.dualPassword) {
        ctx.logger.info('nothing to retire: the previous password is kept only in dual-password mode');
        return;
      }
      await discardOld(previous, ctx, opts);
    },
  };
  return { ...databaseKind(engine), engine, options: settings };
}

/** The kind as deployed: settings from the function's environment. */
export const mysqlKind = createMysqlKind();
