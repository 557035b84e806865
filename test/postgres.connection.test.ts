import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildResult } from './support/rotateInChild.js';
import { pgLogin, startPostgresCluster, testPassword, uniqueName, type PostgresCluster } from '../bin/local/postgres.js';
import { useRotationSuite } from './support/rotationSuite.js';
import { TestPki, type TestCa } from '../bin/local/tls.js';

/**
 * The positive TLS paths against a real TLS-serving PostgreSQL. The handler must trust a test CA
 * the way Lambda trusts the RDS CAs, through NODE_EXTRA_CA_CERTS, which Node reads only at
 * start-up: so each rotation runs in a child process (support/rotateInChild.ts) started with it.
 * The server's own log (log_connections) shows whether each of the rotation's logins used TLS.
 */

const suite = useRotationSuite();
const childScript = fileURLToPath(new URL('./support/rotateInChild.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

let pki: TestPki;
let trustedCa: TestCa;
let strangerCa: TestCa;
let cluster: PostgresCluster;
let admin: pg.Client;

beforeAll(async () => {
  pki = new TestPki();
  trustedCa = pki.ca('trusted');
  strangerCa = pki.ca('stranger');
  cluster = await startPostgresCluster({ tls: pki.serverCert(trustedCa, 'server'), logConnections: true });
  admin = await verifiedClient(cluster.superuser.username, cluster.superuser.password, trustedCa);
});
afterAll(async () => {
  await admin?.end().catch(() => undefined);
  cluster?.stop();
  pki?.remove();
});

/** A connection that requires TLS and verifies the server against `ca` only. */
async function verifiedClient(user: string, password: string, ca: TestCa, database = 'postgres'): Promise<pg.Client> {
  const client = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user,
    password,
    database,
    ssl: { ca: readFileSync(ca.certFile, 'utf8'), rejectUnauthorized: true },
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}

async function usesTls(client: pg.Client): Promise<boolean> {
  const res = await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  return res.rows[0]!.ssl;
}

interface Arranged {
  arn: string;
  username: string;
  password: string;
  dbname: string;
}

async function arrangeUser(secret: Record<string, unknown> = {}): Promise<Arranged> {
  const username = uniqueName('tls');
  const password = testPassword();
  const dbname = uniqueName('db');
  await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
  await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(dbname)} OWNER ${admin.escapeIdentifier(username)}`);
  const arn = await suite.secret(uniqueName('secret'), {
    engine: 'postgres',
    host: cluster.host,
    port: cluster.port,
    username,
    password,
    dbname,
    ...secret,
  });
  return { arn, username, password, dbname };
}

interface ChildRun {
  result: ChildResult;
  /** What the server logged while the child ran (before the test's own logins). */
  serverLog: string;
  /** Where the child's part of the server log starts. */
  logStart: number;
}

/**
 * Starts a rotation as the service does, then runs its four steps in a child process that
 * trusts `ca` (besides Node's bundled CAs) through NODE_EXTRA_CA_CERTS.
 */
async function rotateInChild(arn: string, ca: TestCa): Promise<ChildRun> {
  const token = await suite.player.startRotation(arn);
  const logStart = cluster.serverLog().length;
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: ca.certFile };
  const request = { endpoint: suite.moto.endpoint, secretId: arn, token, env: { ROTATION_STRATEGY: 'single-user' } };
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, JSON.stringify(request)], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const serverLog = cluster.serverLog().slice(logStart);
  // What the function printed would reach CloudWatch: it is checked for secret values too.
  suite.logs.note(stdout);
  suite.logs.note(stderr);
  const line = stdout.split('\n').filter((l) => l.startsWith('RESULT ')).at(-1);
  if (code !== 0 || !line) throw new Error(`rotation child exited ${code} without a result:\n${stderr.slice(-2000)}`);
  return { result: JSON.parse(line.slice('RESULT '.length)) as ChildResult, serverLog, logStart };
}

/**
 * What the server saw of `username`'s logins, from its log (log_connections): each accepted
 * login's "connection authorized" line (which ends in "SSL enabled (...)" for a TLS one), and
 * for each refused password the pg_hba.conf rule it matched (hostssl or hostnossl).
 */
function serverSaw(log: string, username: string) {
  const lines = log.split('\n');
  const pidOf = (l: string) => /\[(\d+)\]/.exec(l)?.[1];
  const authorized = lines.filter((l) => l.includes(`connection authorized: user=${username} `));
  const refusedVia = lines
    .filter((l) => l.includes(`FATAL:  password authentication failed for user "${username}"`))
    .map((fatal) => {
      const detail = lines.find((l) => pidOf(l) === pidOf(fatal) && l.includes('DETAIL:  Connection matched'));
      return /"(hostssl|hostnossl) /.exec(detail ?? '')?.[1] ?? 'unknown';
    });
  const handshakesRefused = lines.filter((l) => l.includes('could not accept SSL connection')).length;
  return { authorized, refusedVia, handshakesRefused };
}

const TLS_LOGIN = /application_name=rotor SSL enabled \(protocol=TLSv1\.[23]/;

async function current(arn: string) {
  return suite.player.value<{ username: string; password: string; dbname: string; ssl?: unknown }>(arn);
}

const CERTIFICATE_ERROR = /unable to verify the first certificate|self[- ]signed certificate|unable to get local issuer certificate/i;

describe('the TLS test cluster', () => {
  it('serves TLS verified against the test CA and plain text, both with password authentication', async () => {
    const user = await arrangeUser();
    const tls = await verifiedClient(user.username, user.password, trustedCa, user.dbname);
    try {
      expect(await usesTls(tls)).toBe(true);
    } finally {
      await tls.end();
    }
    await expect(verifiedClient(user.username, `${user.password}x`, trustedCa, user.dbname)).rejects.toMatchObject({
      code: '28P01',
    });
    await expect(verifiedClient(user.username, user.password, strangerCa, user.dbname)).rejects.toThrow(CERTIFICATE_ERROR);
    // pgLogin connects in plain text.
    expect(await pgLogin(cluster, user.username, user.password, user.dbname)).toBe(true);
    expect(await pgLogin(cluster, user.username, `${user.password}x`, user.dbname)).toBe(false);
  });
});

describe('PostgresRotation over TLS (handler trusts the CA through NODE_EXTRA_CA_CERTS)', () => {
  it('(a) ssl true with a trusted CA: rotates, and every login of the rotation used TLS', async () => {
    const user = await arrangeUser({ ssl: true });
    const { result, serverLog } = await rotateInChild(user.arn, trustedCa);
    expect(result).toMatchObject({ ok: true });
    expect(result.outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
    const saw = serverSaw(serverLog, user.username);
    // setSecret: the pending password is refused, the current one changes it; testSecret logs in.
    expect(saw.authorized).toHaveLength(2);
    for (const l of saw.authorized) expect(l).toMatch(TLS_LOGIN);
    expect(saw.refusedVia).toEqual(['hostssl']);
    const now = await current(user.arn);
    expect(now.password).not.toBe(user.password);
    expect(now.ssl).toBe(true);
    const client = await verifiedClient(now.username, now.password, trustedCa, now.dbname);
    try {
      expect(await usesTls(client)).toBe(true);
    } finally {
      await client.end();
    }
    expect(await pgLogin(cluster, user.username, user.password, user.dbname)).toBe(false);
  });

  it('(b) ssl true with an untrusted CA: the step fails on the certificate, the current password still logs in', async () => {
    const user = await arrangeUser({ ssl: true });
    const { result, serverLog, logStart } = await rotateInChild(user.arn, strangerCa);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.step).toBe('setSecret');
    expect(result.error.message).toMatch(CERTIFICATE_ERROR);
    // The server saw the client abort the TLS handshake, and no login attempt at all.
    expect(serverSaw(serverLog, user.username)).toMatchObject({ authorized: [], refusedVia: [] });
    // The server logs the aborted handshake when it reads the client's close: maybe a moment later.
    await expect.poll(() => serverSaw(cluster.serverLog().slice(logStart), user.username).handshakesRefused).toBe(1);
    expect((await current(user.arn)).password).toBe(user.password);
    expect(await pgLogin(cluster, user.username, user.password, user.dbname)).toBe(true);
  });

  it('(c) ssl absent with a trusted CA: prefers TLS and gets it, no plain-text login', async () => {
    const user = await arrangeUser();
    const { result, serverLog } = await rotateInChild(user.arn, trustedCa);
    expect(result).toMatchObject({ ok: true });
    const saw = serverSaw(serverLog, user.username);
    expect(saw.authorized).toHaveLength(2);
    for (const l of saw.authorized) expect(l).toMatch(TLS_LOGIN);
    expect(saw.refusedVia).toEqual(['hostssl']);
    const now = await current(user.arn);
    expect(now.password).not.toBe(user.password);
    expect(now).not.toHaveProperty('ssl');
    expect(await pgLogin(cluster, now.username, now.password, now.dbname)).toBe(true);
  });

  it('(d) ssl absent with an untrusted CA: fails, never falls back to plain text when the server offers TLS', async () => {
    const user = await arrangeUser();
    const { result, serverLog, logStart } = await rotateInChild(user.arn, strangerCa);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.step).toBe('setSecret');
    expect(result.error.message).toMatch(CERTIFICATE_ERROR);
    // Not a single login of Rotor's reached the server, over TLS or in plain text.
    // The server saw the client abort the TLS handshake, and no login attempt at all.
    expect(serverSaw(serverLog, user.username)).toMatchObject({ authorized: [], refusedVia: [] });
    // The server logs the aborted handshake when it reads the client's close: maybe a moment later.
    await expect.poll(() => serverSaw(cluster.serverLog().slice(logStart), user.username).handshakesRefused).toBe(1);
    expect((await current(user.arn)).password).toBe(user.password);
    expect(await pgLogin(cluster, user.username, user.password, user.dbname)).toBe(true);
  });
});
