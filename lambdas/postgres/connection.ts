import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type pg from 'pg';
import type { PostgresSecret } from './secret.js';

export const connectionDefaults = {
  /** A host that does not answer fails the step in this time, well inside the Lambda's timeout. */
  connectTimeoutMs: 5_000,
  queryTimeoutMs: 10_000,
  scramIterations: 4096,
} as const;

/** The application_name of every Rotor session (so session counts can leave Rotor's own out). */
export const ROTOR_APPLICATION_NAME = 'rotor';

/** PostgreSQL's answer to a wrong password or an unknown role. */
const AUTH_FAILURE_CODES = new Set(['28P01', '28000']);

export function isAuthFailure(err: unknown): boolean {
  return AUTH_FAILURE_CODES.has((err as { code?: string }).code ?? '');
}

/** Hosts that answered "no TLS" to a `prefer` connection, so later logins skip the TLS attempt. */
const plainHosts = new Set<string>();

export type Credentials = Pick<PostgresSecret, 'host' | 'port' | 'username' | 'password' | 'dbname' | 'ssl'>;

/**
 * Opens a connection with a secret's credentials. `ssl` true requires TLS and verifies the
 * server certificate, false connects in plain text, absent prefers TLS (verified) and falls back
 * to plain only when the server does not offer TLS at all.
 */
export async function connect(creds: Credentials): Promise<pg.Client> {
  const key = `${creds.host}:${creds.port}`;
  const tls = creds.ssl === true || (creds.ssl === undefined && !plainHosts.has(key));
  try {
    return await open(creds, tls);
  } catch (err) {
    if (creds.ssl === undefined && tls && /does not support SSL/.test((err as Error).message)) {
      plainHosts.add(key);
      return open(creds, false);
    }
    throw err;
  }
}

async function open(creds: Credentials, tls: boolean): Promise<pg.Client> {
  // Loaded on the first login, not at init: createSecret and finishSecret never need the driver.
  const { default: driver } = await import('pg');
  const client = new driver.Client({
    host: creds.host,
    port: creds.port,
    user: creds.username,
    password: creds.password,
    database: creds.dbname,
    // SNI carries host names only (RFC 6066); certificates of IP hosts are still verified.
    ssl: tls ? { rejectUnauthorized: true, ...(isIP(creds.host) ? {} : { servername: creds.host }) } : false,
    connectionTimeoutMillis: connectionDefaults.connectTimeoutMs,
    query_timeout: connectionDefaults.queryTimeoutMs,
    application_name: ROTOR_APPLICATION_NAME,
  });
  // An idle client's socket error must not crash the function.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}

/** Logs in, runs `fn`, and always closes the connection. */
export async function withConnection<T>(creds: Credentials, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(creds);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password. Sending the verifier instead of
 * the password keeps the plain text out of the server's statement log and pg_stat_statements.
 * Only for ASCII passwords (SASLprep is then the identity), which GetRandomPassword produces.
 */
export function scramVerifier(password: string, iterations: number = connectionDefaults.scramIterations): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** The literal to put after PASSWORD: a SCRAM verifier where possible, else the quoted password. */
export function passwordLiteral(client: pg.Client, password: string): string {
  // eslint-disable-next-line no-control-regex
  const ascii = /^[\x20-\x7e]+$/.test(password);
  return client.escapeLiteral(ascii ? scramVerifier(password) : password);
}
