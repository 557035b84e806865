import type pg from 'pg';
import { RotationStepError, SecretFormatError, UnsafeRotationError } from '../core/errors.js';
import type { KindContext, RevokeContext, RotationKind, TestContext } from '../core/types.js';
import { baseUsername, checkPairing, CLONE_SUFFIX, pairingText, parsePairingText } from '../database/alternatingUsers.js';
import { canLogin, databaseKind, type AlternatePair, type DatabaseEngine } from '../database/databaseKind.js';
import { emptyReport, ownedObjects, reassignOwned, syncAttributes, syncSettings, type SyncReport } from './cloneSync.js';
import { isAuthFailure, passwordLiteral, withConnection } from './connection.js';
import { readPostgresOptions, type PostgresOptions } from './options.js';
import { MAX_IDENTIFIER_BYTES, parsePostgresSecret, type PostgresSecret } from './secret.js';
import { countSessions, reportOldLoginSessions } from './sessions.js';

/** As AWS's PostgreSQL rotation templates: 32 characters, none of these. */
export const postgresPasswordPolicy = { length: 32, excludeCharacters: ':/@"\'\\' } as const;


/**
 * Logs in and out; answers false on a refused password (so the caller may try another), throws
 * on anything else (a host that does not answer is not a wrong password).
 */
async function login(creds: PostgresSecret): Promise<boolean> {
  try {
    await withConnection(creds, async () => undefined);
    return true;
  } catch (err) {
    if (isAuthFailure(err)) return false;
    throw err;
  }
}

function sameTarget(a: PostgresSecret, b: PostgresSecret): boolean {
  return a.host === b.host && a.port === b.port;
}

/**
 * A transaction-scoped advisory lock on a role name: two Rotor actions on the same login (a
 * retried setSecret, duplicate leak events) run one after the other instead of colliding.
 */
async function lockRole(client: pg.Client, role: string): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock(hashtext('rotor:' || $1))", [role]);
}

/**
 * The pairing marker of a clone is its role comment (`COMMENT ON ROLE`), written in the same
 * transaction as its CREATE ROLE. Only a superuser or a role with CREATEROLE may comment on a
 * role, so the login itself (or any plain login) cannot forge one; and the comment goes when the
 * role is dropped, so a later role of the same name starts unpaired. Answers whether the clone
 * exists; refuses unless it carries the marker for `base` and this secret.
 */
export async function verifyPairing(
  client: pg.Client,
  pair: { clone: string; base: string; secretArn: string },
): Promise<boolean> {
  const res = await client.query<{ marker: string | null }>(
    "SELECT shobj_description(oid, 'pg_authid') AS marker FROM pg_roles WHERE rolname = $1",
    [pair.clone],
  );
  const row = res.rows[0];
  if (row) checkPairing(parsePairingText(row.marker), { ...pair, where: 'the role comment' });
  return row !== undefined;
}

/** Role names the user is a direct member of (the privileges the clone must share). */
export async function memberships(client: pg.Client, role: string): Promise<string[]> {
  const res = await client.query<{ rolname: string }>(
    `SELECT r.rolname FROM pg_auth_members m
       JOIN pg_roles r ON r.oid = m.roleid
       JOIN pg_roles u ON u.oid = m.member
      WHERE u.rolname = $1`,
    [role],
  );
  return res.rows.map((r) => r.rolname);
}

/**
 * The master's part of alternating users, in one transaction under the pending login's advisory
 * lock: the pairing is verified first; the sessions of the pending login (the one a full
 * rotation old) are counted before it gets its new password; then the password is set (the clone
 * is created with its marker the first time) and the clone is made to stand in for the user:
 * memberships, per-role settings, attributes and one owner (cloneSync.ts), all re-synced on every
 * rotation. Objects the clone owns from before are reported, and reassigned when configured.
 */
