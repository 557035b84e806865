/**
 * The load part of `npm run bench`: for each kind and strategy, 4 workers make requests
 * through rotor/client (library) and through a naive client (read once, cache 5 minutes)
 * while BENCH_LOAD_ROTATIONS (default 100) rotations run through the real handlers; then the
 * emergency runs (a leak event through the emergency handler in the middle of
 * BENCH_EMERGENCY_ROTATIONS rotations, default 20). One JSON object per figure on stdout, the
 * table on stderr.
 */
import pg from 'pg';
import { IAMClient } from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ALLOW_LOOPBACK_FOR_TESTS } from '../lambdas/contract/testing.js';
import { BOOTSTRAP_CALLS, bootstrapAdmin } from '../bin/local/awsAdmin.js';
import { eventsClient } from '../bin/local/events.js';
import { SecretsManagerPlayer } from '../bin/local/harness.js';
import { awsEnvFor, createRotationFunction, startMoto } from '../bin/local/moto.js';
import { MysqlFixtures, mysqlServer, rootConnection } from '../bin/local/mysql.js';
import { startPostgresCluster } from '../bin/local/postgres.js';
import { TokenProviderServer } from '../bin/local/tokenProvider.js';
import {
  forgetMysqlMaster, iamScenario, mysqlScenario, postgresScenario, quietRotationHandler, runLoad, tokenScenario,
  type LoadEnv, type LoadFigure, type Scenario,
} from './load.js';

const ROTATIONS = Number(process.env.BENCH_LOAD_ROTATIONS ?? 100);
const EMERGENCY_ROTATIONS = Number(process.env.BENCH_EMERGENCY_ROTATIONS ?? 20);
const WORKERS = 4;

export async function runLoadBench(): Promise<void> {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env[ALLOW_LOOPBACK_FOR_TESTS] = '1';
  const moto = await startMoto({ initialNoAuthActionCount: BOOTSTRAP_CALLS });
  const adminKey = await bootstrapAdmin(moto.endpoint);
  Object.assign(process.env, awsEnvFor(moto.endpoint), { AWS_ACCESS_KEY_ID: adminKey.accessKeyId, AWS_SECRET_ACCESS_KEY: adminKey.secretAccessKey });
  const aws = { endpoint: moto.endpoint, region: 'us-east-1', credentials: adminKey };
  const sm = new SecretsManagerClient(aws);
  const player = new SecretsManagerPlayer(sm);
  await createRotationFunction(moto.endpoint, 'rotor-rotation', adminKey);
  const cluster = await startPostgresCluster();
  const admin = new pg.Client({ host: cluster.host, port: cluster.port, user: 'postgres', password: cluster.superuser.password, database: 'postgres' });
  await admin.connect();
  const root = await rootConnection();
  const fixtures = new MysqlFixtures(() => root);
  forgetMysqlMaster();
  const provider = await TokenProviderServer.start();
  const [rows] = await root.query('SELECT VERSION() AS v');
  const version = String((rows as Array<{ v: string }>)[0]?.v);
  const env: LoadEnv = {
    player,
    sm,
    endpoint: moto.endpoint,
    events: eventsClient(moto.endpoint, adminKey),
    iam: new IAMClient(aws),
    secret: (name, value) => player.createSecret(name, value),
    handler: quietRotationHandler(sm),
  };
  const pgTarget = { host: cluster.host, port: cluster.port, superuser: cluster.superuser, admin };
  const myTarget = { host: mysqlServer.host, port: mysqlServer.port, engine: /mariadb/i.test(version) ? 'mariadb' : 'mysql', root, fixtures };
  const conditions =
    `moto_server (IAM/STS signature checks on), PostgreSQL (scram-sha-256), ${version}, token-provider emulator, all on loopback; ` +
    `2-core machine; ${WORKERS} workers, 2 ms between requests, 5 ms between rotation steps; a new login per database request (pg maxUses 1, ` +
    'mysql2 connection destroyed); library cache TTL 2 min; naive = read AWSCURRENT once, cache 5 min, no retry; Datadog graceperiod 0';
  const scenarios: Array<[string, () => Promise<Scenario>, boolean]> = [
    ['postgres single-user', () => postgresScenario(env, pgTarget, 'single-user'), true],
    ['postgres alternating', () => postgresScenario(env, pgTarget, 'alternating-users'), true],
    ['mysql single-user', () => mysqlScenario(env, myTarget, 'single-user'), true],
    ['mysql alternating', () => mysqlScenario(env, myTarget, 'alternating-users'), true],
    ['iam', () => iamScenario(env), true],
    ['datadog', () => tokenScenario(env, provider, 'datadog'), true],
    ['cloudflare', () => tokenScenario(env, provider, 'cloudflare'), true],
  ];
  const figures: LoadFigure[] = [];
  const print = (f: LoadFigure) => {
    figures.push(f);
    console.log(JSON.stringify({ ...f, conditions }));
  };
  try {
    for (const [, make] of scenarios) {
      for (const mode of ['library', 'naive'] as const) print(await runLoad(env, await make(), mode, { rotations: ROTATIONS, workers: WORKERS }));
    }
    for (const [name, make, emergency] of scenarios) {
      if (!emergency) continue;
      for (const mode of ['library', 'naive'] as const) {
        try {
          print(await runLoad(env, await make(), mode, { rotations: EMERGENCY_ROTATIONS, workers: WORKERS, emergency: true }));
        } catch (err) {
          console.log(JSON.stringify({ figure: 'load', kind: name, client: mode, emergency: true, error: (err as Error).name, message: (err as Error).message.slice(0, 200) }));
        }
      }
    }
  } finally {
    await provider.close();
    await fixtures.dropAll().catch(() => undefined);
    await root.end();
    await admin.end();
    cluster.stop();
    await moto.stop();
  }
  const rowsOut = ['kind / strategy | emergency | rotations | library: requests / failed / retried | naive: requests / failed'];
  for (const f of figures.filter((x) => x.client === 'library')) {
    const n = figures.find((x) => x.client === 'naive' && x.kind === f.kind && x.strategy === f.strategy && x.emergency === f.emergency);
    rowsOut.push(
      `${f.kind} ${f.strategy} | ${f.emergency ? `yes (failed during ${f.failedDuringEmergency}, after ${f.failedAfterEmergency})` : 'no'} | ${f.rotations} | ` +
        `${f.requests} / ${f.failed} / ${f.retried} | ${n ? `${n.requests} / ${n.failed}` : '-'}`,
    );
  }
  console.error(rowsOut.join('\n'));
}
