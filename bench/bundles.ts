/**
 * The bundles part of `npm run bench` (BENCH_ONLY=bundles): every Lambda bundle built with the
 * package build's own code (scripts/lambda-bundles.ts) into a temporary folder, then two parts.
 *
 * Size and cold init (no services needed): each bundle's files and their minified sizes (the
 * entry, index.js, and the total of the folder, drivers included), and its cold init: a fresh
 * `node` process `require()`s index.js, as Lambda's runtime does for CommonJS, timed inside that
 * process, the median of RUNS processes; in the same processes, what the first login then adds
 * (`require()` of each driver file).
 *
 * Steps (BENCH_BUNDLE_STEPS=0 skips them): the built rotation functions of PostgreSQL, MySQL and
 * IAM rotate real secrets, with their stand-ins, against the local servers (moto with signature
 * checks, a throwaway PostgreSQL cluster, the machine's MariaDB): every step in a fresh process
 * ("cold", the worst case: a new instance per step) and all four in one process ("warm", as
 * Secrets Manager's four calls in a row usually land). Each rotation must end with the new
 * credential accepted by its server; the figures say which steps loaded a driver, and no
 * process may print a secret value.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import pg from 'pg';
import { LAMBDA_BUNDLES, type LambdaBundle } from '../lib/lambda-assets.js';
import { KIND_NAMES } from '../lambdas/contract/index.js';
import type { Step } from '../lambdas/core/types.js';
import { bundleLambda, lambdaBundleOptions } from '../scripts/lambda-bundles.js';
import { BOOTSTRAP_CALLS, bootstrapAdmin, region, stsAnswer, type KeyPair } from '../bin/local/awsAdmin.js';
import { allSecretStrings, SecretsManagerPlayer, sensitiveValues, STEPS } from '../bin/local/harness.js';
import { awsEnvFor, startMoto } from '../bin/local/moto.js';
import { account, MysqlFixtures, mysqlLogin, mysqlServer, rootConnection } from '../bin/local/mysql.js';
import { pgLogin, startPostgresCluster, testPassword, uniqueName, type PostgresCluster } from '../bin/local/postgres.js';

/** Fresh processes per bundle (size and cold init). */
const RUNS = Number(process.env.BENCH_BUNDLE_RUNS ?? 10);
/** Rotations per function, strategy and mode (steps). */
const STEP_ROUNDS = Math.max(1, Number(process.env.BENCH_BUNDLE_STEP_ROUNDS ?? 3));
/** The bounds: every bundle, and the cold init of every rotation function. */
export const bundleLimits = { maxKiB: 500, maxColdInitMs: 90 } as const;

const kib = (bytes: number) => Number((bytes / 1024).toFixed(1));
const ms = (value: number) => Number(value.toFixed(1));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function conditions(what: string): string {
  return `node ${process.version}, ${cpus().length} cores, esbuild options of scripts/lambda-bundles.ts, ${what}`;
}

/** The .js files of a built bundle folder, by their path in it (index.js first). */
function bundleFiles(dir: string): Array<{ file: string; bytes: number }> {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.js'))
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort((a, b) => (a === 'index.js' ? -1 : b === 'index.js' ? 1 : a.localeCompare(b)))
    .map((file) => ({ file, bytes: statSync(join(dir, file)).size }));
}

/**
 * One fresh process: how long `require()` of the entry takes, then of each driver file (the
 * first login's extra cost). A clean environment: no NODE_OPTIONS (tsx's loader), no AWS
 * settings of this machine.
 */
