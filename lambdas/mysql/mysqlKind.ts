import {
  ConfigurationError,
  RotationStepError,
  SecretFormatError,
  UnsafeRotationError,
} from '../core/errors';
import {
  Strategies,
  type CreateContext,
  type KindContext,
  type RevokeContext,
  type RotationKind,
  type SetContext,
  type TestContext,
} from '../core/types';
import { isAuthFailure, withSession, type Credentials, type Session } from './connection';
import { defaultRoleStatement, grantSyncStatements, parseDefaultRoles, parseGrants, parseRequire } from './grants';
import { readMysqlOptions, type MysqlOptions } from './options';
import { parseMysqlSecret, type MysqlSecret } from './secret';
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
  readPairingStatement,
  selfPasswordStatement,
  supportsDualPassword,
  writePairingStatement,
  type ServerInfo,
} from './sql';
import { checkSameLogin, knownPasswords } from '../database/singleUser';
import {
  alternateUsername,
  baseUsername,
  checkAlternatePending,
  checkPairing,
  CLONE_SUFFIX,
  type PairingRecord,
} from '../database/alternatingUsers';

/** As AWS's MySQL rotation templates: 32 characters, none of these. */
export const mysqlPasswordPolicy = { length: 32, excludeCharacters: '/@"\'\\' } as const;


const characters = (s: string) => [...s].length;

function sameTarget(a: MysqlSecret, b: MysqlSecret): boolean {
  return a.host.toLowerCase() === b.host.toLowerCase() && a.port === b.port;
}

