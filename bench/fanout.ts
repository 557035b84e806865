/**
 * The emergency fan-out part of `npm run bench` (BENCH_ONLY=fanout): BENCH_FANOUT secrets
 * (default 100; BENCH_FANOUT=1000 for the large run) of mixed kinds, each rotated once before
 * (the steady state), are all reported leaked at the same moment, and the real emergency handler
 * rotates and revokes every one of them while Secrets Manager's published quotas hold.
 *
 * The pieces, each playing its AWS part:
 * - Secrets Manager: moto behind the quota model (bin/local/quotaProxy.ts): token buckets at the
 *   published rates (RotateSecret 50/s; PutSecretValue and UpdateSecretVersionStage 50/s
 *   combined; TagResource 50/s; ListSecrets 100/s; see SECRETS_MANAGER_QUOTAS for the source),
 *   answering ThrottlingException when one is empty, as the service does. When it answers a
 *   RotateSecret it "invokes the rotation function": the real rotation handler of the secret's
 *   kind runs the four steps, on a warm instance of that function or a new one if all are busy
 *   (Lambda scales rotation functions out); a failed rotation is retried from createSecret after
 *   1, 2, 4, 8 s ("Secrets Manager retries the entire rotation process"; its timing is not
 *   published).
 * - EventBridge + Lambda: every leak event is delivered at t0 to the emergency function, which
 *   runs at most `concurrency` invocations at once (its reserved concurrency); an invocation that
 *   fails is retried twice, as Lambda retries an asynchronous invocation (after about 1 and 2
 *   minutes on AWS; here BENCH_FANOUT_RETRY_DELAY_MS, default 1 s, times the attempt).
 * - The emergency handler as deployed (createEmergencyHandler with every kind of the registry,
 *   its default poll interval and wait), one SDK client per function instance, the SDK's
 *   default retry strategy. Events are shaped as their senders send them: Rotor's leak event by
 *   secretId for database secrets, AWS Health AWS_RISK_CREDENTIALS_EXPOSED for IAM keys, Rotor's
 *   leak event by fingerprint for API tokens.
 *
 * Two runs: `deployed` (the reserved concurrency lib/emergency-rotation.ts deploys the handler
 * with, emergencyRotationDefaults.reservedConcurrency) and `narrow` (BENCH_FANOUT_NARROW,
 * default 5, the cap Rotor deployed before: it, not the quotas, bounded the fan-out).
 * BENCH_FANOUT_RUNS picks them (`deployed,narrow`).
 *
 * Figures: leaks (and rotations) per second, time from t0 to the last revocation, throttling
 * the model answered and what absorbed it (SDK retries, rotation retries, invocation retries),
 * each quota group's calls per leak and the leak rate it allows, and what limited the run: the
 * quota model (achieved ≥ 80 % of its limit), the emergency function's concurrency (achieved
 * near `concurrency / handler duration`), or the local emulator. Afterwards every leaked value is
 * checked refused and every current one accepted (untimed). moto runs without signature checks
 * here (it serves each call faster); IAM revocation is checked through ListAccessKeys.
 */
import { loadavg } from 'node:os';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { CreateSecretCommand, RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ALLOW_LOOPBACK_FOR_TESTS } from '../lambdas/contract/testing.js';
import { createRotationHandler } from '../lambdas/core/handler.js';
import type { RotationKind } from '../lambdas/core/types.js';
import type { KindName } from '../lambdas/contract/index.js';
import { createApiTokenKind } from '../lambdas/api-token/apiTokenKind.js';
import { emergencyHandlerDefaults, type EmergencyResult } from '../lambdas/emergency/emergency.js';
import { createEmergencyHandler, emergencyKinds } from '../lambdas/emergency/index.js';
import { createIamKind, readIamOptions } from '../lambdas/iam/iamKind.js';
import { createMysqlKind } from '../lambdas/mysql/mysqlKind.js';
import { createPostgresKind } from '../lambdas/postgres/postgresKind.js';
import { createMysqlLogins, createPostgresLogins, dropMysqlLogins, type Login } from '../bin/local/bulkLogins.js';
import { eventsClient } from '../bin/local/events.js';
import { lambdaContext, SecretsManagerPlayer, STEPS, type Handler } from '../bin/local/harness.js';
import { healthEvent, leakEvent } from '../bin/local/leakEvents.js';
import { awsEnvFor, createRotationFunction, startMoto } from '../bin/local/moto.js';
import { createFingerprintKey } from '../bin/local/fingerprintKey.js';
import { account, mysqlLogin, mysqlServer, rootConnection } from '../bin/local/mysql.js';
import { pgLogin, startPostgresCluster, testPassword } from '../bin/local/postgres.js';
import { startQuotaProxy, type Answer, type QuotaProxy } from '../bin/local/quotaProxy.js';
import { TokenProviderServer } from '../bin/local/tokenProvider.js';
import { emergencyRotationDefaults } from '../lib/emergency-rotation.js';

