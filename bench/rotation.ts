/**
 * The rotation part of `npm run bench` (BENCH_ONLY=rotation): for each kind and strategy, the
 * latency of a rotation (its four steps, p50/p95 over BENCH_ROUNDS rotations, default 50) and
 * its round trips (Secrets Manager calls, logins, other services' calls), with a warm function
 * (one instance runs all four steps, as Secrets Manager's four calls in a row usually land) and
 * a cold one (a new instance, kind object and SDK client per step), beside the floor: a plain
 * script making only the service calls and logins a rotation cannot do without, against the same
 * servers, and the ratio Rotor / floor.
 *
 * Calls are counted on the wire: every client (Rotor's, the kinds' own, the floor's) talks to
 * moto through the quota stand-in with limiting off (bin/local/quotaProxy.ts), which counts each
 * call by service and operation. Rotor's own count (the handler's StepOutcome) is printed beside it.
 * Both sides' rotations are started the same way (the player's RotateSecret, not timed) and
 * alternate round by round, so drift in the machine's load hits both alike.
 *
 * Local servers: moto_server with IAM/STS signature checks on (STS really refuses an unknown
 * key), a throwaway PostgreSQL cluster (scram-sha-256), the machine's MariaDB, the token-provider
 * emulator; secrets say `ssl: false` (the servers have no TLS: no TLS probe on either side).
 */
import { loadavg } from 'node:os';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  IAMClient,
  ListAccessKeysCommand,
} from '@aws-sdk/client-iam';
import {
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { ALLOW_LOOPBACK_FOR_TESTS } from '../lambdas/contract/testing.js';
import { createRotationHandler } from '../lambdas/core/handler.js';
import type { PasswordPolicy, RotationKind } from '../lambdas/core/types.js';
import { createApiTokenKind } from '../lambdas/api-token/apiTokenKind.js';
import { createIamKind, readIamOptions } from '../lambdas/iam/iamKind.js';
import { createMysqlKind, mysqlPasswordPolicy } from '../lambdas/mysql/mysqlKind.js';
import { createPostgresKind, postgresPasswordPolicy } from '../lambdas/postgres/postgresKind.js';
import { BOOTSTRAP_CALLS, bootstrapAdmin, type KeyPair } from '../bin/local/awsAdmin.js';
import { lambdaContext, SecretsManagerPlayer, STEPS, type Handler } from '../bin/local/harness.js';
import { awsEnvFor, startMoto } from '../bin/local/moto.js';
import { createFingerprintKey } from '../bin/local/fingerprintKey.js';
import { account, MysqlFixtures, mysqlServer, rootConnection } from '../bin/local/mysql.js';
import { startPostgresCluster, testPassword, uniqueName } from '../bin/local/postgres.js';
import { startQuotaProxy, type QuotaProxy } from '../bin/local/quotaProxy.js';
import { TokenProviderServer } from '../bin/local/tokenProvider.js';

/** Rotations per kind, strategy and function mode (each side), after one untimed warm-up rotation. */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 50));
const REGION = 'us-east-1';
/** What AWS's own rotation templates make per rotation (DESIGN.md). */
const AWS_TEMPLATE_CALLS = 14;

type Mode = 'warm' | 'cold';

/** What one side made, summed over the rounds. */
interface Tally {
  readonly times: number[];
  secretsManagerCalls: number;
  /** Rotor only: what its handler reported (StepOutcome.secretsManagerCalls). */
  reportedCalls: number;
  logins: number;
  readonly byOperation: Record<string, number>;
  /** Calls to other services: `iam`, `sts`, `provider-http`. */
  readonly other: Record<string, number>;
}

const tally = (): Tally => ({ times: [], secretsManagerCalls: 0, reportedCalls: 0, logins: 0, byOperation: {}, other: {} });
const add = (m: Record<string, number>, k: string, n: number) => (m[k] = (m[k] ?? 0) + n);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** What a floor step may use: SDK clients (a cold step gets new ones) and a login counter. */
interface FloorContext {
  readonly sm: SecretsManagerClient;
  readonly iam: IAMClient;
  login(): void;
}
type FloorStep = (ctx: FloorContext, secretId: string, token: string) => Promise<void>;

/**
 * The floor of one kind and strategy: `warm` is one script that keeps what it read in memory
 * across the four steps; `cold` is four steps that share nothing (each reads the least it needs).
 */
interface Floor {
  readonly warm: FloorStep;
  readonly cold: readonly [create: FloorStep, set: FloorStep, test: FloorStep, finish: FloorStep];
}

