import type pg from 'pg';
import { finding } from '../contract/index.js';
import { UnsafeRotationError } from '../core/errors.js';
import type { PreflightContext, PreflightFinding, RotationKind } from '../core/types.js';
import type { AlternatePair } from '../database/databaseKind.js';
import { DatabaseChecks, masterSessionFailed, withDatabasePreflight, type DatabasePreflight } from '../database/preflight.js';
import { isAuthFailure, withConnection } from './connection.js';
import { createPostgresEngine, memberships, postgresEngine, verifyPairing } from './postgresKind.js';
import type { PostgresSecret } from './secret.js';

const { ok, problem } = finding;

/** PostgreSQL 16 changed CREATEROLE: it no longer grants every role, only those the role has ADMIN OPTION on. */
export const PG16 = 160_000;

/**
 * The master's part of a PostgreSQL preflight, read-only: one login as the master, then catalog
 * queries only (pg_roles, pg_auth_members through pg_has_role, the clone's role comment), never
 * a statement that changes anything. What alternating users needs: a superuser, or CREATEROLE;
 * on PostgreSQL 16+ also ADMIN OPTION on the user's role, on every role the user is a member of,
 * and on the clone when it exists (a CREATEROLE role has it on the roles it created). And a clone
 * that exists must carry Rotor's pairing marker for this secret (the same check setSecret makes).
 */
export const postgresPreflight: DatabasePreflight<PostgresSecret, void> = {
  async masterChecks(master: PostgresSecret, _current: PostgresSecret, pair: AlternatePair, _proof: void, ctx: PreflightContext<PostgresSecret>) {
    ctx.recordLogin();
    try {
      return await withConnection(master, (client) => masterFindings(client, master, pair));
    } catch (err) {
      return masterSessionFailed(err, master.username, isAuthFailure(err));
    }
  },
};

/**
 * The PostgreSQL kind with its preflight (`rotor preflight`), as the rotation function's entry
 * deploys it. Attached there, not in postgresKind.ts: the emergency and retire functions, which
 * hold every kind, never preflight and do not carry its code.
 */
export function withPostgresPreflight(kind: RotationKind<PostgresSecret>, source?: { env?: NodeJS.ProcessEnv }): RotationKind<PostgresSecret> {
  return withDatabasePreflight(kind, source ? createPostgresEngine(source) : postgresEngine, postgresPreflight);
}

async function masterFindings(client: pg.Client, master: PostgresSecret, pair: AlternatePair): Promise<PreflightFinding[]> {
  const found: PreflightFinding[] = [ok(DatabaseChecks.MASTER_LOGIN, `the master logs in as ${JSON.stringify(master.username)}`)];
  const { rows } = await client.query<{ version: number; rolsuper: boolean; rolcreaterole: boolean }>(
    `SELECT current_setting('server_version_num')::int AS version, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user`,
  );
  const me = rows[0];
  if (!me) throw new Error('the master session found no role of its own in pg_roles');
  const server = `PostgreSQL ${Math.floor(me.version / 10_000)}`;
  const masterIdent = client.escapeIdentifier(master.username);
  const exists = async (role: string) => (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 1;

  if (!(await exists(pair.base))) {
    found.push(problem(DatabaseChecks.MASTER_PRIVILEGES, `the user ${JSON.stringify(pair.base)} does not exist on the server`, 'the alternating pair is built from the base login: create it, or correct the secret\'s username'));
    return found;
  }
  // The pairing check setSecret makes first (read-only): a clone that exists must be Rotor's for this secret.
  let cloneExists: boolean;
  try {
    cloneExists = await verifyPairing(client, pair);
    found.push(
      ok(
        DatabaseChecks.CLONE_PAIRING,
        cloneExists
          ? `the alternate login ${JSON.stringify(pair.clone)} carries Rotor's pairing marker for this secret`
          : `no alternate login yet: the first rotation creates ${JSON.stringify(pair.clone)} with its pairing marker`,
      ),
    );
  } catch (err) {
    if (!(err instanceof UnsafeRotationError)) throw err;
    found.push(problem(DatabaseChecks.CLONE_PAIRING, err.message, 'see README.md, "Adopting a clone created before pairing markers"'));
    return found;
  }

  if (me.rolsuper) {
    found.push(ok(DatabaseChecks.MASTER_PRIVILEGES, `${server}: the master is a superuser`));
    return found;
  }
  if (!me.rolcreaterole) {
    found.push(
      problem(
        DatabaseChecks.MASTER_PRIVILEGES,
        `${server}: the master ${JSON.stringify(master.username)} has neither SUPERUSER nor CREATEROLE, so it cannot create the alternate login or set its password`,
        `as a superuser: ALTER ROLE ${masterIdent} CREATEROLE (on RDS and Aurora the master user has it)`,
      ),
    );
    return found;
  }
  if (me.version < PG16) {
    found.push(ok(DatabaseChecks.MASTER_PRIVILEGES, `${server}: the master has CREATEROLE, which before PostgreSQL 16 may grant the user's roles`));
    return found;
  }
  // PostgreSQL 16+: CREATEROLE acts only on roles it has ADMIN OPTION on.
  const needed = [...new Set([pair.base, ...(await memberships(client, pair.base)), ...(cloneExists ? [pair.clone] : [])])];
  const missing: string[] = [];
  for (const role of needed) {
    const res = await client.query<{ admin: boolean }>("SELECT pg_has_role(current_user, $1, 'MEMBER WITH ADMIN OPTION') AS admin", [role]);
    if (!res.rows[0]?.admin) missing.push(role);
  }
  if (missing.length > 0) {
    found.push(
      problem(
        DatabaseChecks.MASTER_PRIVILEGES,
        `${server}: the master has CREATEROLE but no ADMIN OPTION on ${missing.map((r) => JSON.stringify(r)).join(', ')}, which alternating users grants to the alternate login`,
        missing.map((r) => `GRANT ${client.escapeIdentifier(r)} TO ${masterIdent} WITH ADMIN OPTION`).join('; '),
      ),
    );
  } else {
    found.push(ok(DatabaseChecks.MASTER_PRIVILEGES, `${server}: the master has CREATEROLE and ADMIN OPTION on the user's role and its ${needed.length - 1} other role(s)`));
  }
  return found;
}