const N = Math.max(1, Number(process.env.BENCH_FANOUT ?? 100));
/** As lib/emergency-rotation.ts deploys the emergency function (reservedConcurrentExecutions). */
const DEPLOYED_CONCURRENCY = emergencyRotationDefaults.reservedConcurrency;
const NARROW_CONCURRENCY = Math.max(1, Number(process.env.BENCH_FANOUT_NARROW ?? 5));
const RUNS = (process.env.BENCH_FANOUT_RUNS ?? 'deployed,narrow').split(',').filter(Boolean);
/** Multiplies every quota (1 = the published rates). */
const QUOTA_SCALE = Number(process.env.BENCH_FANOUT_QUOTA_SCALE ?? 1);
/** The emergency handler's poll interval: its deployed default unless set. */
const POLL_MS = process.env.BENCH_FANOUT_POLL_MS ? Number(process.env.BENCH_FANOUT_POLL_MS) : undefined;
/** Lambda's asynchronous retry delay, scaled (AWS: about 1 min, then 2 min). */
const LAMBDA_RETRY_DELAY_MS = Number(process.env.BENCH_FANOUT_RETRY_DELAY_MS ?? 1_000);
const LAMBDA_ATTEMPTS = 3;
/** Secrets Manager's retries of a failed rotation (the first run included). */
const ROTATION_ATTEMPTS = 5;
const ROTATION_RETRY_DELAY_MS = 1_000;
/** Setup and checks (not measured): this many at once. */
const SETUP_CONCURRENCY = 8;
/** The whole delivery of one run may take this long at most (every loop is bounded). */
const RUN_DEADLINE_MS = 30 * 60_000;
/** BENCH_FANOUT_DEBUG=1: failed invocations' and steps' messages on stderr (Rotor's errors hold no value). */
const DEBUG = process.env.BENCH_FANOUT_DEBUG === '1';
const REGION = 'us-east-1';
const DUMMY = { accessKeyId: 'testing', secretAccessKey: 'testing' };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `fn` over `items`, at most `limit` at a time. A dozen lines of our own rather than a
 * dependency (the project adds none for the bench).
 */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/** Instances of one Lambda function: a warm idle one serves the next invocation, else a new one starts. */
class FunctionPool<I> {
  private readonly idle: I[] = [];
  public started = 0;

  public constructor(private readonly make: () => I) {}

  public async use<R>(fn: (instance: I) => Promise<R>): Promise<R> {
    const instance = this.idle.pop() ?? (this.started++, this.make());
    try {
      return await fn(instance);
    } finally {
      this.idle.push(instance);
    }
  }
}

/** What absorbed (or did not absorb) the throttling, and what failed. */
interface Stats {
  /** Retries the SDK made inside calls (its default strategy: 3 attempts, backoff with jitter). */
  sdkRetries: number;
  /** Calls that still failed with ThrottlingException after the SDK's attempts. */
  throttleErrors: number;
  /** Rotations the service retried from createSecret after a failed step. */
  rotationRetries: number;
  /** Rotations that failed every attempt. */
  rotationsAbandoned: number;
  /** Emergency invocations that failed (retried by "Lambda"), by error name. */
  invocationFailures: Record<string, number>;
  /** Failed rotation steps, by error name. */
  stepFailures: Record<string, number>;
}

const newStats = (): Stats => ({ sdkRetries: 0, throttleErrors: 0, rotationRetries: 0, rotationsAbandoned: 0, invocationFailures: {}, stepFailures: {} });
const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

/** The error's name, or its cause's when it wraps a throttling (names only: messages may quote values). */
function errorName(err: unknown): string {
  for (let e = err as { name?: string; cause?: unknown } | undefined, depth = 0; e && depth < 10; e = e.cause as typeof e, depth++) {
    if (e.name === 'ThrottlingException') return 'ThrottlingException';
  }
  return (err as Error)?.name ?? typeof err;
}

/** Counts the SDK's retries and the throttling errors it gave up on, per client. */
function counting(client: SecretsManagerClient, stats: () => Stats): SecretsManagerClient {
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        const out = await next(args);
        stats().sdkRetries += Math.max(0, ((out.output as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1) - 1);
        return out;
      } catch (err) {
        const e = err as { name?: string; $metadata?: { attempts?: number } };
        stats().sdkRetries += Math.max(0, (e.$metadata?.attempts ?? 1) - 1);
        if (e.name === 'ThrottlingException') stats().throttleErrors++;
        throw err;
      }
    },
    { step: 'initialize', name: 'benchRetryCount' },
  );
  return client;
}

