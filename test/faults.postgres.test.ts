import { TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pgPool } from '../client/pg.js';
import { SecretCache } from '../client/secrets.js';
import { createRotationHandler } from '../lambdas/core/handler.js';
import { RotorTags, Steps, Strategies, type Strategy } from '../lambdas/core/types.js';
import { createEmergencyHandler } from '../lambdas/emergency/index.js';
import { createPostgresKind } from '../lambdas/postgres/postgresKind.js';
import { eventsClient } from '../bin/local/events.js';
import { startFaultForwarder, type FaultForwarder } from '../bin/local/faultForwarder.js';
import { smClient, STEPS } from '../bin/local/harness.js';
import { createRotationFunction } from '../bin/local/moto.js';
import { adminClient, pgLogin, testPassword, uniqueName, type PostgresCluster } from '../bin/local/postgres.js';
import { FAULTS, useFaultMatrix, type FaultTarget, type Subject } from './support/faults.js';
import { errorText } from './support/logCapture.js';
import { useRotationSuite } from './support/rotationSuite.js';

/*
 * The fault matrix for PostgreSQL (test/support/faults.ts): single-user and alternating users,
 * against the throwaway cluster with scram-sha-256, every secret pointing at a TCP forwarder in
 * front of it (switched to refusing for "unreachable"), the master a superuser of this file's own.
 */

const cluster = inject('postgres') as unknown as PostgresCluster;
const suite = useRotationSuite();
const matrix = useFaultMatrix('postgres', () => ({ player: suite.player, logs: suite.logs, endpoint: suite.moto.endpoint }));
let admin: pg.Client;
let forwarder: FaultForwarder;
const master = { username: uniqueName('fm_master'), password: testPassword() };

beforeAll(async () => {
  admin = await adminClient(cluster);
  forwarder = await startFaultForwarder({ host: cluster.host, port: cluster.port });
  await admin.query(`CREATE ROLE ${admin.escapeIdentifier(master.username)} SUPERUSER LOGIN PASSWORD ${admin.escapeLiteral(master.password)}`);
});
afterAll(async () => {
  await forwarder?.close();
  await admin?.end();
});

interface PgSubject extends Subject {
  readonly username: string;
}

const logsIn = (v: Record<string, unknown>) => pgLogin(cluster, String(v.username), String(v.password));

