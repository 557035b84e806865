import { createServer, type Server } from 'node:net';
import { PutSecretValueCommand, UpdateSecretCommand } from '@aws-sdk/client-secrets-manager';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StepOutcome } from '../lambdas/core/engine.js';
import { RotorTags, Strategies } from '../lambdas/core/types.js';
import { candidateFingerprints, plainFingerprint } from '../lambdas/core/fingerprint.js';
import { heldFingerprint } from '../lambdas/core/labels.js';
import { handler as deployedHandler, mysqlKind } from '../lambdas/mysql/index.js';
import { DatabaseError } from '../lambdas/mysql/connection.js';
import { grantSyncStatements, parseGrants, parseRequire, tokenize } from '../lambdas/mysql/grants.js';
import { createMysqlKind } from '../lambdas/mysql/mysqlKind.js';
import { mysqlDefaults, readMysqlOptions } from '../lambdas/mysql/options.js';
import { parseMysqlSecret } from '../lambdas/mysql/secret.js';
import {
  discardOldPasswordStatement,
  masterPasswordStatement,
  pairingTableStatements,
  parseServer,
  quoteString,
  selfPasswordStatement,
} from '../lambdas/mysql/sql.js';
import { lambdaContext, STEPS } from '../bin/local/harness.js';
import { account, ident, lit, mysqlLogin, mysqlServer, MysqlFixtures, rootConnection } from '../bin/local/mysql.js';
import { freePort } from '../bin/local/ports.js';
import { testPassword, uniqueName } from '../bin/local/postgres.js';
import { useRotationSuite } from './support/rotationSuite.js';
import { builtHandler } from './support/builtBundle.js';

const HOST = mysqlServer.userHost;
const timings: Record<string, number[]> = {};

function totals(outcomes: StepOutcome[]) {
  return {
    calls: outcomes.reduce((n, o) => n + o.secretsManagerCalls, 0),
    logins: outcomes.reduce((n, o) => n + o.logins, 0),
    durationMs: outcomes.reduce((n, o) => n + o.durationMs, 0),
  };
}

interface Secret {
  username: string;
  password: string;
  dbname?: string;
  [key: string]: unknown;
}