type KindLabel = 'postgres single-user' | 'postgres alternating-users' | 'mysql single-user' | 'mysql alternating-users' | 'iam' | 'api-token datadog' | 'api-token cloudflare';
const MIX: readonly KindLabel[] = [
  'postgres single-user',
  'postgres alternating-users',
  'mysql single-user',
  'mysql alternating-users',
  'iam',
  'api-token datadog',
  'api-token cloudflare',
];

interface Value {
  username?: string;
  password?: string;
  accessKeyId?: string;
  token?: string;
  [k: string]: unknown;
}

interface FanSecret {
  readonly arn: string;
  readonly label: KindLabel;
  /** Builds the leak event its sender would send for this value. */
  event(leaked: Value): unknown;
  /** The leaked value is refused now. */
  refused(leaked: Value): Promise<boolean>;
  /** The current value is accepted now. */
  accepted(current: Value): Promise<boolean>;
}

interface LeakOutcome {
  readonly label: KindLabel;
  readonly outcome: EmergencyResult['outcome'] | 'lost';
  /** ms since t0 when the handler returned (the leaked value revoked). */
  readonly doneAt: number;
  /** ms the successful invocation took. */
  readonly handlerMs: number;
  readonly attempts: number;
}

/** Plays Secrets Manager's rotation part: each RotateSecret it answers starts the rotation function. */
class RotationService {
  private readonly running = new Set<Promise<void>>();
  private readonly waiters = new Map<string, Array<() => void>>();
  public completed = 0;

  public constructor(
    private readonly pools: ReadonlyMap<string, FunctionPool<Handler>>,
    private readonly functionOf: ReadonlyMap<string, string>,
    private readonly player: SecretsManagerPlayer,
    private readonly stats: () => Stats,
  ) {}

  public readonly onAnswer = (a: Answer) => {
    if (a.operation !== 'RotateSecret' || a.status !== 200) return;
    const arn = String(a.response.ARN ?? a.request.SecretId);
    const token = String(a.response.VersionId ?? a.request.ClientRequestToken);
    const run = this.rotate(arn, token).finally(() => this.running.delete(run));
    this.running.add(run);
  };

  /** Resolves when the next rotation of `arn` has finished. */
  public finished(arn: string): Promise<void> {
    return new Promise((resolve) => this.waiters.set(arn, [...(this.waiters.get(arn) ?? []), resolve]));
  }

  public async drain(): Promise<void> {
    for (let i = 0; i < 100 && this.running.size > 0; i++) await Promise.all([...this.running]);
  }

  private async rotate(arn: string, token: string): Promise<void> {
    const pool = this.pools.get(this.functionOf.get(arn) ?? '');
    if (!pool) return;
    for (let attempt = 1; attempt <= ROTATION_ATTEMPTS; attempt++) {
      try {
        await pool.use(async (handler) => {
          for (const step of STEPS) await handler(this.player.event(arn, token, step), lambdaContext('rotor-rotation'));
        });
        this.completed++;
        for (const resolve of this.waiters.get(arn) ?? []) resolve();
        this.waiters.delete(arn);
        return;
      } catch (err) {
        bump(this.stats().stepFailures, errorName(err));
        if (DEBUG) console.error(`[fanout] rotation of ${arn} failed (attempt ${attempt}): ${(err as Error).message}`);
        if (attempt === ROTATION_ATTEMPTS) {
          this.stats().rotationsAbandoned++;
          return;
        }
        this.stats().rotationRetries++;
        await sleep(ROTATION_RETRY_DELAY_MS * 2 ** (attempt - 1));
      }
    }
  }
}

interface GroupFigure {
  readonly quota: string;
  readonly per_second: number;
  readonly calls_per_leak: number;
  /** Leaks per second this quota allows at that many calls per leak. */
  readonly limit_leaks_per_second: number;
  readonly peak_per_second: number;
  readonly mean_per_second: number;
  readonly throttled: number;
}

