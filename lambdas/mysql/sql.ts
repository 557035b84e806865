/**
 * The SQL text the MySQL kind sends, built here and nowhere else. Account names are quoted as
 * identifiers (backticks, which no sql_mode changes); passwords as string literals, which
 * ALTER USER and SET PASSWORD demand, escaped for the session's sql_mode.
 */

/** What the kind needs to know about the server it talks to. */
export interface ServerInfo {
  readonly flavour: 'mysql' | 'mariadb';
  /** major, minor, patch as VERSION() reports them. */
  readonly version: readonly [number, number, number];
  /** Whether `\` escapes inside string literals (false under NO_BACKSLASH_ESCAPES). */
  readonly backslashEscapes: boolean;
}

/** Reads `SELECT VERSION(), @@SESSION.sql_mode` ("10.11.19-MariaDB-0+deb12u1", "8.0.36"). */
export function parseServer(version: string, sqlMode: string): ServerInfo {
  const [major = 0, minor = 0, patch = 0] = (/^(\d+)\.(\d+)\.(\d+)/.exec(version)?.slice(1) ?? []).map(Number);
  return {
    flavour: /mariadb/i.test(version) ? 'mariadb' : 'mysql',
    version: [major, minor, patch],
    backslashEscapes: !sqlMode.toUpperCase().split(',').includes('NO_BACKSLASH_ESCAPES'),
  };
}

export function describeServer(server: ServerInfo): string {
  return `${server.flavour === 'mariadb' ? 'MariaDB' : 'MySQL'} ${server.version.join('.')}`;
}

function atLeast(server: ServerInfo, ...want: [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) {
    if (server.version[i]! !== want[i]!) return server.version[i]! > want[i]!;
  }
  return true;
}

/** `RETAIN CURRENT PASSWORD` / `DISCARD OLD PASSWORD` exist from MySQL 8.0.14; MariaDB has neither. */
export function supportsDualPassword(server: ServerInfo): boolean {
  return server.flavour === 'mysql' && atLeast(server, 8, 0, 14);
}

export function quoteIdentifier(name: string): string {
  if (name.includes('\u0000')) throw new Error('an identifier must not contain NUL');
  return `\`${name.replaceAll('`', '``')}\``;
}

/** A string literal that means `value` whatever the session's sql_mode. */
export function quoteString(value: string, server: Pick<ServerInfo, 'backslashEscapes'>): string {
  if (value.includes('\u0000')) throw new Error('a string literal must not contain NUL');
  const escaped = server.backslashEscapes ? value.replaceAll('\\', '\\\\') : value;
  return `'${escaped.replaceAll("'", "''")}'`;
}

/** A binary string literal (X'..'): safe in any sql_mode, for comparisons only. */
export function hexLiteral(value: string): string {
  return `X'${Buffer.from(value, 'utf8').toString('hex')}'`;
}

/** An account name, `user`@`host`. */
export function accountName(user: string, host: string): string {
  return `${quoteIdentifier(user)}@${quoteIdentifier(host)}`;
}

/** Splits CURRENT_USER()'s `user@host` (the host part holds no `@`; the user part may). */
export function splitAccount(account: string): { user: string; host: string } {
  const at = account.lastIndexOf('@');
  return at < 0 ? { user: account, host: '' } : { user: account.slice(0, at), host: account.slice(at + 1) };
}

/**
 * The statement a logged-in user runs to change its own password, for the account it logged
 * in as. MariaDB: `SET PASSWORD = PASSWORD(...)` (its ALTER USER, even for CURRENT_USER(),
 * needs the CREATE USER privilege). MySQL 5.7.6+: `ALTER USER USER() IDENTIFIED BY ...`, with
 * `REPLACE <current>` from 8.0.13 (required when password_require_current is on) and, in
 * dual-password mode, `RETAIN CURRENT PASSWORD` from 8.0.14.
 */
