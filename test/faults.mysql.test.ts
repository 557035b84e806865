import { TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRotationHandler } from '../lambdas/core/handler.js';
import { RotorTags, Steps, Strategies, type Strategy } from '../lambdas/core/types.js';
import { createEmergencyHandler } from '../lambdas/emergency/index.js';
import { createMysqlKind } from '../lambdas/mysql/mysqlKind.js';
import { eventsClient } from '../bin/local/events.js';
import { startFaultForwarder, type FaultForwarder } from '../bin/local/faultForwarder.js';
import { smClient, STEPS } from '../bin/local/harness.js';
import { createRotationFunction } from '../bin/local/moto.js';
import { account, mysqlLogin, mysqlServer, MysqlFixtures, rootConnection } from '../bin/local/mysql.js';
import { testPassword, uniqueName } from '../bin/local/postgres.js';
import { FAULTS, useFaultMatrix, type FaultTarget, type Subject } from './support/faults.js';
import { errorText } from './support/logCapture.js';
import { useRotationSuite } from './support/rotationSuite.js';

/*
 * The fault matrix for MySQL/MariaDB (test/support/faults.ts): single-user and alternating
 * users, against the machine's MariaDB with accounts of this file's own, every secret pointing
 * at a TCP forwarder in front of it (switched to refusing for "unreachable").
 */

const suite = useRotationSuite();
const matrix = useFaultMatrix('mysql', () => ({ player: suite.player, logs: suite.logs, endpoint: suite.moto.endpoint }));
let root: mysql.Connection;
let forwarder: FaultForwarder;
const fixtures = new MysqlFixtures(() => root);
const master = { username: uniqueName('fm_master'), password: testPassword() };

beforeAll(async () => {
  root = await rootConnection();
  forwarder = await startFaultForwarder({ host: mysqlServer.host, port: mysqlServer.port });
  await fixtures.createUser(master.username, master.password);
  await root.query(`GRANT ALL PRIVILEGES ON *.* TO ${account(master.username)} WITH GRANT OPTION`);
});
afterAll(async () => {
  await forwarder?.close();
  await fixtures.dropAll();
  await root?.end();
});

interface MysqlSubject extends Subject {
  readonly username: string;
}

const logsIn = async (v: Record<string, unknown>) => (await mysqlLogin(String(v.username), String(v.password))) !== undefined;

function mysqlTarget(strategy: Strategy): FaultTarget {
  const env = { ROTATION_STRATEGY: strategy };
  const alternating = strategy === Strategies.ALTERNATING_USERS;
  /** Password hashes saved while the target refuses, restored exactly afterwards. */
  const saved = new Map<string, Array<{ user: string; plugin: string; hash: string }>>();
  return {
    kind: 'mysql',
    strategy,
    inPlace: !alternating,
    issues: false,
    async arrange(): Promise<MysqlSubject> {
      const username = uniqueName('fm');
      const password = testPassword();
      await fixtures.createUser(username, password);
      await root.query(`GRANT USAGE ON *.* TO ${account(username)}`);
      // The secret names the forwarder: every login Rotor makes goes through it.
      const value: Record<string, unknown> = { engine: 'mariadb', host: forwarder.host, port: forwarder.port, username, password };
      if (alternating) {
        value.masterarn = await suite.secret(uniqueName('fm-master'), {
          engine: 'mariadb',
          host: forwarder.host,
          port: forwarder.port,
          username: master.username,
          password: master.password,
        });
      }
      const arn = await suite.secret(uniqueName('fm-secret'), value);
      await suite.player.client.send(
        new TagResourceCommand({ SecretId: arn, Tags: [{ Key: RotorTags.KIND, Value: 'mysql' }, { Key: RotorTags.STRATEGY, Value: strategy }] }),
      );
      // Observations log in to the server itself, not through the forwarder.
      return { arn, username, works: logsIn };
    },
    // With Rotor's fingerprint key, as deployed: finishSecret tags the password's keyed fingerprint, checked under every fault.
    instance: () => suite.captured(createRotationHandler(createMysqlKind({ env }), { client: matrix.client(), env: { ...env, ...suite.fingerprintKey.env } })),
    leakIdentity: (v) => String(v.password),
    fingerprintKey: () => suite.fingerprintKey.key,
    unreachable: (on) => (on ? forwarder.refuse() : forwarder.pass()),
    async refusing(subject, on) {
      const { username } = subject as MysqlSubject;
      const host = mysqlServer.userHost;
      if (on) {
        if (saved.has(subject.arn)) return;
        // Single-user: the login itself. Alternating users: the master and the login AWSPENDING
        // names (the alternate), while the one applications use keeps working.
        const users = alternating ? [master.username, `${username}_clone`] : [username];
        const [rows] = await root.query(
          `SELECT User AS user, plugin, authentication_string AS hash FROM mysql.user WHERE Host = ? AND User IN (?)`,
          [host, users],
        );
        const found = rows as Array<{ user: string; plugin: string; hash: string }>;
        saved.set(subject.arn, found);
        for (const row of found) {
          const outside = testPassword();
          suite.sensitive(outside);
          await root.query(`ALTER USER ${account(row.user)} IDENTIFIED BY ?`, [outside]);
        }
      } else {
        const found = saved.get(subject.arn);
        saved.delete(subject.arn);
        for (const row of found ?? []) {
          await root.query(`ALTER USER ${account(row.user)} IDENTIFIED VIA ${row.plugin} USING ?`, [row.hash]);
        }
      }
    },
    revoked: async (_subject, leaked) => !(await logsIn(leaked)),
  };
}

function emergency() {
  const handler = createEmergencyHandler({
    sm: smClient(suite.moto.endpoint),
    events: eventsClient(suite.moto.endpoint),
    kinds: { mysql: createMysqlKind({}) },
    pollIntervalMs: 50,
    waitTimeoutMs: 20_000,
  });
  return async (event: unknown, context: Parameters<typeof handler>[1]) => {
    try {
      return await handler(event, context);
    } catch (err) {
      suite.logs.note(errorText(err));
      throw err;
    }
  };
}

describe.each([Strategies.SINGLE_USER, Strategies.ALTERNATING_USERS])('fault matrix: mysql %s', (strategy) => {
  const target = mysqlTarget(strategy);
  for (const step of STEPS) {
    for (const fault of FAULTS) {
      it(`${step} × ${fault}`, async () => {
        const row = await matrix.runCase(target, step, fault);
        expect(row.outcome, JSON.stringify(row, null, 2)).not.toBe('failed');
      });
    }
  }
  for (const after of [Steps.CREATE, Steps.SET, Steps.TEST]) {
    it(`CancelRotateSecret after ${after}, then a new rotation`, async () => {
      const row = await matrix.runCancel(target, after);
      expect(row.outcome, JSON.stringify(row, null, 2)).not.toBe('failed');
    });
  }
  it('an emergency rotation racing a scheduled one (in flight after setSecret)', async () => {
    await createRotationFunction(suite.moto.endpoint);
    const row = await matrix.runEmergencyRace(target, emergency, Steps.SET);
    expect(row.outcome, JSON.stringify(row, null, 2)).not.toBe('failed');
  });
});
