import type pg from 'pg';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRotationHandler } from '../lambdas/core/handler.js';
import { ALLOW_LOOPBACK_FOR_TESTS } from '../lambdas/contract/testing.js';
import { eventsClient } from '../bin/local/events.js';
import { createRotationFunction } from '../bin/local/moto.js';
import { MysqlFixtures, mysqlServer, rootConnection } from '../bin/local/mysql.js';
import { adminClient, type PostgresCluster } from '../bin/local/postgres.js';
import { TokenProviderServer } from '../bin/local/tokenProvider.js';
import {
  forgetMysqlMaster, iamScenario, mysqlScenario, postgresScenario, runLoad, tokenScenario,
  type LoadEnv, type LoadFigure, type LoadOptions, type Scenario,
} from '../bench/load.js';
import { useIamSuite } from './support/iam.js';

/**
 * Zero failed requests, at a small size (npm run bench runs the full size): 4 workers keep
 * making requests through rotor/client (a new login per request for the databases) while 5
 * rotations run through the real handlers, against the real targets: the throwaway PostgreSQL
 * cluster, the local MariaDB, moto with signature checks on (STS refuses a deleted key), the
 * token-provider emulator. Every case checks its captured logs for every value of its secrets.
 */
process.env[ALLOW_LOOPBACK_FOR_TESTS] = '1';
const cluster = inject('postgres') as unknown as PostgresCluster;
const t = useIamSuite();
const { suite } = t;
let admin: pg.Client;
let root: mysql.Connection;
let fixtures: MysqlFixtures;
let provider: TokenProviderServer;
let engine = 'mysql';
const savedEnv = { ...process.env };
const figures: LoadFigure[] = [];
const SMALL: LoadOptions = { rotations: 5, workers: 4, stepPauseMs: 20 };

beforeAll(async () => {
  admin = await adminClient(cluster);
  root = await rootConnection();
  fixtures = new MysqlFixtures(() => root);
  forgetMysqlMaster();
  const [rows] = await root.query('SELECT VERSION() AS v');
  engine = /mariadb/i.test(String((rows as Array<{ v: string }>)[0]?.v)) ? 'mariadb' : 'mysql';
  provider = await TokenProviderServer.start();
  // The emergency handler's RotateSecret names this function; the kinds it loads sign from the environment.
  await createRotationFunction(suite.moto.endpoint, 'rotor-rotation', t.admin);
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: t.admin.accessKeyId, AWS_SECRET_ACCESS_KEY: t.admin.secretAccessKey });
});
afterAll(async () => {
  process.env = savedEnv;
  await fixtures?.dropAll().catch(() => undefined);
  await root?.end();
  await admin?.end();
  await provider?.close();
  for (const f of figures) console.info(`[figure] ${JSON.stringify(f)}`);
});

function env(): LoadEnv {
  return {
    player: suite.player,
    sm: t.sm,
    endpoint: suite.moto.endpoint,
    events: eventsClient(suite.moto.endpoint, t.admin),
    iam: t.iam,
    secret: (name, value) => suite.secret(name, value),
    handler: (kind, vars = {}) => {
      suite.sensitive(t.admin.secretAccessKey);
      return suite.captured(createRotationHandler(kind, { client: t.sm, env: vars }));
    },
  };
}
const pgTarget = () => ({ host: cluster.host, port: cluster.port, superuser: cluster.superuser, admin });
const myTarget = () => ({ host: mysqlServer.host, port: mysqlServer.port, engine, root, fixtures });

async function load(scenario: Scenario, mode: 'library' | 'naive', options: LoadOptions = SMALL) {
  const figure = await runLoad(env(), scenario, mode, options);
  figures.push(figure);
  expect(figure.requests).toBeGreaterThan(options.workers ?? 4);
  return figure;
}

describe('rotor/client under load while rotations run', () => {
  it('PostgreSQL single-user: 0 failed requests, the refused logins retried with the pending password', async () => {
    const figure = await load(await postgresScenario(env(), pgTarget(), 'single-user'), 'library');
    expect(figure.failures).toEqual({});
    expect(figure.failed).toBe(0);
    expect(figure.retried).toBeGreaterThan(0);
  });

  it('the harness sees failures: a naive client (read once, cache 5 minutes) of the same kind fails', async () => {
    const figure = await load(await postgresScenario(env(), pgTarget(), 'single-user'), 'naive');
    expect(figure.failed).toBeGreaterThan(0);
    expect(Object.keys(figure.failures)).toEqual(['28P01']);
  });

  it('PostgreSQL alternating users: 0 failed requests', async () => {
    const figure = await load(await postgresScenario(env(), pgTarget(), 'alternating-users'), 'library');
    expect(figure.failures).toEqual({});
  });

  it('PostgreSQL alternating users, emergency rotation in the middle: only requests on sessions the revocation ended fail, none after', async () => {
    const figure = await load(await postgresScenario(env(), pgTarget(), 'alternating-users'), 'library', { ...SMALL, emergency: true });
    // The revocation ends the leaked login's sessions by design (57P01): a request in flight on
    // one fails; every new request logs in with the new login, through at most one retry.
    expect(figure.failed).toBe(figure.failedDuringEmergency);
    expect(figure.failedDuringEmergency).toBeLessThanOrEqual(SMALL.workers!);
    expect(Object.keys(figure.failures).filter((k) => k !== '57P01' && k !== 'connection-terminated')).toEqual([]);
    expect(figure.failedAfterEmergency).toBe(0);
  });

  it('MariaDB single-user: 0 failed requests', async () => {
    const figure = await load(await mysqlScenario(env(), myTarget(), 'single-user'), 'library');
    expect(figure.failures).toEqual({});
    expect(figure.retried).toBeGreaterThan(0);
  });

  it('MariaDB alternating users: 0 failed requests', async () => {
    const figure = await load(await mysqlScenario(env(), myTarget(), 'alternating-users'), 'library');
    expect(figure.failures).toEqual({});
  });

  it('IAM keys (STS calls signed through fromRotatedAccessKey), with an emergency rotation: 0 failed requests', async () => {
    const figure = await load(await iamScenario(env()), 'library', { ...SMALL, emergency: true });
    expect(figure.failures).toEqual({});
    expect(figure.retried).toBeGreaterThan(0);
  });

  it('Datadog (dual-active) and Cloudflare (roll-only) tokens through tokenFetch: 0 failed requests', async () => {
    const datadog = await load(await tokenScenario(env(), provider, 'datadog'), 'library');
    expect(datadog.failures).toEqual({});
    const cloudflare = await load(await tokenScenario(env(), provider, 'cloudflare'), 'library');
    expect(cloudflare.failures).toEqual({});
    expect(cloudflare.retried).toBeGreaterThan(0);
  });
});
