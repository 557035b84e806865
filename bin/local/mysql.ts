import mysql from 'mysql2/promise';

/**
 * The machine's MariaDB (or MySQL) server the integration tests use. Settings come from
 * MYSQL_HOST, MYSQL_PORT, MYSQL_ROOT_USER and MYSQL_ROOT_PASSWORD, with this machine's
 * values as defaults; MYSQL_TEST_USER_HOST is the host part of the accounts tests create.
 */
export const mysqlServer = {
  host: process.env.MYSQL_HOST || '127.0.0.1',
  port: Number(process.env.MYSQL_PORT || 3306),
  root: { username: process.env.MYSQL_ROOT_USER || 'root', password: process.env.MYSQL_ROOT_PASSWORD ?? '' },
  userHost: process.env.MYSQL_TEST_USER_HOST || '%',
} as const;

/** Identifier and literal quoting for arranging tests (mysql2's own, not the code under test's). */
export const ident = (name: string): string => mysql.escapeId(name, true);
export const lit = (value: string): string => mysql.escape(value);
export const account = (user: string, host: string = mysqlServer.userHost): string => `${ident(user)}@${lit(host)}`;

/** A root session for arranging and inspecting a test's accounts. */
export async function rootConnection(): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: mysqlServer.host,
    port: mysqlServer.port,
    user: mysqlServer.root.username,
    password: mysqlServer.root.password,
    charset: 'utf8mb4',
  });
}

/**
 * Logs in and answers the account the server matched (CURRENT_USER()), or undefined when the
 * login is refused; anything but a refusal is rethrown.
 */
export async function mysqlLogin(
  username: string,
  password: string,
  options: { dbname?: string; port?: number } = {},
): Promise<string | undefined> {
  let conn: mysql.Connection | undefined;
  try {
    conn = await mysql.createConnection({
      host: mysqlServer.host,
      port: options.port ?? mysqlServer.port,
      user: username,
      password,
      database: options.dbname,
      charset: 'utf8mb4',
      connectTimeout: 5_000,
    });
    const [rows] = await conn.query('SELECT CURRENT_USER() AS account');
    return String((rows as Array<{ account: string }>)[0]?.account);
  } catch (err) {
    if ((err as { errno?: number }).errno === 1045) return undefined;
    throw err;
  } finally {
    await conn?.end().catch(() => undefined);
  }
}

/**
 * Anonymous accounts (''@'localhost' and the like) shadow 'name'@'%' for logins they match.
 * Tests create their accounts with MYSQL_TEST_USER_HOST ('%' by default); with anonymous
 * accounts that match the test client, set it to the client's address (127.0.0.1).
 */
export async function anonymousAccounts(root: mysql.Connection): Promise<string[]> {
  const [rows] = await root.query("SELECT Host AS host FROM mysql.user WHERE User = ''");
  return (rows as Array<{ host: string }>).map((r) => r.host);
}

/**
 * Remembers the accounts and databases a test file creates and drops them all at the end,
 * whatever the tests left behind.
 */
export class MysqlFixtures {
  private readonly accounts = new Set<string>();
  private readonly databases = new Set<string>();
  /** Clone accounts whose Rotor pairing markers (rotor.clone_pairs rows) are removed too. */
  private readonly clones: Array<{ user: string; host: string }> = [];

  public constructor(private readonly root: () => mysql.Connection) {}

  public async createUser(user: string, password: string, host: string = mysqlServer.userHost): Promise<void> {
    this.accounts.add(account(user, host));
    this.accounts.add(account(`${user}_clone`, host));
    this.clones.push({ user: `${user}_clone`, host });
    await this.root().query(`CREATE USER ${account(user, host)} IDENTIFIED BY ${lit(password)}`);
  }

  public async createDatabase(name: string): Promise<void> {
    this.databases.add(name);
    await this.root().query(`CREATE DATABASE ${ident(name)}`);
  }

  public async dropAll(): Promise<void> {
    for (const a of this.accounts) await this.root().query(`DROP USER IF EXISTS ${a}`);
    for (const d of this.databases) await this.root().query(`DROP DATABASE IF EXISTS ${ident(d)}`);
    for (const c of this.clones) {
      await this.root()
        .query('DELETE FROM rotor.clone_pairs WHERE clone_user = ? AND clone_host = ?', [c.user, c.host])
        .catch((err: unknown) => {
          // No clone was ever created on this server: there is no table to clean.
          if (![1049, 1146].includes((err as { errno?: number }).errno ?? 0)) throw err;
        });
    }
    this.accounts.clear();
    this.databases.clear();
    this.clones.length = 0;
  }
}