async function setAlternate(
  master: PostgresSecret,
  pending: PostgresSecret,
  pair: AlternatePair,
  ctx: KindContext,
  options: PostgresOptions,
): Promise<void> {
  const { base, clone } = pair;
  // REASSIGN OWNED acts in the session's database: the user's objects are in the secret's.
  const session = options.reassignCloneObjects ? { ...master, dbname: pending.dbname } : master;
  const report: SyncReport = emptyReport();
  const granted: string[] = [];
  const revoked: string[] = [];
  await withConnection(session, async (client) => {
    const ident = client.escapeIdentifier(pending.username);
    const literal = passwordLiteral(client, pending.password);
    await client.query('BEGIN');
    try {
      await lockRole(client, pending.username);
      // No confused deputy: the master acts only on a pair Rotor made for this secret. A clone
      // that exists must carry the marker; a missing one is created here with it.
      const cloneExists = await verifyPairing(client, pair);
      if (!cloneExists && pending.username !== clone) {
        // The current login is a clone that no longer exists: nothing proves the pairing.
        checkPairing(undefined, { ...pair, where: 'no such role' });
      }
      // Clients still on the login about to change (a full rotation old), before it changes.
      const sessions = cloneExists || pending.username !== clone ? await countSessions(client, pending.username) : 0;
      reportOldLoginSessions(ctx, pending.username, sessions, true);
      if (!cloneExists) {
        await client.query(`CREATE ROLE ${ident} WITH LOGIN PASSWORD ${literal}`);
        await client.query(
          `COMMENT ON ROLE ${ident} IS ${client.escapeLiteral(pairingText({ base, secret: ctx.secretArn }))}`,
        );
        ctx.logger.info('created the alternate login', { login: clone });
      } else {
        await client.query(`ALTER ROLE ${ident} WITH LOGIN PASSWORD ${literal}`);
      }
      // The clone holds the user's role (its direct grants and owned objects, and SET ROLE to it)
      // and every role the user is a member of; memberships the user lost are taken from it too.
      const wanted = new Set([base, ...(await memberships(client, base))]);
      const have = new Set(await memberships(client, clone));
      const cloneIdent = client.escapeIdentifier(clone);
      for (const role of wanted) {
        if (have.has(role)) continue;
        await client.query(`GRANT ${client.escapeIdentifier(role)} TO ${cloneIdent}`);
        granted.push(role);
      }
      for (const role of have) {
        if (wanted.has(role)) continue;
        await client.query(`REVOKE ${client.escapeIdentifier(role)} FROM ${cloneIdent}`);
        revoked.push(role);
      }
      // After the memberships: the clone's `role` setting needs its membership in the user.
      await syncSettings(client, base, clone, report, ctx);
      await syncAttributes(client, base, clone, report, ctx);
      const owned = await ownedObjects(client, clone);
      if (owned.total > 0) {
        report.ownedByClone = owned;
        if (options.reassignCloneObjects) {
          if (await reassignOwned(client, base, clone)) report.reassigned = owned.here.length;
          else report.notSynced.push('ownership of objects the clone owns (the master may not reassign them)');
        }
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
  ctx.logger.info('alternate login password set and memberships synced', { login: pending.username });
  // What the clone now shares with the user: names only (a setting's value is never logged).
  ctx.logger.info('alternate login synced with the user', {
    login: clone,
    user: base,
    runsAs: report.runsAs,
    membershipsGranted: granted,
    membershipsRevoked: revoked,
    settingsSet: report.settingsSet,
    settingsReset: report.settingsReset,
    attributes: report.attributes,
    notSynced: report.notSynced,
  });
  if (report.notSynced.length > 0) {
    ctx.logger.warn('the alternate login differs from the user where the master may not change it', {
      login: clone,
      notSynced: report.notSynced,
    });
  }
  const owned = report.ownedByClone;
  if (owned) {
    const line = {
      login: clone,
      user: base,
      objects: owned.total,
      inThisDatabase: owned.here,
      elsewhere: owned.elsewhere.map((e) => ({ database: e.database, byCatalog: e.values })),
    };
    if (report.reassigned !== undefined) {
      ctx.logger.info('objects the alternate login owned were reassigned to the user (REASSIGN_CLONE_OBJECTS)', {
        ...line,
        reassigned: report.reassigned,
      });
    } else {
      ctx.logger.warn(
        'the alternate login owns objects (created through it before its sessions ran as the user): the user cannot alter them; ' +
          'run REASSIGN OWNED BY the alternate login TO the user in each database, or set REASSIGN_CLONE_OBJECTS',
        line,
      );
    }
  }
}

/**
 * Single-user revoke: the rotation already replaced the password of the same login; this proves
 * the leaked one is refused.
 */
async function revokeSameLogin(leaked: PostgresSecret, _current: PostgresSecret, ctx: RevokeContext<PostgresSecret>): Promise<void> {
  if (await canLogin(postgresEngine, leaked, ctx)) {
    throw new UnsafeRotationError(
      `secret ${ctx.secretArn}: the leaked password of ${JSON.stringify(leaked.username)} still logs in, and it is the current login; rotate it`,
    );
  }
  ctx.logger.info('the leaked password is already refused (the rotation replaced it)');
}

/**
 * The master's part of revoking a leaked alternate login: under its advisory lock, the pairing
 * is verified, the login gets a password nobody keeps, and its open sessions are ended.
 */
async function lockAlternate(
  master: PostgresSecret,
  leaked: PostgresSecret,
  lock: string,
  pair: AlternatePair,
  ctx: KindContext,
): Promise<void> {
  const ended = await withConnection(master, async (client) => {
    // Duplicate deliveries of a leak event revoke at the same time: serialize the catalog
    // change, or PostgreSQL refuses the second ALTER ROLE ("tuple concurrently updated").
    await client.query('BEGIN');
    try {
      await lockRole(client, leaked.username);
      // No confused deputy: lock only a login of a pair Rotor made for this secret.
      if (!(await verifyPairing(client, pair))) checkPairing(undefined, { ...pair, where: 'no such role' });
      await client.query(
        `ALTER ROLE ${client.escapeIdentifier(leaked.username)} WITH PASSWORD ${passwordLiteral(client, lock)}`,
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    const res = await client.query(
      'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()',
      [leaked.username],
    );
    return (res.rows[0] as { n: number } | undefined)?.n ?? 0;
  });
  ctx.logger.info('leaked login locked with a password nobody keeps', { login: leaked.username, sessionsEnded: ended });
}

/**
 * PostgreSQL's logins and SQL for the shared database flows (lambdas/database). Its own setting
 * (REASSIGN_CLONE_OBJECTS, see options.ts) is read from `env` on first use, so a bad value
 * fails a step with a logged error rather than the cold start.
 */
export function createPostgresEngine(source: { env?: NodeJS.ProcessEnv } = {}): DatabaseEngine<PostgresSecret, void> {
  let options: PostgresOptions | undefined;
  const settings = () => (options ??= readPostgresOptions(source.env ?? process.env));
  return {
    name: 'postgres',
    passwordPolicy: postgresPasswordPolicy,
    parse: parsePostgresSecret,
    checkSettings: () => void settings(),
    sameServer: sameTarget,
    login,

    checkAlternating(current: PostgresSecret, ctx: KindContext): void {
      const clone = `${baseUsername(current.username)}${CLONE_SUFFIX}`;
      if (Buffer.byteLength(clone) > MAX_IDENTIFIER_BYTES) {
        throw new SecretFormatError(
          `secret ${ctx.secretArn} (AWSCURRENT): field 'username' is too long for alternating users: ` +
            `'${CLONE_SUFFIX}' would make it ${Buffer.byteLength(clone)} bytes, over PostgreSQL's ${MAX_IDENTIFIER_BYTES}`,
        );
      }
    },

    async changeOwnPassword(creds: PostgresSecret, pending: PostgresSecret, _source, ctx: KindContext) {
      try {
        const sessions = await withConnection(creds, async (client) => {
          // The login's other sessions, on the session that changes its password, before it does.
          const n = await countSessions(client, pending.username);
          await client.query(
            `ALTER ROLE ${client.escapeIdentifier(pending.username)} WITH PASSWORD ${passwordLiteral(client, pending.password)}`,
          );
          return n;
        });
        reportOldLoginSessions(ctx, pending.username, sessions, false);
        return { oldLoginSessions: sessions };
      } catch (err) {
        if (isAuthFailure(err)) return false;
        throw err;
      }
    },

    async proveCurrent(current: PostgresSecret) {
      return (await login(current)) ? { accepted: true, proof: undefined } : { accepted: false };
    },

    setAlternate: (master, pending, pair, _proof, ctx) => setAlternate(master, pending, pair, ctx, settings()),
    lockAlternate: (master, leaked, lock, pair, _proof, ctx) => lockAlternate(master, leaked, lock, pair, ctx),
    revokeSameLogin: (leaked, current, ctx) => revokeSameLogin(leaked, current, ctx),

    async test(pending: PostgresSecret, ctx: TestContext): Promise<void> {
      ctx.recordLogin();
      // session_user: the login. A clone's current_user is the user's role (its `role` setting).
      const who = await withConnection(pending, async (client) => {
        const res = await client.query<{ user: string }>('SELECT session_user AS user');
        return res.rows[0]?.user;
      });
      if (who !== pending.username) {
        throw new RotationStepError(`secret ${ctx.secretArn}: logged in as an unexpected user`);
      }
    },
  };
}

/** The engine as deployed: settings from the function's environment. */
export const postgresEngine: DatabaseEngine<PostgresSecret, void> = createPostgresEngine();

/** The PostgreSQL kind with its settings read from `env` (tests; the deployed one reads process.env). */
export function createPostgresKind(source: { env?: NodeJS.ProcessEnv } = {}): RotationKind<PostgresSecret> {
  return databaseKind(createPostgresEngine(source));
}

/** The PostgreSQL kind: single-user and alternating-users rotation with the pg client. */
export const postgresKind: RotationKind<PostgresSecret> = databaseKind(postgresEngine);
