import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RotorMetrics } from '../lambdas/contract/index.js';
import type { StepOutcome } from '../lambdas/core/engine.js';
import { Strategies } from '../lambdas/core/types.js';
import {
  definerObjectsStatement,
  expiresUnder,
  optionsSyncStatement,
  parseAccountOptions,
  passwordAgeStatement,
  sessionCountStatement,
} from '../lambdas/mysql/accountOptions.js';
import { createMysqlKind } from '../lambdas/mysql/mysqlKind.js';
import { lambdaContext } from '../bin/local/harness.js';
import { account, ident, mysqlServer, MysqlFixtures, rootConnection } from '../bin/local/mysql.js';
import { testPassword, uniqueName } from '../bin/local/postgres.js';
import { useRotationSuite } from './support/rotationSuite.js';

/**
 * Issue 11, MySQL/MariaDB: the clone is the user to every client (resource limits, lock state,
 * password policy), what cannot be the same (DEFINER) is reported, and the sessions of the
 * login about to get a new password are counted. Real MariaDB; each case owns its users.
 */

const HOST = mysqlServer.userHost;

interface Secret {
  username: string;
  password: string;
  dbname?: string;
  [key: string]: unknown;
}

function totals(outcomes: StepOutcome[]) {
  return {
    calls: outcomes.reduce((n, o) => n + o.secretsManagerCalls, 0),
    logins: outcomes.reduce((n, o) => n + o.logins, 0),
  };
}

