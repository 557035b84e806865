import { Logger } from '@aws-lambda-powertools/logger';
import { PutSecretValueCommand, TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeVersion } from '../lambdas/emergency/revoke.js';
import { SecretsApi } from '../lambdas/core/secretsApi.js';
import { RotorTags, Strategies, type RevokeContext, type Strategy } from '../lambdas/core/types.js';
import { createMysqlKind, mysqlKind } from '../lambdas/mysql/mysqlKind.js';
import type { MysqlSecret } from '../lambdas/mysql/secret.js';
import { emergencyDriver, leakEvent } from './support/emergency.js';
import { captureEvents } from '../bin/local/events.js';
import { errorText } from './support/logCapture.js';
import { createRotationFunction } from '../bin/local/moto.js';
import { account, mysqlLogin, mysqlServer, MysqlFixtures, rootConnection } from '../bin/local/mysql.js';
import { testPassword, uniqueName } from '../bin/local/postgres.js';
import { useRotationSuite } from './support/rotationSuite.js';

const HOST = mysqlServer.userHost;
const suite = useRotationSuite();
const emergency = emergencyDriver(() => ({ endpoint: suite.moto.endpoint, player: suite.player, logs: suite.logs }));
let root: mysql.Connection;
const fixtures = new MysqlFixtures(() => root);
const master = { username: uniqueName('rotor_master'), password: testPassword() };
const figures: string[] = [];

beforeAll(async () => {
  root = await rootConnection();
  await fixtures.createUser(master.username, master.password);
  await root.query(`GRANT ALL PRIVILEGES ON *.* TO ${account(master.username)} WITH GRANT OPTION`);
});
afterAll(async () => {
  await fixtures.dropAll();
  await root?.end();
  for (const f of figures) console.info(f);
});

interface Secret {
  username: string;
  password: string;
  [k: string]: unknown;
}

/** A Rotor-managed MariaDB secret (tags as the construct sets them) after one normal rotation. */
async function arrange(strategy: Strategy) {
  await createRotationFunction(suite.moto.endpoint);
  const username = uniqueName('leak');
  const password = testPassword();
  await fixtures.createUser(username, password);
  const value: Record<string, unknown> = { engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, username, password };
  if (strategy === Strategies.ALTERNATING_USERS) {
    value.masterarn = await suite.secret(uniqueName('master'), {
      engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, ...master,
    });
  }
  const arn = await suite.secret(uniqueName('leaky'), value);
  await suite.player.client.send(
    new TagResourceCommand({ SecretId: arn, Tags: [{ Key: RotorTags.KIND, Value: 'mysql' }, { Key: RotorTags.STRATEGY, Value: strategy }] }),
  );
  const rotation = suite.handler(createMysqlKind(), { ROTATION_STRATEGY: strategy });
  await suite.player.rotate(rotation, arn);
  const leaked = await suite.player.value<Secret>(arn);
  const leakedVersionId = (await suite.player.versionOf(arn, 'AWSCURRENT'))!;
  return { arn, rotation, leaked, leakedVersionId };
}

const logsIn = async (s: Secret) => (await mysqlLogin(s.username, s.password)) !== undefined;

/** An open session of a login (an attacker's, already connected when the leak is reported). */
async function openSession(s: Secret): Promise<mysql.Connection> {
  const conn = await mysql.createConnection({ host: mysqlServer.host, port: mysqlServer.port, user: s.username, password: s.password });
  conn.on('error', () => undefined);
  await conn.query('SELECT 1');
  return conn;
}

async function sessionAlive(conn: mysql.Connection): Promise<boolean> {
  try {
    await conn.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    conn.destroy();
  }
}

/** Waits until the login is refused; the time it took from `started`. */
async function refusedAfter(s: Secret, started: number): Promise<number> {
  for (let i = 0; i < 100 && (await logsIn(s)); i++) await new Promise((r) => setTimeout(r, 20));
  return Date.now() - started;
}