interface Subject {
  readonly kind: string;
  readonly strategy: string;
  /** A fresh secret rotated by Rotor. */
  rotorSecret(): Promise<string>;
  /** A fresh secret rotated by the floor (the same shape on the same servers). */
  floorSecret(): Promise<string>;
  /** One rotation function instance (a cold start: a new kind object) signing with `client`. */
  instance(client: SecretsManagerClient): Handler;
  readonly floor: Floor;
}

// --- the floor's Secrets Manager calls ----------------------------------------------------

/** GetSecretValue naming the stage (and the version when known): the value and its version id. */
async function read<T>(sm: SecretsManagerClient, secretId: string, stage: string, versionId?: string): Promise<{ value: T; versionId: string }> {
  const out = await sm.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage, VersionId: versionId }));
  return { value: JSON.parse(out.SecretString!) as T, versionId: out.VersionId! };
}

async function randomPassword(sm: SecretsManagerClient, policy: PasswordPolicy): Promise<string> {
  const out = await sm.send(new GetRandomPasswordCommand({ PasswordLength: policy.length, ExcludeCharacters: policy.excludeCharacters }));
  return out.RandomPassword!;
}

async function putPending(sm: SecretsManagerClient, secretId: string, token: string, value: unknown): Promise<void> {
  await sm.send(
    new PutSecretValueCommand({ SecretId: secretId, ClientRequestToken: token, SecretString: JSON.stringify(value), VersionStages: ['AWSPENDING'] }),
  );
}

/**
 * finishSecret's label moves: AWSCURRENT to the new version (Secrets Manager then labels the old
 * one AWSPREVIOUS), and AWSPENDING off it. AWS removes AWSPENDING itself; moto does not, and
 * refuses the next RotateSecret while it stays, so the floor removes it as Rotor does (on AWS
 * the floor would make one call fewer).
 */
async function promote(sm: SecretsManagerClient, secretId: string, token: string, currentVersionId: string): Promise<void> {
  await sm.send(new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT', MoveToVersionId: token, RemoveFromVersionId: currentVersionId }));
  await sm.send(new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: 'AWSPENDING', RemoveFromVersionId: token }));
}

// --- database floors ------------------------------------------------------------------------

interface DbSecret {
  username: string;
  password: string;
  masterarn?: string;
  [k: string]: unknown;
}

/** What a database floor does on the server: each call is one login. */
interface FloorDatabase {
  /** Logs in as `login` and sets its own password. */
  changeOwn(login: DbSecret, password: string): Promise<void>;
  /** Logs in as the master and sets another login's password. */
  changeAs(master: DbSecret, username: string, password: string): Promise<void>;
  /** Logs in and runs one query. */
  prove(creds: DbSecret): Promise<void>;
}

const alternate = (u: string) => (u.endsWith('_clone') ? u.slice(0, -'_clone'.length) : `${u}_clone`);

/**
 * Single-user floor (PostgreSQL and MySQL alike). Unavoidable: read AWSCURRENT (the login and
 * its password), one GetRandomPassword, one PutSecretValue of AWSPENDING, one login as the user
 * that changes its own password (ALTER ROLE / ALTER USER CURRENT_USER()), one login with the new
 * password (the proof), the label moves. A stateless (cold) step must read again what it needs:
 * setSecret the pending and the current value, testSecret the pending one, finishSecret the
 * current version id. Left out (Rotor does them): DescribeSecret (the protocol's checks of the
 * token and rotation state), the check whether the pending password already works (a retried
 * setSecret), AWSPREVIOUS as a fallback password.
 */
function singleUserFloor(db: FloorDatabase, policy: PasswordPolicy): Floor {
  return {
    async warm(ctx, id, token) {
      const current = await read<DbSecret>(ctx.sm, id, 'AWSCURRENT');
      const pending = { ...current.value, password: await randomPassword(ctx.sm, policy) };
      await putPending(ctx.sm, id, token, pending);
      ctx.login();
      await db.changeOwn(current.value, pending.password);
      ctx.login();
      await db.prove(pending);
      await promote(ctx.sm, id, token, current.versionId);
    },
    cold: [
      async (ctx, id, token) => {
        const current = await read<DbSecret>(ctx.sm, id, 'AWSCURRENT');
        await putPending(ctx.sm, id, token, { ...current.value, password: await randomPassword(ctx.sm, policy) });
      },
      async (ctx, id, token) => {
        const pending = await read<DbSecret>(ctx.sm, id, 'AWSPENDING', token);
        const current = await read<DbSecret>(ctx.sm, id, 'AWSCURRENT');
        ctx.login();
        await db.changeOwn(current.value, pending.value.password);
      },
      async (ctx, id, token) => {
        const pending = await read<DbSecret>(ctx.sm, id, 'AWSPENDING', token);
        ctx.login();
        await db.prove(pending.value);
      },
      async (ctx, id, token) => {
        const current = await read<DbSecret>(ctx.sm, id, 'AWSCURRENT');
        await promote(ctx.sm, id, token, current.versionId);
      },
    ],
  };
}

