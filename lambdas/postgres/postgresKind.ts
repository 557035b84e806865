import type pg from 'pg';
import { RotationStepError, SecretFormatError, UnsafeRotationError } from '../core/errors';
import type { KindContext, RevokeContext, RotationKind, TestContext } from '../core/types';
import { baseUsername, checkPairing, CLONE_SUFFIX, pairingText, parsePairingText } from '../database/alternatingUsers';
import { canLogin, databaseKind, type AlternatePair, type DatabaseEngine } from '../database/databaseKind';
import { isAuthFailure, passwordLiteral, withConnection } from './connection';
import { MAX_IDENTIFIER_BYTES, parsePostgresSecret, type PostgresSecret } from './secret';

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
async function verifyPairing(
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
async function memberships(client: pg.Client, role: string): Promise<string[]> {
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
 * lock: the pairing is verified first; then the pending login's password is set (the clone is
 * created with its marker the first time) and the clone's memberships follow the user's.
 */
async function setAlternate(master: PostgresSecret, pending: PostgresSecret, pair: AlternatePair, ctx: KindContext): Promise<void> {
  const { base, clone } = pair;
  await withConnection(master, async (client) => {
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
      if (!cloneExists) {
        await client.query(`CREATE ROLE ${ident} WITH LOGIN PASSWORD ${literal}`);
        await client.query(
          `COMMENT ON ROLE ${ident} IS ${client.escapeLiteral(pairingText({ base, secret: ctx.secretArn }))}`,
        );
        ctx.logger.info('created the alternate login', { login: clone });
      } else {
        await client.query(`ALTER ROLE ${ident} WITH LOGIN PASSWORD ${literal}`);
      }
      // The clone holds the user's role (its direct grants and owned objects) and every role
      // the user is a member of; memberships the user lost are taken from the clone too.
      const wanted = new Set([base, ...(await memberships(client, base))]);
      const have = new Set(await memberships(client, clone));
      const cloneIdent = client.escapeIdentifier(clone);
      for (const role of wanted) {
        if (!have.has(role)) await client.query(`GRANT ${client.escapeIdentifier(role)} TO ${cloneIdent}`);
      }
      for (const role of have) {
        if (!wanted.has(role)) await client.query(`REVOKE ${client.escapeIdentifier(role)} FROM ${cloneIdent}`);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
  ctx.logger.info('alternate login password set and memberships synced', { login: pending.username });
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

/** PostgreSQL's logins and SQL for the shared database flows (lambdas/database). */
export const postgresEngine: DatabaseEngine<PostgresSecret, void> = {
  name: 'postgres',
  passwordPolicy: postgresPasswordPolicy,
  parse: parsePostgresSecret,
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

  async changeOwnPassword(creds: PostgresSecret, pending: PostgresSecret) {
    try {
      await withConnection(creds, async (client) => {
        await client.query(
          `ALTER ROLE ${client.escapeIdentifier(pending.username)} WITH PASSWORD ${passwordLiteral(client, pending.password)}`,
        );
      });
      return {};
    } catch (err) {
      if (isAuthFailure(err)) return false;
      throw err;
    }
  },

  async proveCurrent(current: PostgresSecret) {
    return (await login(current)) ? { accepted: true, proof: undefined } : { accepted: false };
  },

  setAlternate: (master, pending, pair, _proof, ctx) => setAlternate(master, pending, pair, ctx),
  lockAlternate: (master, leaked, lock, pair, _proof, ctx) => lockAlternate(master, leaked, lock, pair, ctx),
  revokeSameLogin,

  async test(pending: PostgresSecret, ctx: TestContext): Promise<void> {
    ctx.recordLogin();
    const who = await withConnection(pending, async (client) => {
      const res = await client.query<{ user: string }>('SELECT current_user AS user');
      return res.rows[0]?.user;
    });
    if (who !== pending.username) {
      throw new RotationStepError(`secret ${ctx.secretArn}: logged in as an unexpected user`);
    }
  },
};

/** The PostgreSQL kind: single-user and alternating-users rotation with the pg client. */
export const postgresKind: RotationKind<PostgresSecret> = databaseKind(postgresEngine);
