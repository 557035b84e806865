/**
 * `rotor run` as a real subprocess against moto: references resolved into the child's
 * environment only, signals passed through, the child's exit code returned, and --watch
 * following a rotation. The child prints SHA-256 digests of what it received, never values.
 */
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noteOutput } from '../bin/local/hygiene.js';
import { startMoto, type MotoServer } from '../bin/local/moto.js';
import { testPassword, uniqueName } from '../bin/local/postgres.js';
import { cliEnv } from './support/cli.js';

const repo = join(__dirname, '..');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let moto: MotoServer;
let sm: SecretsManagerClient;
let dir: string;
let childScript: string;

/** The child: prints the digests of the named variables, then waits for signals (or exits at once). */
const CHILD = `
const { createHash } = require('node:crypto');
const names = (process.env.SHOW || '').split(',').filter(Boolean);
const digest = (v) => v === undefined ? null : createHash('sha256').update(v).digest('hex');
// Handlers first, then 'started': the test signals as soon as it reads that line, and a busy
// machine can pause the child between the two.
process.on('SIGTERM', () => { console.log('child got SIGTERM'); process.exit(0); });
process.on('SIGHUP', () => { if (process.env.ON_HUP === 'reload') console.log('child reloads'); else process.exit(129); });
console.log('started ' + JSON.stringify({ pid: process.pid, env: Object.fromEntries(names.map((n) => [n, digest(process.env[n])])) }));
if (process.env.EXIT_WITH) process.exit(Number(process.env.EXIT_WITH));
setInterval(() => {}, 1000);
`;