function coldRequire(dir: string, drivers: string[]): { entry: number; drivers: Record<string, number> } {
  const script = `const t = performance.now(); require(${JSON.stringify(join(dir, 'index.js'))}); const entry = performance.now() - t;
const drivers = {};
for (const d of ${JSON.stringify(drivers)}) { const s = performance.now(); require(require('node:path').join(${JSON.stringify(dir)}, d)); drivers[d] = performance.now() - s; }
process.stdout.write(JSON.stringify({ entry, drivers }));`;
  const run = spawnSync(process.execPath, ['--no-warnings', '-e', script], { env: { PATH: process.env.PATH, AWS_REGION: region }, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`require() of the ${dir} bundle failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as { entry: number; drivers: Record<string, number> };
}

interface Built {
  readonly name: LambdaBundle;
  readonly dir: string;
  readonly rotation: boolean;
  readonly files: Array<{ file: string; bytes: number }>;
  readonly entry: number[];
  readonly drivers: Record<string, number[]>;
}

function sizeFigures(built: Built[]): void {
  const rows = [
    `bundles: minified KiB (entry index.js / whole folder), cold require() of index.js and of each driver file, median of ${RUNS} fresh processes`,
    'bundle    | entry KiB | total KiB | cold init ms | first login adds (driver ms)',
  ];
  for (const b of built) {
    const entryBytes = b.files.find((f) => f.file === 'index.js')!.bytes;
    const totalBytes = b.files.reduce((n, f) => n + f.bytes, 0);
    const coldMs = ms(median(b.entry));
    const drivers = Object.fromEntries(Object.entries(b.drivers).map(([d, times]) => [d, ms(median(times))]));
    console.log(
      JSON.stringify({
        figure: 'bundle',
        entry: b.name,
        files: Object.fromEntries(b.files.map((f) => [f.file, kib(f.bytes)])),
        entry_bytes: entryBytes,
        entry_kib: kib(entryBytes),
        total_bytes: totalBytes,
        total_kib: kib(totalBytes),
        source_map: Boolean(lambdaBundleOptions().sourcemap),
        cold_require_median_ms: coldMs,
        cold_require_min_ms: ms(Math.min(...b.entry)),
        driver_require_median_ms: drivers,
        runs: RUNS,
        entry_within_size: kib(entryBytes) <= bundleLimits.maxKiB,
        within_size: kib(totalBytes) <= bundleLimits.maxKiB,
        ...(b.rotation ? { within_cold_init: coldMs <= bundleLimits.maxColdInitMs } : {}),
        load_average_1m: Math.round(loadavg()[0]! * 100) / 100,
        conditions: conditions('require() timed inside a fresh process (index.js, then each driver file)'),
      }),
    );
    const driverText = Object.entries(drivers).map(([d, t]) => `${d} ${t}`).join(', ') || '-';
    rows.push(
      [b.name.padEnd(9), `${kib(entryBytes)}`.padStart(9), `${kib(totalBytes)}`.padStart(9), `${coldMs}`.padStart(12), driverText].join(' | '),
    );
  }
  console.error(rows.join('\n'));
}

/** What one process running a bundle's handler reports: its init, and per step the time, outcome and drivers loaded by then. */
interface StepsRun {
  readonly init_ms: number;
  readonly steps: Array<{ step: Step; ms: number; outcome: string; logins: number; drivers: string[] }>;
}

/** Runs `events` in order through the bundle's handler in one fresh process; its output is kept for the leak check. */
function runInProcess(entry: string, env: Record<string, string>, events: object[], output: string[]): StepsRun {
  const script = `
const t = performance.now();
const { handler } = require(${JSON.stringify(entry)});
const init_ms = performance.now() - t;
const events = ${JSON.stringify(events)};
const drivers = () => Object.keys(require.cache).filter((k) => k.includes('/drivers/')).map((k) => k.slice(k.lastIndexOf('/drivers/') + 1)).sort();
const context = (i) => ({ callbackWaitsForEmptyEventLoop: false, functionName: 'rotor-bench', functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:${region}:123456789012:function:rotor-bench', memoryLimitInMB: '256',
  awsRequestId: '${randomUUID()}-' + i, logGroupName: '/aws/lambda/rotor-bench', logStreamName: 'bench',
  getRemainingTimeInMillis: () => 60000, done() {}, fail() {}, succeed() {} });
(async () => {
  const steps = [];
  for (const [i, event] of events.entries()) {
    const s = performance.now();
    const out = await handler(event, context(i));
    steps.push({ step: event.Step, ms: performance.now() - s, outcome: out.outcome, logins: out.logins, drivers: drivers() });
  }
  require('node:fs').writeSync(3, JSON.stringify({ init_ms, steps }));
  process.exit(0);
})().catch((err) => { console.error(String((err && err.stack) || err)); process.exit(1); });`;
  const run = spawnSync(process.execPath, ['--no-warnings', '-e', script], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  output.push(run.stdout, run.stderr);
  if (run.status !== 0) throw new Error(`${entry}: ${events.map((e) => (e as { Step: string }).Step).join(', ')} failed: ${run.stderr.slice(-3000)}`);
  return JSON.parse(String(run.output[3])) as StepsRun;
}

/** A rotation function to exercise: how to make a secret for a strategy, and whether a value is accepted. */
interface StepSubject {
  readonly name: LambdaBundle;
  readonly strategy: string;
  newSecret(): Promise<string>;
  accepted(value: Record<string, unknown>): Promise<boolean>;
}

async function stepFigures(dirs: Map<LambdaBundle, string>): Promise<void> {
  const moto = await startMoto({ initialNoAuthActionCount: BOOTSTRAP_CALLS });
  const secretIds = new Set<string>();
  const output: string[] = [];
  let cluster: PostgresCluster | undefined;
  let admin: pg.Client | undefined;
  let root: Awaited<ReturnType<typeof rootConnection>> | undefined;
  const fixtures = new MysqlFixtures(() => root!);
  try {
    root = await rootConnection();
    // moto checks signatures from here on: the bundles' credential stand-in must sign with the environment's key.
    const key: KeyPair = await bootstrapAdmin(moto.endpoint);
    const aws = { endpoint: moto.endpoint, region, credentials: key };
    const player = new SecretsManagerPlayer(new SecretsManagerClient(aws));
    const iam = new IAMClient(aws);
    const env = { ...awsEnvFor(moto.endpoint), AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey };
    const secret = async (name: string, value: object) => {
      const arn = await player.createSecret(uniqueName(name), value);
      secretIds.add(arn);
      return arn;
    };

    cluster = await startPostgresCluster();
    const c = cluster;
    admin = new pg.Client({ host: c.host, port: c.port, user: c.superuser.username, password: c.superuser.password, database: 'postgres' });
    await admin.connect();
    const pgBase = { engine: 'postgres', host: c.host, port: c.port };
    const pgMaster = await secret('bench-pg-master', { ...pgBase, username: c.superuser.username, password: c.superuser.password });
    const myBase = { engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port };
    const myMasterLogin = { username: uniqueName('bench_master'), password: testPassword() };
    await fixtures.createUser(myMasterLogin.username, myMasterLogin.password);
    await root.query(`GRANT ALL PRIVILEGES ON *.* TO ${account(myMasterLogin.username)} WITH GRANT OPTION`);
    const myMaster = await secret('bench-my-master', { ...myBase, ...myMasterLogin });

    const subjects: StepSubject[] = [];
    for (const strategy of ['single-user', 'alternating-users']) {
      const masterarn = strategy === 'alternating-users' ? { masterarn: pgMaster } : {};
      subjects.push({
        name: 'postgres',
        strategy,
        async newSecret() {
          const username = uniqueName('bench_app');
          const password = testPassword();
          await admin!.query(`CREATE ROLE ${username} LOGIN PASSWORD '${password}'`);
          return secret('bench-pg', { ...pgBase, username, password, ...masterarn });
        },
        accepted: (v) => pgLogin(c, String(v.username), String(v.password)),
      });
    }
    for (const strategy of ['single-user', 'alternating-users']) {
      const masterarn = strategy === 'alternating-users' ? { masterarn: myMaster } : {};
      subjects.push({
        name: 'mysql',
        strategy,
        async newSecret() {
          const username = uniqueName('bench_app');
          const password = testPassword();
          await fixtures.createUser(username, password);
          return secret('bench-my', { ...myBase, username, password, ...masterarn });
        },
        accepted: async (v) => (await mysqlLogin(String(v.username), String(v.password))) !== undefined,
      });
    }
    subjects.push({
      name: 'iam',
      strategy: 'single-user',
      async newSecret() {
        const username = uniqueName('bench-user');
        await iam.send(new CreateUserCommand({ UserName: username }));
        const k = (await iam.send(new CreateAccessKeyCommand({ UserName: username }))).AccessKey!;
        return secret('bench-iam', { username, accessKeyId: k.AccessKeyId, secretAccessKey: k.SecretAccessKey });
      },
      accepted: async (v) => (await stsAnswer(moto.endpoint, { accessKeyId: String(v.accessKeyId), secretAccessKey: String(v.secretAccessKey) })).ok,
    });

    const rows = [
      `bundle steps: the built functions rotating real secrets (${STEP_ROUNDS} rotations per row); median ms; drivers loaded by each step`,
      'function / strategy         | mode | init | createSecret | setSecret | testSecret | finishSecret | drivers by step',
    ];
    for (const subject of subjects) {
      const entry = join(dirs.get(subject.name)!, 'index.js');
      const fnEnv = { ...env, ROTATION_STRATEGY: subject.strategy };
      const arn = await subject.newSecret();
      for (const mode of ['cold', 'warm'] as const) {
        const inits: number[] = [];
        const times: Record<string, number[]> = {};
        const driversBy: Record<string, string[]> = {};
        let accepted = 0;
        for (let round = 0; round < STEP_ROUNDS; round++) {
          const token = await player.startRotation(arn);
          const events = STEPS.map((step) => player.event(arn, token, step));
          const runs = mode === 'warm' ? [runInProcess(entry, fnEnv, events, output)] : events.map((e) => runInProcess(entry, fnEnv, [e], output));
          for (const run of runs) {
            inits.push(run.init_ms);
            for (const s of run.steps) {
              if (s.outcome !== 'done') throw new Error(`${subject.name} ${subject.strategy} ${s.step}: outcome ${s.outcome}, expected done`);
              (times[s.step] ??= []).push(s.ms);
              // Drivers this step loaded: in its own process (cold), or since the previous step (warm).
              const before = mode === 'warm' ? (run.steps[run.steps.indexOf(s) - 1]?.drivers ?? []) : [];
              const loaded = s.drivers.filter((d) => !before.includes(d));
              driversBy[s.step] = [...new Set([...(driversBy[s.step] ?? []), ...loaded])];
            }
          }
          if (await subject.accepted(await player.value(arn))) accepted++;
        }
        const stepMs = Object.fromEntries(STEPS.map((step) => [step, ms(median(times[step] ?? [0]))]));
        console.log(
          JSON.stringify({
            figure: 'bundle_steps',
            entry: subject.name,
            strategy: subject.strategy,
            mode,
            rotations: STEP_ROUNDS,
            new_credential_accepted: accepted,
            init_median_ms: ms(median(inits)),
            step_median_ms: stepMs,
            drivers_loaded_by_step: driversBy,
            load_average_1m: Math.round(loadavg()[0]! * 100) / 100,
            conditions: conditions(
              mode === 'cold' ? 'each step in a fresh node process' : 'the four steps in one fresh node process',
            ),
          }),
        );
        if (accepted !== STEP_ROUNDS) throw new Error(`${subject.name} ${subject.strategy} (${mode}): ${STEP_ROUNDS - accepted} rotations left a credential the server refuses`);
        const driversText = STEPS.map((step) => `${step.replace('Secret', '')} ${driversBy[step]?.join('+') || '-'}`).join(', ');
        rows.push(
          [
            `${subject.name} ${subject.strategy}`.padEnd(27),
            mode.padEnd(4),
            `${ms(median(inits))}`.padStart(4),
            ...STEPS.map((step, i) => `${stepMs[step]}`.padStart([12, 9, 10, 12][i]!)),
            driversText,
          ].join(' | '),
        );
      }
    }
    // No process may have printed a value of any version of any secret made here.
    const values = sensitiveValues(await allSecretStrings(player.client, secretIds));
    const printed = values.filter((v) => output.some((text) => text.includes(v)));
    if (printed.length > 0) throw new Error(`the bundles printed ${printed.length} secret values`);
    rows.push(`no process printed any of the ${values.length} secret values made`);
    console.error(rows.join('\n'));
  } finally {
    await admin?.end().catch(() => undefined);
    if (root) await fixtures.dropAll().catch(() => undefined);
    await root?.end().catch(() => undefined);
    cluster?.stop();
    await moto.stop();
  }
}

export async function runBundleBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-bundles-'));
  try {
    const built: Built[] = [];
    for (const name of LAMBDA_BUNDLES) {
      const out = join(dir, name);
      await bundleLambda(name, out);
      const files = bundleFiles(out);
      const drivers = files.filter((f) => f.file !== 'index.js').map((f) => f.file);
      const rotation = (KIND_NAMES as readonly string[]).includes(name);
      built.push({ name, dir: out, rotation, files, entry: [], drivers: Object.fromEntries(drivers.map((d) => [d, []])) });
    }
    // Round-robin, so that a burst of load on the machine spreads over every bundle.
    for (let run = 0; run < RUNS; run++) {
      for (const b of built) {
        const times = coldRequire(b.dir, Object.keys(b.drivers));
        b.entry.push(times.entry);
        for (const [d, t] of Object.entries(times.drivers)) b.drivers[d]!.push(t);
      }
    }
    sizeFigures(built);
    if (process.env.BENCH_BUNDLE_STEPS !== '0') await stepFigures(new Map(built.map((b) => [b.name, b.dir])));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