/**
 * Alternating-users floor. Unavoidable: read AWSCURRENT, one GetRandomPassword, one
 * PutSecretValue of AWSPENDING (the other login), read the master secret, one master login that
 * sets the other login's password, one login as the other login, the label moves. The floor's
 * clone exists beforehand (made by hand); it syncs no grants, memberships or settings (Rotor
 * does, in the same master session: queries, not round trips), proves nothing about the pairing
 * or the current login (Rotor's one extra login), and skips DescribeSecret as above.
 */
function alternatingFloor(db: FloorDatabase, policy: PasswordPolicy): Floor {
  return {
    async warm(ctx, id, token) {
      const current = await read<DbSecret>(ctx.sm, id, 'AWSCURRENT');
      const pending = { ...current.value, username: alternate(current.value.username), password: await randomPassword(ctx.sm, policy) };
      await putPending(ctx.sm, id, token, pending);
      const master = await read<DbSecret>(ctx.sm, current.value.masterarn!, 'AWSCURRENT');
      ctx.login();
      await db.changeAs(master.value, pending.username, pending.password);
      ctx.login();
      await db.prove(pending);
      await promote(ctx.sm, id, token, current.versionId);
    },
    cold: [
      async (ctx, id, token) => {
        const current = await read<DbSecret>(ctx.sm, id, 'AWSCURRENT');
        const password = await randomPassword(ctx.sm, policy);
        await putPending(ctx.sm, id, token, { ...current.value, username: alternate(current.value.username), password });
      },
      async (ctx, id, token) => {
        const pending = await read<DbSecret>(ctx.sm, id, 'AWSPENDING', token);
        const master = await read<DbSecret>(ctx.sm, pending.value.masterarn!, 'AWSCURRENT');
        ctx.login();
        await db.changeAs(master.value, pending.value.username, pending.value.password);
      },
      async (ctx, id, token) => {
        const pending = await read<DbSecret>(ctx.sm, id, 'AWSPENDING', token);
        ctx.login();
        await db.prove(pending.value);
      },
      async (ctx, id, token) => {
        const current = await read<DbSecret>(ctx.sm, id, 'AWSCURRENT');
        await promote(ctx.sm, id, token, current.versionId);
      },
    ],
  };
}