describe('MySQL alternating users: the clone stands in for the user (MariaDB)', () => {
  const suite = useRotationSuite();
  let root: mysql.Connection;
  const fixtures = new MysqlFixtures(() => root);
  const master = { username: uniqueName('rotor_master'), password: testPassword() };
  const driver = () => import('mysql2/promise');

  beforeAll(async () => {
    root = await rootConnection();
    await fixtures.createUser(master.username, master.password);
    await root.query(`GRANT ALL PRIVILEGES ON *.* TO ${account(master.username)} WITH GRANT OPTION`);
  });
  afterAll(async () => {
    await fixtures.dropAll();
    await root?.end();
  });

  async function arrangeUser(opts: { alternating?: boolean } = { alternating: true }) {
    const username = uniqueName('app');
    const password = testPassword();
    const dbname = uniqueName('db');
    await fixtures.createUser(username, password);
    await fixtures.createDatabase(dbname);
    await root.query(`CREATE TABLE ${ident(dbname)}.t (id int)`);
    await root.query(`GRANT SELECT, INSERT ON ${ident(dbname)}.* TO ${account(username)}`);
    const value: Record<string, unknown> = { engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, username, password, dbname };
    if (opts.alternating !== false) {
      value.masterarn = await suite.secret(uniqueName('master'), {
        engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, username: master.username, password: master.password,
      });
    }
    const arn = await suite.secret(uniqueName('secret'), value);
    return { arn, username, password, dbname };
  }

  const alternating = () => suite.handler(createMysqlKind({}), { ROTATION_STRATEGY: Strategies.ALTERNATING_USERS });
  const single = () => suite.handler(createMysqlKind({}), { ROTATION_STRATEGY: Strategies.SINGLE_USER });
  const current = (arn: string, stage = 'AWSCURRENT') => suite.player.value<Secret>(arn, stage);

  /** A session as `s` (the caller closes it); rejects with the server's error when refused. */
  async function open(s: Secret): Promise<mysql.Connection> {
    const m = await driver();
    const conn = await m.createConnection({
      host: mysqlServer.host, port: mysqlServer.port, user: s.username, password: s.password, database: s.dbname, charset: 'utf8mb4',
    });
    conn.on('error', () => undefined);
    return conn;
  }
  /** Logs in and out: undefined when accepted, else the server's errno. */
  async function loginErrno(s: Secret): Promise<number | undefined> {
    try {
      await (await open(s)).end();
      return undefined;
    } catch (err) {
      return (err as { errno?: number }).errno ?? -1;
    }
  }

  /**
   * The account's limits, lock and password policy as MariaDB stores them (mysql.global_priv's
   * JSON), read independently of the code under test; password_last_changed 0 means expired.
   */
  async function stored(username: string) {
    const [rows] = await root.query('SELECT Priv AS priv FROM mysql.global_priv WHERE User = ? AND Host = ?', [username, HOST]);
    // mysql2 parses the JSON column itself (MariaDB's JSON is LONGTEXT with a JSON check).
    const raw = (rows as Array<{ priv: unknown }>)[0]!.priv;
    const priv = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Record<string, unknown>;
    return {
      options: {
        max_questions: priv.max_questions ?? 0,
        max_updates: priv.max_updates ?? 0,
        max_connections: priv.max_connections ?? 0,
        max_user_connections: priv.max_user_connections ?? 0,
        max_statement_time: Number(priv.max_statement_time ?? 0),
        account_locked: priv.account_locked ?? false,
        password_lifetime: priv.password_lifetime ?? -1,
      },
      expired: priv.password_last_changed === 0,
    };
  }

  /** Waits (bounded) until the server lists exactly `n` sessions of `username`: closed sessions leave the list asynchronously. */
  async function settleSessions(username: string, n: number): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const [rows] = await root.query('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?', [username]);
      if (Number((rows as Array<{ n: number }>)[0]!.n) === n) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`the server did not settle at ${n} sessions of ${username}`);
  }

  /** Log records written from `from` on (index into the records of this case). */
  const recordsSince = (from: number) => suite.logs.records().slice(from);
  const syncLog = (records: Array<Record<string, unknown>>) =>
    records.filter((r) => r.message === 'alternate login password set and synced with the user');

  it('after two flips (app → app_clone → app) the limits, MAX_STATEMENT_TIME and password policy are equal on both logins; the synced names are logged', async () => {
    // Prepare
    const user = await arrangeUser();
    await root.query(
      `ALTER USER ${account(user.username)} WITH MAX_QUERIES_PER_HOUR 100 MAX_UPDATES_PER_HOUR 40 MAX_CONNECTIONS_PER_HOUR 200 ` +
        'MAX_USER_CONNECTIONS 3 MAX_STATEMENT_TIME 2.5 PASSWORD EXPIRE INTERVAL 90 DAY',
    );
    const handler = alternating();
    // Act: two flips
    const from = suite.logs.records().length;
    const first = await suite.player.rotate(handler, user.arn);
    const clone = await current(user.arn);
    const second = await suite.player.rotate(handler, user.arn);
    // Assess
    expect(clone.username).toBe(`${user.username}_clone`);
    expect((await current(user.arn)).username).toBe(user.username);
    const base = await stored(user.username);
    const copy = await stored(clone.username);
    expect(base.options).toEqual({
      max_questions: 100, max_updates: 40, max_connections: 200, max_user_connections: 3, max_statement_time: 2.5,
      account_locked: false, password_lifetime: 90,
    });
    expect(copy.options).toEqual(base.options);
    expect(copy.expired).toBe(false);
    expect(await loginErrno(clone)).toBeUndefined();
    for (const { outcomes } of [first, second]) {
      expect(totals(outcomes).logins).toBeLessThanOrEqual(3);
      // 10, and finishSecret's TagResource of the keyed fingerprint tags (README, "Fingerprints").
      expect(totals(outcomes).calls).toBeLessThanOrEqual(11);
    }
    // The first rotation synced every limit and the policy to the new clone, by name; the second had nothing to change.
    const logs = syncLog(recordsSince(from));
    expect(logs).toHaveLength(2);
    expect(logs[0]!.synced).toEqual(
      expect.arrayContaining([
        'MAX_QUERIES_PER_HOUR', 'MAX_UPDATES_PER_HOUR', 'MAX_CONNECTIONS_PER_HOUR', 'MAX_USER_CONNECTIONS', 'MAX_STATEMENT_TIME', 'PASSWORD EXPIRE',
      ]),
    );
    expect(logs[1]!.synced).toEqual([]);

    // What a client of the clone sees: MAX_USER_CONNECTIONS 3 holds for it too.
    await settleSessions(clone.username, 0);
    const held = [await open(clone), await open(clone), await open(clone)];
    try {
      expect(await loginErrno(clone)).toBe(1226); // ER_USER_LIMIT_REACHED: 'max_user_connections'
    } finally {
      for (const c of held) await c.end();
    }
  });

  it('a limit changed or removed on the user follows on the clone at the next rotation (removed ones reset to 0)', async () => {
    const user = await arrangeUser();
    await root.query(
      `ALTER USER ${account(user.username)} WITH MAX_QUERIES_PER_HOUR 100 MAX_USER_CONNECTIONS 3 MAX_STATEMENT_TIME 2 PASSWORD EXPIRE INTERVAL 90 DAY`,
    );
    const handler = alternating();
    await suite.player.rotate(handler, user.arn);
    const clone = await current(user.arn);
    expect((await stored(clone.username)).options).toMatchObject({ max_questions: 100, max_user_connections: 3, max_statement_time: 2 });

    // Between rotations: one limit changed, two removed, a new one added, the policy changed to NEVER.
    await root.query(
      `ALTER USER ${account(user.username)} WITH MAX_QUERIES_PER_HOUR 50 MAX_USER_CONNECTIONS 0 MAX_STATEMENT_TIME 0 MAX_UPDATES_PER_HOUR 7 PASSWORD EXPIRE NEVER`,
    );
    const from = suite.logs.records().length;
    await suite.player.rotate(handler, user.arn); // the base login gets the new password; the clone (current) is synced
    const copy = await stored(clone.username);
    expect(copy.options).toEqual((await stored(user.username)).options);
    expect(copy.options).toMatchObject({ max_questions: 50, max_user_connections: 0, max_statement_time: 0, max_updates: 7, password_lifetime: 0 });
    expect(await loginErrno(clone)).toBeUndefined();
    expect([...(syncLog(recordsSince(from))[0]!.synced as string[])].sort()).toEqual(
      ['MAX_QUERIES_PER_HOUR', 'MAX_STATEMENT_TIME', 'MAX_UPDATES_PER_HOUR', 'MAX_USER_CONNECTIONS', 'PASSWORD EXPIRE'].sort(),
    );
  });

  it('an ACCOUNT LOCK on the user locks the clone too; the rotation stops at testSecret and names the lock; unlocking both lets it finish', async () => {
    // Prepare: the clone is current; then the administrator locks the user.
    const user = await arrangeUser();
    const handler = alternating();
    await suite.player.rotate(handler, user.arn);
    const clone = await current(user.arn);
    await root.query(`ALTER USER ${account(user.username)} ACCOUNT LOCK`);
    // Act
    const token = await suite.player.startRotation(user.arn);
    await suite.player.runSteps(handler, user.arn, token, ['createSecret', 'setSecret']);
    // Assess: the stand-in is locked as the user is (no way around the lock through the clone)...
    expect((await stored(clone.username)).options.account_locked).toBe(true);
    expect(await loginErrno(clone)).toBe(4151); // Access denied, this account is locked
    // ...so the locked pending login cannot be proven and AWSCURRENT does not move to it.
    const step = (name: 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret') =>
      handler(suite.player.event(user.arn, token, name), lambdaContext());
    await expect(step('testSecret')).rejects.toThrow(/this account is locked/);
    expect((await suite.player.versions(user.arn))[token]).toEqual(['AWSPENDING']);
    // Unlocking only the user: the retry names the locked current login and what to do.
    await root.query(`ALTER USER ${account(user.username)} ACCOUNT UNLOCK`);
    await expect(step('setSecret')).rejects.toThrow(
      new RegExp(`AWSCURRENT login "${clone.username}" is locked \\(ACCOUNT LOCK\\).*unlock both logins`),
    );
    // Unlocking both: the service's retry of the rotation completes and both logins are unlocked.
    await root.query(`ALTER USER ${account(clone.username)} ACCOUNT UNLOCK`);
    const outcomes = await suite.player.runSteps(handler, user.arn, token);
    expect(outcomes.map((o) => o.outcome)).toEqual(['pending-exists', 'done', 'done', 'done']);
    const now = await current(user.arn);
    expect(now.username).toBe(user.username);
    expect(await loginErrno(now)).toBeUndefined();
    expect(await loginErrno(clone)).toBeUndefined();
    expect((await stored(clone.username)).options).toEqual((await stored(user.username)).options);
  });

  it("the clone's own password is never left expired: a policy that would expire the current clone waits, an expired user password is not copied", async () => {
    const user = await arrangeUser();
    const handler = alternating();
    await suite.player.rotate(handler, user.arn);
    const clone = await current(user.arn);
    // The clone's password is 10 days old (as after a 10-day schedule); the user gets a 5-day policy.
    await root.query(
      "UPDATE mysql.global_priv SET Priv = JSON_SET(Priv, '$.password_last_changed', UNIX_TIMESTAMP() - 10 * 86400) WHERE User = ? AND Host = ?",
      [clone.username, HOST],
    );
    await root.query('FLUSH PRIVILEGES');
    await root.query(`ALTER USER ${account(user.username)} PASSWORD EXPIRE INTERVAL 5 DAY`);
    // Act 1: the base login gets the new password; the clone (current) keeps its old one.
    const from = suite.logs.records().length;
    await suite.player.rotate(handler, user.arn);
    // Assess 1: applying the policy now would expire the clone, which clients still use: it waits.
    expect((await stored(clone.username)).options.password_lifetime).toBe(-1);
    expect(await loginErrno(clone)).toBeUndefined();
    expect(syncLog(recordsSince(from))[0]!.notSynced).toEqual([expect.objectContaining({ option: 'PASSWORD EXPIRE' })]);
    // Act 2: the clone gets its new password, and the policy with it.
    await suite.player.rotate(handler, user.arn);
    const now = await current(user.arn);
    expect(now.username).toBe(clone.username);
    expect((await stored(clone.username)).options.password_lifetime).toBe(5);
    expect((await stored(clone.username)).expired).toBe(false);
    expect(await loginErrno(now)).toBeUndefined();

    // The administrator expires the user's password (PASSWORD EXPIRE): the policy is copied, the expired state is not.
    await root.query(`ALTER USER ${account(user.username)} PASSWORD EXPIRE INTERVAL 30 DAY`);
    await root.query(`ALTER USER ${account(user.username)} PASSWORD EXPIRE`);
    expect((await stored(user.username)).expired).toBe(true);
    await suite.player.rotate(handler, user.arn); // the base login gets a new password; the clone is synced
    const back = await current(user.arn);
    expect(back.username).toBe(user.username);
    expect(await loginErrno(back)).toBeUndefined();
    expect(await loginErrno(now)).toBeUndefined();
    const copy = await stored(clone.username);
    expect(copy.expired).toBe(false);
    expect(copy.options).toEqual((await stored(user.username)).options);
    expect(copy.options.password_lifetime).toBe(30);
  });

  it('reports a view created through the clone by name with its DEFINER at each rotation, and nothing else of it', async () => {
    const user = await arrangeUser();
    await root.query(`GRANT CREATE VIEW ON ${ident(user.dbname)}.* TO ${account(user.username)}`);
    const handler = alternating();
    await suite.player.rotate(handler, user.arn);
    const clone = await current(user.arn);
    const view = uniqueName('v');
    const c = await open(clone);
    try {
      await c.query(`CREATE VIEW ${ident(view)} AS SELECT id, 'view-body-marker' AS m FROM t`);
    } finally {
      await c.end();
    }
    // Act
    const from = suite.logs.records().length;
    await suite.player.rotate(handler, user.arn);
    // Assess
    const reports = recordsSince(from).filter((r) => Array.isArray(r.definerObjects));
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({
      level: 'WARN',
      definer: `${clone.username}@${HOST}`,
      count: 1,
      definerObjects: [`VIEW ${ident(user.dbname)}.${ident(view)}`],
    });
    expect(JSON.stringify(reports[0])).not.toContain('view-body-marker');
  });

  it('counts the open sessions of the old login before it gets its new password (OldLoginSessions metric and log), within the login budget', async () => {
    const user = await arrangeUser();
    const handler = alternating();
    let from = suite.logs.records().length;
    await suite.player.rotate(handler, user.arn);
    // The first rotation creates the clone: nobody is on it.
    const metricOf = (records: Array<Record<string, unknown>>) => records.filter((r) => RotorMetrics.OLD_LOGIN_SESSIONS in r);
    expect(metricOf(recordsSince(from)).map((r) => r[RotorMetrics.OLD_LOGIN_SESSIONS])).toEqual([0]);

    // A client still holds two sessions of the base login, now AWSPREVIOUS: a full rotation old.
    const held = [await open(user), await open(user)];
    try {
      await settleSessions(user.username, 2);
      from = suite.logs.records().length;
      const { outcomes } = await suite.player.rotate(handler, user.arn);
      const records = recordsSince(from);
      const metrics = metricOf(records);
      expect(metrics).toHaveLength(1);
      expect(metrics[0]).toMatchObject({ [RotorMetrics.OLD_LOGIN_SESSIONS]: 2, kind: 'mysql', service: 'rotor' });
      expect(records.find((r) => r.message === 'open sessions of the login about to get a new password')).toMatchObject({
        login: user.username,
        oldLoginSessions: 2,
      });
      expect(totals(outcomes).logins).toBeLessThanOrEqual(3);
      // 10, and finishSecret's TagResource of the keyed fingerprint tags.
      expect(totals(outcomes).calls).toBeLessThanOrEqual(11);
    } finally {
      for (const c of held) await c.end();
    }
  });

  it('single-user: counts the sessions of the login through its own session, before the password changes', async () => {
    const user = await arrangeUser({ alternating: false });
    const held = await open(user);
    try {
      await settleSessions(user.username, 1);
      const from = suite.logs.records().length;
      const { outcomes } = await suite.player.rotate(single(), user.arn);
      const records = recordsSince(from);
      expect(records.filter((r) => RotorMetrics.OLD_LOGIN_SESSIONS in r).map((r) => r[RotorMetrics.OLD_LOGIN_SESSIONS])).toEqual([1]);
      expect(records.find((r) => r.message === 'password changed')).toMatchObject({ oldLoginSessions: 1 });
      expect(totals(outcomes).logins).toBeLessThanOrEqual(3);
      expect(totals(outcomes).calls).toBeLessThanOrEqual(10);
    } finally {
      await held.end();
    }
  });
});