describe('emergency rotation and revocation: MySQL/MariaDB', () => {
  it('alternating users: rotates, locks the leaked login, kills its sessions, removes AWSPREVIOUS, announces it', async () => {
    const { arn, rotation, leaked, leakedVersionId } = await arrange(Strategies.ALTERNATING_USERS);
    expect(leaked.username).toMatch(/_clone$/);
    expect(await logsIn(leaked)).toBe(true);
    const attacker = await openSession(leaked);
    const seen = await captureEvents(suite.moto.endpoint, { source: ['rotor'], 'detail-type': ['Secret Rotated', 'Secret Revoked'] });

    const started = Date.now();
    const [[result]] = await emergency.deliver(arn, rotation, leakEvent({ secretId: arn, reason: 'found in a public gist' }));
    const took = await refusedAfter(leaked, started);

    expect(result).toMatchObject({ outcome: 'rotated-and-revoked', leakedVersionId, kind: 'mysql', via: 'rotor' });
    expect(await mysqlLogin(leaked.username, leaked.password)).toBeUndefined();
    expect(await sessionAlive(attacker)).toBe(false);
    const now = await suite.player.value<Secret>(arn);
    expect(now.username).toBe(leaked.username.replace(/_clone$/, ''));
    expect(await mysqlLogin(now.username, now.password)).toBe(`${now.username}@${HOST}`);
    const versions = await suite.player.versions(arn);
    expect(Object.values(versions).flat()).not.toContain('AWSPREVIOUS');
    expect(versions[leakedVersionId]).toEqual([]);
    expect((await suite.player.describe(arn)).Tags).toContainEqual({ Key: 'rotor:revoked-version', Value: leakedVersionId });
    const announced = await seen.drain();
    suite.logs.note(JSON.stringify(announced));
    expect(announced.map((e) => e['detail-type']).sort()).toEqual(['Secret Revoked', 'Secret Rotated']);
    expect(announced.find((e) => e['detail-type'] === 'Secret Revoked')!.detail).toMatchObject({
      secretArn: arn, revokedVersionId: leakedVersionId, kind: 'mysql', reason: 'found in a public gist',
    });
    figures.push(`[figure] mysql alternating: leak event to leaked login refused in ${took} ms`);
  });

  it('single-user: the rotation replaces the leaked password, which is then refused', async () => {
    const { arn, rotation, leaked, leakedVersionId } = await arrange(Strategies.SINGLE_USER);
    expect(await logsIn(leaked)).toBe(true);
    const seen = await captureEvents(suite.moto.endpoint, { source: ['rotor'] });

    const started = Date.now();
    const [[result]] = await emergency.deliver(arn, rotation, leakEvent({ secretId: arn, reason: 'pasted in chat' }));
    const took = await refusedAfter(leaked, started);

    expect(result).toMatchObject({ outcome: 'rotated-and-revoked', leakedVersionId, kind: 'mysql' });
    expect(await mysqlLogin(leaked.username, leaked.password)).toBeUndefined();
    const now = await suite.player.value<Secret>(arn);
    expect(now.username).toBe(leaked.username);
    expect(await mysqlLogin(now.username, now.password)).toBe(`${now.username}@${HOST}`);
    expect(Object.values(await suite.player.versions(arn)).flat()).not.toContain('AWSPREVIOUS');
    suite.logs.note(JSON.stringify(await seen.drain()));
    figures.push(`[figure] mysql single-user: leak event to leaked password refused in ${took} ms`);
  });

  it('is idempotent: a duplicate event and a second revoke of the same version change nothing', async () => {
    const { arn, rotation, leaked, leakedVersionId } = await arrange(Strategies.ALTERNATING_USERS);
    const event = leakEvent({ secretId: arn, reason: 'dup' });
    await emergency.deliver(arn, rotation, event);
    const after = await suite.player.versions(arn);
    const now = await suite.player.value<Secret>(arn);
    const [[again]] = await emergency.deliver(arn, rotation, event);
    expect(again!.outcome).toBe('duplicate');
    // The revoke hook itself, run again for the (now unlabelled) leaked version.
    const description = await new SecretsApi(suite.player.client).describe(arn);
    await revokeVersion(
      mysqlKind,
      { secretArn: arn, description, versionId: leakedVersionId, strategy: Strategies.ALTERNATING_USERS },
      { client: suite.player.client, logger: new Logger({ serviceName: 'rotor-emergency' }) },
    );
    expect(await suite.player.versions(arn)).toEqual(after);
    expect(await logsIn(leaked)).toBe(false);
    expect(await mysqlLogin(now.username, now.password)).toBe(`${now.username}@${HOST}`);
  });

  it('the revoke hook refuses to touch the current login or the master', async () => {
    const base = uniqueName('guard');
    const password = testPassword();
    await fixtures.createUser(base, password);
    const masterArn = await suite.secret(uniqueName('master'), { engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, ...master });
    const secret = (username: string, pw = testPassword()): MysqlSecret =>
      ({ engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, username, password: pw, masterarn: masterArn }) as MysqlSecret;
    const current = secret(base, password);
    suite.sensitive(password);
    const ctx = (readMaster?: MysqlSecret): RevokeContext<MysqlSecret> => ({
      secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:guard',
      token: 'emergency',
      strategy: Strategies.ALTERNATING_USERS,
      logger: new Logger({ serviceName: 'rotor-emergency' }),
      recordLogin: () => undefined,
      redact: () => undefined,
      current: { versionId: 'v-current', value: current },
      readSecret: async () => readMaster ?? secret(master.username, master.password),
      randomPassword: async () => testPassword(),
    });
    const revoke = (leaked: MysqlSecret, c = ctx()) =>
      mysqlKind.revoke!(leaked, c).catch((err: unknown) => {
        suite.logs.note(errorText(err));
        throw err;
      });
    // A "leaked" value naming the master login, or any login but the current one's alternate.
    await expect(revoke(secret(master.username))).rejects.toThrow(/not the alternate of .*refusing to touch it/);
    await expect(revoke(secret(uniqueName('other')))).rejects.toThrow(/not the alternate of .*refusing to touch it/);
    // A master secret that is the alternate login itself.
    await expect(revoke(secret(`${base}_clone`), ctx(secret(`${base}_clone`, master.password)))).rejects.toThrow(
      /refusing to lock the master user itself/,
    );
    // A leaked value for another server.
    await expect(revoke({ ...secret(`${base}_clone`), port: mysqlServer.port + 1 })).rejects.toThrow(/different host or port/);
    // Single-user: a "leaked" password that is still the current login's (no rotation replaced it).
    await expect(revoke(secret(base, password))).rejects.toThrow(/still logs in, and it is the current login; rotate it/);
    expect(await mysqlLogin(base, password)).toBe(`${base}@${HOST}`);
    expect(await mysqlLogin(master.username, master.password)).toBe(`${master.username}@${HOST}`);
  });

  it('the revoke hook locks neither login of a boss / boss_clone pair Rotor did not make for this secret', async () => {
    // Prepare: both logins made by the administrator; a secret whose versions name one then the other.
    const boss = { username: uniqueName('boss'), password: testPassword() };
    const clone = { username: `${boss.username}_clone`, password: testPassword() };
    suite.sensitive(boss.password, clone.password);
    await fixtures.createUser(boss.username, boss.password);
    await root.query(`CREATE USER ${account(clone.username)} IDENTIFIED BY ${mysql.escape(clone.password)}`);
    const masterarn = await suite.secret(uniqueName('master'), { engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, ...master });
    const value = (login: { username: string; password: string }) =>
      JSON.stringify({ engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, ...login, masterarn });
    for (const [leaked, now] of [[clone, boss], [boss, clone]] as const) {
      const arn = await suite.secret(uniqueName('foreign'), JSON.parse(value(leaked)));
      const leakedVersionId = (await suite.player.versionOf(arn, 'AWSCURRENT'))!;
      await suite.player.client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: value(now), VersionStages: ['AWSCURRENT'] }));
      const description = await new SecretsApi(suite.player.client).describe(arn);
      // Act
      const revoked = revokeVersion(
        mysqlKind,
        { secretArn: arn, description, versionId: leakedVersionId, strategy: Strategies.ALTERNATING_USERS },
        { client: suite.player.client, logger: new Logger({ serviceName: 'rotor-emergency' }) },
      ).catch((err: unknown) => {
        suite.logs.note(errorText(err));
        throw err;
      });
      // Assess
      await expect(revoked).rejects.toThrow(
        new RegExp(`login "${clone.username}" has no Rotor pairing marker .*refusing to act with the master secret`),
      );
      expect(await mysqlLogin(leaked.username, leaked.password)).toBe(`${leaked.username}@${HOST}`);
      expect(await mysqlLogin(now.username, now.password)).toBe(`${now.username}@${HOST}`);
    }
  });
});