interface FanoutFigure {
  readonly figure: 'emergency_fanout';
  readonly run: string;
  readonly secrets: number;
  readonly mix: Record<string, number>;
  readonly concurrency: number;
  readonly quota_scale: number;
  readonly poll_interval_ms: number;
  readonly outcomes: Record<string, number>;
  readonly time_to_last_revocation_s: number;
  readonly leaks_per_second: number;
  readonly rotations_per_second: number;
  readonly handler_p50_s: number;
  readonly handler_p95_s: number;
  /** What `concurrency` invocations of that mean duration allow. */
  readonly concurrency_bound_leaks_per_second: number;
  readonly quota_model: {
    readonly binding: string;
    readonly limit_leaks_per_second: number;
    readonly achieved_over_limit: number;
    readonly groups: GroupFigure[];
  };
  readonly throttling: {
    readonly answered_by_model: number;
    readonly sdk_retries: number;
    readonly throttle_errors_after_sdk_retries: number;
    readonly rotation_retries: number;
    readonly rotations_abandoned: number;
    readonly step_failures: Record<string, number>;
    readonly invocation_failures: Record<string, number>;
  };
  readonly function_instances: { emergency: number; rotation: number };
  readonly emulator: {
    readonly moto_p50_ms: number;
    readonly moto_p95_ms: number;
    readonly moto_idle_p50_ms: number;
    readonly max_in_flight: number;
    /** Calls through the stand-in per second during the run, and what moto served at most when calibrated. */
    readonly calls_per_second: number;
    readonly capacity_calls_per_second: number;
    /** calls_per_second / capacity_calls_per_second. */
    readonly utilization: number;
  };
  readonly verified: { leaked_refused: number; current_accepted: number };
  readonly limited_by: string;
  readonly load_average_1m: number;
  readonly conditions: string;
}

