import { execFileSync, execSync } from 'node:child_process';
import { noteCredential } from './hygiene.js';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';

export interface PostgresCluster {
  readonly host: string;
  readonly port: number;
  /** The superuser, which logs in with a password like every other role here. */
  readonly superuser: { username: string; password: string };
  /** The server's log (with `logConnections`, one line per authorized connection). */
  serverLog(): string;
  stop(): void;
}

export interface PostgresClusterOptions {
  /**
   * Serve TLS with this certificate and key (PEM). They are copied into the cluster's directory,
   * owned by the server's user, the key with mode 0600 as PostgreSQL requires. Plain and TLS
   * connections alike then authenticate with scram-sha-256.
   */
  tls?: { certFile: string; keyFile: string };
  /** log_connections=on: the log shows each login's user, application_name and whether it used TLS. */
  logConnections?: boolean;
}

function binDir(): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b));
  const latest = versions.at(-1);
  if (!latest) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  return join('/usr/lib/postgresql', latest, 'bin');
}

/**
 * Starts a throwaway PostgreSQL cluster on a free loopback port with scram-sha-256 for every
 * connection, so that a login proves the password (the machine's own server trusts local
 * logins). initdb refuses to run as root, so as root the cluster belongs to `postgres`.
 */
export async function startPostgresCluster(options: PostgresClusterOptions = {}): Promise<PostgresCluster> {
  const bin = binDir();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rotor-pg-'));
  const password = randomBytes(18).toString('base64url');
  const asRoot = process.getuid?.() === 0;
  writeFileSync(join(dir, 'pw'), `${password}\n`, { mode: 0o600 });
  if (asRoot) {
    chownSync(dir, uid('postgres'), gid('postgres'));
    chownSync(join(dir, 'pw'), uid('postgres'), gid('postgres'));
  }
  const run = (cmd: string) =>
    asRoot ? execFileSync('su', ['postgres', '-s', '/bin/sh', '-c', cmd], { stdio: 'pipe' }) : execSync(cmd, { stdio: 'pipe' });
  const data = join(dir, 'data');
  run(`${bin}/initdb -D ${data} -U postgres --pwfile=${dir}/pw --auth=scram-sha-256 --no-locale --no-sync -E UTF8`);
  const extra: string[] = [];
  if (options.tls) {
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    copyFileSync(options.tls.certFile, cert);
    copyFileSync(options.tls.keyFile, key);
    for (const [file, mode] of [[cert, 0o644], [key, 0o600]] as const) {
      chmodSync(file, mode);
      if (asRoot) chownSync(file, uid('postgres'), gid('postgres'));
    }
    // Explicit rules instead of initdb's `host` lines: TLS and plain TCP logins both need scram.
    writeFileSync(
      join(data, 'pg_hba.conf'),
      [
        'local all all scram-sha-256',
        'hostssl all all 127.0.0.1/32 scram-sha-256',
        'hostnossl all all 127.0.0.1/32 scram-sha-256',
        '',
      ].join('\n'),
    );
    extra.push('-c ssl=on', `-c ssl_cert_file=${cert}`, `-c ssl_key_file=${key}`);
  }
  if (options.logConnections) extra.push('-c log_connections=on');
  run(
    `${bin}/pg_ctl -D ${data} -l ${dir}/log -w -o "-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200${extra.map((e) => ` ${e}`).join('')}" start`,
  );
  rmSync(join(dir, 'pw'), { force: true });
  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    superuser: { username: 'postgres', password },
    serverLog() {
      return readFileSync(join(dir, 'log'), 'utf8');
    },
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run(`${bin}/pg_ctl -D ${data} -m immediate -w stop`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function uid(user: string): number {
  return Number(execFileSync('id', ['-u', user]).toString().trim());
}
function gid(user: string): number {
  return Number(execFileSync('id', ['-g', user]).toString().trim());
}

/** A superuser session on the cluster, for arranging and inspecting a test's roles. */
export async function adminClient(cluster: PostgresCluster, database = 'postgres'): Promise<pg.Client> {
  const client = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user: cluster.superuser.username,
    password: cluster.superuser.password,
    database,
  });
  await client.connect();
  return client;
}

/** Answers whether a login with these credentials is accepted; rethrows anything but a refusal. */
export async function pgLogin(
  cluster: PostgresCluster,
  username: string,
  password: string,
  database = 'postgres',
): Promise<boolean> {
  const client = new pg.Client({ host: cluster.host, port: cluster.port, user: username, password, database });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (err) {
    if (['28P01', '28000'].includes((err as { code?: string }).code ?? '')) return false;
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A password that no rotation produced (tests generate every credential at run time). */
export function testPassword(): string {
  const password = randomBytes(24).toString('base64url');
  noteCredential(password);
  return password;
}

/** A short unique suffix for names a test owns. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}
