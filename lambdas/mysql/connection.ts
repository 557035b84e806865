import type mysql from 'mysql2/promise';
import { mysqlDefaults } from './options.js';
import type { MysqlSecret } from './secret.js';
import { parseServer, splitAccount, type ServerInfo } from './sql.js';

/** The server refused the user name or password (ER_ACCESS_DENIED_ERROR). */
const AUTH_FAILURE_ERRNOS = new Set([1045]);

export function isAuthFailure(err: unknown): boolean {
  return AUTH_FAILURE_ERRNOS.has((err as { errno?: number }).errno ?? 0);
}

/**
 * A copy of a mysql2 error fit for a message and a cause chain: name, code, errno and
 * sqlState, and the server's message without the `near '...'` excerpt of the statement (which
 * may hold part of a password, too short for the engine's redaction to recognise). The
 * original's `sql` and `sqlMessage` properties, which hold the whole statement, are not copied.
 */
export class DatabaseError extends Error {
  public readonly code?: string;
  public readonly errno?: number;
  public readonly sqlState?: string;

  public constructor(err: unknown, message?: string) {
    const e = (err ?? {}) as { message?: unknown; code?: unknown; errno?: unknown; sqlState?: unknown };
    const text = message ?? (typeof e.message === 'string' ? e.message : String(err));
    super(text.replace(/ near '[\s\S]*' at line \d+/, ' (statement not shown)'));
    this.name = 'DatabaseError';
    if (typeof e.code === 'string') this.code = e.code;
    if (typeof e.errno === 'number') this.errno = e.errno;
    if (typeof e.sqlState === 'string') this.sqlState = e.sqlState;
  }
}

/** Hosts that answered "no TLS" to a prefer-TLS connection, so later logins skip the TLS attempt. */
const plainHosts = new Set<string>();

export type Credentials = Pick<MysqlSecret, 'host' | 'port' | 'username' | 'password' | 'dbname' | 'ssl'>;

export interface Timeouts {
  readonly connectTimeoutMs: number;
  readonly queryTimeoutMs: number;
}

/**
 * A logged-in session. `run` sends one statement; its errors are DatabaseErrors, so no
 * statement text leaves through them.
 */
export class Session {
  public constructor(
    private readonly conn: mysql.Connection,
    private readonly timeouts: Timeouts,
  ) {}

  public async rows<T extends Record<string, unknown>>(sql: string): Promise<T[]> {
    try {
      const [rows] = await this.conn.query({ sql, timeout: this.timeouts.queryTimeoutMs });
      return rows as T[];
    } catch (err) {
      throw new DatabaseError(err);
    }
  }

  public async run(sql: string): Promise<void> {
    await this.rows(sql);
  }

  /** The account the server matched this login to, its version and the session's sql_mode. */
  public async identify(): Promise<{ user: string; host: string; server: ServerInfo }> {
    const [row] = await this.rows<{ account: string; version: string; sqlMode: string }>(
      'SELECT CURRENT_USER() AS account, VERSION() AS version, @@SESSION.sql_mode AS sqlMode',
    );
    if (!row) throw new Error('SELECT CURRENT_USER() returned no row');
    return { ...splitAccount(String(row.account)), server: parseServer(String(row.version), String(row.sqlMode ?? '')) };
  }

  public async close(): Promise<void> {
    await this.conn.end().catch(() => this.conn.destroy());
  }
}

/**
 * Logs in with a secret's credentials. `ssl` true requires TLS and verifies the server
 * certificate and name, false connects in plain text, absent prefers TLS (verified) and falls
 * back to plain only when the server does not offer TLS at all.
 */
export async function connect(creds: Credentials, timeouts: Timeouts = mysqlDefaults): Promise<Session> {
  const key = `${creds.host}:${creds.port}`;
  const tls = creds.ssl === true || (creds.ssl === undefined && !plainHosts.has(key));
  try {
    return await open(creds, tls, timeouts);
  } catch (err) {
    if (creds.ssl === undefined && tls && (err as { code?: string }).code === 'HANDSHAKE_NO_SSL_SUPPORT') {
      plainHosts.add(key);
      return open(creds, false, timeouts).catch((e: unknown) => {
        throw new DatabaseError(e);
      });
    }
    if (creds.ssl === true && (err as { code?: string }).code === 'HANDSHAKE_NO_SSL_SUPPORT') {
      throw new DatabaseError(err, `${key} does not offer TLS and the secret requires it (ssl: true); not logging in without TLS`);
    }
    throw new DatabaseError(err);
  }
}

async function open(creds: Credentials, tls: boolean, timeouts: Timeouts): Promise<Session> {
  // Loaded on the first login, not at init: createSecret and finishSecret never need the driver.
  const { default: driver } = await import('mysql2/promise');
  const conn = await driver.createConnection({
    host: creds.host,
    port: creds.port,
    user: creds.username,
    password: creds.password,
    database: creds.dbname,
    ssl: tls ? { rejectUnauthorized: true, verifyIdentity: true } : undefined,
    connectTimeout: timeouts.connectTimeoutMs,
    charset: 'utf8mb4',
    multipleStatements: false,
  });
  // An idle connection's socket error must not crash the function.
  conn.on('error', () => undefined);
  return new Session(conn, timeouts);
}

/** Logs in, runs `fn`, and always closes the connection. */
export async function withSession<T>(
  creds: Credentials,
  timeouts: Timeouts,
  fn: (session: Session) => Promise<T>,
): Promise<T> {
  const session = await connect(creds, timeouts);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}