beforeAll(async () => {
  moto = await startMoto();
  sm = new SecretsManagerClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  dir = mkdtempSync(join(tmpdir(), 'rotor-run-'));
  childScript = join(dir, 'child.cjs');
  writeFileSync(childScript, CHILD);
});
afterAll(async () => {
  sm?.destroy();
  await moto?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function secret(value: unknown): Promise<string> {
  const name = uniqueName('run/app');
  await sm.send(new CreateSecretCommand({ Name: name, SecretString: typeof value === 'string' ? value : JSON.stringify(value) }));
  return name;
}

interface Rotor {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly done: Promise<number | null>;
  /** Resolves when stdout has `count` lines matching. */
  lines(match: RegExp, count?: number, timeoutMs?: number): Promise<string[]>;
}

function rotor(args: string[], env: Record<string, string | undefined> = {}): Rotor {
  // The built CLI (the suite's setup builds dist/), as an installed package runs it.
  const child = spawn(process.execPath, [join(repo, 'dist', 'bin', 'rotor.js'), ...args], {
    cwd: dir,
    env: cliEnv(moto.endpoint, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const r: Rotor = {
    child,
    stdout: '',
    stderr: '',
    done: new Promise((resolve) => child.once('close', (code) => resolve(code))),
    lines: (match, count = 1, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = r.stdout.split('\n').filter((l) => match.test(l));
          if (found.length >= count) {
            clearInterval(timer);
            clearTimeout(timeout);
            resolve(found);
          }
        };
        const timer = setInterval(check, 50);
        const timeout = setTimeout(() => {
          clearInterval(timer);
          reject(new Error(`no ${count} line(s) matching ${match} in stdout:\n${r.stdout}\nstderr:\n${r.stderr}`));
        }, timeoutMs);
      }),
  };
  child.stdout!.on('data', (d: Buffer) => (r.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (r.stderr += d.toString()));
  void r.done.then(() => {
    noteOutput(r.stdout);
    noteOutput(r.stderr);
  });
  return r;
}

function started(line: string): { pid: number; env: Record<string, string | null> } {
  return JSON.parse(line.slice('started '.length)) as { pid: number; env: Record<string, string | null> };
}

describe('rotor run', () => {
  it('resolves references from the template and the environment into the child only, and exits with its code', async () => {
    const db = { username: uniqueName('app'), password: testPassword(), port: 5432 };
    const dbId = await secret(db);
    const token = testPassword();
    const tokenId = await secret(token);
    const template = join(dir, 'app.env.tpl');
    writeFileSync(
      template,
      [
        '# the app\'s environment',
        `DB_USER='rotor://${dbId}#username'`,
        `DATABASE_URL="postgres://rotor://${dbId}#username:rotor://${dbId}#password@db.internal:rotor://${dbId}#port/orders"`,
        'PLAIN=not a reference',
      ].join('\n'),
    );
    const before = readdirSync(dir).sort();
    const r = rotor(['run', '--env-file', template, '--', process.execPath, childScript], {
      API_TOKEN: `rotor://${tokenId}`,
      SHOW: 'DB_USER,DATABASE_URL,PLAIN,API_TOKEN',
      EXIT_WITH: '7',
    });
    expect(await r.done).toBe(7);
    const [line] = await r.lines(/^started /);
    expect(started(line!).env).toEqual({
      DB_USER: sha(db.username),
      DATABASE_URL: sha(`postgres://${db.username}:${db.password}@db.internal:5432/orders`),
      PLAIN: sha('not a reference'),
      API_TOKEN: sha(token),
    });
    expect(r.stderr).toMatch(/rotor run: API_TOKEN, DATABASE_URL, DB_USER from 2 secret\(s\); starting/);
    for (const value of [db.password, token]) expect(r.stdout + r.stderr).not.toContain(value);
    expect(readdirSync(dir).sort()).toEqual(before); // nothing written beside it
  });

  it('names the variable, secret and field when a reference does not resolve, and never a value', async () => {
    const db = { username: uniqueName('app'), password: testPassword() };
    const dbId = await secret(db);
    const missing = rotor(['run', '--', process.execPath, childScript], { DB_PASS: `rotor://${dbId}#pasword` });
    expect(await missing.done).toBe(1);
    expect(missing.stderr).toContain(`DB_PASS: secret '${dbId}' has no field 'pasword' (its fields: username, password)`);
    const unknown = rotor(['run', '--', process.execPath, childScript], { DB_PASS: 'rotor://no/such/secret#password' });
    expect(await unknown.done).toBe(1);
    expect(unknown.stderr).toContain("secret 'no/such/secret' not found");
    const broken = rotor(['run', '--', process.execPath, childScript], { DB_PASS: 'rotor://' });
    expect(await broken.done).toBe(2);
    expect(broken.stderr).toMatch(/DB_PASS: 'rotor:\/\/' without a usable reference/);
    const absent = rotor(['run', '--env-file', join(dir, 'absent.tpl'), '--', process.execPath]);
    if (Number(process.versions.node.split('.')[0]) <= 20) {
      // Node 20 itself reads --env-file anywhere on its command line (fixed in 22).
      expect(await absent.done).toBe(9);
      expect(absent.stderr).toMatch(/absent\.tpl: not found/);
    } else {
      expect(await absent.done).toBe(2);
      expect(absent.stderr).toMatch(/--env-file .*absent\.tpl: cannot read it \(ENOENT\)/);
    }
    const unquoted = join(dir, 'unquoted.tpl');
    writeFileSync(unquoted, `# comment\nDB_PASS=rotor://${dbId}#password\n`);
    const trap = rotor(['run', '--env-file', unquoted, '--', process.execPath, childScript]);
    expect(await trap.done).toBe(2);
    expect(trap.stderr).toContain(`unquoted.tpl, line 2 (DB_PASS): quote the value, DB_PASS="rotor://<secret-id>#<field>"`);
    for (const r of [missing, unknown]) expect(r.stdout + r.stderr).not.toContain(db.password);
    expect(missing.stdout).not.toMatch(/^started/m); // the command never ran
  });

  it('passes signals to the command: SIGTERM handled (exit 0), SIGHUP unhandled (exit 129)', async () => {
    const id = await secret({ password: testPassword() });
    const term = rotor(['run', '--', process.execPath, childScript], { P: `rotor://${id}#password` });
    await term.lines(/^started /);
    term.child.kill('SIGTERM');
    expect(await term.done).toBe(0);
    expect(term.stdout).toContain('child got SIGTERM');
    const hup = rotor(['run', '--', process.execPath, childScript], { P: `rotor://${id}#password` });
    await hup.lines(/^started /);
    hup.child.kill('SIGHUP');
    expect(await hup.done).toBe(129);
  });

  it('--watch restarts the command with the new value when AWSCURRENT moves', async () => {
    const first = testPassword();
    const id = await secret({ username: 'app', password: first });
    const r = rotor(['run', '--watch', '--interval', '0.5', '--', process.execPath, childScript], { P: `rotor://${id}#password`, SHOW: 'P' });
    const [one] = await r.lines(/^started /);
    expect(started(one!).env.P).toBe(sha(first));
    const second = testPassword();
    await sm.send(new PutSecretValueCommand({ SecretId: id, SecretString: JSON.stringify({ username: 'app', password: second }) }));
    const [, two] = await r.lines(/^started /, 2);
    expect(started(two!).env.P).toBe(sha(second));
    expect(started(two!).pid).not.toBe(started(one!).pid);
    expect(r.stdout).toContain('child got SIGTERM'); // the old process was stopped with the restart signal
    expect(r.stderr).toContain(`rotor run: ${id} rotated; restarting`);
    r.child.kill('SIGTERM');
    expect(await r.done).toBe(0);
    for (const value of [first, second]) expect(r.stdout + r.stderr).not.toContain(value);
  });

  it('--watch --reload-signal SIGHUP signals the running command instead of restarting it', async () => {
    const id = await secret({ password: testPassword() });
    const r = rotor(['run', '--watch', '--interval', '0.5', '--reload-signal', 'HUP', '--', process.execPath, childScript], {
      P: `rotor://${id}#password`,
      ON_HUP: 'reload',
    });
    await r.lines(/^started /);
    await sm.send(new PutSecretValueCommand({ SecretId: id, SecretString: JSON.stringify({ password: testPassword() }) }));
    await r.lines(/^child reloads$/);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('started '))).toHaveLength(1);
    expect(r.stderr).toContain('sending SIGHUP to the process');
    r.child.kill('SIGTERM');
    expect(await r.done).toBe(0);
  });

  it('refuses --watch options without --watch, and --watch with nothing to follow', async () => {
    const usage = rotor(['run', '--interval', '5', '--', process.execPath, childScript]);
    expect(await usage.done).toBe(2);
    expect(usage.stderr).toContain('--interval applies only with --watch');
    const nothing = rotor(['run', '--watch', '--', process.execPath, childScript]);
    expect(await nothing.done).toBe(2);
    expect(nothing.stderr).toContain('--watch: no variable references a secret');
  });
});