function postgresFloorDatabase(host: string, port: number): FloorDatabase {
  const session = async (creds: DbSecret, fn: (c: pg.Client) => Promise<unknown>) => {
    const client = new pg.Client({ host, port, user: creds.username, password: creds.password, database: 'postgres' });
    client.on('error', () => undefined);
    await client.connect();
    try {
      await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const alter = (c: pg.Client, user: string, password: string) =>
    c.query(`ALTER ROLE ${c.escapeIdentifier(user)} PASSWORD ${c.escapeLiteral(password)}`);
  return {
    changeOwn: (login, password) => session(login, (c) => alter(c, login.username, password)),
    changeAs: (master, username, password) => session(master, (c) => alter(c, username, password)),
    prove: (creds) => session(creds, (c) => c.query('SELECT 1')),
  };
}

function mysqlFloorDatabase(host: string, port: number, mariadb: boolean): FloorDatabase {
  const session = async (creds: DbSecret, fn: (c: mysql.Connection) => Promise<unknown>) => {
    try {
      const conn = await mysql.createConnection({ host, port, user: creds.username, password: creds.password });
      try {
        await fn(conn);
      } finally {
        await conn.end().catch(() => undefined);
      }
    } catch (err) {
      // mysql2's errors quote the statement, password and all: keep only what names the problem.
      const e = err as { code?: string; errno?: number };
      throw new Error(`floor: MySQL said ${e.code ?? 'error'} (${e.errno ?? '?'})`);
    }
  };
  // MariaDB's ALTER USER needs CREATE USER even for CURRENT_USER(); its own-password statement is SET PASSWORD.
  const own = mariadb ? 'SET PASSWORD = PASSWORD(?)' : 'ALTER USER USER() IDENTIFIED BY ?';
  return {
    changeOwn: (login, password) => session(login, (c) => c.query(own, [password])),
    changeAs: (master, username, password) => session(master, (c) => c.query(`ALTER USER ${account(username)} IDENTIFIED BY ?`, [password])),
    prove: (creds) => session(creds, (c) => c.query('SELECT 1')),
  };
}

// --- IAM floor --------------------------------------------------------------------------------

interface IamValue {
  username: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * IAM access key floor. Unavoidable: read AWSCURRENT (the user and its key), ListAccessKeys (a
 * user holds two keys at most: the function must learn which other key to delete to make room),
 * DeleteAccessKey of that other key (the previous one), CreateAccessKey, PutSecretValue of
 * AWSPENDING, one STS GetCallerIdentity signed with the new key (the proof), the label moves.
 * setSecret has nothing to do (a key is live when created). Left out (Rotor does them):
 * DescribeSecret, the createSecret claim (a version of Rotor's own, so that a duplicate
 * invocation never issues a second key), the key's mark (TagUser) and its removal (UntagUser),
 * the checks that the key is Active (ListAccessKeys in setSecret and testSecret: moto lets an
 * inactive key sign), the fingerprint tags the emergency handler finds leaked keys by.
 */
function iamFloor(stsEndpoint: string): Floor {
  const makeRoomAndCreate = async ({ iam }: FloorContext, current: IamValue) => {
    const keys = (await iam.send(new ListAccessKeysCommand({ UserName: current.username }))).AccessKeyMetadata ?? [];
    if (keys.length >= 2) {
      const other = keys.find((k) => k.AccessKeyId !== current.accessKeyId)!;
      await iam.send(new DeleteAccessKeyCommand({ UserName: current.username, AccessKeyId: other.AccessKeyId }));
    }
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: current.username }))).AccessKey!;
    return { ...current, accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
  };
  const prove = async (ctx: FloorContext, pending: IamValue) => {
    ctx.login();
    const sts = new STSClient({ endpoint: stsEndpoint, region: REGION, credentials: pending, maxAttempts: 1 });
    try {
      await sts.send(new GetCallerIdentityCommand({}));
    } finally {
      sts.destroy();
    }
  };
  return {
    async warm(ctx, id, token) {
      const current = await read<IamValue>(ctx.sm, id, 'AWSCURRENT');
      const pending = await makeRoomAndCreate(ctx, current.value);
      await putPending(ctx.sm, id, token, pending);
      await prove(ctx, pending);
      await promote(ctx.sm, id, token, current.versionId);
    },
    cold: [
      async (ctx, id, token) => {
        const current = await read<IamValue>(ctx.sm, id, 'AWSCURRENT');
        await putPending(ctx.sm, id, token, await makeRoomAndCreate(ctx, current.value));
      },
      async () => undefined,
      async (ctx, id, token) => prove(ctx, (await read<IamValue>(ctx.sm, id, 'AWSPENDING', token)).value),
      async (ctx, id, token) => promote(ctx.sm, id, token, (await read<IamValue>(ctx.sm, id, 'AWSCURRENT')).versionId),
    ],
  };
}

// --- API token floors -------------------------------------------------------------------------

interface TokenValue {
  token: string;
  tokenId: string;
  managementSecretArn: string;
  baseUrl: string;
  [k: string]: unknown;
}

/** How a provider issues (or rolls) a token with the management credential, and verifies one. */
interface FloorProvider {
  issue(current: TokenValue, management: Record<string, string>): Promise<{ token: string; tokenId: string }>;
  verify(value: TokenValue): Promise<void>;
}

const datadogFloor: FloorProvider = {
  async issue(current, management) {
    const res = await fetch(`${current.baseUrl}/api/v2/api_keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'DD-API-KEY': management.apiKey!, 'DD-APPLICATION-KEY': management.appKey! },
      body: JSON.stringify({ data: { type: 'api_keys', attributes: { name: 'floor' } } }),
    });
    const body = (await res.json()) as { data: { id: string; attributes: { key: string } } };
    if (res.status !== 201) throw new Error(`datadog issue: HTTP ${res.status}`);
    return { token: body.data.attributes.key, tokenId: body.data.id };
  },
  async verify(value) {
    const res = await fetch(`${value.baseUrl}/api/v1/validate`, { headers: { 'DD-API-KEY': value.token } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`datadog validate: HTTP ${res.status}`);
  },
};

const cloudflareFloor: FloorProvider = {
  async issue(current, management) {
    const res = await fetch(`${current.baseUrl}/user/tokens/${current.tokenId}/value`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${management.token!}` },
      body: '{}',
    });
    const body = (await res.json()) as { result: string };
    if (res.status !== 200) throw new Error(`cloudflare roll: HTTP ${res.status}`);
    return { token: body.result, tokenId: current.tokenId };
  },
  async verify(value) {
    const res = await fetch(`${value.baseUrl}/user/tokens/verify`, { headers: { authorization: `Bearer ${value.token}` } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`cloudflare verify: HTTP ${res.status}`);
  },
};

