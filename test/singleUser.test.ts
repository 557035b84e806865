import { CancelRotateSecretCommand, UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import type mysql from 'mysql2/promise';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RotationKind } from '../lambdas/core/types.js';
import { createMysqlKind } from '../lambdas/mysql/mysqlKind.js';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { lambdaContext } from '../bin/local/harness.js';
import { account, lit, mysqlLogin, mysqlServer, MysqlFixtures, rootConnection } from '../bin/local/mysql.js';
import { adminClient, pgLogin, testPassword, uniqueName, type PostgresCluster } from '../bin/local/postgres.js';
import { useRotationSuite } from './support/rotationSuite.js';

/*
 * lambdas/database/singleUser.ts: the passwords single-user setSecret may log in with. The case the
 * labels alone cannot cover: a rotation is cancelled after its setSecret changed the password
 * (CancelRotateSecret, then the operator removes AWSPENDING as AWS's documentation says), and a
 * new rotation starts. The only working password now sits in a version with no label.
 */

const cluster = inject('postgres') as unknown as PostgresCluster;
const suite = useRotationSuite();
let admin: pg.Client;
let root: mysql.Connection;
const fixtures = new MysqlFixtures(() => root);

beforeAll(async () => {
  admin = await adminClient(cluster);
  root = await rootConnection();
});
afterAll(async () => {
  await admin?.end();
  await fixtures.dropAll();
  await root?.end();
});

interface Db {
  name: string;
  kind: RotationKind<unknown>;
  arrange(): Promise<{ username: string; password: string; value: Record<string, unknown> }>;
  logsIn(username: string, password: string): Promise<boolean>;
}

const databases: Db[] = [
  {
    name: 'PostgreSQL',
    kind: postgresKind as RotationKind<unknown>,
    async arrange() {
      const username = uniqueName('su');
      const password = testPassword();
      await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
      return { username, password, value: { engine: 'postgres', host: cluster.host, port: cluster.port, username, password } };
    },
    logsIn: (username, password) => pgLogin(cluster, username, password),
  },
  {
    name: 'MariaDB',
    kind: createMysqlKind({ env: {} }) as RotationKind<unknown>,
    async arrange() {
      const username = uniqueName('su');
      const password = testPassword();
      await fixtures.createUser(username, password);
      await root.query(`GRANT USAGE ON *.* TO ${account(username)}`);
      return {
        username,
        password,
        value: { engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, username, password },
      };
    },
    logsIn: async (username, password) => (await mysqlLogin(username, password)) !== undefined,
  },
];

describe.each(databases)('single-user setSecret ($name)', (db) => {
  const handler = () => suite.handler(db.kind, { ROTATION_STRATEGY: 'single-user' });

  it('converges after a cancelled rotation whose setSecret had already changed the password', async () => {
    // Prepare: rotation 1 gets as far as setSecret (the database now has its password), then is cancelled.
    const user = await db.arrange();
    const arn = await suite.secret(uniqueName('su'), user.value);
    suite.sensitive(user.password);
    const first = await suite.player.startRotation(arn);
    await suite.player.runSteps(handler(), arn, first, ['createSecret', 'setSecret']);
    const stranded = await suite.player.value<{ password: string }>(arn, 'AWSPENDING');
    expect(await db.logsIn(user.username, stranded.password)).toBe(true);
    expect(await db.logsIn(user.username, user.password)).toBe(false);
    await suite.player.client.send(new CancelRotateSecretCommand({ SecretId: arn }));
    await suite.player.client.send(
      new UpdateSecretVersionStageCommand({ SecretId: arn, VersionStage: 'AWSPENDING', RemoveFromVersionId: first }),
    );
    // Act: a new rotation, on a cold instance.
    const second = await suite.player.startRotation(arn);
    const outcomes = await suite.player.runSteps(handler(), arn, second);
    // Assess
    expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
    expect(await suite.player.versionOf(arn, 'AWSCURRENT')).toBe(second);
    const now = await suite.player.value<{ password: string }>(arn);
    expect(await db.logsIn(user.username, now.password)).toBe(true);
    expect(await db.logsIn(user.username, stranded.password)).toBe(false);
    expect(await db.logsIn(user.username, user.password)).toBe(false);
    const changed = suite.logs.records().filter((r) => r.message === 'password changed').at(-1);
    expect(changed).toMatchObject({ loggedInWith: `version ${first}` });
  });

  it('a normal rotation never lists the secret\'s versions (no extra Secrets Manager call)', async () => {
    const user = await db.arrange();
    const arn = await suite.secret(uniqueName('su'), user.value);
    suite.sensitive(user.password);
    const { outcomes } = await suite.player.rotate(handler(), arn);
    // 9, and finishSecret's TagResource of the keyed fingerprint tags.
    expect(outcomes.reduce((n, o) => n + o.secretsManagerCalls, 0)).toBe(10);
    expect(outcomes.reduce((n, o) => n + o.logins, 0)).toBeLessThanOrEqual(3);
  });

  it('fails clearly, with the current login untouched, when no known password logs in', async () => {
    const user = await db.arrange();
    const arn = await suite.secret(uniqueName('su'), user.value);
    suite.sensitive(user.password);
    // Someone changed the password outside Rotor.
    const outside = testPassword();
    suite.sensitive(outside);
    if (db.name === 'PostgreSQL') {
      await admin.query(`ALTER ROLE ${admin.escapeIdentifier(user.username)} PASSWORD ${admin.escapeLiteral(outside)}`);
    } else {
      await root.query(`SET PASSWORD FOR ${account(user.username)} = PASSWORD(${lit(outside)})`);
    }
    const token = await suite.player.startRotation(arn);
    const h = handler();
    await h(suite.player.event(arn, token, 'createSecret'), lambdaContext());
    await expect(h(suite.player.event(arn, token, 'setSecret'), lambdaContext())).rejects.toThrow(/cannot log in/);
    expect(await db.logsIn(user.username, outside)).toBe(true);
  });
});
