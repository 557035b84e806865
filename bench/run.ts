#!/usr/bin/env -S npx tsx
/**
 * `npm run bench`: rotation cost of the database kinds against the local services (moto's
 * server, a throwaway PostgreSQL cluster with scram-sha-256, the machine's MariaDB). Prints one
 * JSON object per figure. Wall-clock figures depend on this machine; round-trip counts do not.
 * "warm": one function instance runs all four steps (as Secrets Manager's four calls in a row
 * usually land); "cold": a new instance per step.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import pg from 'pg';
import { createRotationHandler } from '../lambdas/core/handler.js';
import type { RotationKind } from '../lambdas/core/types.js';
import { createMysqlKind } from '../lambdas/mysql/mysqlKind.js';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { SecretsManagerPlayer, smClient, STEPS } from '../bin/local/harness.js';
import { awsEnvFor, startMoto } from '../bin/local/moto.js';
import { account, MysqlFixtures, mysqlServer, rootConnection } from '../bin/local/mysql.js';
import { startPostgresCluster, testPassword, uniqueName } from '../bin/local/postgres.js';
import { runBundleBench } from './bundles.js';
import { runCliBench } from './cli.js';
import { runLoadBench } from './loadBench.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
/** BENCH_ONLY=bundles, cli, rotation or load runs one part. */
const ONLY = process.env.BENCH_ONLY;
const STRATEGIES = ['single-user', 'alternating-users'] as const;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** A kind to measure: how to make a login and its secret, and the master secret. */
interface Subject {
  readonly name: string;
  readonly kind: RotationKind<unknown>;
  readonly conditions: string;
  readonly masterArn: string;
  newSecret(strategy: string, masterArn: string): Promise<string>;
}

async function measure(subject: Subject, player: SecretsManagerPlayer, quiet: () => object): Promise<void> {
  for (const strategy of STRATEGIES) {
    for (const mode of ['warm', 'cold'] as const) {
      const arn = await subject.newSecret(strategy, subject.masterArn);
      const env = { ROTATION_STRATEGY: strategy };
      const warm = createRotationHandler(subject.kind, { ...quiet(), env });
      const times: number[] = [];
      let calls = 0;
      let logins = 0;
      for (let i = 0; i < ROUNDS; i++) {
        const token = await player.startRotation(arn);
        const started = performance.now();
        for (const step of STEPS) {
          const handler = mode === 'warm' ? warm : createRotationHandler(subject.kind, { ...quiet(), env });
          const out = await handler(player.event(arn, token, step), {} as never);
          calls += out.secretsManagerCalls;
          logins += out.logins;
        }
        times.push(performance.now() - started);
      }
      times.sort((a, b) => a - b);
      console.log(
        JSON.stringify({
          figure: `${subject.name}_rotation`,
          strategy,
          function: mode,
          rounds: ROUNDS,
          median_ms: Number(quantile(times, 0.5).toFixed(1)),
          p95_ms: Number(quantile(times, 0.95).toFixed(1)),
          secretsmanager_calls_per_rotation: calls / ROUNDS,
          database_logins_per_rotation: logins / ROUNDS,
          aws_template_calls_per_rotation: 14,
          conditions: subject.conditions,
        }),
      );
    }
  }
}

async function main(): Promise<void> {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const moto = await startMoto();
  Object.assign(process.env, awsEnvFor(moto.endpoint));
  const client = smClient(moto.endpoint);
  const player = new SecretsManagerPlayer(client);
  const quiet = () => ({
    client,
    logger: new Logger({ serviceName: 'bench', logLevel: 'ERROR' }),
    metrics: new Metrics({ namespace: 'Bench', serviceName: 'bench' }),
  });
  const cluster = await startPostgresCluster();
  const admin = new pg.Client({ host: cluster.host, port: cluster.port, user: 'postgres', password: cluster.superuser.password, database: 'postgres' });
  await admin.connect();
  const root = await rootConnection();
  const fixtures = new MysqlFixtures(() => root);
  try {
    const pgBase = { engine: 'postgres', host: cluster.host, port: cluster.port };
    await measure(
      {
        name: 'postgres',
        kind: postgresKind as RotationKind<unknown>,
        conditions: 'moto_server and PostgreSQL 15 (scram-sha-256) on loopback, 2-core machine',
        masterArn: await player.createSecret('bench/pg/master', { ...pgBase, username: 'postgres', password: cluster.superuser.password }),
        async newSecret(strategy, masterArn) {
          const username = uniqueName('bench');
          const password = testPassword();
          await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
          return player.createSecret(uniqueName('bench/pg'), {
            ...pgBase, username, password, ...(strategy === 'alternating-users' ? { masterarn: masterArn } : {}),
          });
        },
      },
      player,
      quiet,
    );
    const [rows] = await root.query('SELECT VERSION() AS v');
    const version = String((rows as Array<{ v: string }>)[0]?.v);
    const myBase = { engine: /mariadb/i.test(version) ? 'mariadb' : 'mysql', host: mysqlServer.host, port: mysqlServer.port };
    const master = { username: uniqueName('bm'), password: testPassword() };
    await fixtures.createUser(master.username, master.password);
    await root.query(`GRANT ALL PRIVILEGES ON *.* TO ${account(master.username)} WITH GRANT OPTION`);
    await measure(
      {
        name: 'mysql',
        kind: createMysqlKind() as RotationKind<unknown>,
        conditions: `moto_server and ${version} on loopback, 2-core machine`,
        masterArn: await player.createSecret('bench/my/master', { ...myBase, ...master }),
        async newSecret(strategy, masterArn) {
          const username = uniqueName('bu');
          const password = testPassword();
          await fixtures.createUser(username, password);
          return player.createSecret(uniqueName('bench/my'), {
            ...myBase, username, password, ...(strategy === 'alternating-users' ? { masterarn: masterArn } : {}),
          });
        },
      },
      player,
      quiet,
    );
  } finally {
    await fixtures.dropAll().catch(() => undefined);
    await root.end();
    await admin.end();
    cluster.stop();
    await moto.stop();
  }
}

const runs = (part: string) => ONLY === undefined || ONLY === '' || ONLY === part;
if (runs('bundles')) await runBundleBench();
if (runs('cli')) await runCliBench();
if (runs('rotation')) await main();
if (runs('load')) await runLoadBench();