/**
 * API token floor. Unavoidable: read AWSCURRENT (the token's id and where its management
 * credential is), read the management secret, one request that issues (Datadog) or rolls
 * (Cloudflare) the token, PutSecretValue of AWSPENDING, one request with the new token (the
 * provider's "who am I": the proof), the label moves. setSecret has nothing to do. Left out:
 * DescribeSecret, the createSecret claim (one issue per rotation however often the step is
 * delivered), the fingerprint tags; revoking the old Datadog key is the retire handler's job
 * after the grace window on both sides.
 */
function tokenFloor(provider: FloorProvider): Floor {
  const issue = async (ctx: FloorContext, current: TokenValue) => {
    const management = await read<Record<string, string>>(ctx.sm, current.managementSecretArn, 'AWSCURRENT');
    return { ...current, ...(await provider.issue(current, management.value)) };
  };
  const prove = async (ctx: FloorContext, value: TokenValue) => {
    ctx.login();
    await provider.verify(value);
  };
  return {
    async warm(ctx, id, token) {
      const current = await read<TokenValue>(ctx.sm, id, 'AWSCURRENT');
      const pending = await issue(ctx, current.value);
      await putPending(ctx.sm, id, token, pending);
      await prove(ctx, pending);
      await promote(ctx.sm, id, token, current.versionId);
    },
    cold: [
      async (ctx, id, token) => putPending(ctx.sm, id, token, await issue(ctx, (await read<TokenValue>(ctx.sm, id, 'AWSCURRENT')).value)),
      async () => undefined,
      async (ctx, id, token) => prove(ctx, (await read<TokenValue>(ctx.sm, id, 'AWSPENDING', token)).value),
      async (ctx, id, token) => promote(ctx.sm, id, token, (await read<TokenValue>(ctx.sm, id, 'AWSCURRENT')).versionId),
    ],
  };
}

// --- measuring --------------------------------------------------------------------------------

interface RotationFigure {
  readonly figure: 'rotation';
  readonly kind: string;
  readonly strategy: string;
  readonly function: Mode;
  readonly rounds: number;
  readonly rotor: SideFigure;
  readonly floor: SideFigure;
  readonly ratio_p50: number;
  readonly ratio_p95: number;
  readonly aws_template_calls_per_rotation?: number;
  readonly load_average_1m: number;
  readonly conditions: string;
}

interface SideFigure {
  readonly p50_ms: number;
  readonly p95_ms: number;
  /** Counted on the wire, per rotation. */
  readonly secretsmanager_calls: number;
  /** Rotor only: what the handler reported per rotation (StepOutcome.secretsManagerCalls). */
  readonly secretsmanager_calls_reported?: number;
  readonly logins: number;
  readonly secretsmanager_by_operation: Record<string, number>;
  /** Per rotation: IAM, STS and provider HTTP calls. */
  readonly other_calls: Record<string, number>;
}

const round1 = (n: number) => Math.round(n * 10) / 10;
const perRotation = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, round1(v / ROUNDS)]));

function side(t: Tally, rotor: boolean): SideFigure {
  const sorted = [...t.times].sort((a, b) => a - b);
  return {
    p50_ms: round1(quantile(sorted, 0.5)),
    p95_ms: round1(quantile(sorted, 0.95)),
    secretsmanager_calls: round1(t.secretsManagerCalls / ROUNDS),
    ...(rotor ? { secretsmanager_calls_reported: round1(t.reportedCalls / ROUNDS) } : {}),
    logins: round1(t.logins / ROUNDS),
    secretsmanager_by_operation: perRotation(t.byOperation),
    other_calls: perRotation(t.other),
  };
}

interface Bench {
  readonly proxy: QuotaProxy;
  readonly provider: TokenProviderServer;
  readonly player: SecretsManagerPlayer;
  readonly aws: { endpoint: string; region: string; credentials: KeyPair };
  /** The warm side's clients (one per function instance / script, kept). */
  readonly sm: SecretsManagerClient;
  readonly iam: IAMClient;
}

