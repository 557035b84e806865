import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { freePort, waitFor } from './ports.js';

export interface MariadbServer {
  readonly host: string;
  readonly port: number;
  /** A root session (no password, as mariadb-install-db leaves it) for arranging a test. */
  root(): Promise<mysql.Connection>;
  stop(): Promise<void>;
}

/**
 * A throwaway MariaDB server on a free loopback port (TESTING.md: mariadb-install-db, then
 * mariadbd), for tests that must change server-wide settings (a password validation plugin) the
 * machine's shared server must keep. `plugins` are loaded at start (`--plugin-load-add`).
 * Anonymous accounts, which would shadow 'user'@'%' for TCP logins, are dropped.
 */
export async function startMariadbServer(options: { plugins?: readonly string[] } = {}): Promise<MariadbServer> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-mariadb-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'mysql']).toString()), Number(execFileSync('id', ['-g', 'mysql']).toString()));
  const data = join(dir, 'data');
  execFileSync('mariadb-install-db', [...(asRoot ? ['--user=mysql'] : []), `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db'], {
    stdio: 'pipe',
  });
  const port = await freePort();
  const child: ChildProcess = spawn(
    'mariadbd',
    [
      ...(asRoot ? ['--user=mysql'] : []),
      `--datadir=${data}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${join(dir, 'sock')}`,
      `--pid-file=${join(dir, 'pid')}`,
      '--skip-log-bin',
      ...(options.plugins ?? []).map((p) => `--plugin-load-add=${p}`),
    ],
    { stdio: 'ignore' },
  );
  const root = () => mysql.createConnection({ host: '127.0.0.1', port, user: 'root', password: '', charset: 'utf8mb4' });
  const stop = async () => {
    if (child.exitCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        const conn = await root().catch(() => undefined);
        await conn?.end();
        return conn !== undefined;
      },
      `mariadbd on port ${port}`,
      30_000,
    );
    const conn = await root();
    try {
      const [anonymous] = await conn.query("SELECT Host AS host FROM mysql.user WHERE User = ''");
      for (const { host } of anonymous as Array<{ host: string }>) await conn.query(`DROP USER ''@${mysql.escape(host)}`);
    } finally {
      await conn.end();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { host: '127.0.0.1', port, root, stop };
}
