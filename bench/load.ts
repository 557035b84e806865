/**
 * The zero-failed-requests load harness (shared by `npm run bench` at full size and
 * test/client.load.test.ts at a small size). Workers keep making requests through a client,
 * each a new login or connection where the kind allows, while the real rotation handlers rotate
 * the secret step by step (the Secrets Manager player), and optionally while the emergency
 * handler rotates and revokes it after a leak event in the middle of the load.
 *
 * "library" clients are rotor/client's; "naive" clients read AWSCURRENT once and cache it five
 * minutes (the Lambda extension's and Agent's default), with no retry: within a run they never
 * re-read. No part of the client under test is replaced: requests go to the real targets.
 */
import { TagResourceCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateAccessKeyCommand, CreateUserCommand, type IAMClient } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { fromRotatedAccessKey, mysqlPool, pgPool, SecretCache, tokenFetch, type AuthRetryInfo } from '../client/index.js';
import type { RotationKind } from '../lambdas/core/types.js';
import { createRotationHandler } from '../lambdas/core/handler.js';
import { createEmergencyHandler, emergencyKinds } from '../lambdas/emergency/index.js';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { createMysqlKind } from '../lambdas/mysql/mysqlKind.js';
import { createIamKind } from '../lambdas/iam/iamKind.js';
import { createApiTokenKind } from '../lambdas/api-token/apiTokenKind.js';
import { lambdaContext, playRotations, STEPS, type Handler, type SecretsManagerPlayer } from '../bin/local/harness.js';
import { leakEvent } from '../bin/local/leakEvents.js';
import { account, type MysqlFixtures } from '../bin/local/mysql.js';
import type { TokenProviderServer } from '../bin/local/tokenProvider.js';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export type ClientMode = 'library' | 'naive';

export interface LoadFigure {
  readonly figure: 'load';
  readonly kind: string;
  readonly strategy: string;
  readonly client: ClientMode;
  readonly workers: number;
  readonly rotations: number;
  readonly emergency: boolean;
  readonly requests: number;
  readonly failed: number;
  readonly retried: number;
  /** Failures while the emergency rotation and revocation ran (included in `failed`). */
  readonly failedDuringEmergency: number;
  /** Failures after the emergency handler returned (included in `failed`). */
  readonly failedAfterEmergency: number;
  /** Failure counts by error name or HTTP status (no messages: they could quote a value). */
  readonly failures: Record<string, number>;
}

/** What a scenario needs from its surroundings (the test's fixtures or the bench's servers). */
export interface LoadEnv {
  readonly player: SecretsManagerPlayer;
  /** A Secrets Manager client for the apps' caches and the handlers (signing with a key moto knows). */
  readonly sm: SecretsManagerClient;
  readonly endpoint: string;
  readonly events: EventBridgeClient;
  readonly iam?: IAMClient;
  /** Creates a secret the caller owns (the tests check its every version against the logs). */
  secret(name: string, value: unknown): Promise<string>;
  /** A quiet rotation handler for a kind. */
  handler<S>(kind: RotationKind<S>, env?: Record<string, string>): Handler;
}

/** One kind and strategy under load: its secret, its rotation handler and a request per client mode. */
export interface Scenario {
  readonly kind: string;
  readonly strategy: string;
  readonly secretId: string;
  readonly rotation: Handler;
  /** A client of the mode; `request()` makes one request (throws or answers false on failure). */
  client(mode: ClientMode, cache: SecretCache, onAuthRetry: (i: AuthRetryInfo) => void): Promise<{ request(): Promise<void>; close(): Promise<void> }>;
  close?(): Promise<void>;
}