/** Runs `fn` and adds what went over the wire meanwhile to the tally. */
async function counted(b: Bench, t: Tally, fn: () => Promise<void>): Promise<void> {
  const httpBefore = b.provider.requests.length;
  b.proxy.mark();
  const started = performance.now();
  await fn();
  t.times.push(performance.now() - started);
  for (const [key, n] of Object.entries(b.proxy.counts().calls)) {
    const [service, operation] = key.split(':') as [string, string];
    if (service === 'secretsmanager') {
      t.secretsManagerCalls += n;
      add(t.byOperation, operation, n);
    } else {
      add(t.other, service, n);
    }
  }
  const http = b.provider.requests.length - httpBefore;
  if (http > 0) add(t.other, 'provider-http', http);
}

async function measure(b: Bench, s: Subject, mode: Mode, conditions: string): Promise<RotationFigure> {
  const [rotorArn, floorArn] = [await s.rotorSecret(), await s.floorSecret()];
  const warm = s.instance(b.sm);
  const rotor = tally();
  const floor = tally();
  const rotateWithRotor = async (t: Tally | undefined) => {
    const token = await b.player.startRotation(rotorArn);
    const run = async () => {
      for (const step of STEPS) {
        const client = mode === 'cold' ? new SecretsManagerClient(b.aws) : b.sm;
        try {
          const handler = mode === 'cold' ? s.instance(client) : warm;
          const out = await handler(b.player.event(rotorArn, token, step), lambdaContext());
          if (t) {
            t.reportedCalls += out.secretsManagerCalls;
            t.logins += out.logins;
          }
        } finally {
          if (client !== b.sm) client.destroy();
        }
      }
    };
    if (t) await counted(b, t, run);
    else await run();
  };
  const rotateWithFloor = async (t: Tally | undefined) => {
    const token = await b.player.startRotation(floorArn);
    let logins = 0;
    const login = () => void logins++;
    const run = async () => {
      if (mode === 'warm') return s.floor.warm({ sm: b.sm, iam: b.iam, login }, floorArn, token);
      for (const step of s.floor.cold) {
        const sm = new SecretsManagerClient(b.aws);
        const iam = new IAMClient(b.aws);
        try {
          await step({ sm, iam, login }, floorArn, token);
        } finally {
          sm.destroy();
          iam.destroy();
        }
      }
    };
    if (t) await counted(b, t, run);
    else await run();
    if (t) t.logins += logins;
  };
  // One untimed rotation each: the steady state (clones exist, the IAM user holds two keys).
  await rotateWithRotor(undefined);
  await rotateWithFloor(undefined);
  for (let i = 0; i < ROUNDS; i++) {
    if (i % 2 === 0) {
      await rotateWithRotor(rotor);
      await rotateWithFloor(floor);
    } else {
      await rotateWithFloor(floor);
      await rotateWithRotor(rotor);
    }
  }
  const r = side(rotor, true);
  const f = side(floor, false);
  return {
    figure: 'rotation',
    kind: s.kind,
    strategy: s.strategy,
    function: mode,
    rounds: ROUNDS,
    rotor: r,
    floor: f,
    ratio_p50: Math.round((r.p50_ms / f.p50_ms) * 100) / 100,
    ratio_p95: Math.round((r.p95_ms / f.p95_ms) * 100) / 100,
    ...(s.kind === 'postgres' || s.kind === 'mysql' ? { aws_template_calls_per_rotation: AWS_TEMPLATE_CALLS } : {}),
    load_average_1m: Math.round(loadavg()[0]! * 100) / 100,
    conditions,
  };
}