describe('MySQL account options SQL (unit)', () => {
  const clone = { user: 'app_clone', host: '%' };
  const mysql8User =
    "CREATE USER `app`@`%` IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$ACCOUNT LOCK MAX_USER_CONNECTIONS 9' REQUIRE NONE " +
    'WITH MAX_QUERIES_PER_HOUR 100 MAX_USER_CONNECTIONS 3 PASSWORD EXPIRE INTERVAL 30 DAY ACCOUNT LOCK PASSWORD HISTORY 5 ' +
    'PASSWORD REUSE INTERVAL 10 DAY PASSWORD REQUIRE CURRENT FAILED_LOGIN_ATTEMPTS 3 PASSWORD_LOCK_TIME UNBOUNDED';
  const mysql8Clone =
    "CREATE USER `app_clone`@`%` IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$x' REQUIRE NONE " +
    'WITH MAX_UPDATES_PER_HOUR 7 PASSWORD EXPIRE DEFAULT ACCOUNT UNLOCK PASSWORD HISTORY DEFAULT PASSWORD REUSE INTERVAL DEFAULT PASSWORD REQUIRE CURRENT DEFAULT';

  it('MySQL 8: reads limits, lock and password options from SHOW CREATE USER (quoted text is not read as a clause)', () => {
    expect(parseAccountOptions([mysql8User])).toEqual({
      limits: { MAX_QUERIES_PER_HOUR: '100', MAX_UPDATES_PER_HOUR: '0', MAX_CONNECTIONS_PER_HOUR: '0', MAX_USER_CONNECTIONS: '3', MAX_STATEMENT_TIME: '0' },
      locked: true,
      expiry: { intervalDays: 30 },
      expiredNow: false,
      passwordOptions: {
        'PASSWORD HISTORY': '5',
        'PASSWORD REUSE INTERVAL': '10 DAY',
        'PASSWORD REQUIRE CURRENT': '',
        FAILED_LOGIN_ATTEMPTS: '3',
        PASSWORD_LOCK_TIME: 'UNBOUNDED',
      },
    });
    const name = parseAccountOptions(["CREATE USER `MAX_USER_CONNECTIONS 5 ACCOUNT LOCK`@`%` IDENTIFIED BY PASSWORD '*AB'"]);
    expect(name).toMatchObject({ locked: false, expiry: 'DEFAULT', limits: { MAX_USER_CONNECTIONS: '0' } });
  });

  it('MySQL 8: one ALTER USER sets changed limits, resets removed ones to 0, and copies policy and lock (no MAX_STATEMENT_TIME)', () => {
    const sync = optionsSyncStatement('mysql', parseAccountOptions([mysql8User]), parseAccountOptions([mysql8Clone]), clone);
    expect(sync.statement).toBe(
      'ALTER USER `app_clone`@`%` WITH MAX_QUERIES_PER_HOUR 100 MAX_UPDATES_PER_HOUR 0 MAX_USER_CONNECTIONS 3 ' +
        'PASSWORD EXPIRE INTERVAL 30 DAY PASSWORD HISTORY 5 PASSWORD REUSE INTERVAL 10 DAY PASSWORD REQUIRE CURRENT ' +
        'FAILED_LOGIN_ATTEMPTS 3 PASSWORD_LOCK_TIME UNBOUNDED ACCOUNT LOCK',
    );
    expect(sync.changed).toEqual([
      'MAX_QUERIES_PER_HOUR', 'MAX_UPDATES_PER_HOUR', 'MAX_USER_CONNECTIONS', 'PASSWORD EXPIRE', 'PASSWORD HISTORY',
      'PASSWORD REUSE INTERVAL', 'PASSWORD REQUIRE CURRENT', 'FAILED_LOGIN_ATTEMPTS', 'PASSWORD_LOCK_TIME', 'ACCOUNT LOCK',
    ]);
    expect(optionsSyncStatement('mysql', parseAccountOptions([mysql8User]), parseAccountOptions([mysql8User]), clone)).toEqual({
      changed: [],
      skipped: [],
    });
    // Back: the clone is unlocked and its options return to the defaults.
    expect(optionsSyncStatement('mysql', parseAccountOptions([mysql8Clone]), parseAccountOptions([mysql8User]), clone).statement).toBe(
      'ALTER USER `app_clone`@`%` WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 7 MAX_USER_CONNECTIONS 0 PASSWORD EXPIRE DEFAULT ' +
        'PASSWORD HISTORY DEFAULT PASSWORD REUSE INTERVAL DEFAULT PASSWORD REQUIRE CURRENT DEFAULT FAILED_LOGIN_ATTEMPTS 0 PASSWORD_LOCK_TIME 0 ACCOUNT UNLOCK',
    );
  });

  it('MySQL 8: an expired user password (bare PASSWORD EXPIRE, no policy printed) is never copied, and the policy is left alone', () => {
    const expired = parseAccountOptions(["CREATE USER `app`@`%` IDENTIFIED WITH 'mysql_native_password' AS '*AB' REQUIRE NONE PASSWORD EXPIRE ACCOUNT UNLOCK"]);
    expect(expired).toMatchObject({ expiry: undefined, expiredNow: true });
    const sync = optionsSyncStatement('mysql', expired, parseAccountOptions([mysql8Clone.replace('MAX_UPDATES_PER_HOUR 7 ', '')]), clone);
    expect(sync.statement).toBeUndefined();
    expect(sync.skipped).toEqual([{ option: 'PASSWORD EXPIRE', reason: expect.stringMatching(/expired/) }]);
  });

  it("MariaDB: MAX_STATEMENT_TIME compared as a number; ACCOUNT LOCK printed only when locked; the policy of an expired password from the second row", () => {
    const user = parseAccountOptions([
      "CREATE USER `app`@`%` IDENTIFIED BY PASSWORD '*AB' WITH MAX_USER_CONNECTIONS 3 MAX_STATEMENT_TIME 1.500000 ACCOUNT LOCK PASSWORD EXPIRE",
      'ALTER USER `app`@`%` PASSWORD EXPIRE INTERVAL 5 DAY',
    ]);
    expect(user).toMatchObject({ locked: true, expiredNow: true, expiry: { intervalDays: 5 } });
    expect(user.limits.MAX_STATEMENT_TIME).toBe('1.5');
    const copy = parseAccountOptions(["CREATE USER `app_clone`@`%` IDENTIFIED BY PASSWORD '*CD' WITH MAX_STATEMENT_TIME 1.5 PASSWORD EXPIRE NEVER"]);
    expect(optionsSyncStatement('mariadb', user, copy, clone).statement).toBe(
      'ALTER USER `app_clone`@`%` WITH MAX_USER_CONNECTIONS 3 PASSWORD EXPIRE INTERVAL 5 DAY ACCOUNT LOCK',
    );
    // A policy that would expire the clone's current password waits.
    const waiting = optionsSyncStatement('mariadb', user, copy, clone, () => true);
    expect(waiting.statement).toBe('ALTER USER `app_clone`@`%` WITH MAX_USER_CONNECTIONS 3 ACCOUNT LOCK');
    expect(waiting.skipped.map((s) => s.option)).toEqual(['PASSWORD EXPIRE']);
  });

  it('decides whether a password would be expired (within a day) under a policy', () => {
    const day = 86_400;
    expect(expiresUnder({ intervalDays: 5 }, 10 * day, 0)).toBe(true);
    expect(expiresUnder({ intervalDays: 5 }, 4.5 * day, 0)).toBe(true);
    expect(expiresUnder({ intervalDays: 30 }, 10 * day, 0)).toBe(false);
    expect(expiresUnder('NEVER', 1000 * day, 1)).toBe(false);
    expect(expiresUnder('DEFAULT', 10 * day, 0)).toBe(false);
    expect(expiresUnder('DEFAULT', 10 * day, 7)).toBe(true);
    expect(expiresUnder({ intervalDays: 5 }, Number.POSITIVE_INFINITY, 0)).toBe(true);
  });

  it('names accounts and definers as hex literals (any name is data) in the session, age and DEFINER queries', () => {
    expect(sessionCountStatement("a'b")).toBe(
      "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = X'612762' AND ID <> CONNECTION_ID()",
    );
    expect(passwordAgeStatement('mysql', { user: 'a', host: '%' })).toMatch(/UNIX_TIMESTAMP\(password_last_changed\).*FROM mysql\.user WHERE User = X'61' AND Host = X'25'/s);
    expect(passwordAgeStatement('mariadb', { user: 'a', host: '%' })).toMatch(/JSON_VALUE\(Priv, '\$\.password_last_changed'\).*FROM mysql\.global_priv/s);
    const definers = definerObjectsStatement({ user: 'x', host: '%' });
    for (const view of ['VIEWS', 'ROUTINES', 'TRIGGERS', 'EVENTS']) expect(definers).toContain(`information_schema.${view} WHERE DEFINER = X'784025'`);
  });
});