const r2 = (n: number) => Math.round(n * 100) / 100;
function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export async function runFanoutBench(): Promise<void> {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env[ALLOW_LOOPBACK_FOR_TESTS] = '1';
  const moto = await startMoto();
  const proxy: QuotaProxy = await startQuotaProxy(moto.endpoint, { scale: QUOTA_SCALE });
  Object.assign(process.env, awsEnvFor(proxy.endpoint));
  const aws = { endpoint: proxy.endpoint, region: REGION, credentials: DUMMY };
  const sm = new SecretsManagerClient(aws);
  const iam = new IAMClient(aws);
  const player = new SecretsManagerPlayer(sm);
  // Rotor's fingerprint key, as a deployed stack has it: the functions read ROTOR_FINGERPRINT_KEY_ARN.
  const fingerprintKey = await createFingerprintKey(sm);
  Object.assign(process.env, fingerprintKey.env);
  const functionArn = await createRotationFunction(moto.endpoint);
  const cluster = await startPostgresCluster();
  const admin = new pg.Client({ host: cluster.host, port: cluster.port, user: 'postgres', password: cluster.superuser.password, database: 'postgres' });
  await admin.connect();
  const root = await rootConnection();
  const provider = await TokenProviderServer.start();
  const mysqlUsers: string[] = [];
  let stats = newStats();
  const figures: FanoutFigure[] = [];
  try {
    const [rows] = await root.query('SELECT VERSION() AS v');
    const version = String((rows as Array<{ v: string }>)[0]?.v);
    const hex = () => randomBytes(4).toString('hex');
    const labels = Array.from({ length: N }, (_, i) => MIX[i % MIX.length]!);
    const mix: Record<string, number> = {};
    for (const l of labels) bump(mix, l);

    // --- the logins and secrets (batched; not measured) ---
    const pgBase = { engine: 'postgres', host: cluster.host, port: cluster.port, dbname: 'postgres', ssl: false };
    const myBase = { engine: /mariadb/i.test(version) ? 'mariadb' : 'mysql', host: mysqlServer.host, port: mysqlServer.port, ssl: false };
    const logins = labels.map((l, i): Login | undefined =>
      l.startsWith('postgres') ? { username: `fan_${hex()}_${i}`, password: testPassword() } : l.startsWith('mysql') ? { username: `fm_${hex()}_${i}`, password: testPassword() } : undefined,
    );
    const myMaster = { username: `fm_master_${hex()}`, password: testPassword() };
    mysqlUsers.push(myMaster.username, ...logins.filter((l, i) => l && labels[i]!.startsWith('mysql')).map((l) => l!.username));
    await createPostgresLogins(admin, logins.filter((l, i): l is Login => !!l && labels[i]!.startsWith('postgres')));
    await createMysqlLogins(root, [myMaster, ...logins.filter((l, i): l is Login => !!l && labels[i]!.startsWith('mysql'))]);
    await root.query(`GRANT ALL PRIVILEGES ON *.* TO ${account(myMaster.username)} WITH GRANT OPTION`);
    const create = async (name: string, value: unknown, tags: Record<string, string> = {}) =>
      (
        await sm.send(
          new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value), Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }),
        )
      ).ARN!;
    const pgMasterArn = await create(`fanout/pg-master-${hex()}`, { ...pgBase, username: 'postgres', password: cluster.superuser.password });
    const myMasterArn = await create(`fanout/my-master-${hex()}`, { ...myBase, ...myMaster });
    const dd = provider.datadogManagement();
    const ddManagement = await create(`fanout/dd-management-${hex()}`, { ...dd, allowedHosts: [provider.host] });
    const cfManagement = await create(`fanout/cf-management-${hex()}`, { token: provider.cloudflareToken(true).token, allowedHosts: [provider.host] });

    const dbLogin = (engine: 'postgres' | 'mysql', v: Value) =>
      engine === 'postgres' ? pgLogin(cluster, v.username!, v.password!) : mysqlLogin(v.username!, v.password!).then((who) => who !== undefined);
    const keyStatus = async (v: Value) =>
      ((await iam.send(new ListAccessKeysCommand({ UserName: v.username }))).AccessKeyMetadata ?? []).find((k) => k.AccessKeyId === v.accessKeyId)?.Status;
    const secrets: FanSecret[] = await mapLimit(labels, SETUP_CONCURRENCY, async (label, i): Promise<FanSecret> => {
      const name = `fanout/${i}-${hex()}`;
      if (label.startsWith('postgres') || label.startsWith('mysql')) {
        const engine = label.startsWith('postgres') ? 'postgres' : 'mysql';
        const strategy = label.endsWith('single-user') ? 'single-user' : 'alternating-users';
        const base = engine === 'postgres' ? pgBase : myBase;
        const masterarn = engine === 'postgres' ? pgMasterArn : myMasterArn;
        const arn = await create(name, { ...base, ...logins[i]!, ...(strategy === 'alternating-users' ? { masterarn } : {}) }, { 'rotor:kind': engine, 'rotor:strategy': strategy });
        return {
          arn,
          label,
          event: () => leakEvent({ secretId: arn, reason: 'fan-out bench: mass leak' }),
          refused: async (v) => !(await dbLogin(engine, v)),
          accepted: (v) => dbLogin(engine, v),
        };
      }
      if (label === 'iam') {
        const username = `fan-user-${hex()}-${i}`;
        await iam.send(new CreateUserCommand({ UserName: username }));
        const key = (await iam.send(new CreateAccessKeyCommand({ UserName: username }))).AccessKey!;
        const arn = await create(name, { username, accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey }, { 'rotor:kind': 'iam' });
        return {
          arn,
          label,
          event: (v) => healthEvent([v.accessKeyId!]),
          refused: async (v) => (await keyStatus(v)) === undefined,
          accepted: async (v) => (await keyStatus(v)) === 'Active',
        };
      }
      const datadog = label === 'api-token datadog';
      const seeded = datadog ? provider.datadogApiKey() : provider.cloudflareToken();
      const arn = await create(
        name,
        datadog
          ? { provider: 'datadog', token: seeded.token, tokenId: seeded.tokenId, managementSecretArn: ddManagement, baseUrl: provider.datadogBaseUrl }
          : { provider: 'cloudflare', token: seeded.token, tokenId: seeded.tokenId, managementSecretArn: cfManagement, baseUrl: provider.cloudflareBaseUrl },
        { 'rotor:kind': 'api-token' },
      );
      return {
        arn,
        label,
        event: (v) => leakEvent({ fingerprint: fingerprintKey.key.fingerprint(v.token!), reason: 'fan-out bench: mass leak', reporter: 'bench' }),
        refused: async (v) => !provider.accepts(v.token!),
        accepted: async (v) => provider.accepts(v.token!),
      };
    });

    // --- the functions: one rotation function per kind and strategy, the emergency function ---
    // Silent: the handlers' log lines and Powertools' empty-metrics warnings would mix with the figures on stdout.
    const silent = () => new Logger({ serviceName: 'bench', logLevel: 'SILENT' });
    const quiet = () => ({ logger: silent(), metrics: new Metrics({ namespace: 'Bench', serviceName: 'bench', logger: silent() }) });
    const rotationFunction = <S>(kind: RotationKind<S>, strategy?: string) =>
      new FunctionPool<Handler>(
        () =>
          createRotationHandler(kind, {
            client: counting(new SecretsManagerClient(aws), () => stats),
            ...quiet(),
            env: { ...process.env, ...(strategy ? { ROTATION_STRATEGY: strategy } : {}) },
          }) as Handler,
      );
    // The registry's kinds as a fresh process builds them (the module singletons keep the SDK
    // clients they made first, with the endpoint of whatever ran before in this process: an
    // earlier bench part's moto). Every registered kind must have its factory here.
    const factories: Record<KindName, () => RotationKind<any>> = {
      postgres: () => createPostgresKind(),
      mysql: () => createMysqlKind(),
      iam: () => createIamKind(() => readIamOptions(process.env)),
      'api-token': () => createApiTokenKind(),
    };
    const missing = Object.keys(emergencyKinds).filter((k) => !Object.hasOwn(factories, k));
    if (missing.length > 0) throw new Error(`fanout: no factory for the registered kind(s) ${missing.join(', ')}`);
    const kinds = Object.fromEntries(Object.keys(emergencyKinds).map((k) => [k, factories[k as KindName]()])) as Record<KindName, RotationKind<any>>;
    // One function per kind and strategy (as the constructs deploy them), each its own module state and instances.
    const pools = new Map<string, FunctionPool<Handler>>([
      ['postgres single-user', rotationFunction(factories.postgres(), 'single-user')],
      ['postgres alternating-users', rotationFunction(factories.postgres(), 'alternating-users')],
      ['mysql single-user', rotationFunction(factories.mysql(), 'single-user')],
      ['mysql alternating-users', rotationFunction(factories.mysql(), 'alternating-users')],
      ['iam', rotationFunction(factories.iam())],
      ['api-token datadog', rotationFunction(factories['api-token']())],
      ['api-token cloudflare', rotationFunction(factories['api-token']())],
    ]);
    const service = new RotationService(pools, new Map(secrets.map((s) => [s.arn, s.label])), player, () => stats);
    proxy.onAnswer(service.onAnswer);

    // The steady state: every secret rotated once, as its RotationSchedule's first rotation does.
    await mapLimit(secrets, SETUP_CONCURRENCY, async (s) => {
      const done = service.finished(s.arn);
      await sm.send(new RotateSecretCommand({ SecretId: s.arn, RotationLambdaARN: functionArn, RotationRules: { AutomaticallyAfterDays: 30 }, RotateImmediately: true }));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`setup: the first rotation of ${s.label} did not finish within 60 s`)), 60_000);
      });
      try {
        await Promise.race([done, late]);
      } finally {
        clearTimeout(timer);
      }
    });
    await service.drain();
    // moto's answer time when idle, and how many calls a second it serves at most (cheap reads,
    // 8 at a time): to tell a saturated emulator from a throttled fan-out.
    proxy.mark();
    for (let i = 0; i < 30; i++) await player.describe(secrets[i % secrets.length]!.arn);
    const idleP50 = proxy.upstream().p50;
    const calibrationStarted = performance.now();
    await mapLimit(Array.from({ length: 240 }, (_, i) => secrets[i % secrets.length]!), 8, (s) => player.describe(s.arn));
    const motoCapacity = 240 / ((performance.now() - calibrationStarted) / 1000);

    const conditions =
      `moto_server (no signature checks) behind the quota model (scale ${QUOTA_SCALE}), PostgreSQL (scram-sha-256, throwaway cluster), ${version}, ` +
      'token-provider emulator, all on loopback, in one Node process on a 2-core machine shared with other work (see load_average_1m); ' +
      `events all at t0; failed invocations retried after ${LAMBDA_RETRY_DELAY_MS} ms × attempt (AWS: about 1 and 2 min); ` +
      'failed rotations retried from createSecret after 1, 2, 4, 8 s';

    for (const run of RUNS) {
      const concurrency = run === 'deployed' ? DEPLOYED_CONCURRENCY : NARROW_CONCURRENCY;
      stats = newStats();
      const leaked = await mapLimit(secrets, SETUP_CONCURRENCY, (s) => player.value<Value>(s.arn));
      const emergency = new FunctionPool(() =>
        createEmergencyHandler({
          sm: counting(new SecretsManagerClient(aws), () => stats),
          events: eventsClient(proxy.endpoint),
          kinds,
          ...quiet(),
          ...(POLL_MS !== undefined ? { pollIntervalMs: POLL_MS } : {}),
        }),
      );
      const rotatedBefore = service.completed;
      const queue = secrets.map((s, i) => ({ s, event: s.event(leaked[i]!), attempt: 1 }));
      const outcomes: LeakOutcome[] = [];
      let delayed = 0;
      proxy.mark();
      proxy.setLimiting(true);
      const t0 = performance.now();
      const deadline = t0 + RUN_DEADLINE_MS;
      // "Lambda": at most `concurrency` invocations at once, each failed one retried twice.
      const worker = async () => {
        while (performance.now() < deadline) {
          const item = queue.shift();
          if (!item) {
            if (delayed === 0) return;
            await sleep(20);
            continue;
          }
          const started = performance.now();
          try {
            const [result] = await emergency.use((h) => h(item.event as never, lambdaContext('rotor-emergency')));
            outcomes.push({ label: item.s.label, outcome: result?.outcome ?? 'lost', doneAt: performance.now() - t0, handlerMs: performance.now() - started, attempts: item.attempt });
          } catch (err) {
            bump(stats.invocationFailures, errorName(err));
            if (DEBUG) console.error(`[fanout] ${item.s.label} invocation failed (attempt ${item.attempt}): ${(err as Error).message}`);
            if (item.attempt >= LAMBDA_ATTEMPTS) {
              outcomes.push({ label: item.s.label, outcome: 'lost', doneAt: performance.now() - t0, handlerMs: performance.now() - started, attempts: item.attempt });
              continue;
            }
            delayed++;
            setTimeout(() => {
              delayed--;
              queue.push({ ...item, attempt: item.attempt + 1 });
            }, LAMBDA_RETRY_DELAY_MS * item.attempt);
          }
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      const elapsedMs = Math.max(...outcomes.filter((o) => o.outcome !== 'lost').map((o) => o.doneAt), 1);
      await service.drain();
      proxy.setLimiting(false);
      const counts = proxy.counts();
      const upstream = proxy.upstream();
      const rotations = service.completed - rotatedBefore;

      // Checks (untimed): every leaked value refused, every current one accepted.
      const current = await mapLimit(secrets, SETUP_CONCURRENCY, (s) =>
        player.value<Value>(s.arn).catch(async (err: unknown) => {
          // Labels only (ids and stages), never a value.
          console.error(`fanout: ${s.label} ${s.arn}: ${(err as Error).message}; versions ${JSON.stringify(await player.versions(s.arn))}`);
          return undefined;
        }),
      );
      const refused = await mapLimit(secrets, SETUP_CONCURRENCY, (s, i) => s.refused(leaked[i]!).catch(() => false));
      const accepted = await mapLimit(secrets, SETUP_CONCURRENCY, async (s, i) => (current[i] ? s.accepted(current[i]).catch(() => false) : false));

      const seconds = elapsedMs / 1000;
      const revoked = outcomes.filter((o) => o.outcome !== 'lost').length;
      const groups: GroupFigure[] = proxy.quotas
        .filter((q) => (counts.admitted[q.name] ?? 0) > 0)
        .map((q) => {
          const admitted = counts.admitted[q.name] ?? 0;
          const perLeak = admitted / N;
          const line = proxy.timeline(q.name);
          const throttled = q.operations.reduce((sum, op) => sum + (counts.throttled[`secretsmanager:${op}`] ?? 0), 0);
          return {
            quota: q.name,
            per_second: q.perSecond,
            calls_per_leak: r2(perLeak),
            limit_leaks_per_second: r2(q.perSecond / perLeak),
            peak_per_second: Math.max(0, ...line),
            mean_per_second: r2(admitted / seconds),
            throttled,
          };
        });
      const binding = groups.reduce((a, g) => (g.limit_leaks_per_second < a.limit_leaks_per_second ? g : a), groups[0]!);
      const leaksPerSecond = revoked / seconds;
      const handlerTimes = outcomes.filter((o) => o.outcome !== 'lost').map((o) => o.handlerMs).sort((a, b) => a - b);
      const meanHandlerS = handlerTimes.reduce((a, b) => a + b, 0) / Math.max(1, handlerTimes.length) / 1000;
      const concurrencyBound = concurrency / meanHandlerS;
      const overLimit = leaksPerSecond / binding.limit_leaks_per_second;
      const pollMs = POLL_MS ?? emergencyHandlerDefaults.pollIntervalMs;
      const motoCalls = Object.values(counts.calls).reduce((a, b) => a + b, 0);
      const motoRate = motoCalls / seconds;
      // The quota model binds when the achieved rate is at least 80 % of what its tightest quota
      // allows; moto is the bottleneck when it served at least 70 % of its calibrated capacity
      // (whichever is nearer its limit is named when both are); otherwise the invocations are.
      const emulatorUse = motoRate / motoCapacity;
      const quotaText = `the quota model (${binding.quota}: ${binding.per_second}/s at ${binding.calls_per_leak} calls per leak; ${Math.round(overLimit * 100)} % of its limit)`;
      const emulatorText = `the local emulator (moto served ${Math.round(motoRate)} calls/s, ${Math.round(emulatorUse * 100)} % of the ${Math.round(motoCapacity)}/s it manages; answers ${r2(upstream.p50)} ms p50, ${r2(idleP50)} ms idle)`;
      const limitedBy =
        overLimit >= 0.8 && (emulatorUse < 0.7 || overLimit >= emulatorUse)
          ? quotaText + (emulatorUse >= 0.7 ? `, with moto near its capacity too (${Math.round(emulatorUse * 100)} %)` : '')
          : emulatorUse >= 0.7
            ? emulatorText + (overLimit >= 0.7 ? `, with the quota model near its limit too (${Math.round(overLimit * 100)} %)` : '')
            : N <= concurrency
              ? `one leak's latency (all ${N} in flight at once; handler p95 ${r2(quantile(handlerTimes, 0.95) / 1000)} s, polling every ${pollMs} ms for the rotation)`
              : `Rotor: ${concurrency} emergency invocations at once × ${r2(meanHandlerS)} s each (the function's reserved concurrency; the handler polls every ${pollMs} ms for the rotation)`;
      const outcomeCounts: Record<string, number> = {};
      for (const o of outcomes) bump(outcomeCounts, o.outcome);
      const figure: FanoutFigure = {
        figure: 'emergency_fanout',
        run,
        secrets: N,
        mix,
        concurrency,
        quota_scale: QUOTA_SCALE,
        poll_interval_ms: pollMs,
        outcomes: outcomeCounts,
        time_to_last_revocation_s: r2(seconds),
        leaks_per_second: r2(leaksPerSecond),
        rotations_per_second: r2(rotations / seconds),
        handler_p50_s: r2(quantile(handlerTimes, 0.5) / 1000),
        handler_p95_s: r2(quantile(handlerTimes, 0.95) / 1000),
        concurrency_bound_leaks_per_second: r2(concurrencyBound),
        quota_model: { binding: binding.quota, limit_leaks_per_second: binding.limit_leaks_per_second, achieved_over_limit: r2(overLimit), groups },
        throttling: {
          answered_by_model: Object.values(counts.throttled).reduce((a, b) => a + b, 0),
          sdk_retries: stats.sdkRetries,
          throttle_errors_after_sdk_retries: stats.throttleErrors,
          rotation_retries: stats.rotationRetries,
          rotations_abandoned: stats.rotationsAbandoned,
          step_failures: stats.stepFailures,
          invocation_failures: stats.invocationFailures,
        },
        function_instances: { emergency: emergency.started, rotation: [...pools.values()].reduce((a, p) => a + p.started, 0) },
        emulator: {
          moto_p50_ms: r2(upstream.p50),
          moto_p95_ms: r2(upstream.p95),
          moto_idle_p50_ms: r2(idleP50),
          max_in_flight: upstream.maxInFlight,
          calls_per_second: Math.round(motoRate),
          capacity_calls_per_second: Math.round(motoCapacity),
          utilization: r2(emulatorUse),
        },
        verified: { leaked_refused: refused.filter(Boolean).length, current_accepted: accepted.filter(Boolean).length },
        limited_by: limitedBy,
        load_average_1m: r2(loadavg()[0]!),
        conditions,
      };
      figures.push(figure);
      console.log(JSON.stringify(figure));
    }
  } finally {
    proxy.onAnswer(undefined);
    await provider.close();
    await dropMysqlLogins(root, mysqlUsers).catch((err: unknown) => console.error(`fanout: dropping the MySQL logins failed: ${(err as Error).name}`));
    await root.end();
    await admin.end();
    cluster.stop();
    sm.destroy();
    iam.destroy();
    await proxy.close();
    await moto.stop();
  }
  printTable(figures);
}

