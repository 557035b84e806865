import type pg from 'pg';
import { RotationStepError, SecretFormatError, UnsafeRotationError } from '../core/errors';
import {
  Strategies,
  type CreateContext,
  type KindContext,
  type RevokeContext,
  type RotationKind,
  type SetContext,
  type TestContext,
} from '../core/types';
import { isAuthFailure, passwordLiteral, withConnection } from './connection';
import { MAX_IDENTIFIER_BYTES, parsePostgresSecret, type PostgresSecret } from './secret';
import { checkSameLogin, knownPasswords } from '../database/singleUser';
import {
  alternateUsername,
  baseUsername,
  checkAlternatePending,
  checkPairing,
  CLONE_SUFFIX,
  pairingText,
  parsePairingText,
} from '../database/alternatingUsers';

/** As AWS's PostgreSQL rotation templates: 32 characters, none of these. */
export const postgresPasswordPolicy = { length: 32, excludeCharacters: ':/@"\'\\' } as const;


/**
 * Tries to log in; answers false on a refused password (so the caller may try another), throws
 * on anything else (a host that does not answer is not a wrong password).
 */
async function canLogin(creds: PostgresSecret, ctx: KindContext): Promise<boolean> {
  ctx.recordLogin();
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

async function setSingleUser(pending: PostgresSecret, ctx: SetContext<PostgresSecret>): Promise<void> {
  const current = ctx.current.value;
  const sameLogin = (a: PostgresSecret, b: PostgresSecret) => a.username === b.username && sameTarget(a, b);
  checkSameLogin(current, pending, sameLogin, ctx.secretArn);
  if (await canLogin(pending, ctx)) {
    ctx.logger.info('pending password already accepted: nothing to set');
    return;
  }
  for await (const [label, creds] of knownPasswords(current, ctx, sameLogin)) {
    ctx.recordLogin();
    try {
      await withConnection(creds, async (client) => {
        await client.query(
          `ALTER ROLE ${client.escapeIdentifier(pending.username)} WITH PASSWORD ${passwordLiteral(client, pending.password)}`,
        );
      });
      ctx.logger.info('password changed', { loggedInWith: label });
      return;
    } catch (err) {
      if (!isAuthFailure(err)) throw err;
      ctx.logger.info('login refused, trying the next known password', { tried: label });
    }
  }
  throw new RotationStepError(
    `secret ${ctx.secretArn}: cannot log in as ${JSON.stringify(pending.username)} with the pending, current or previous password`,
  );
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

async function setAlternating(pending: PostgresSecret, ctx: SetContext<PostgresSecret>): Promise<void> {
  const current = ctx.current.value;
  if (!current.masterarn) {
    throw new SecretFormatError(
      `secret ${ctx.secretArn} (AWSCURRENT): field 'masterarn' is missing (required by the alternating-users strategy)`,
    );
  }
  const base = baseUsername(current.username);
  const clone = `${base}${CLONE_SUFFIX}`;
  checkAlternatePending(current, pending, sameTarget, ctx.secretArn);
  // No confused deputy: whoever wrote this secret must hold a working credential for it
  // before the master credential is used on its behalf.
  if (!(await canLogin(current, ctx))) {
    throw new UnsafeRotationError(
      `secret ${ctx.secretArn}: the AWSCURRENT credential does not log in; refusing to act with the master secret`,
    );
  }
  const master = await ctx.readSecret(current.masterarn);
  if (!sameTarget(master, current)) {
    throw new UnsafeRotationError(
      `secret ${ctx.secretArn}: the master secret ${current.masterarn} is for a different host or port`,
    );
  }
  if (master.username === pending.username || master.username === base) {
    throw new UnsafeRotationError(`secret ${ctx.secretArn}: refusing to rotate the master user itself`);
  }
  ctx.recordLogin();
  await withConnection(master, async (client) => {
    const ident = client.escapeIdentifier(pending.username);
    const literal = passwordLiteral(client, pending.password);
    await client.query('BEGIN');
    try {
      await lockRole(client, pending.username);
      // No confused deputy: the master acts only on a pair Rotor made for this secret. A clone
      // that exists must carry the marker; a missing one is created here with it.
      const pair = { clone, base, secretArn: ctx.secretArn };
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
 * Makes a leaked credential useless once it is no longer AWSCURRENT. Alternating users: the
 * leaked login (the one that is not current) gets a random password nobody keeps, set with the
 * master secret, and its open sessions are ended. Single-user: the rotation already replaced the
 * password; this proves the leaked one is refused. Idempotent.
 */
async function revokePostgres(leaked: PostgresSecret, ctx: RevokeContext<PostgresSecret>): Promise<void> {
  const current = ctx.current?.value;
  if (!current || !ctx.readSecret || !ctx.randomPassword) {
    throw new RotationStepError(`secret ${ctx.secretArn}: revoke needs the current value, the master secret and GetRandomPassword`);
  }
  if (!sameTarget(leaked, current)) {
    throw new UnsafeRotationError(`secret ${ctx.secretArn}: the leaked version is for a different host or port`);
  }
  if (leaked.username === current.username) {
    // Same login: only a password change can have revoked it. Prove the leaked password is refused.
    if (await canLogin(leaked, ctx)) {
      throw new UnsafeRotationError(
        `secret ${ctx.secretArn}: the leaked password of ${JSON.stringify(leaked.username)} still logs in, and it is the current login; rotate it`,
      );
    }
    ctx.logger.info('the leaked password is already refused (the rotation replaced it)');
    return;
  }
  if (leaked.username !== alternateUsername(current.username) || !current.masterarn) {
    throw new UnsafeRotationError(
      `secret ${ctx.secretArn}: the leaked login is not the alternate of ${JSON.stringify(current.username)}; refusing to touch it`,
    );
  }
  const master = await ctx.readSecret(current.masterarn);
  if (!sameTarget(master, current) || master.username === leaked.username) {
    throw new UnsafeRotationError(`secret ${ctx.secretArn}: the master secret cannot be used for this login`);
  }
  const lock = await ctx.randomPassword();
  ctx.recordLogin();
  const ended = await withConnection(master, async (client) => {
    // Duplicate deliveries of a leak event revoke at the same time: serialize the catalog
    // change, or PostgreSQL refuses the second ALTER ROLE ("tuple concurrently updated").
    await client.query('BEGIN');
    try {
      await lockRole(client, leaked.username);
      // No confused deputy: lock only a login of a pair Rotor made for this secret.
      const base = baseUsername(current.username);
      const pair = { clone: `${base}${CLONE_SUFFIX}`, base, secretArn: ctx.secretArn };
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

/** The PostgreSQL kind: single-user and alternating-users rotation with the pg client. */
export const postgresKind: RotationKind<PostgresSecret> = {
  name: 'postgres',
  strategies: [Strategies.SINGLE_USER, Strategies.ALTERNATING_USERS],
  passwordPolicy: postgresPasswordPolicy,
  parse: parsePostgresSecret,
  sensitive: (secret) => [secret.password],
  revoke: revokePostgres,

  async create(current: PostgresSecret, ctx: CreateContext<PostgresSecret>): Promise<PostgresSecret> {
    if (ctx.strategy === Strategies.SINGLE_USER) {
      return { ...current, password: await ctx.randomPassword() };
    }
    if (!current.masterarn) {
      throw new SecretFormatError(
        `secret ${ctx.secretArn} (AWSCURRENT): field 'masterarn' is missing (required by the alternating-users strategy)`,
      );
    }
    const clone = `${baseUsername(current.username)}${CLONE_SUFFIX}`;
    if (Buffer.byteLength(clone) > MAX_IDENTIFIER_BYTES) {
      throw new SecretFormatError(
        `secret ${ctx.secretArn} (AWSCURRENT): field 'username' is too long for alternating users: ` +
          `'${CLONE_SUFFIX}' would make it ${Buffer.byteLength(clone)} bytes, over PostgreSQL's ${MAX_IDENTIFIER_BYTES}`,
      );
    }
    return { ...current, username: alternateUsername(current.username), password: await ctx.randomPassword() };
  },

  async set(pending: PostgresSecret, ctx: SetContext<PostgresSecret>): Promise<void> {
    return ctx.strategy === Strategies.ALTERNATING_USERS ? setAlternating(pending, ctx) : setSingleUser(pending, ctx);
  },

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