function postgresTarget(strategy: Strategy): FaultTarget {
  const env = { ROTATION_STRATEGY: strategy };
  const alternating = strategy === Strategies.ALTERNATING_USERS;
  /** Verifiers saved while the target refuses, restored exactly afterwards. */
  const saved = new Map<string, Array<{ rolname: string; rolpassword: string | null }>>();
  return {
    kind: 'postgres',
    strategy,
    inPlace: !alternating,
    issues: false,
    async arrange(): Promise<PgSubject> {
      const username = uniqueName('fm');
      const password = testPassword();
      await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
      // The secret names the forwarder: every login Rotor makes goes through it.
      const value: Record<string, unknown> = { engine: 'postgres', host: forwarder.host, port: forwarder.port, username, password, dbname: 'postgres' };
      if (alternating) {
        value.masterarn = await suite.secret(uniqueName('fm-master'), {
          engine: 'postgres',
          host: forwarder.host,
          port: forwarder.port,
          username: master.username,
          password: master.password,
        });
      }
      const arn = await suite.secret(uniqueName('fm-secret'), value);
      await suite.player.client.send(
        new TagResourceCommand({ SecretId: arn, Tags: [{ Key: RotorTags.KIND, Value: 'postgres' }, { Key: RotorTags.STRATEGY, Value: strategy }] }),
      );
      // Observations log in to the server itself, not through the forwarder.
      return { arn, username, works: logsIn };
    },
    // With Rotor's fingerprint key, as deployed: finishSecret tags the password's keyed fingerprint, checked under every fault.
    instance: () => suite.captured(createRotationHandler(createPostgresKind({ env }), { client: matrix.client(), env: { ...env, ...suite.fingerprintKey.env } })),
    leakIdentity: (v) => String(v.password),
    fingerprintKey: () => suite.fingerprintKey.key,
    unreachable: (on) => (on ? forwarder.refuse() : forwarder.pass()),
    async refusing(subject, on) {
      const { username } = subject as PgSubject;
      if (on) {
        if (saved.has(subject.arn)) return;
        // Single-user: the login itself. Alternating users: the master and the login AWSPENDING
        // names (the alternate), while the one applications use keeps working.
        const roles = alternating ? [master.username, `${username}_clone`] : [username];
        const res = await admin.query<{ rolname: string; rolpassword: string | null }>(
          'SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1)',
          [roles],
        );
        saved.set(subject.arn, res.rows);
        for (const row of res.rows) {
          const outside = testPassword();
          suite.sensitive(outside);
          await admin.query(`ALTER ROLE ${admin.escapeIdentifier(row.rolname)} PASSWORD ${admin.escapeLiteral(outside)}`);
        }
      } else {
        const rows = saved.get(subject.arn);
        saved.delete(subject.arn);
        for (const row of rows ?? []) {
          const verifier = row.rolpassword === null ? 'NULL' : admin.escapeLiteral(row.rolpassword);
          await admin.query(`ALTER ROLE ${admin.escapeIdentifier(row.rolname)} PASSWORD ${verifier}`);
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
    kinds: { postgres: createPostgresKind({}) },
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

describe.each([Strategies.SINGLE_USER, Strategies.ALTERNATING_USERS])('fault matrix: postgres %s', (strategy) => {
  const target = postgresTarget(strategy);
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

describe('the documented single-user window (README, "single-user")', () => {
  it('lies between setSecret and finishSecret: AWSCURRENT is refused there, and rotor/client reads AWSPENDING', async () => {
    // Prepare: a single-user secret and an application pool reading it through rotor/client.
    const target = postgresTarget(Strategies.SINGLE_USER);
    const subject = (await target.arrange()) as PgSubject;
    const cache = new SecretCache({ client: suite.player.client });
    const retries: string[] = [];
    const pool = pgPool({ secretId: subject.arn, cache, max: 1, onAuthRetry: (i) => retries.push(i.retryStage) });
    /** One request on a new connection (each one logs in with what the pool resolves then). */
    const request = async () => {
      const client = await pool.connect();
      try {
        await client.query('SELECT 1');
      } finally {
        client.release(true);
      }
    };
    try {
      const token = await suite.player.startRotation(subject.arn);
      const rotation = target.instance();
      const current = () => suite.player.value(subject.arn, 'AWSCURRENT');
      // Act and assess, step by step: before setSecret AWSCURRENT logs in.
      await suite.player.runSteps(rotation, subject.arn, token, [Steps.CREATE]);
      expect(await logsIn(await current())).toBe(true);
      await request();
      expect(retries).toEqual([]);
      // setSecret changed the password in place: AWSCURRENT is refused until finishSecret.
      await suite.player.runSteps(rotation, subject.arn, token, [Steps.SET]);
      expect(await logsIn(await current())).toBe(false);
      expect(await logsIn(await suite.player.value(subject.arn, 'AWSPENDING'))).toBe(true);
      // A new connection of the pool is refused with AWSCURRENT, re-reads, and logs in with AWSPENDING.
      await request();
      expect(retries).toEqual(['AWSPENDING']);
      await suite.player.runSteps(rotation, subject.arn, token, [Steps.TEST]);
      expect(await logsIn(await current())).toBe(false);
      // finishSecret closes the window.
      await suite.player.runSteps(rotation, subject.arn, token, [Steps.FINISH]);
      expect(await logsIn(await current())).toBe(true);
      cache.invalidate();
      await request();
      expect(retries).toEqual(['AWSPENDING']);
    } finally {
      await pool.end();
    }
  });
});
