import type mysql from 'mysql2/promise';
import type pg from 'pg';
import { account, ident, lit, mysqlServer } from './mysql.js';

/**
 * Many database logins at once, for benchmarks that need hundreds of real logins (the emergency
 * fan-out): created and dropped in a few batched statements instead of one round trip each.
 * Names are the caller's (generated, never user input); quoting is the drivers' own.
 */

export interface Login {
  readonly username: string;
  readonly password: string;
}

/** Statements per round trip: a batch stays well inside the servers' packet and statement limits. */
const BATCH = 200;

function chunks<T>(items: readonly T[], size = BATCH): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** CREATE ROLE ... LOGIN PASSWORD for every login, BATCH statements per query (a simple query may hold several). */
export async function createPostgresLogins(admin: pg.Client, logins: readonly Login[]): Promise<void> {
  for (const batch of chunks(logins)) {
    await admin.query(
      batch.map((l) => `CREATE ROLE ${admin.escapeIdentifier(l.username)} LOGIN PASSWORD ${admin.escapeLiteral(l.password)};`).join('\n'),
    );
  }
}

/**
 * Drops PostgreSQL logins that may or may not exist (a bench's clones), BATCH per query. A
 * throwaway cluster needs none of this; a shared server does.
 */
export async function dropPostgresLogins(admin: pg.Client, usernames: readonly string[]): Promise<void> {
  for (const batch of chunks(usernames)) {
    await admin.query(batch.map((u) => `DROP ROLE IF EXISTS ${admin.escapeIdentifier(u)};`).join('\n'));
  }
}

/** One CREATE USER naming BATCH accounts (MariaDB and MySQL both take a list). */
export async function createMysqlLogins(root: mysql.Connection, logins: readonly Login[], host: string = mysqlServer.userHost): Promise<void> {
  for (const batch of chunks(logins)) {
    await root.query(`CREATE USER ${batch.map((l) => `${account(l.username, host)} IDENTIFIED BY ${lit(l.password)}`).join(', ')}`);
  }
}

/**
 * Drops MySQL/MariaDB accounts, with their `_clone` accounts and the clones' Rotor pairing rows,
 * BATCH accounts per statement. Accounts that do not exist are skipped (IF EXISTS).
 */
export async function dropMysqlLogins(root: mysql.Connection, usernames: readonly string[], host: string = mysqlServer.userHost): Promise<void> {
  const all = usernames.flatMap((u) => [u, `${u}_clone`]);
  for (const batch of chunks(all)) {
    await root.query(`DROP USER IF EXISTS ${batch.map((u) => account(u, host)).join(', ')}`);
  }
  for (const batch of chunks(usernames)) {
    await root
      .query(`DELETE FROM ${ident('rotor')}.${ident('clone_pairs')} WHERE clone_host = ${lit(host)} AND clone_user IN (${batch.map((u) => lit(`${u}_clone`)).join(', ')})`)
      .catch((err: unknown) => {
        // No clone was ever created on this server: there is no table to clean.
        if (![1049, 1146].includes((err as { errno?: number }).errno ?? 0)) throw err;
      });
  }
}