function printTable(figures: RotationFigure[]): void {
  const rows = [
    `rotation: ${ROUNDS} rotations per row and side (p50 / p95 ms; per rotation: Secrets Manager calls on the wire, logins, other calls)`,
    'kind / strategy                    | fn   | Rotor p50 / p95 | floor p50 / p95 | ratio p50 | SM calls Rotor / floor | logins Rotor / floor | other Rotor / floor',
  ];
  const other = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k} ${v}`).join(', ') || '-';
  for (const f of figures) {
    rows.push(
      [
        `${f.kind} ${f.strategy}`.padEnd(34),
        f.function.padEnd(4),
        `${f.rotor.p50_ms} / ${f.rotor.p95_ms}`.padStart(15),
        `${f.floor.p50_ms} / ${f.floor.p95_ms}`.padStart(15),
        `${f.ratio_p50}`.padStart(9),
        `${f.rotor.secretsmanager_calls} / ${f.floor.secretsmanager_calls}`.padStart(22),
        `${f.rotor.logins} / ${f.floor.logins}`.padStart(20),
        `${other(f.rotor.other_calls)} / ${other(f.floor.other_calls)}`,
      ].join(' | '),
    );
  }
  console.error(rows.join('\n'));
}

export async function runRotationBench(): Promise<void> {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env[ALLOW_LOOPBACK_FOR_TESTS] = '1';
  const moto = await startMoto({ initialNoAuthActionCount: BOOTSTRAP_CALLS });
  const adminKey = await bootstrapAdmin(moto.endpoint);
  const proxy = await startQuotaProxy(moto.endpoint);
  // Every SDK client, the kinds' own included, goes through the counting stand-in.
  Object.assign(process.env, awsEnvFor(proxy.endpoint), { AWS_ACCESS_KEY_ID: adminKey.accessKeyId, AWS_SECRET_ACCESS_KEY: adminKey.secretAccessKey });
  const aws = { endpoint: proxy.endpoint, region: REGION, credentials: adminKey };
  const sm = new SecretsManagerClient(aws);
  const iam = new IAMClient(aws);
  const player = new SecretsManagerPlayer(sm);
  // Rotor's fingerprint key, as a deployed stack has it: finishSecret tags keyed fingerprints (one TagResource).
  Object.assign(process.env, (await createFingerprintKey(sm)).env);
  const cluster = await startPostgresCluster();
  const admin = new pg.Client({ host: cluster.host, port: cluster.port, user: 'postgres', password: cluster.superuser.password, database: 'postgres' });
  await admin.connect();
  const root = await rootConnection();
  const fixtures = new MysqlFixtures(() => root);
  const provider = await TokenProviderServer.start();
  const b: Bench = { proxy, provider, player, aws, sm, iam };
  const figures: RotationFigure[] = [];
  try {
    const [rows] = await root.query('SELECT VERSION() AS v');
    const version = String((rows as Array<{ v: string }>)[0]?.v);
    const conditions =
      `moto_server (IAM/STS signature checks on) behind the counting stand-in, PostgreSQL (scram-sha-256, throwaway cluster), ${version}, ` +
      'token-provider emulator, all on loopback; 2-core machine shared with other work (see load_average_1m); ' +
      'warm = one instance for the four steps, cold = a new instance, kind object and SDK client per step';
    const quiet = () => ({ logger: new Logger({ serviceName: 'bench', logLevel: 'ERROR' }), metrics: new Metrics({ namespace: 'Bench', serviceName: 'bench' }) });
    const handlerFor = <S>(makeKind: () => RotationKind<S>, env: Record<string, string> = {}) => (client: SecretsManagerClient) =>
      createRotationHandler(makeKind(), { client, ...quiet(), env: { ...process.env, ...env } }) as Handler;

    // PostgreSQL
    const pgBase = { engine: 'postgres', host: cluster.host, port: cluster.port, dbname: 'postgres', ssl: false };
    const pgMaster = await player.createSecret(uniqueName('bench/pg/master'), { ...pgBase, username: 'postgres', password: cluster.superuser.password });
    const pgRole = async (username: string, password: string) =>
      admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
    const pgSecret = async (strategy: string, withClone: boolean) => {
      const username = uniqueName('bench');
      const password = testPassword();
      await pgRole(username, password);
      if (withClone) await pgRole(`${username}_clone`, testPassword());
      return player.createSecret(uniqueName('bench/pg'), { ...pgBase, username, password, ...(strategy === 'alternating-users' ? { masterarn: pgMaster } : {}) });
    };
    const pgDb = postgresFloorDatabase(cluster.host, cluster.port);

    // MySQL / MariaDB
    const myBase = { engine: /mariadb/i.test(version) ? 'mariadb' : 'mysql', host: mysqlServer.host, port: mysqlServer.port, ssl: false };
    const master = { username: uniqueName('bm'), password: testPassword() };
    await fixtures.createUser(master.username, master.password);
    await root.query(`GRANT ALL PRIVILEGES ON *.* TO ${account(master.username)} WITH GRANT OPTION`);
    const myMaster = await player.createSecret(uniqueName('bench/my/master'), { ...myBase, ...master });
    const mySecret = async (strategy: string, withClone: boolean) => {
      const username = uniqueName('bu');
      const password = testPassword();
      await fixtures.createUser(username, password);
      if (withClone) await root.query(`CREATE USER ${account(`${username}_clone`)} IDENTIFIED BY ${mysql.escape(testPassword())}`);
      return player.createSecret(uniqueName('bench/my'), { ...myBase, username, password, ...(strategy === 'alternating-users' ? { masterarn: myMaster } : {}) });
    };
    const myDb = mysqlFloorDatabase(mysqlServer.host, mysqlServer.port, myBase.engine === 'mariadb');

    // IAM
    const iamSecret = async () => {
      const username = uniqueName('bench-user').replace('_', '-');
      await iam.send(new CreateUserCommand({ UserName: username }));
      const key = (await iam.send(new CreateAccessKeyCommand({ UserName: username }))).AccessKey!;
      return player.createSecret(uniqueName('bench/iam'), { username, accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey });
    };

    // API tokens: one management secret per provider, as an organisation would hold.
    const dd = provider.datadogManagement();
    const ddManagement = await player.createSecret(uniqueName('bench/dd-management'), { ...dd, allowedHosts: [provider.host] });
    const cfManagement = await player.createSecret(uniqueName('bench/cf-management'), { token: provider.cloudflareToken(true).token, allowedHosts: [provider.host] });
    const ddSecret = async () => {
      const key = provider.datadogApiKey();
      return player.createSecret(uniqueName('bench/dd'), { provider: 'datadog', token: key.token, tokenId: key.tokenId, managementSecretArn: ddManagement, baseUrl: provider.datadogBaseUrl });
    };
    const cfSecret = async () => {
      const t = provider.cloudflareToken();
      return player.createSecret(uniqueName('bench/cf'), { provider: 'cloudflare', token: t.token, tokenId: t.tokenId, managementSecretArn: cfManagement, baseUrl: provider.cloudflareBaseUrl });
    };

    const subjects: Subject[] = [
      {
        kind: 'postgres', strategy: 'single-user',
        rotorSecret: () => pgSecret('single-user', false), floorSecret: () => pgSecret('single-user', false),
        instance: handlerFor(() => createPostgresKind(), { ROTATION_STRATEGY: 'single-user' }),
        floor: singleUserFloor(pgDb, postgresPasswordPolicy),
      },
      {
        kind: 'postgres', strategy: 'alternating-users',
        rotorSecret: () => pgSecret('alternating-users', false), floorSecret: () => pgSecret('alternating-users', true),
        instance: handlerFor(() => createPostgresKind(), { ROTATION_STRATEGY: 'alternating-users' }),
        floor: alternatingFloor(pgDb, postgresPasswordPolicy),
      },
      {
        kind: 'mysql', strategy: 'single-user',
        rotorSecret: () => mySecret('single-user', false), floorSecret: () => mySecret('single-user', false),
        instance: handlerFor(() => createMysqlKind(), { ROTATION_STRATEGY: 'single-user' }),
        floor: singleUserFloor(myDb, mysqlPasswordPolicy),
      },
      {
        kind: 'mysql', strategy: 'alternating-users',
        rotorSecret: () => mySecret('alternating-users', false), floorSecret: () => mySecret('alternating-users', true),
        instance: handlerFor(() => createMysqlKind(), { ROTATION_STRATEGY: 'alternating-users' }),
        floor: alternatingFloor(myDb, mysqlPasswordPolicy),
      },
      {
        kind: 'iam', strategy: 'dual-active',
        rotorSecret: iamSecret, floorSecret: iamSecret,
        // The deployed kind's options (IAM_TEST_TIMEOUT_MS from the environment); its IAM client is its own.
        instance: handlerFor(() => createIamKind(() => readIamOptions(process.env))),
        floor: iamFloor(proxy.endpoint),
      },
      {
        kind: 'api-token', strategy: 'datadog (dual-active)',
        rotorSecret: ddSecret, floorSecret: ddSecret,
        instance: handlerFor(() => createApiTokenKind()),
        floor: tokenFloor(datadogFloor),
      },
      {
        kind: 'api-token', strategy: 'cloudflare (roll)',
        rotorSecret: cfSecret, floorSecret: cfSecret,
        instance: handlerFor(() => createApiTokenKind()),
        floor: tokenFloor(cloudflareFloor),
      },
    ];
    const only = process.env.BENCH_ROTATION_KINDS?.split(',').filter(Boolean);
    for (const s of subjects) {
      if (only && !only.includes(s.kind)) continue;
      for (const mode of ['warm', 'cold'] as const) {
        const figure = await measure(b, s, mode, conditions);
        figures.push(figure);
        console.log(JSON.stringify(figure));
      }
    }
  } finally {
    await provider.close();
    await fixtures.dropAll().catch(() => undefined);
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