function printTable(figures: FanoutFigure[]): void {
  const rows = [
    `emergency fan-out: ${N} secrets leaked at t0 (${Object.entries(figures[0]?.mix ?? {}).map(([k, v]) => `${v} ${k}`).join(', ')})`,
    'run      | conc | revoked/lost | to last revocation | leaks/s | rotations/s | quota limit (binding)            | achieved/limit | throttled / SDK retries / rotation retries / failed invocations | limited by',
  ];
  for (const f of figures) {
    const lost = f.outcomes.lost ?? 0;
    const failed = Object.values(f.throttling.invocation_failures).reduce((a, b) => a + b, 0);
    rows.push(
      [
        f.run.padEnd(8),
        String(f.concurrency).padStart(4),
        `${f.secrets - lost}/${lost}`.padStart(12),
        `${f.time_to_last_revocation_s} s`.padStart(18),
        String(f.leaks_per_second).padStart(7),
        String(f.rotations_per_second).padStart(11),
        `${f.quota_model.limit_leaks_per_second}/s (${f.quota_model.binding})`.padEnd(32),
        String(f.quota_model.achieved_over_limit).padStart(14),
        `${f.throttling.answered_by_model} / ${f.throttling.sdk_retries} / ${f.throttling.rotation_retries} / ${failed}`.padStart(63),
        f.limited_by,
      ].join(' | '),
    );
    rows.push(
      `         verified: ${f.verified.leaked_refused}/${f.secrets} leaked values refused, ${f.verified.current_accepted}/${f.secrets} current accepted; ` +
        `handler p50 ${f.handler_p50_s} s; moto ${f.emulator.calls_per_second} calls/s of ${f.emulator.capacity_calls_per_second} (utilization ${f.emulator.utilization}), ` +
        `answers p50 ${f.emulator.moto_p50_ms} ms (idle ${f.emulator.moto_idle_p50_ms})`,
    );
  }
  console.error(rows.join('\n'));
}
