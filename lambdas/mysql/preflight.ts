import { CheckStatuses } from '../contract/index.js';
import { UnsafeRotationError } from '../core/errors.js';
import type { PreflightContext, PreflightFinding, RotationKind } from '../core/types.js';
import { checkPairing } from '../database/alternatingUsers.js';
import type { AlternatePair } from '../database/databaseKind.js';
import { DatabaseChecks, withDatabasePreflight, type DatabasePreflight } from '../database/preflight.js';
import { isAuthFailure, withSession, type Session } from './connection.js';
import { PAIRING_WHERE, readPairing, type MysqlKind } from './mysqlKind.js';
import type { MysqlOptions } from './options.js';
import type { MysqlSecret } from './secret.js';
import { accountName, describeServer, hexLiteral } from './sql.js';

const ok = (check: string, detail: string): PreflightFinding => ({ check, status: CheckStatuses.OK, detail });
const problem = (check: string, detail: string, fix: string): PreflightFinding => ({ check, status: CheckStatuses.PROBLEM, detail, fix });
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The master's part of a MySQL/MariaDB preflight, read-only: one master session of SELECT and
 * SHOW statements only. What alternating users needs of the master: the CREATE USER privilege
 * and GRANT OPTION (global, as USER_PRIVILEGES reports them), reading mysql.user and the user's
 * grants (SHOW GRANTS FOR, as setSecret does); and a clone that exists must carry Rotor's pairing
 * marker for this secret (rotor.clone_pairs, the same check setSecret makes). `host` is the
 * account's host part, as the current login proved it (proveCurrent).
 */
export function mysqlPreflight(settings: () => MysqlOptions): DatabasePreflight<MysqlSecret, string> {
  return {
    async masterChecks(master: MysqlSecret, _current: MysqlSecret, pair: AlternatePair, host: string, ctx: PreflightContext<MysqlSecret>) {
      ctx.recordLogin();
      try {
        return await withSession(master, settings(), (s) => masterFindings(s, pair, host, ctx));
      } catch (err) {
        if (isAuthFailure(err)) {
          return [
            problem(
              DatabaseChecks.MASTER_LOGIN,
              `the database refuses the master secret's password for ${JSON.stringify(master.username)}`,
              'store the master password the database has in the master secret',
            ),
          ];
        }
        return [problem(DatabaseChecks.MASTER_LOGIN, `the master session failed: ${messageOf(err)}`, 'see the error: setSecret would fail the same way')];
      }
    },
  };
}

/**
 * The MySQL kind with its preflight (`rotor preflight`), as the rotation function's entry deploys
 * it. Attached there, not in mysqlKind.ts: the emergency and retire functions, which hold every
 * kind, never preflight and do not carry its code.
 */
export function withMysqlPreflight(kind: MysqlKind): RotationKind<MysqlSecret> {
  return withDatabasePreflight(kind, kind.engine, mysqlPreflight(kind.options));
}

async function masterFindings(s: Session, pair: AlternatePair, host: string, ctx: PreflightContext<MysqlSecret>): Promise<PreflightFinding[]> {
  const who = await s.identify();
  const masterAccount = accountName(who.user, who.host);
  const found: PreflightFinding[] = [ok(DatabaseChecks.MASTER_LOGIN, `the master logs in as ${masterAccount} (${describeServer(who.server)})`)];

  // What setSecret reads first: the user and its clone in mysql.user, the user's grants.
  const base = accountName(pair.base, host);
  let counts: { base: number; clone: number };
  try {
    const [row] = await s.rows<{ base: number | string; clone: number | string }>(
      `SELECT (SELECT COUNT(*) FROM mysql.user WHERE User = ${hexLiteral(pair.base)} AND Host = ${hexLiteral(host)}) AS base,
              (SELECT COUNT(*) FROM mysql.user WHERE User = ${hexLiteral(pair.clone)} AND Host = ${hexLiteral(host)}) AS clone`,
    );
    counts = { base: Number(row?.base ?? 0), clone: Number(row?.clone ?? 0) };
    if (counts.base === 0) {
      found.push(problem(DatabaseChecks.MASTER_PRIVILEGES, `the user ${base} does not exist`, 'the alternating pair is built from the base account: create it, or correct the secret\'s username'));
      return found;
    }
    await s.rows(`SHOW GRANTS FOR ${base}`);
  } catch (err) {
    found.push(
      problem(
        DatabaseChecks.MASTER_PRIVILEGES,
        `the master cannot read mysql.user or the grants of ${base}: ${messageOf(err)}`,
        `GRANT SELECT ON mysql.* TO ${masterAccount} (setSecret reads the user's account and grants to copy them to the clone)`,
      ),
    );
    return found;
  }

  if (counts.clone > 0) {
    try {
      checkPairing(await readPairing(s, { user: pair.clone, host }, ctx), { ...pair, where: PAIRING_WHERE });
      found.push(ok(DatabaseChecks.CLONE_PAIRING, `the alternate login ${accountName(pair.clone, host)} carries Rotor's pairing marker for this secret`));
    } catch (err) {
      if (!(err instanceof UnsafeRotationError)) throw err;
      found.push(problem(DatabaseChecks.CLONE_PAIRING, err.message, 'see README.md, "Adopting a clone created before pairing markers"'));
      return found;
    }
  } else {
    found.push(ok(DatabaseChecks.CLONE_PAIRING, `no alternate login yet: the first rotation creates ${accountName(pair.clone, host)} with its pairing marker`));
  }

  // Global privileges of the master's own account (MySQL 8: privileges held through a role are not listed there).
  const rows = await s.rows<{ privilege: string; grantable: string }>(
    `SELECT PRIVILEGE_TYPE AS privilege, IS_GRANTABLE AS grantable FROM information_schema.USER_PRIVILEGES
      WHERE GRANTEE = ${hexLiteral(`'${who.user}'@'${who.host}'`)}`,
  );
  const createUser = rows.some((r) => String(r.privilege).toUpperCase() === 'CREATE USER');
  const grantOption = rows.some((r) => String(r.grantable).toUpperCase() === 'YES');
  const missing = [...(createUser ? [] : ['CREATE USER']), ...(grantOption ? [] : ['GRANT OPTION'])];
  if (missing.length > 0) {
    found.push(
      problem(
        DatabaseChecks.MASTER_PRIVILEGES,
        `the master ${masterAccount} lacks ${missing.join(' and ')} (global), which alternating users needs to create the alternate login and copy the user's grants to it`,
        `as an administrator: GRANT CREATE USER ON *.* TO ${masterAccount} WITH GRANT OPTION` +
          ' (and the privileges the user holds, which it copies; on RDS the master user has them)',
      ),
    );
  } else {
    found.push(ok(DatabaseChecks.MASTER_PRIVILEGES, `the master holds CREATE USER and GRANT OPTION (global)`));
  }
  return found;
}
