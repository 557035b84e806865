#!/usr/bin/env -S npx tsx
/**
 * `npm run bench`: rotation cost against the local services (moto's server and a throwaway
 * PostgreSQL cluster with scram-sha-256). Prints one JSON object per figure. Wall-clock
 * figures depend on this machine; the round-trip counts do not.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import pg from 'pg';
import { createRotationHandler } from '../lambdas/core/handler';
import { postgresKind } from '../lambdas/postgres/postgresKind';
import { SecretsManagerPlayer, smClient, STEPS } from '../test/support/harness';
import { awsEnvFor, startMoto } from '../test/support/moto';
import { startPostgresCluster, testPassword, uniqueName } from '../test/support/postgres';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const moto = await startMoto();
  Object.assign(process.env, awsEnvFor(moto.endpoint));
  const cluster = await startPostgresCluster();
  const client = smClient(moto.endpoint);
  const player = new SecretsManagerPlayer(client);
  const admin = new pg.Client({ host: cluster.host, port: cluster.port, user: 'postgres', password: cluster.superuser.password, database: 'postgres' });
  await admin.connect();
  const quiet = () => ({
    client,
    logger: new Logger({ serviceName: 'bench', logLevel: 'ERROR' }),
    metrics: new Metrics({ namespace: 'Bench', serviceName: 'bench' }),
  });
  try {
    const master = await player.createSecret('bench/master', { engine: 'postgres', host: cluster.host, port: cluster.port, username: 'postgres', password: cluster.superuser.password });
    for (const strategy of ['single-user', 'alternating-users'] as const) {
      for (const mode of ['warm', 'cold'] as const) {
        const username = uniqueName('bench');
        const password = testPassword();
        await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
        const arn = await player.createSecret(`bench/${strategy}/${mode}`, {
          engine: 'postgres', host: cluster.host, port: cluster.port, username, password,
          ...(strategy === 'alternating-users' ? { masterarn: master } : {}),
        });
        const env = { ROTATION_STRATEGY: strategy };
        const warm = createRotationHandler(postgresKind, { ...quiet(), env });
        const times: number[] = [];
        let calls = 0;
        let logins = 0;
        for (let i = 0; i < ROUNDS; i++) {
          const token = await player.startRotation(arn);
          const started = performance.now();
          for (const step of STEPS) {
            // cold: a new function instance per step, as when Secrets Manager's calls land on different containers
            const handler = mode === 'warm' ? warm : createRotationHandler(postgresKind, { ...quiet(), env });
            const out = await handler(player.event(arn, token, step), {} as never);
            calls += out.secretsManagerCalls;
            logins += out.logins;
          }
          times.push(performance.now() - started);
        }
        times.sort((a, b) => a - b);
        console.log(JSON.stringify({
          figure: 'postgres_rotation', strategy, function: mode, rounds: ROUNDS,
          median_ms: Number(quantile(times, 0.5).toFixed(1)), p95_ms: Number(quantile(times, 0.95).toFixed(1)),
          secretsmanager_calls_per_rotation: calls / ROUNDS, database_logins_per_rotation: logins / ROUNDS,
          aws_template_calls_per_rotation: 14,
          conditions: 'moto_server and PostgreSQL 15 (scram-sha-256) on loopback, 2-core machine',
        }));
      }
    }
  } finally {
    await admin.end();
    cluster.stop();
    await moto.stop();
  }
}

await main();