function missingMasterArn(ctx: KindContext): SecretFormatError {
  return new SecretFormatError(
    `secret ${ctx.secretArn} (AWSCURRENT): field 'masterarn' is missing (required by the alternating-users strategy)`,
  );
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

/** Wraps a database failure with what was being done; the cause is already statement-free. */
function failed(ctx: KindContext, doing: string, err: unknown): RotationStepError {
  const detail = err instanceof Error ? err.message : String(err);
  return new RotationStepError(`secret ${ctx.secretArn}: ${doing} failed: ${detail}`, { cause: err });
}

/**
 * Tries to log in; answers false on a refused password (so the caller may try another),
 * throws on anything else (a host that does not answer is not a wrong password).
 */
async function canLogin(creds: Credentials, options: MysqlOptions, ctx: KindContext): Promise<boolean> {
  ctx.recordLogin();
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

async function setSingleUser(pending: MysqlSecret, ctx: SetContext<MysqlSecret>, options: MysqlOptions): Promise<void> {
  const current = ctx.current.value;
  const sameLogin = (a: MysqlSecret, b: MysqlSecret) => a.username === b.username && sameTarget(a, b);
  checkSameLogin(current, pending, sameLogin, ctx.secretArn);
  if (await canLogin(pending, options, ctx)) {
    ctx.logger.info('pending password already accepted: nothing to set');
    return;
  }
  for await (const [label, creds] of knownPasswords(current, ctx, sameLogin)) {
    ctx.recordLogin();
    let loggedIn = false;
    try {
      await withSession(creds, options, async (s) => {
        loggedIn = true;
        const who = await s.identify().catch((err: unknown) => {
          throw failed(ctx, 'reading CURRENT_USER() and VERSION()', err);
        });
        expectAccount(who, current.username, ctx, label);
        if (options.dualPassword && !supportsDualPassword(who.server)) throw refuseDualPassword(who.server, ctx);
        // Dual-password: keep the current password as the secondary one. After a fallback to
        // AWSPREVIOUS the password that logged in is not AWSCURRENT: keep nothing.
        const retain = options.dualPassword && label === 'AWSCURRENT';
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
      ctx.logger.info('password changed', { loggedInWith: label, dualPassword: options.dualPassword });
      return;
    } catch (err) {
      if (loggedIn || !isAuthFailure(err)) throw err;
      ctx.logger.info('login refused, trying the next known password', { tried: label });
    }
  }
  throw new RotationStepError(
    `secret ${ctx.secretArn}: cannot log in as ${JSON.stringify(pending.username)} with the pending, current or previous password`,
  );
}

interface AccountState {
  exists: boolean;
  grants: string[];
  createUser: string;
}

async function readAccount(master: Session, user: string, host: string, exists: boolean): Promise<AccountState> {
  if (!exists) return { exists, grants: [], createUser: '' };
  const account = accountName(user, host);
  const grants = await master.rows<Record<string, string>>(`SHOW GRANTS FOR ${account}`);
  const [create] = await master.rows<Record<string, string>>(`SHOW CREATE USER ${account}`);
  return {
    exists,
    grants: grants.map((row) => String(Object.values(row)[0])),
    createUser: create ? String(Object.values(create)[0]) : '',
  };
}

/**
 * No confused deputy: the AWSCURRENT credential must log in before the master credential acts
 * for this secret (its login also tells the account's host part, which the alternate login
 * shares); then the master secret, which must be for the same server.
 */
async function masterActingFor(
  current: MysqlSecret,
  masterArn: string,
  ctx: KindContext & { readSecret?(secretId: string): Promise<MysqlSecret> },
  options: MysqlOptions,
): Promise<{ host: string; master: MysqlSecret }> {
  ctx.recordLogin();
  let host: string;
  try {
    host = await withSession(current, options, async (s) => {
      const who = await s.identify();
      expectAccount(who, current.username, ctx, 'AWSCURRENT');
      return who.host;
    });
  } catch (err) {
    if (isAuthFailure(err)) {
      throw new UnsafeRotationError(
        `secret ${ctx.secretArn}: the AWSCURRENT credential does not log in; refusing to act with the master secret`,
        { cause: err },
      );
    }
    throw err;
  }
  if (!ctx.readSecret) throw new RotationStepError(`secret ${ctx.secretArn}: the master secret cannot be read here`);
  const master = await ctx.readSecret(masterArn);
  if (!sameTarget(master, current)) {
    throw new UnsafeRotationError(`secret ${ctx.secretArn}: the master secret ${masterArn} is for a different host or port`);
  }
  return { host, master };
}

/** ER_BAD_DB_ERROR, ER_NO_SUCH_TABLE: no clone was ever created on this server by this Rotor version. */
const NO_PAIRING_TABLE = new Set([1049, 1146]);
const PAIRING_WHERE = `table ${PAIRING_SCHEMA}.${PAIRING_TABLE}`;

/** The marker Rotor recorded for a clone account (undefined when none), read over the master session. */
async function readPairing(s: Session, clone: { user: string; host: string }, ctx: KindContext): Promise<PairingRecord> {
  try {
    const [row] = await s.rows<{ base: Buffer | string; secret: Buffer | string }>(readPairingStatement(clone));
    return row ? { base: row.base.toString(), secret: row.secret.toString() } : undefined;
  } catch (err) {
    if (NO_PAIRING_TABLE.has((err as { errno?: number }).errno ?? 0)) return undefined;
    throw failed(ctx, `reading the pairing marker of ${accountName(clone.user, clone.host)} in ${PAIRING_WHERE}`, err);
  }
}

/**
 * Records that this secret's clone of `base` is Rotor's, before the account is created: if the
 * creation then fails, the marker is taken back (a marker for an account that does not exist is
 * replaced the next time Rotor creates it, as a dropped PostgreSQL role loses its comment).
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
    await s.run(deletePairingStatement(clone, ctx.secretArn)).catch(() => undefined);
    throw failed(ctx, `creating ${accountName(clone.user, clone.host)}`, err);
  }
}

async function setAlternating(pending: MysqlSecret, ctx: SetContext<MysqlSecret>, options: MysqlOptions): Promise<void> {
  const current = ctx.current.value;
  if (!current.masterarn) throw missingMasterArn(ctx);
  if (options.dualPassword) {
    throw new ConfigurationError(`secret ${ctx.secretArn}: DUAL_PASSWORD applies to the single-user strategy only`);
  }
  checkCloneLength(current.username, options, ctx);
  const base = baseUsername(current.username);
  const clone = `${base}${CLONE_SUFFIX}`;
  checkAlternatePending(current, pending, sameTarget, ctx.secretArn);
  // No confused deputy: whoever wrote this secret must hold a working credential for it
  // before the master credential is used on its behalf. The login also tells the host part
  // of the account, which the clone shares.
  const { host, master } = await masterActingFor(current, current.masterarn, ctx, options);
  if (master.username === base || master.username === clone) {
    throw new UnsafeRotationError(`secret ${ctx.secretArn}: refusing to rotate the master user itself`);
  }
  ctx.recordLogin();
  await withSession(master, options, async (s) => {
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

    // 1. The pending login's password (the clone is created the first time, with its pairing
    // marker), with the user's TLS requirement.
    const pendingIsClone = pending.username === clone;
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

    // 2. The clone's TLS requirement, grants and default roles follow the user's on every rotation.
    const statements: string[] = [];
    if (!pendingIsClone && parseRequire(copy.createUser, bs) !== require) {
      statements.push(`ALTER USER ${accountName(clone, host)} REQUIRE ${require}`);
    }
    statements.push(...grantSyncStatements(server.flavour, wanted, have, { user: clone, host }));
    if (server.flavour === 'mysql') {
      const roles = defaultRoleStatement(parseDefaultRoles(user.createUser, bs), parseDefaultRoles(copy.createUser, bs), {
        user: clone,
        host,
      });
      if (roles) statements.push(roles);
    }
    for (const sql of statements) {
      await s.run(sql).catch((err: unknown) => {
        throw failed(ctx, `copying the grants of ${accountName(base, host)} to ${accountName(clone, host)}`, err);
      });
    }
    ctx.logger.info('alternate login password set and grants synced', {
      login: pending.username,
      grantChanges: statements.length,
    });
  });
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
): Promise<void> {
  if (!(await canLogin(leaked, options, ctx))) {
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
  if (discarded && !(await canLogin(leaked, options, ctx))) {
    ctx.logger.info('the leaked password was the retained secondary password: discarded (DISCARD OLD PASSWORD)');
    return;
  }
  throw new UnsafeRotationError(
    `secret ${ctx.secretArn}: the leaked password of ${JSON.stringify(leaked.username)} still logs in, and it is the current login; rotate it`,
  );
}

/**
 * Makes a leaked credential useless once it is no longer AWSCURRENT. Alternating users: the
 * leaked login (the alternate of the current one, same host part) gets a random password
 * nobody keeps, set with the master secret, and its open sessions are killed. Single-user: see
 * revokeSameLogin. Never touches the current login's password or the master. Idempotent.
 */
async function revokeMysql(leaked: MysqlSecret, ctx: RevokeContext<MysqlSecret>, options: MysqlOptions): Promise<void> {
  const current = ctx.current?.value;
  if (!current || !ctx.readSecret || !ctx.randomPassword) {
    throw new RotationStepError(`secret ${ctx.secretArn}: revoke needs the current value, the master secret and GetRandomPassword`);
  }
  if (!sameTarget(leaked, current)) {
    throw new UnsafeRotationError(`secret ${ctx.secretArn}: the leaked version is for a different host or port`);
  }
  if (leaked.username === current.username) return revokeSameLogin(leaked, current, ctx, options);
  if (leaked.username !== alternateUsername(current.username) || !current.masterarn) {
    throw new UnsafeRotationError(
      `secret ${ctx.secretArn}: the leaked login is not the alternate of ${JSON.stringify(current.username)}; refusing to touch it`,
    );
  }
  // No confused deputy, as in setSecret: the current credential must work before the master
  // acts for this secret. Its login also tells the host part the two logins share.
  const { host, master } = await masterActingFor(current, current.masterarn, ctx, options);
  if (master.username === leaked.username || master.username === current.username) {
    throw new UnsafeRotationError(`secret ${ctx.secretArn}: refusing to lock the master user itself`);
  }
  const lock = await ctx.randomPassword();
  const account = accountName(leaked.username, host);
  ctx.recordLogin();
  const outcome = await withSession(master, options, async (s) => {
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
    const base = baseUsername(current.username);
    const clone = { user: `${base}${CLONE_SUFFIX}`, host };
    checkPairing(await readPairing(s, clone, ctx), { clone: clone.user, base, secretArn: ctx.secretArn, where: PAIRING_WHERE });
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
 * The MySQL/MariaDB kind. Its own settings (MAX_USERNAME_LENGTH, DUAL_PASSWORD, see
 * `mysqlDefaults`) are read from `env` on first use, so a bad value fails a step with a logged
 * error rather than the cold start.
 */
export function createMysqlKind(source: { env?: NodeJS.ProcessEnv } = {}): RotationKind<MysqlSecret> {
  let options: MysqlOptions | undefined;
  const settings = () => (options ??= readMysqlOptions(source.env ?? process.env));

  return {
    name: 'mysql',
    strategies: [Strategies.SINGLE_USER, Strategies.ALTERNATING_USERS],
    passwordPolicy: mysqlPasswordPolicy,
    parse: parseMysqlSecret,
    sensitive: (secret) => [secret.password],

    /** Emergencies: lock the leaked alternate login, or prove the leaked password refused. */
    async revoke(leaked: MysqlSecret, ctx: RevokeContext<MysqlSecret>): Promise<void> {
      return revokeMysql(leaked, ctx, settings());
    },

    async create(current: MysqlSecret, ctx: CreateContext<MysqlSecret>): Promise<MysqlSecret> {
      const opts = settings();
      if (ctx.strategy === Strategies.SINGLE_USER) {
        return { ...current, password: await ctx.randomPassword() };
      }
      if (!current.masterarn) throw missingMasterArn(ctx);
      if (opts.dualPassword) {
        throw new ConfigurationError(`secret ${ctx.secretArn}: DUAL_PASSWORD applies to the single-user strategy only`);
      }
      checkCloneLength(current.username, opts, ctx);
      return { ...current, username: alternateUsername(current.username), password: await ctx.randomPassword() };
    },

    async set(pending: MysqlSecret, ctx: SetContext<MysqlSecret>): Promise<void> {
      const opts = settings();
      return ctx.strategy === Strategies.ALTERNATING_USERS
        ? setAlternating(pending, ctx, opts)
        : setSingleUser(pending, ctx, opts);
    },

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
}

/** The kind as deployed: settings from the function's environment. */
export const mysqlKind = createMysqlKind();
