import type mysql from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PreflightChecks } from '../lambdas/contract/index.js';
import { DatabaseChecks } from '../lambdas/database/preflight.js';
import { mysqlKind } from '../lambdas/mysql/mysqlKind.js';
import { withMysqlPreflight } from '../lambdas/mysql/preflight.js';
import { account, ident, lit, mysqlServer, MysqlFixtures, rootConnection } from '../bin/local/mysql.js';
import { startMariadbServer, type MariadbServer } from '../bin/local/mariadbServer.js';
import { freePort } from '../bin/local/ports.js';
import { testPassword, uniqueName } from '../bin/local/postgres.js';
import { check, enableRotation, problems, runPreflight, secretState } from './support/preflight.js';
import { useRotationSuite } from './support/rotationSuite.js';

/**
 * `rotor preflight` for MySQL/MariaDB, by calling the rotation handler locally with the preflight
 * event: moto for Secrets Manager, the machine's MariaDB (passwords really checked). Every case
 * checks that nothing changed: versions, labels, tags, the account's password hash, no clone
 * account and no pairing row made.
 */
describe('MysqlRotation preflight', () => {
  const figures: string[] = [];
  // Printed after the last case's log capture has stopped.
  afterAll(() => void (figures.length && process.stderr.write(`${figures.join('\n')}\n`)));
  const suite = useRotationSuite();
  let root: mysql.Connection;
  const fixtures = new MysqlFixtures(() => root);
  let after: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    root = await rootConnection();
  });
  afterEach(async () => {
    await after?.();
    after = undefined;
  });
  afterAll(async () => {
    await fixtures.dropAll();
    await root?.end();
  });

  async function dbState(username: string) {
    const [rows] = await root.query(
      'SELECT User AS user, Host AS host, authentication_string AS hash FROM mysql.user WHERE User IN (?, ?) ORDER BY User, Host',
      [username, `${username}_clone`],
    );
    const [pairs] = await root
      .query('SELECT COUNT(*) AS n FROM rotor.clone_pairs WHERE clone_user = ?', [`${username}_clone`])
      .catch(() => [[{ n: 'no table' }]]);
    return { accounts: rows, pairs };
  }

  async function arrange(opts: { master?: 'all' | 'no-grant-option'; secret?: Record<string, unknown>; env?: Record<string, string> } = {}) {
    const username = uniqueName('pf');
    const password = testPassword();
    await fixtures.createUser(username, password);
    const value: Record<string, unknown> = { engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, username, password };
    if (opts.master) {
      const masterName = uniqueName('pfmaster');
      const masterPassword = testPassword();
      await fixtures.createUser(masterName, masterPassword);
      await root.query(
        opts.master === 'all'
          ? `GRANT ALL PRIVILEGES ON *.* TO ${account(masterName)} WITH GRANT OPTION`
          : `GRANT CREATE USER, SELECT ON *.* TO ${account(masterName)}`,
      );
      value.masterarn = await suite.secret(uniqueName('pf-master'), {
        engine: 'mariadb',
        host: mysqlServer.host,
        port: mysqlServer.port,
        username: masterName,
        password: masterPassword,
      });
    }
    const arn = await suite.secret(uniqueName('pf-secret'), { ...value, ...opts.secret });
    await enableRotation(suite.moto.endpoint, suite.player.client, arn);
    const before = { secret: await secretState(suite.player.client, arn), db: await dbState(username) };
    after = async () => {
      expect(await secretState(suite.player.client, arn)).toEqual(before.secret);
      expect(await dbState(username)).toEqual(before.db);
    };
    const env = { ROTATION_STRATEGY: opts.master ? 'alternating-users' : 'single-user', ...opts.env };
    return { preflight: () => runPreflight(suite.moto.endpoint, withMysqlPreflight(mysqlKind), arn, { env, note: (t) => suite.logs.note(t) }) };
  }

  it('reports every check ok for a healthy single-user secret', async () => {
    const report = await (await arrange()).preflight();
    expect(problems(report)).toEqual([]);
    expect(report.checks.every((c) => c.status === 'ok')).toBe(true);
    figures.push(`[figure] preflight mysql healthy case 1: ${report.durationMs} ms in the handler, ${report.secretsManagerCalls} Secrets Manager calls, ${report.logins} logins`);
    expect(check(report, DatabaseChecks.STRATEGY).detail).toMatch(/single-user/);
    expect(check(report, DatabaseChecks.SERVER_PASSWORD_RULES).detail).toMatch(/validates no password rules/);
    // The current login, and one more for SHOW VARIABLES (the server's password rules).
    expect(report.logins).toBe(2);
  });

  it('reports every check ok for a healthy alternating-users secret (master with CREATE USER and GRANT OPTION)', async () => {
    const report = await (await arrange({ master: 'all' })).preflight();
    expect(problems(report)).toEqual([]);
    expect(report.checks.every((c) => c.status === 'ok')).toBe(true);
    figures.push(`[figure] preflight mysql healthy case 2: ${report.durationMs} ms in the handler, ${report.secretsManagerCalls} Secrets Manager calls, ${report.logins} logins`);
    expect(check(report, DatabaseChecks.MASTER_PRIVILEGES).detail).toMatch(/CREATE USER and GRANT OPTION/);
    expect(report.logins).toBe(3);
  });

  it('finds a target that does not answer (a closed loopback port)', async () => {
    const report = await (await arrange({ secret: { port: await freePort() } })).preflight();
    expect(problems(report)).toEqual([DatabaseChecks.REACHABLE]);
    expect(report.logins).toBe(0);
  });

  it('finds a current password the server refuses', async () => {
    const wrong = testPassword();
    suite.sensitive(wrong);
    const report = await (await arrange({ secret: { password: wrong } })).preflight();
    expect(problems(report)).toEqual([DatabaseChecks.CURRENT_LOGIN]);
  });

  it('finds a master without GRANT OPTION, with the statement that fixes it', async () => {
    const report = await (await arrange({ master: 'no-grant-option' })).preflight();
    expect(problems(report)).toEqual([DatabaseChecks.MASTER_PRIVILEGES]);
    const found = check(report, DatabaseChecks.MASTER_PRIVILEGES);
    expect(found.detail).toMatch(/lacks GRANT OPTION/);
    expect(found.fix).toMatch(/GRANT CREATE USER ON \*\.\* TO .* WITH GRANT OPTION/);
  });

  it('finds password settings that let through characters MySQL consumers do not accept', async () => {
    const report = await (await arrange({ env: { EXCLUDE_CHARACTERS: '' } })).preflight();
    expect(problems(report)).toContain(PreflightChecks.PASSWORD_POLICY);
    expect(check(report, PreflightChecks.PASSWORD_POLICY).detail).toContain(JSON.stringify('/@"\'\\'));
  });

  describe('against a server with a password validation plugin (a throwaway MariaDB with simple_password_check)', () => {
    let server: MariadbServer;
    let admin: mysql.Connection;
    beforeAll(async () => {
      server = await startMariadbServer({ plugins: ['simple_password_check'] });
      admin = await server.root();
      await admin.query('SET GLOBAL simple_password_check_minimal_length = 40');
    }, 120_000);
    afterAll(async () => {
      await admin?.end();
      await server?.stop();
    });

    async function arrangeThere(env: Record<string, string>) {
      const username = uniqueName('pfrules');
      // What the plugin accepts: 40 characters or more, a digit, both cases, another character.
      const password = `${testPassword()}${testPassword()}A1a!`;
      suite.sensitive(password);
      await admin.query(`CREATE USER ${ident(username)}@'%' IDENTIFIED BY ${lit(password)}`);
      const arn = await suite.secret(uniqueName('pf-rules'), { engine: 'mariadb', host: server.host, port: server.port, username, password });
      await enableRotation(suite.moto.endpoint, suite.player.client, arn);
      const hash = async () => (await admin.query('SELECT authentication_string AS h FROM mysql.user WHERE User = ?', [username]))[0];
      const before = { secret: await secretState(suite.player.client, arn), hash: await hash() };
      after = async () => {
        expect(await secretState(suite.player.client, arn)).toEqual(before.secret);
        expect(await hash()).toEqual(before.hash);
      };
      return runPreflight(suite.moto.endpoint, withMysqlPreflight(mysqlKind), arn, { env: { ROTATION_STRATEGY: 'single-user', ...env }, note: (t) => suite.logs.note(t) });
    }

    it('finds a password length the server would refuse, with the length that fits', async () => {
      const report = await arrangeThere({});
      expect(problems(report)).toEqual([DatabaseChecks.SERVER_PASSWORD_RULES]);
      const found = check(report, DatabaseChecks.SERVER_PASSWORD_RULES);
      expect(found.detail).toMatch(/simple_password_check wants at least 40 characters.* passwords of 32 characters, which the server would refuse/);
      expect(found.fix).toMatch(/PASSWORD_LENGTH to 40 or more/);
    });

    it('finds excluded characters that leave a class the plugin counts out of every password', async () => {
      const punctuation = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
      const report = await arrangeThere({ PASSWORD_LENGTH: '48', EXCLUDE_CHARACTERS: punctuation });
      // (moto's GetRandomPassword fails on this policy too, with a server error: the check does not depend on it.)
      expect(problems(report)).toContain(DatabaseChecks.SERVER_PASSWORD_RULES);
      expect(check(report, DatabaseChecks.SERVER_PASSWORD_RULES).detail).toMatch(/EXCLUDE_CHARACTERS leaves no other characters, so the server would refuse every new password/);
    });

    it('reports ok once the function makes passwords the plugin accepts', async () => {
      const report = await arrangeThere({ PASSWORD_LENGTH: '48' });
      expect(problems(report)).toEqual([]);
      expect(check(report, DatabaseChecks.SERVER_PASSWORD_RULES).detail).toMatch(/passwords made with this function's policy pass/);
    });
  });
});