export function selfPasswordStatement(
  server: ServerInfo,
  change: { password: string; loggedInWith?: string; retainCurrent?: boolean },
): string {
  const literal = quoteString(change.password, server);
  if (change.retainCurrent && !supportsDualPassword(server)) {
    throw new Error(`${describeServer(server)} has no RETAIN CURRENT PASSWORD`);
  }
  if (server.flavour === 'mariadb' || !atLeast(server, 5, 7, 6)) {
    return `SET PASSWORD = PASSWORD(${literal})`;
  }
  let sql = `ALTER USER USER() IDENTIFIED BY ${literal}`;
  if (change.loggedInWith !== undefined && atLeast(server, 8, 0, 13)) {
    sql += ` REPLACE ${quoteString(change.loggedInWith, server)}`;
  }
  if (change.retainCurrent) sql += ' RETAIN CURRENT PASSWORD';
  return sql;
}

/** Drops the secondary password a `RETAIN CURRENT PASSWORD` kept (MySQL 8.0.14+). */
export function discardOldPasswordStatement(server: ServerInfo): string {
  if (!supportsDualPassword(server)) throw new Error(`${describeServer(server)} has no DISCARD OLD PASSWORD`);
  return 'ALTER USER USER() DISCARD OLD PASSWORD';
}

/**
 * The master's statement for the login being rotated in alternating-users: create it or set
 * its password, with the TLS requirement (`REQUIRE ...`) when one is given.
 */
export function masterPasswordStatement(
  server: ServerInfo,
  target: { user: string; host: string; exists: boolean; password: string; require?: string },
): string {
  const verb = target.exists ? 'ALTER' : 'CREATE';
  const require = target.require ? ` REQUIRE ${target.require}` : '';
  return `${verb} USER ${accountName(target.user, target.host)} IDENTIFIED BY ${quoteString(target.password, server)}${require}`;
}

/**
 * Where Rotor records which clone it created for which base login and secret (see
 * `pairingTableStatements`). MariaDB has no per-user comments or attributes, and MySQL's
 * `ATTRIBUTE` exists only from 8.0.21; a table works on every server this kind supports, and
 * the schema it lives in is created by the master and granted to nobody, so only an account
 * with privileges on it (or on every schema) can write a marker: not the login being rotated.
 */
export const PAIRING_SCHEMA = 'rotor';
export const PAIRING_TABLE = 'clone_pairs';
export const pairingTableName = `${quoteIdentifier(PAIRING_SCHEMA)}.${quoteIdentifier(PAIRING_TABLE)}`;

/**
 * The schema and table, created the first time Rotor creates a clone. Byte strings
 * (VARBINARY) compare names exactly, as the server compares user names; the key fits InnoDB's
 * 767-byte limit of older servers (128 characters of user name, 255 bytes of host part).
 */
export function pairingTableStatements(): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(PAIRING_SCHEMA)}`,
    `CREATE TABLE IF NOT EXISTS ${pairingTableName} (
       clone_user VARBINARY(512) NOT NULL,
       clone_host VARBINARY(255) NOT NULL,
       base_user VARBINARY(512) NOT NULL,
       secret_arn VARBINARY(2048) NOT NULL,
       created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
       PRIMARY KEY (clone_user, clone_host)
     ) ENGINE=InnoDB`,
  ];
}

/** The marker of one clone account: columns `base` and `secret` (byte strings), no row when none. */
export function readPairingStatement(clone: { user: string; host: string }): string {
  return `SELECT base_user AS base, secret_arn AS secret FROM ${pairingTableName}
           WHERE clone_user = ${hexLiteral(clone.user)} AND clone_host = ${hexLiteral(clone.host)}`;
}

/** Records (or, for an account that does not exist yet, replaces) the marker of a clone. */
export function writePairingStatement(clone: { user: string; host: string }, base: string, secretArn: string): string {
  return `REPLACE INTO ${pairingTableName} (clone_user, clone_host, base_user, secret_arn)
          VALUES (${hexLiteral(clone.user)}, ${hexLiteral(clone.host)}, ${hexLiteral(base)}, ${hexLiteral(secretArn)})`;
}

/** Removes a marker this secret wrote for a clone whose creation then failed. */
export function deletePairingStatement(clone: { user: string; host: string }, secretArn: string): string {
  return `DELETE FROM ${pairingTableName}
           WHERE clone_user = ${hexLiteral(clone.user)} AND clone_host = ${hexLiteral(clone.host)} AND secret_arn = ${hexLiteral(secretArn)}`;
}