export interface LoadOptions {
  readonly rotations: number;
  readonly workers?: number;
  /** Run an emergency rotation (leak event through the emergency handler) after half of the rotations. */
  readonly emergency?: boolean;
  /** Pause between a rotation's steps, so requests land inside every window. @default 5 */
  readonly stepPauseMs?: number;
  /** Pause between two requests of one worker. @default 2 */
  readonly thinkMs?: number;
  /** Upper bound of requests per worker (bounded loops). @default 100_000 */
  readonly maxRequestsPerWorker?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function failureName(err: unknown): string {
  const e = err as { code?: unknown; errno?: unknown; name?: unknown; status?: unknown; message?: unknown };
  // pg reports a session the server ended either with its SQLSTATE (57P01) or, when the socket
  // closed first, with this message and no code: both are "the revocation ended this session".
  // A query sent on a client whose session just ended gets pg's "not queryable" instead.
  if (e?.code === undefined && typeof e?.message === 'string' && /Connection terminated|connection error and is not queryable/i.test(e.message)) {
    return 'connection-terminated';
  }
  const name = String(e?.code ?? e?.errno ?? e?.status ?? e?.name ?? typeof err);
  // A plain Error names nothing: keep the start of its message (driver messages, no values) so a
  // failing figure says what it was.
  return name === 'Error' && typeof e?.message === 'string' ? `Error: ${e.message.slice(0, 60)}` : name;
}

/** Runs the load: workers requesting while `rotations` rotations run through the real handler. */
export async function runLoad(env: LoadEnv, scenario: Scenario, mode: ClientMode, options: LoadOptions): Promise<LoadFigure> {
  const workers = options.workers ?? 4;
  const stepPause = options.stepPauseMs ?? 5;
  const think = options.thinkMs ?? 2;
  const maxPerWorker = options.maxRequestsPerWorker ?? 100_000;
  const cache = new SecretCache({ client: env.sm, ttlMs: mode === 'library' ? 120_000 : 300_000 });
  let retried = 0;
  const client = await scenario.client(mode, cache, () => {
    retried++;
  });
  let requests = 0;
  let failed = 0;
  let failedDuringEmergency = 0;
  let failedAfterEmergency = 0;
  let phase: 'before' | 'during' | 'after' = 'before';
  const failures: Record<string, number> = {};
  let stop = false;
  const worker = async () => {
    for (let i = 0; i < maxPerWorker && !stop; i++) {
      requests++;
      try {
        await client.request();
      } catch (err) {
        failed++;
        if (phase === 'during') failedDuringEmergency++;
        if (phase === 'after') failedAfterEmergency++;
        const name = failureName(err);
        failures[name] = (failures[name] ?? 0) + 1;
      }
      await sleep(think);
    }
  };
  const running = Array.from({ length: workers }, worker);
  try {
    await sleep(20);
    for (let r = 0; r < options.rotations; r++) {
      if (options.emergency && r === Math.floor(options.rotations / 2)) {
        phase = 'during';
        await emergencyRotation(env, scenario);
        phase = 'after';
        await sleep(stepPause);
      }
      const token = await env.player.startRotation(scenario.secretId);
      for (const step of STEPS) {
        await scenario.rotation(env.player.event(scenario.secretId, token, step), lambdaContext());
        await sleep(stepPause);
      }
    }
    await sleep(20);
  } finally {
    stop = true;
    await Promise.all(running);
    await client.close();
  }
  return {
    figure: 'load',
    kind: scenario.kind,
    strategy: scenario.strategy,
    client: mode,
    workers,
    rotations: options.rotations + (options.emergency ? 1 : 0),
    emergency: options.emergency ?? false,
    requests,
    failed,
    retried,
    failedDuringEmergency,
    failedAfterEmergency,
    failures,
  };
}

/** A leak event through the emergency handler as deployed, the four steps played concurrently (as the service would). */
async function emergencyRotation(env: LoadEnv, scenario: Scenario): Promise<void> {
  const handler = createEmergencyHandler({
    sm: env.sm,
    events: env.events,
    kinds: emergencyKinds,
    logger: new Logger({ serviceName: 'rotor-emergency', logLevel: 'ERROR' }),
    metrics: new Metrics({ namespace: 'Bench', serviceName: 'rotor-emergency' }),
    pollIntervalMs: 20,
    waitTimeoutMs: 20_000,
  });
  const service = playRotations(env.player, scenario.rotation, scenario.secretId, 10);
  try {
    const [result] = await handler(leakEvent({ secretId: scenario.secretId, reason: 'load harness leak' }) as never, lambdaContext('rotor-emergency'));
    if (result?.outcome !== 'rotated-and-revoked') throw new Error(`emergency: unexpected outcome ${result?.outcome}`);
  } finally {
    await service.stop();
  }
  if (service.errors.length > 0) throw new Error(`emergency: a rotation step failed (${failureName(service.errors[0])})`);
}

async function tag(env: LoadEnv, arn: string, tags: Record<string, string>): Promise<void> {
  await env.sm.send(new TagResourceCommand({ SecretId: arn, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }));
}

const unique = (prefix: string) => `${prefix}_${randomBytes(4).toString('hex')}`;
const password = () => randomBytes(24).toString('base64url');

// --- PostgreSQL ----------------------------------------------------------------------------

export interface PgTarget {
  readonly host: string;
  readonly port: number;
  readonly superuser: { username: string; password: string };
  readonly admin: pg.Client;
}

export async function postgresScenario(env: LoadEnv, target: PgTarget, strategy: 'single-user' | 'alternating-users'): Promise<Scenario> {
  const username = unique('load');
  const pw = password();
  const { admin } = target;
  await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(pw)}`);
  const base = { engine: 'postgres', host: target.host, port: target.port, dbname: 'postgres' };
  const value: Record<string, unknown> = { ...base, username, password: pw };
  if (strategy === 'alternating-users') {
    value.masterarn = await env.secret(unique('load/pg-master'), { ...base, ...target.superuser });
  }
  const secretId = await env.secret(unique('load/pg'), value);
  await tag(env, secretId, { 'rotor:kind': 'postgres', 'rotor:strategy': strategy });
  return {
    kind: 'postgres',
    strategy,
    secretId,
    rotation: env.handler(postgresKind, { ROTATION_STRATEGY: strategy }),
    async client(mode, cache, onAuthRetry) {
      if (mode === 'library') {
        const pool = pgPool({ secretId, cache, onAuthRetry, max: 4, maxUses: 1, connectionTimeoutMillis: 5_000 });
        pool.on('error', () => undefined);
        return {
          request: async () => {
            await pool.query('SELECT 1');
          },
          close: () => pool.end(),
        };
      }
      return {
        request: async () => {
          const s = await cache.get<{ username: string; password: string }>(secretId);
          const c = new pg.Client({ ...base, database: 'postgres', user: s.username, password: s.password, connectionTimeoutMillis: 5_000 });
          c.on('error', () => undefined);
          try {
            await c.connect();
            await c.query('SELECT 1');
          } finally {
            await c.end().catch(() => undefined);
          }
        },
        close: async () => undefined,
      };
    },
  };
}

// --- MySQL / MariaDB -------------------------------------------------------------------------

export interface MysqlTarget {
  readonly host: string;
  readonly port: number;
  readonly engine: string;
  readonly root: mysql.Connection;
  readonly fixtures: MysqlFixtures;
}

let mysqlMaster: { username: string; password: string } | undefined;

export async function mysqlScenario(env: LoadEnv, target: MysqlTarget, strategy: 'single-user' | 'alternating-users'): Promise<Scenario> {
  const base = { engine: target.engine, host: target.host, port: target.port };
  const username = unique('ld');
  const pw = password();
  await target.fixtures.createUser(username, pw);
  const value: Record<string, unknown> = { ...base, username, password: pw };
  if (strategy === 'alternating-users') {
    if (!mysqlMaster) {
      mysqlMaster = { username: unique('lm'), password: password() };
      await target.fixtures.createUser(mysqlMaster.username, mysqlMaster.password);
      await target.root.query(`GRANT ALL PRIVILEGES ON *.* TO ${account(mysqlMaster.username)} WITH GRANT OPTION`);
    }
    value.masterarn = await env.secret(unique('load/my-master'), { ...base, ...mysqlMaster });
  }
  const secretId = await env.secret(unique('load/my'), value);
  await tag(env, secretId, { 'rotor:kind': 'mysql', 'rotor:strategy': strategy });
  return {
    kind: 'mysql',
    strategy,
    secretId,
    rotation: env.handler(createMysqlKind(), { ROTATION_STRATEGY: strategy }),
    async client(mode, cache, onAuthRetry) {
      if (mode === 'library') {
        const pool = mysqlPool({ secretId, cache, onAuthRetry, connectionLimit: 4, connectTimeout: 5_000 });
        return {
          request: async () => {
            const conn = await pool.getConnection();
            try {
              await conn.query('SELECT 1');
            } finally {
              conn.destroy(); // a new login for every request
            }
          },
          close: () => pool.end(),
        };
      }
      return {
        request: async () => {
          const s = await cache.get<{ username: string; password: string }>(secretId);
          const c = await mysql.createConnection({ host: target.host, port: target.port, user: s.username, password: s.password, connectTimeout: 5_000 });
          try {
            await c.query('SELECT 1');
          } finally {
            await c.end().catch(() => undefined);
          }
        },
        close: async () => undefined,
      };
    },
  };
}

/** Forget the shared MySQL master between runs on different servers (the fixtures drop it). */
export function forgetMysqlMaster(): void {
  mysqlMaster = undefined;
}

// --- IAM access keys -------------------------------------------------------------------------

export async function iamScenario(env: LoadEnv): Promise<Scenario> {
  const iam = env.iam;
  if (!iam) throw new Error('iamScenario needs an IAM client');
  const username = unique('load-user').replace('_', '-');
  await iam.send(new CreateUserCommand({ UserName: username }));
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: username }))).AccessKey!;
  const secretId = await env.secret(unique('load/iam'), { username, accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey });
  await tag(env, secretId, { 'rotor:kind': 'iam' });
  const sts = (credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider) =>
    new STSClient({ endpoint: env.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
  return {
    kind: 'iam',
    strategy: 'dual-active',
    secretId,
    rotation: env.handler(createIamKind({ iam })),
    async client(mode, cache, onAuthRetry) {
      if (mode === 'library') {
        const provider = fromRotatedAccessKey({ secretId, cache, onAuthRetry });
        const client = provider.retryOnAuthFailure(sts(provider));
        return {
          request: async () => {
            await client.send(new GetCallerIdentityCommand({}));
          },
          close: async () => client.destroy(),
        };
      }
      return {
        request: async () => {
          const s = await cache.get<{ accessKeyId: string; secretAccessKey: string }>(secretId);
          const client = sts({ accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey });
          try {
            await client.send(new GetCallerIdentityCommand({}));
          } finally {
            client.destroy();
          }
        },
        close: async () => undefined,
      };
    },
  };
}

// --- API tokens ------------------------------------------------------------------------------

/** Short pauses of the token kind's own verify retries (the limits are the defaults). */
export const loadTokenKind = () => createApiTokenKind({ verifyDelayMs: 50, http: { backoffMs: 20, timeoutMs: 3_000 } });

export async function tokenScenario(env: LoadEnv, provider: TokenProviderServer, which: 'datadog' | 'cloudflare'): Promise<Scenario> {
  let value: Record<string, unknown>;
  if (which === 'datadog') {
    const management = provider.datadogManagement();
    const managementSecretArn = await env.secret(unique('load/dd-management'), { ...management, allowedHosts: [provider.host] });
    const key = provider.datadogApiKey();
    // graceperiod 0: each createSecret revokes the token AWSPREVIOUS holds (the grace window compressed to none).
    value = { provider: 'datadog', token: key.token, tokenId: key.tokenId, managementSecretArn, baseUrl: provider.datadogBaseUrl, graceperiod: 0 };
  } else {
    const manager = provider.cloudflareToken(true);
    const managementSecretArn = await env.secret(unique('load/cf-management'), { token: manager.token, allowedHosts: [provider.host] });
    const app = provider.cloudflareToken();
    value = { provider: 'cloudflare', token: app.token, tokenId: app.tokenId, managementSecretArn, baseUrl: provider.cloudflareBaseUrl };
  }
  const secretId = await env.secret(unique(`load/${which}`), value);
  await tag(env, secretId, { 'rotor:kind': 'api-token' });
  const url = which === 'datadog' ? `${provider.datadogBaseUrl}/api/v1/validate` : `${provider.cloudflareBaseUrl}/user/tokens/verify`;
  const authorize = which === 'datadog' ? (t: string) => ({ 'DD-API-KEY': t }) : (t: string) => ({ authorization: `Bearer ${t}` });
  const check = (res: Response) => {
    if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status });
  };
  return {
    kind: `api-token:${which}`,
    strategy: which === 'datadog' ? 'dual-active' : 'roll (single-user)',
    secretId,
    rotation: env.handler(loadTokenKind()),
    async client(mode, cache, onAuthRetry) {
      if (mode === 'library') {
        const call = tokenFetch({ secretId, cache, onAuthRetry, authorize });
        return {
          request: async () => {
            const res = await call(url);
            await res.arrayBuffer();
            check(res);
          },
          close: async () => undefined,
        };
      }
      return {
        request: async () => {
          const s = await cache.get<{ token: string }>(secretId);
          const res = await fetch(url, { headers: authorize(s.token) });
          await res.arrayBuffer();
          check(res);
        },
        close: async () => undefined,
      };
    },
  };
}

/** A rotation handler that logs only errors, for the bench (the tests use their captured handlers). */
export function quietRotationHandler(sm: SecretsManagerClient) {
  return <S>(kind: RotationKind<S>, env: Record<string, string> = {}): Handler =>
    createRotationHandler(kind, {
      client: sm,
      env,
      logger: new Logger({ serviceName: 'bench', logLevel: 'ERROR' }),
      metrics: new Metrics({ namespace: 'Bench', serviceName: 'bench' }),
    });
}