describe('MysqlRotation', () => {
  const suite = useRotationSuite();
  let root: mysql.Connection;
  const fixtures = new MysqlFixtures(() => root);
  const master = { username: uniqueName('rotor_master'), password: testPassword() };

  beforeAll(async () => {
    root = await rootConnection();
    await fixtures.createUser(master.username, master.password);
    await root.query(`GRANT ALL PRIVILEGES ON *.* TO ${account(master.username)} WITH GRANT OPTION`);
  });
  afterAll(async () => {
    await fixtures.dropAll();
    await root?.end();
    for (const [strategy, ms] of Object.entries(timings)) {
      process.stderr.write(`mysql ${strategy} rotation: ${ms.join(', ')} ms (sum of the four steps' durationMs)\n`);
    }
  });

  async function masterSecret(overrides: Record<string, unknown> = {}): Promise<string> {
    return suite.secret(uniqueName('master'), {
      engine: 'mariadb',
      host: mysqlServer.host,
      port: mysqlServer.port,
      username: master.username,
      password: master.password,
      ...overrides,
    });
  }

  /** An account with a password, its own database (SELECT, INSERT on it) and a secret for it. */
  async function arrangeUser(
    opts: { username?: string; alternating?: boolean; secret?: Record<string, unknown> } = {},
  ): Promise<Secret & { arn: string; dbname: string }> {
    const username = opts.username ?? uniqueName('app');
    const password = testPassword();
    const dbname = uniqueName('db');
    await fixtures.createUser(username, password);
    await fixtures.createDatabase(dbname);
    await root.query(`CREATE TABLE ${ident(dbname)}.t (id int)`);
    await root.query(`GRANT SELECT, INSERT ON ${ident(dbname)}.* TO ${account(username)}`);
    const value: Record<string, unknown> = {
      engine: 'mariadb',
      host: mysqlServer.host,
      port: mysqlServer.port,
      username,
      password,
      dbname,
    };
    if (opts.alternating) value.masterarn = await masterSecret();
    const arn = await suite.secret(uniqueName('secret'), { ...value, ...opts.secret });
    return { arn, username, password, dbname };
  }

  const current = (arn: string, stage = 'AWSCURRENT') => suite.player.value<Secret>(arn, stage);
  /** The account a secret logs in as (`user@host`), undefined when refused. */
  const loginAs = (s: Secret) => mysqlLogin(s.username, s.password, { dbname: s.dbname });
  const logsIn = async (s: Secret) => (await loginAs(s)) !== undefined;

  const single = (env: Record<string, string> = {}) =>
    suite.handler(createMysqlKind({ env }), { ROTATION_STRATEGY: Strategies.SINGLE_USER });
  const alternating = (env: Record<string, string> = {}) =>
    suite.handler(createMysqlKind({ env }), { ROTATION_STRATEGY: Strategies.ALTERNATING_USERS });
  const step = (handler: ReturnType<typeof single>, arn: string, token: string, name: (typeof STEPS)[number]) =>
    handler(suite.player.event(arn, token, name), lambdaContext());

  /** SHOW GRANTS without the grantee and the password hash, to compare two accounts. */
  async function grantsOf(username: string): Promise<string[]> {
    const [rows] = await root.query(`SHOW GRANTS FOR ${account(username)}`);
    return (rows as Array<Record<string, string>>)
      .map((r) => String(Object.values(r)[0]))
      .map((line) =>
        line
          .replace(` TO ${'`'}${username.replaceAll('`', '``')}${'`'}@${'`'}${HOST}${'`'}`, ' TO <grantee>')
          .replace(/ IDENTIFIED BY PASSWORD '[^']*'/, ''),
      )
      .sort();
  }

  async function sslTypeOf(username: string): Promise<string | undefined> {
    const [rows] = await root.query('SELECT ssl_type AS t FROM mysql.user WHERE User = ? AND Host = ?', [username, HOST]);
    return (rows as Array<{ t: string }>)[0]?.t;
  }

  async function accountExists(username: string): Promise<boolean> {
    const [rows] = await root.query('SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?', [username, HOST]);
    return (rows as unknown[]).length > 0;
  }

  describe('the test MariaDB server', () => {
    it('checks passwords for real and matches logins to the accounts tests create', async () => {
      // Prepare
      const user = await arrangeUser();
      // Act
      const right = await loginAs(user);
      const wrong = await loginAs({ ...user, password: `${user.password}x` });
      // Assess: an anonymous account shadowing 'name'@'%' would show up here (see MYSQL_TEST_USER_HOST).
      expect(right, 'login matched another account: anonymous accounts shadow the test accounts').toBe(
        `${user.username}@${HOST}`,
      );
      expect(wrong).toBeUndefined();
    });
  });

  describe('single-user', () => {
    it('the built bundle (dist/lambdas/mysql, as deployed: mysql2 with its character-set stand-in) rotates the password', async () => {
      const user = await arrangeUser();
      const saved = process.env.ROTATION_STRATEGY;
      process.env.ROTATION_STRATEGY = Strategies.SINGLE_USER;
      try {
        await suite.player.rotate(suite.captured(builtHandler('mysql')), user.arn);
      } finally {
        if (saved === undefined) delete process.env.ROTATION_STRATEGY;
        else process.env.ROTATION_STRATEGY = saved;
      }
      const now = await current(user.arn);
      expect(await loginAs(now)).toBe(`${user.username}@${HOST}`);
      expect(await logsIn({ ...now, password: user.password })).toBe(false);
    });

    it('rotates the password: new one logs in, old one is refused, labels move', async () => {
      // Prepare
      const user = await arrangeUser();
      const before = await suite.player.versionOf(user.arn, 'AWSCURRENT');
      // Act
      const { token, outcomes } = await suite.player.rotate(single(), user.arn);
      // Assess
      const now = await current(user.arn);
      expect(now.password).not.toBe(user.password);
      expect(now.password).toHaveLength(32);
      expect(now.password).not.toMatch(/[/@"'\\]/);
      expect(await loginAs(now)).toBe(`${user.username}@${HOST}`);
      expect(await logsIn({ ...now, password: user.password })).toBe(false);
      const versions = await suite.player.versions(user.arn);
      expect(versions[token]).toEqual(['AWSCURRENT']);
      expect(versions[before!]).toEqual(['AWSPREVIOUS']);
      expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
      const { calls, logins, durationMs } = totals(outcomes);
      expect(calls).toBeLessThanOrEqual(10);
      expect(logins).toBeLessThanOrEqual(3);
      (timings['single-user'] ??= []).push(durationMs);
    });

    it('rotates twice and three times in a row, each time only the newest password logs in', async () => {
      const user = await arrangeUser();
      const handler = single();
      const seen = [user.password];
      for (let i = 0; i < 3; i++) {
        const { outcomes } = await suite.player.rotate(handler, user.arn);
        // AWSPREVIOUS exists from the second rotation on, and is still not read: 10 calls each time
        // (finishSecret's TagResource of the keyed fingerprint tags included).
        expect(outcomes.reduce((n, o) => n + o.secretsManagerCalls, 0)).toBe(10);
        const now = await current(user.arn);
        expect(seen).not.toContain(now.password);
        expect(await logsIn(now)).toBe(true);
        for (const old of seen) expect(await logsIn({ ...now, password: old })).toBe(false);
        seen.push(now.password);
      }
    });

    it('is idempotent: every step run twice in a row gives one rotation', async () => {
      const user = await arrangeUser();
      const handler = single();
      const token = await suite.player.startRotation(user.arn);
      const outcomes = [];
      for (const name of STEPS) {
        outcomes.push(await step(handler, user.arn, token, name));
        outcomes.push(await step(handler, user.arn, token, name));
      }
      expect(outcomes.map((o) => o.outcome)).toEqual([
        'done', 'pending-exists', 'done', 'done', 'done', 'done', 'done', 'already-current',
      ]);
      expect(await logsIn(await current(user.arn))).toBe(true);
      expect(Object.keys(await suite.player.versions(user.arn))).toHaveLength(2);
    });

    it('recovers from a crash between setSecret and finishSecret when the service retries', async () => {
      const user = await arrangeUser();
      const token = await suite.player.startRotation(user.arn);
      await suite.player.runSteps(single(), user.arn, token, ['createSecret', 'setSecret']);
      // A new (cold) function instance retries the rotation from the start with the same token.
      const outcomes = await suite.player.runSteps(single(), user.arn, token);
      expect(outcomes.map((o) => o.outcome)).toEqual(['pending-exists', 'done', 'done', 'done']);
      expect(await logsIn(await current(user.arn))).toBe(true);
      expect((await suite.player.versions(user.arn))[token]).toEqual(['AWSCURRENT']);
    });

    it('falls back to AWSPREVIOUS when the server still has the previous password', async () => {
      const user = await arrangeUser();
      await suite.player.rotate(single(), user.arn);
      // Someone restored the old password on the server: current does not log in, previous does.
      await root.query(`SET PASSWORD FOR ${account(user.username)} = PASSWORD(${lit(user.password)})`);
      await suite.player.rotate(single(), user.arn);
      const now = await current(user.arn);
      expect(await logsIn(now)).toBe(true);
      expect(await logsIn({ ...now, password: user.password })).toBe(false);
    });

    it('refuses a pending version whose username differs from the current one', async () => {
      const user = await arrangeUser();
      const token = await suite.player.startRotation(user.arn);
      const tampered = { engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, username: master.username, password: testPassword() };
      suite.sensitive(tampered.password);
      await suite.player.client.send(
        new PutSecretValueCommand({ SecretId: user.arn, ClientRequestToken: token, SecretString: JSON.stringify(tampered), VersionStages: ['AWSPENDING'] }),
      );
      await expect(step(single(), user.arn, token, 'setSecret')).rejects.toThrow(/username or host differs/);
      expect(await logsIn(master)).toBe(true);
      expect(await logsIn(await current(user.arn))).toBe(true);
    });

    it('rotates user names that need quoting and ones that try SQL injection, as plain names', async () => {
      const canary = { username: uniqueName('canary'), password: testPassword() };
      await fixtures.createUser(canary.username, canary.password);
      const names = [
        `Mixed Case "dq" 'sq' \`bt\` ${uniqueName('u')}`,
        `x\`@\`%\` IDENTIFIED BY 'pwned'; ALTER USER \`${canary.username}\`@\`%\` IDENTIFIED BY 'pwned' -- ${uniqueName('')}`,
        `y'); SET PASSWORD FOR '${canary.username}'@'%' = PASSWORD('pwned'); -- \\${uniqueName('')}`,
      ];
      for (const username of names) {
        const user = await arrangeUser({ username });
        await suite.player.rotate(single(), user.arn);
        const now = await current(user.arn);
        expect(now.username).toBe(username);
        expect(await loginAs(now)).toBe(`${username}@${HOST}`);
        expect(await logsIn({ ...now, password: user.password })).toBe(false);
      }
      expect(await logsIn(canary)).toBe(true);
      expect(await logsIn({ ...canary, password: 'pwned' })).toBe(false);
    });

    it('keeps unknown fields of the secret through a rotation, and accepts a numeric-string port', async () => {
      const user = await arrangeUser({ secret: { port: String(mysqlServer.port), proxyEndpoint: 'proxy.example', tags: { team: 'a' } } });
      await suite.player.rotate(single(), user.arn);
      const now = await current(user.arn);
      expect(now.proxyEndpoint).toBe('proxy.example');
      expect(now.tags).toEqual({ team: 'a' });
      expect(await logsIn(now)).toBe(true);
    });

    it('fails within the connection timeout when the host does not answer, and keeps the current login', async () => {
      const silent: Server = createServer(() => undefined); // accepts, never speaks
      const port = await freePort();
      await new Promise<void>((r) => silent.listen(port, '127.0.0.1', r));
      try {
        const user = await arrangeUser();
        await suite.player.client.send(
          new UpdateSecretCommand({ SecretId: user.arn, SecretString: JSON.stringify({ ...(await current(user.arn)), host: '127.0.0.1', port }) }),
        );
        const token = await suite.player.startRotation(user.arn);
        const handler = single();
        await step(handler, user.arn, token, 'createSecret');
        const started = Date.now();
        await expect(step(handler, user.arn, token, 'setSecret')).rejects.toThrow(/ETIMEDOUT/);
        expect(Date.now() - started).toBeLessThan(8_000);
        expect(await logsIn(user)).toBe(true);
      } finally {
        silent.close();
      }
    });

    it('with ssl true refuses a server that offers no TLS instead of sending the password in clear', async () => {
      const user = await arrangeUser({ secret: { ssl: true } });
      const token = await suite.player.startRotation(user.arn);
      const handler = single();
      await step(handler, user.arn, token, 'createSecret');
      await expect(step(handler, user.arn, token, 'setSecret')).rejects.toThrow(
        /does not offer TLS and the secret requires it \(ssl: true\)/,
      );
      expect(await logsIn(user)).toBe(true);
    });

    it('with ssl false connects in plain text; with ssl absent falls back to plain text on a server without TLS', async () => {
      for (const ssl of [false, undefined]) {
        const user = await arrangeUser({ secret: ssl === undefined ? {} : { ssl } });
        await suite.player.rotate(single(), user.arn);
        expect(await logsIn(await current(user.arn))).toBe(true);
      }
    });

    it('refuses dual-password mode on MariaDB with a clear error and changes nothing', async () => {
      const user = await arrangeUser();
      const handler = single({ DUAL_PASSWORD: 'true' });
      const token = await suite.player.startRotation(user.arn);
      await step(handler, user.arn, token, 'createSecret');
      await expect(step(handler, user.arn, token, 'setSecret')).rejects.toThrow(
        /DUAL_PASSWORD=true needs MySQL 8\.0\.14 or later .*MariaDB 10\.\d+\.\d+, which has no dual passwords/,
      );
      expect(await logsIn(user)).toBe(true);
      expect(await logsIn(await current(user.arn, 'AWSPENDING'))).toBe(false);
    });

    it('refuses an invalid DUAL_PASSWORD or MAX_USERNAME_LENGTH, naming the variable', async () => {
      const user = await arrangeUser();
      const token = await suite.player.startRotation(user.arn);
      await expect(step(single({ DUAL_PASSWORD: 'yes' }), user.arn, token, 'createSecret')).rejects.toThrow(
        /environment variable DUAL_PASSWORD is invalid/,
      );
      await expect(step(single({ MAX_USERNAME_LENGTH: 'many' }), user.arn, token, 'createSecret')).rejects.toThrow(
        /environment variable MAX_USERNAME_LENGTH is invalid/,
      );
      expect(await logsIn(user)).toBe(true);
    });
  });

  describe('alternating-users', () => {
    it('creates the clone on first rotation with the user host part and grants; the old login keeps working', async () => {
      // Prepare
      const user = await arrangeUser({ alternating: true });
      const before = await suite.player.versionOf(user.arn, 'AWSCURRENT');
      // Act
      const { token, outcomes } = await suite.player.rotate(alternating(), user.arn);
      // Assess
      const now = await current(user.arn);
      expect(now.username).toBe(`${user.username}_clone`);
      expect(await loginAs(now)).toBe(`${user.username}_clone@${HOST}`);
      expect(await loginAs(user)).toBe(`${user.username}@${HOST}`);
      const versions = await suite.player.versions(user.arn);
      expect(versions[token]).toEqual(['AWSCURRENT']);
      expect(versions[before!]).toEqual(['AWSPREVIOUS']);
      expect(await grantsOf(now.username)).toEqual(await grantsOf(user.username));
      const { calls, logins, durationMs } = totals(outcomes);
      // 10, and finishSecret's TagResource of the keyed fingerprint tags (README, "Fingerprints").
      expect(calls).toBeLessThanOrEqual(11);
      expect(logins).toBeLessThanOrEqual(3);
      (timings['alternating-users'] ??= []).push(durationMs);
    });

    it('alternates back to the base user, and a grant added to or revoked from the user reaches the clone', async () => {
      const user = await arrangeUser({ alternating: true });
      const handler = alternating();
      await suite.player.rotate(handler, user.arn);
      const one = await current(user.arn);
      expect(one.username).toBe(`${user.username}_clone`);

      // Between rotations the user gains UPDATE on its database and DELETE on a table, and loses INSERT.
      await root.query(`GRANT UPDATE ON ${ident(user.dbname)}.* TO ${account(user.username)}`);
      await root.query(`GRANT DELETE ON ${ident(user.dbname)}.t TO ${account(user.username)}`);
      await root.query(`REVOKE INSERT ON ${ident(user.dbname)}.* FROM ${account(user.username)}`);

      await suite.player.rotate(handler, user.arn);
      const two = await current(user.arn);
      expect(two.username).toBe(user.username);
      expect(await logsIn(two)).toBe(true);
      expect(await logsIn(one)).toBe(true); // the previous login still works
      expect(await logsIn({ ...two, password: user.password })).toBe(false);
      expect(await grantsOf(one.username)).toEqual(await grantsOf(user.username));
      // What a client of the clone sees: UPDATE allowed, INSERT refused.
      const clone = await import('mysql2/promise').then((m) =>
        m.createConnection({ host: mysqlServer.host, port: mysqlServer.port, user: one.username, password: one.password, database: user.dbname }),
      );
      try {
        await clone.query('UPDATE t SET id = 1 WHERE id = 0');
        await expect(clone.query('INSERT INTO t VALUES (1)')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
      } finally {
        await clone.end();
      }

      await suite.player.rotate(handler, user.arn);
      const three = await current(user.arn);
      expect(three.username).toBe(`${user.username}_clone`);
      expect(await logsIn(three)).toBe(true);
      expect(await logsIn(two)).toBe(true);
      expect(await logsIn(one)).toBe(false);
    });

    it('is idempotent: every step run twice in a row', async () => {
      const user = await arrangeUser({ alternating: true });
      const handler = alternating();
      const token = await suite.player.startRotation(user.arn);
      const outcomes = [];
      for (const name of STEPS) {
        outcomes.push(await step(handler, user.arn, token, name));
        outcomes.push(await step(handler, user.arn, token, name));
      }
      expect(outcomes.map((o) => o.outcome)).toEqual([
        'done', 'pending-exists', 'done', 'done', 'done', 'done', 'done', 'already-current',
      ]);
      expect(await logsIn(await current(user.arn))).toBe(true);
      expect(await logsIn(user)).toBe(true);
      expect(await grantsOf(`${user.username}_clone`)).toEqual(await grantsOf(user.username));
    });

    it('keeps the current login working through a crash between setSecret and finishSecret', async () => {
      const user = await arrangeUser({ alternating: true });
      const token = await suite.player.startRotation(user.arn);
      await suite.player.runSteps(alternating(), user.arn, token, ['createSecret', 'setSecret']);
      expect(await logsIn(await current(user.arn))).toBe(true);
      const outcomes = await suite.player.runSteps(alternating(), user.arn, token);
      expect(outcomes.map((o) => o.outcome)).toEqual(['pending-exists', 'done', 'done', 'done']);
      const now = await current(user.arn);
      expect(now.username).toBe(`${user.username}_clone`);
      expect(await logsIn(now)).toBe(true);
    });

    it("copies the user's TLS requirement (REQUIRE SSL) to the clone", async () => {
      const user = await arrangeUser({ alternating: true });
      const handler = alternating();
      await suite.player.rotate(handler, user.arn);
      const clone = await current(user.arn);
      expect(await sslTypeOf(clone.username)).toBe('');
      await root.query(`ALTER USER ${account(user.username)} REQUIRE SSL`);

      const token = await suite.player.startRotation(user.arn);
      await step(handler, user.arn, token, 'createSecret');
      await step(handler, user.arn, token, 'setSecret');

      expect(await sslTypeOf(clone.username)).toBe('ANY');
      const [rows] = await root.query(`SHOW CREATE USER ${account(clone.username)}`);
      expect(String(Object.values((rows as Array<Record<string, string>>)[0]!)[0])).toMatch(/ REQUIRE SSL\b/);
      // This server offers no TLS: the user, which requires it, cannot log in, so testSecret fails
      // and AWSCURRENT stays on the clone (which now requires TLS as well, as the user does).
      await expect(step(handler, user.arn, token, 'testSecret')).rejects.toThrow(/Access denied/);
      expect((await suite.player.versions(user.arn))[token]).toEqual(['AWSPENDING']);
    });

    it('rotates user names that need quoting and ones that try SQL injection', async () => {
      const names = [
        `Odd "Name" 'q' \`b\` ${uniqueName('q')}`.slice(0, 26),
        `z\`@\`%\`; DROP USER \`${master.username}\`@\`%\`; --`.slice(0, 20) + uniqueName('').slice(0, 6),
      ];
      for (const username of names) {
        const user = await arrangeUser({ alternating: true, username });
        await suite.player.rotate(alternating(), user.arn);
        const now = await current(user.arn);
        expect(now.username).toBe(`${username}_clone`);
        expect(await loginAs(now)).toBe(`${username}_clone@${HOST}`);
        expect(await grantsOf(now.username)).toEqual(await grantsOf(username));
      }
      expect(await logsIn(master)).toBe(true);
    });

    it('refuses to use the master secret when the current credential does not log in (no confused deputy)', async () => {
      const user = await arrangeUser({ alternating: true });
      await root.query(`SET PASSWORD FOR ${account(user.username)} = PASSWORD(${lit(testPassword())})`);
      const token = await suite.player.startRotation(user.arn);
      const handler = alternating();
      await step(handler, user.arn, token, 'createSecret');
      await expect(step(handler, user.arn, token, 'setSecret')).rejects.toThrow(/AWSCURRENT credential does not log in/);
      expect(await accountExists(`${user.username}_clone`)).toBe(false);
    });

    it("refuses to rotate the master's own user and a master secret for another host", async () => {
      const own = await suite.secret(uniqueName('own'), {
        engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, username: master.username, password: master.password,
        masterarn: await masterSecret(),
      });
      const token = await suite.player.startRotation(own);
      await step(alternating(), own, token, 'createSecret');
      await expect(step(alternating(), own, token, 'setSecret')).rejects.toThrow(/refusing to rotate the master user itself/);
      expect(await accountExists(`${master.username}_clone`)).toBe(false);

      const user = await arrangeUser({ alternating: true, secret: { masterarn: await masterSecret({ port: mysqlServer.port + 1 }) } });
      const t2 = await suite.player.startRotation(user.arn);
      await step(alternating(), user.arn, t2, 'createSecret');
      await expect(step(alternating(), user.arn, t2, 'setSecret')).rejects.toThrow(/is for a different host or port/);
      expect(await accountExists(`${user.username}_clone`)).toBe(false);
      expect(await logsIn(user)).toBe(true);
      expect(await logsIn(master)).toBe(true);
    });

    it('checks the user name length limit for the clone before creating anything (default 32, MAX_USERNAME_LENGTH)', async () => {
      const atLimit = `a${uniqueName('').replace('_', '')}`.padEnd(26, 'x'); // 26 + '_clone' = 32
      const ok = await arrangeUser({ alternating: true, username: atLimit });
      await suite.player.rotate(alternating(), ok.arn);
      expect((await current(ok.arn)).username).toHaveLength(32);

      const over = `b${uniqueName('').replace('_', '')}`.padEnd(27, 'x'); // 27 + '_clone' = 33
      const tooLong = await arrangeUser({ alternating: true, username: over });
      const token = await suite.player.startRotation(tooLong.arn);
      await expect(step(alternating(), tooLong.arn, token, 'createSecret')).rejects.toThrow(
        /username' is too long for alternating users.*33 characters, over MAX_USERNAME_LENGTH 32/,
      );
      expect(await accountExists(`${over}_clone`)).toBe(false);
      expect(await logsIn(tooLong)).toBe(true);

      // Older MySQL: 16 characters.
      const short = await arrangeUser({ alternating: true, username: uniqueName('u') }); // 10 + 6 = 16
      await suite.player.rotate(alternating({ MAX_USERNAME_LENGTH: '16' }), short.arn);
      const t2 = await suite.player.startRotation(tooLong.arn);
      await expect(step(alternating({ MAX_USERNAME_LENGTH: '16' }), tooLong.arn, t2, 'createSecret')).rejects.toThrow(
        /over MAX_USERNAME_LENGTH 16/,
      );
    });

    it('refuses a secret without masterarn, naming the field', async () => {
      const user = await arrangeUser();
      const token = await suite.player.startRotation(user.arn);
      await expect(step(alternating(), user.arn, token, 'createSecret')).rejects.toThrow(/field 'masterarn' is missing/);
      expect(await logsIn(user)).toBe(true);
    });

    it('refuses DUAL_PASSWORD with alternating users', async () => {
      const user = await arrangeUser({ alternating: true });
      const token = await suite.player.startRotation(user.arn);
      await expect(step(alternating({ DUAL_PASSWORD: 'true' }), user.arn, token, 'createSecret')).rejects.toThrow(
        /DUAL_PASSWORD applies to the single-user strategy only/,
      );
      expect(await logsIn(user)).toBe(true);
    });
  });

  describe('alternating-users pairing (no confused deputy through the _clone name)', () => {
    /** Rotor's marker for a clone account, as the administrator reads it. */
    async function markerOf(clone: string): Promise<{ base: string; secret: string } | undefined> {
      try {
        const [rows] = await root.query(
          'SELECT CAST(base_user AS CHAR) AS base, CAST(secret_arn AS CHAR) AS secret FROM rotor.clone_pairs WHERE clone_user = ? AND clone_host = ?',
          [clone, HOST],
        );
        const [row] = rows as Array<{ base: string; secret: string }>;
        return row ? { base: row.base, secret: row.secret } : undefined;
      } catch (err) {
        if ((err as { errno?: number }).errno === 1146) return undefined;
        throw err;
      }
    }

    /** The README's adoption statements, run as the master (root here). */
    async function adopt(clone: string, base: string, secretArn: string): Promise<void> {
      for (const sql of pairingTableStatements()) await root.query(sql);
      await root.query(
        'REPLACE INTO rotor.clone_pairs (clone_user, clone_host, base_user, secret_arn) VALUES (?, ?, ?, ?)',
        [clone, HOST, base, secretArn],
      );
    }

    /** A privileged `boss` and a plain `boss_clone`, both made by the administrator, not by Rotor. */
    async function arrangeForeignPair() {
      const boss = { username: uniqueName('boss'), password: testPassword() };
      const clone = { username: `${boss.username}_clone`, password: testPassword() };
      suite.sensitive(boss.password, clone.password);
      const dbname = uniqueName('vault');
      await fixtures.createUser(boss.username, boss.password);
      await fixtures.createDatabase(dbname);
      await root.query(`GRANT ALL PRIVILEGES ON ${ident(dbname)}.* TO ${account(boss.username)}`);
      await root.query(`GRANT PROCESS ON *.* TO ${account(boss.username)}`);
      await root.query(`CREATE USER ${account(clone.username)} IDENTIFIED BY ${lit(clone.password)}`);
      return { boss, clone, dbname };
    }

    async function secretFor(login: { username: string; password: string }, masterArn?: string): Promise<string> {
      return suite.secret(uniqueName('secret'), {
        engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, ...login,
        masterarn: masterArn ?? (await masterSecret()),
      });
    }

    /** createSecret then setSecret; answers setSecret's error. */
    async function setSecretError(arn: string): Promise<Error> {
      const handler = alternating();
      const token = await suite.player.startRotation(arn);
      await step(handler, arn, token, 'createSecret');
      const err = await step(handler, arn, token, 'setSecret').then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err, 'setSecret was expected to refuse').toBeInstanceOf(Error);
      return err!;
    }

    it('refuses a secret for a boss_clone Rotor did not create: boss keeps its password, the clone gets no privilege', async () => {
      // Prepare: the foreign clone cannot write Rotor's marker itself.
      const { boss, clone } = await arrangeForeignPair();
      const arn = await secretFor(clone);
      for (const sql of pairingTableStatements()) await root.query(sql);
      const self = await import('mysql2/promise').then((m) =>
        m.createConnection({ host: mysqlServer.host, port: mysqlServer.port, user: clone.username, password: clone.password }),
      );
      try {
        await expect(
          self.query('INSERT INTO rotor.clone_pairs (clone_user, clone_host, base_user, secret_arn) VALUES (?, ?, ?, ?)', [
            clone.username, HOST, boss.username, arn,
          ]),
        ).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
      } finally {
        await self.end();
      }
      const cloneGrants = await grantsOf(clone.username);
      const bossGrants = await grantsOf(boss.username);
      // Act
      const err = await setSecretError(arn);
      // Assess
      expect(err.message).toContain(`login "${clone.username}" has no Rotor pairing marker (table rotor.clone_pairs)`);
      expect(err.message).toContain(`alternate of "${boss.username}"`);
      expect(err.message).toContain('Adopting a clone created before pairing markers');
      expect(await loginAs(boss)).toBe(`${boss.username}@${HOST}`);
      expect(await loginAs(clone)).toBe(`${clone.username}@${HOST}`);
      expect(await grantsOf(clone.username)).toEqual(cloneGrants);
      expect(await grantsOf(boss.username)).toEqual(bossGrants);
      expect((await current(arn)).password).toBe(clone.password);
    });

    it("refuses a secret for boss whose boss_clone exists and is not Rotor's: the clone keeps its password and grants", async () => {
      const { boss, clone } = await arrangeForeignPair();
      const cloneGrants = await grantsOf(clone.username);
      const arn = await secretFor(boss);

      const err = await setSecretError(arn);

      expect(err.message).toContain(`login "${clone.username}" has no Rotor pairing marker (table rotor.clone_pairs)`);
      expect(await loginAs(clone)).toBe(`${clone.username}@${HOST}`);
      expect(await logsIn(boss)).toBe(true);
      expect(await grantsOf(clone.username)).toEqual(cloneGrants);
      expect(await markerOf(clone.username)).toBeUndefined();
    });

    it('recognises the pair it created on every rotation, back and forth, within the login budget', async () => {
      const user = await arrangeUser({ alternating: true });
      const handler = alternating();
      const seen: Secret[] = [];
      for (let i = 0; i < 4; i++) {
        const { outcomes } = await suite.player.rotate(handler, user.arn);
        expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
        const { calls, logins } = totals(outcomes);
        expect(logins).toBeLessThanOrEqual(3);
        // 10, and finishSecret's TagResource of the keyed fingerprint tags.
        expect(calls).toBeLessThanOrEqual(11);
        const now = await current(user.arn);
        expect(now.username).toBe(i % 2 === 0 ? `${user.username}_clone` : user.username);
        expect(await logsIn(now)).toBe(true);
        if (seen.length > 0) expect(await logsIn(seen.at(-1)!)).toBe(true);
        seen.push(now);
      }
      // The marker binds the clone account to its base login and to this secret.
      expect(await markerOf(`${user.username}_clone`)).toEqual({ base: user.username, secret: user.arn });
      expect(await grantsOf(`${user.username}_clone`)).toEqual(await grantsOf(user.username));
    });

    it('refuses a pair whose marker names another secret or another base login', async () => {
      // Prepare: secret A makes the pair; secrets B name the same logins with working passwords.
      const user = await arrangeUser({ alternating: true });
      await suite.player.rotate(alternating(), user.arn);
      const clone = await current(user.arn);
      const forBase = await secretFor({ username: user.username, password: user.password });
      const forClone = await secretFor({ username: clone.username, password: clone.password });
      // Act / Assess
      for (const arn of [forBase, forClone]) {
        const err = await setSecretError(arn);
        expect(err.message).toContain(
          `login "${clone.username}" has a Rotor pairing marker (table rotor.clone_pairs) for another secret, not this one`,
        );
      }
      expect(await logsIn(clone)).toBe(true);
      expect(await logsIn(user)).toBe(true);

      const other = uniqueName('other');
      await adopt(clone.username, other, forClone);
      const err = await setSecretError(forClone);
      expect(err.message).toContain(`for another base login, not "${user.username}"`);
      expect(await logsIn(user)).toBe(true);
      // Secret A rotates again once its own marker is back.
      await adopt(clone.username, user.username, user.arn);
      await suite.player.rotate(alternating(), user.arn);
      const back = await current(user.arn);
      expect(back.username).toBe(user.username);
      expect(await logsIn(back)).toBe(true);
      expect(await logsIn(clone)).toBe(true);
    });

    it('adopts a clone made before pairing markers with the README statements, and refuses it before', async () => {
      // A pair as an earlier Rotor left it: the clone holds the user's grants, no marker.
      const user = await arrangeUser({ alternating: true });
      const clone = { username: `${user.username}_clone`, password: testPassword(), dbname: user.dbname };
      suite.sensitive(clone.password);
      await root.query(`CREATE USER ${account(clone.username)} IDENTIFIED BY ${lit(clone.password)}`);
      await root.query(`GRANT SELECT, INSERT ON ${ident(user.dbname)}.* TO ${account(clone.username)}`);
      const err = await setSecretError(user.arn);
      expect(err.message).toContain('has no Rotor pairing marker (table rotor.clone_pairs)');
      expect(await logsIn(clone)).toBe(true);

      await adopt(clone.username, user.username, user.arn);
      await suite.player.rotate(alternating(), user.arn);
      const now = await current(user.arn);
      expect(now.username).toBe(clone.username);
      expect(await logsIn(now)).toBe(true);
      expect(await logsIn({ ...now, password: clone.password })).toBe(false);
    });
  });

  describe('fingerprint tags (keyed: a leaked connection string names its secret)', () => {
    for (const strategy of [Strategies.SINGLE_USER, Strategies.ALTERNATING_USERS]) {
      it(`${strategy}: finishSecret tags the keyed fingerprints of the new and old password (not their SHA-256), found by the new one`, async () => {
        const user = await arrangeUser({ alternating: strategy === Strategies.ALTERNATING_USERS });
        await suite.player.rotate(strategy === Strategies.SINGLE_USER ? single() : alternating(), user.arn);
        const now = await current(user.arn);
        expect(await logsIn(now)).toBe(true);
        const tags = new Map(((await suite.player.describe(user.arn)).Tags ?? []).map((t) => [t.Key!, t.Value!]));
        const key = suite.fingerprintKey.key;
        expect(tags.get(RotorTags.FINGERPRINT_CURRENT)).toBe(key.fingerprint(now.password));
        expect(tags.get(RotorTags.FINGERPRINT_PREVIOUS)).toBe(key.fingerprint(user.password));
        for (const password of [now.password, user.password]) expect([...tags.values()].join(' ')).not.toContain(plainFingerprint(password));
        expect(heldFingerprint(tags, candidateFingerprints(now.password, [key]))?.which).toBe('current');
      });
    }
  });

  describe('malformed secrets', () => {
    async function expectRefused(value: unknown, message: RegExp, strategy: 'single' | 'alternating' = 'single') {
      const user = await arrangeUser();
      // The malformed value becomes AWSCURRENT; the credential on the server stays the user's.
      await suite.player.client.send(
        new UpdateSecretCommand({ SecretId: user.arn, SecretString: typeof value === 'string' ? value : JSON.stringify(value) }),
      );
      suite.sensitive(user.password);
      const token = await suite.player.startRotation(user.arn);
      const handler = strategy === 'single' ? single() : alternating();
      await expect(step(handler, user.arn, token, 'createSecret')).rejects.toThrow(message);
      expect(await logsIn(user)).toBe(true);
      return user;
    }
    const valid = () => ({ engine: 'mysql', host: mysqlServer.host, port: mysqlServer.port, username: 'someone', password: testPassword() });

    it("refuses a wrong engine ('postgres')", async () => {
      await expectRefused({ ...valid(), engine: 'postgres' }, /field 'engine' is invalid/);
    });

    it('refuses a value that is not JSON, without quoting it', async () => {
      const broken = `{"engine":"mysql","password":"${testPassword()}"`;
      suite.sensitive(broken.slice(30, 60));
      await expectRefused(broken, /value is not valid JSON/);
    });

    for (const field of ['engine', 'host', 'username', 'password'] as const) {
      it(`refuses a secret without '${field}', naming the field`, async () => {
        const value: Record<string, unknown> = valid();
        delete value[field];
        await expectRefused(value, new RegExp(`field '${field}' is missing`));
      });
    }

    it('refuses a port that is not a number', async () => {
      await expectRefused({ ...valid(), port: 'three' }, /field 'port' is invalid/);
    });
  });

  it('exports the deployed handler and kind', () => {
    suite.sensitive(master.password);
    expect(typeof deployedHandler).toBe('function');
    expect(mysqlKind.name).toBe('mysql');
    expect(mysqlKind.passwordPolicy).toEqual({ length: 32, excludeCharacters: '/@"\'\\' });
  });
});

describe('MySQL kind SQL (unit)', () => {
  const mysql8 = parseServer('8.0.36', 'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES');
  const mariadb = parseServer('10.11.19-MariaDB-0+deb12u1', 'STRICT_TRANS_TABLES');

  it('reads the server flavour, version and sql_mode', () => {
    expect(mysql8).toEqual({ flavour: 'mysql', version: [8, 0, 36], backslashEscapes: true });
    expect(mariadb.flavour).toBe('mariadb');
    expect(parseServer('8.0.36', 'NO_BACKSLASH_ESCAPES').backslashEscapes).toBe(false);
  });

  it('quotes string literals for the session sql_mode', () => {
    expect(quoteString(`a'b\\c`, { backslashEscapes: true })).toBe(`'a''b\\\\c'`);
    expect(quoteString(`a'b\\c`, { backslashEscapes: false })).toBe(`'a''b\\c'`);
    expect(() => quoteString('a\u0000b', { backslashEscapes: true })).toThrow(/NUL/);
  });

  it('MySQL 8.0.14+: dual-password mode sends ALTER USER ... REPLACE ... RETAIN CURRENT PASSWORD, then DISCARD OLD PASSWORD', () => {
    expect(selfPasswordStatement(mysql8, { password: 'New-pw', loggedInWith: 'Old-pw', retainCurrent: true })).toBe(
      "ALTER USER USER() IDENTIFIED BY 'New-pw' REPLACE 'Old-pw' RETAIN CURRENT PASSWORD",
    );
    expect(discardOldPasswordStatement(mysql8)).toBe('ALTER USER USER() DISCARD OLD PASSWORD');
    expect(selfPasswordStatement(mysql8, { password: 'New-pw', loggedInWith: 'Old-pw' })).toBe(
      "ALTER USER USER() IDENTIFIED BY 'New-pw' REPLACE 'Old-pw'",
    );
  });

  it('refuses the dual-password clauses where the server has none (MariaDB, MySQL before 8.0.14)', () => {
    const mysql8013 = parseServer('8.0.13', '');
    expect(() => selfPasswordStatement(mariadb, { password: 'x', retainCurrent: true })).toThrow(/MariaDB .* has no RETAIN/);
    expect(() => selfPasswordStatement(mysql8013, { password: 'x', retainCurrent: true })).toThrow(/MySQL 8\.0\.13 has no RETAIN/);
    expect(() => discardOldPasswordStatement(mariadb)).toThrow(/no DISCARD OLD PASSWORD/);
    expect(selfPasswordStatement(mysql8013, { password: 'x', loggedInWith: 'y' })).toBe("ALTER USER USER() IDENTIFIED BY 'x' REPLACE 'y'");
    expect(selfPasswordStatement(parseServer('8.0.12', ''), { password: 'x', loggedInWith: 'y' })).toBe(
      "ALTER USER USER() IDENTIFIED BY 'x'",
    );
    expect(selfPasswordStatement(parseServer('5.7.44-log', ''), { password: 'x' })).toBe("ALTER USER USER() IDENTIFIED BY 'x'");
  });

  it('MariaDB: a user changes its own password with SET PASSWORD = PASSWORD(...)', () => {
    expect(selfPasswordStatement(mariadb, { password: "p'w", loggedInWith: 'old' })).toBe("SET PASSWORD = PASSWORD('p''w')");
  });

  it('the master creates or alters the alternate login with the user TLS requirement', () => {
    expect(masterPasswordStatement(mysql8, { user: 'a`b', host: '%', exists: false, password: 'pw', require: 'SSL' })).toBe(
      "CREATE USER `a``b`@`%` IDENTIFIED BY 'pw' REQUIRE SSL",
    );
    expect(masterPasswordStatement(mysql8, { user: 'a', host: '10.0.%', exists: true, password: 'pw' })).toBe(
      "ALTER USER `a`@`10.0.%` IDENTIFIED BY 'pw'",
    );
  });

  it('reads the TLS requirement of SHOW CREATE USER (MariaDB and MySQL 8)', () => {
    expect(parseRequire("CREATE USER `a`@`%` IDENTIFIED BY PASSWORD '*AB' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 10")).toBe('SSL');
    expect(parseRequire("CREATE USER `a`@`%` IDENTIFIED BY PASSWORD '*AB'")).toBe('NONE');
    expect(
      parseRequire(
        "CREATE USER `a`@`%` IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$x' REQUIRE ISSUER '/C=SE/CN=ca' AND SUBJECT '/CN=a' PASSWORD EXPIRE DEFAULT ACCOUNT UNLOCK",
      ),
    ).toBe("ISSUER '/C=SE/CN=ca' AND SUBJECT '/CN=a'");
    expect(parseRequire('CREATE USER `a`@`%` REQUIRE X509 PASSWORD EXPIRE DEFAULT')).toBe('X509');
  });

  it('MySQL 8: turns SHOW GRANTS of the user and the clone into the GRANT/REVOKE difference', () => {
    const user = { user: 'app', host: '%' };
    const clone = { user: 'app_clone', host: '%' };
    const wanted = parseGrants(
      [
        'GRANT USAGE ON *.* TO `app`@`%`',
        'GRANT APPLICATION_PASSWORD_ADMIN ON *.* TO `app`@`%`',
        'GRANT SELECT, INSERT ON `shop`.* TO `app`@`%` WITH GRANT OPTION',
        'GRANT SELECT (`id`, `name`) ON `shop`.`users` TO `app`@`%`',
        'GRANT `reader`@`%` TO `app`@`%`',
      ],
      user,
    );
    const have = parseGrants(
      [
        'GRANT USAGE ON *.* TO `app_clone`@`%`',
        'GRANT SELECT, UPDATE ON `shop`.* TO `app_clone`@`%`',
        'GRANT SELECT (`id`) ON `shop`.`users` TO `app_clone`@`%`',
        'GRANT `writer`@`%` TO `app_clone`@`%`',
      ],
      clone,
    );
    expect(grantSyncStatements('mysql', wanted, have, clone)).toEqual([
      'GRANT APPLICATION_PASSWORD_ADMIN ON *.* TO `app_clone`@`%`',
      'GRANT INSERT ON `shop`.* TO `app_clone`@`%` WITH GRANT OPTION',
      'GRANT SELECT (`name`) ON `shop`.`users` TO `app_clone`@`%`',
      'GRANT `reader`@`%` TO `app_clone`@`%`',
      'REVOKE UPDATE ON `shop`.* FROM `app_clone`@`%`',
      'REVOKE `writer`@`%` FROM `app_clone`@`%`',
    ]);
    expect(grantSyncStatements('mysql', wanted, wanted, clone)).toEqual([]);
  });

  it('MariaDB: drops the password hash and REQUIRE of SHOW GRANTS, copies roles and the default role', () => {
    const user = { user: 'app', host: '%' };
    const clone = { user: 'app_clone', host: '%' };
    const wanted = parseGrants(
      [
        'GRANT `rotor_reader` TO `app`@`%`',
        "GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*DC3AE84ED2AA6A2C1AED7A1FA2111BA16807B9A1' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 10",
        'GRANT ALL PRIVILEGES ON `shop`.* TO `app`@`%`',
        'SET DEFAULT ROLE `rotor_reader` FOR `app`@`%`',
      ],
      user,
    );
    const have = parseGrants(
      [
        "GRANT USAGE ON *.* TO `app_clone`@`%` IDENTIFIED BY PASSWORD '*0000'",
        'GRANT SELECT ON `shop`.* TO `app_clone`@`%`',
      ],
      clone,
    );
    const statements = grantSyncStatements('mariadb', wanted, have, clone);
    expect(statements).toEqual([
      'GRANT ALL PRIVILEGES ON `shop`.* TO `app_clone`@`%`',
      'GRANT `rotor_reader` TO `app_clone`@`%`',
      'SET DEFAULT ROLE `rotor_reader` FOR `app_clone`@`%`',
    ]);
    expect(statements.join('\n')).not.toMatch(/DC3AE84|IDENTIFIED|REQUIRE|MAX_QUERIES/);
    // The user goes from ALL PRIVILEGES back to SELECT: revoke ALL, grant SELECT back.
    expect(grantSyncStatements('mariadb', have, wanted, user).slice(0, 2)).toEqual([
      'REVOKE ALL PRIVILEGES ON `shop`.* FROM `app`@`%`',
      'GRANT SELECT ON `shop`.* TO `app`@`%`',
    ]);
  });

  it('treats names that hold SQL words and quotes as names', () => {
    const user = { user: "o'k `x` TO y", host: '%' };
    const wanted = parseGrants(["GRANT SELECT ON `we``ird TO x`.* TO `o'k ``x`` TO y`@`%`"], user);
    expect([...wanted.objects.keys()]).toEqual(['`we``ird TO x`.*']);
    expect(grantSyncStatements('mariadb', wanted, parseGrants([], user), { user: 'c`', host: '%' })).toEqual([
      'GRANT SELECT ON `we``ird TO x`.* TO `c```@`%`',
    ]);
    expect(tokenize("'it''s' `a``b`").map((t) => t.value)).toEqual(["it's", 'a`b']);
  });

  it('refuses grant lines it cannot copy faithfully', () => {
    const user = { user: 'app', host: '%' };
    expect(() => parseGrants(['REVOKE INSERT ON `mysql`.* FROM `app`@`%`'], user)).toThrow(/partial revokes/);
    expect(() => parseGrants(['GRANT SELECT ON *.* TO `other`@`%`'], user)).toThrow(/another account/);
  });

  it('keeps no statement text in a database error (mysql2 puts the statement, password included, in `sql`)', () => {
    const statement = "SET PASSWORD = PASSWORD('Secret-Value-123'))";
    const driverError = Object.assign(
      new Error("You have an error in your SQL syntax; check the manual for the right syntax to use near 'Secret-Val' at line 1"),
      { code: 'ER_PARSE_ERROR', errno: 1064, sqlState: '42000', sql: statement, sqlMessage: statement },
    );
    const safe = new DatabaseError(driverError);
    expect(safe).toMatchObject({ name: 'DatabaseError', code: 'ER_PARSE_ERROR', errno: 1064, sqlState: '42000' });
    expect(safe.message).toBe('You have an error in your SQL syntax; check the manual for the right syntax to use (statement not shown)');
    expect(JSON.stringify({ ...safe, message: safe.message, stack: safe.stack })).not.toMatch(/Secret-Val/);
  });

  it('validates the secret: engines, port as number or numeric string, default port 3306', () => {
    const base = { host: 'db', username: 'u', password: 'p' };
    for (const engine of ['mysql', 'aurora-mysql', 'mariadb']) {
      expect(parseMysqlSecret({ ...base, engine }, 'x').port).toBe(3306);
    }
    expect(parseMysqlSecret({ ...base, engine: 'mysql', port: '3307' }, 'x').port).toBe(3307);
    expect(() => parseMysqlSecret({ ...base, engine: 'postgres' }, 'secret s')).toThrow(/secret s: field 'engine' is invalid/);
  });

  it('reads MAX_USERNAME_LENGTH and DUAL_PASSWORD with documented defaults', () => {
    expect(readMysqlOptions({})).toEqual(mysqlDefaults);
    expect(readMysqlOptions({ MAX_USERNAME_LENGTH: '16', DUAL_PASSWORD: 'true' })).toMatchObject({
      maxUsernameLength: 16,
      dualPassword: true,
    });
    expect(() => readMysqlOptions({ MAX_USERNAME_LENGTH: '0' })).toThrow(/MAX_USERNAME_LENGTH is invalid/);
  });
});
