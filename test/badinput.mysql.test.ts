import { randomBytes, randomUUID } from 'node:crypto';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, expect } from 'vitest';
import { createMysqlKind } from '../lambdas/mysql/mysqlKind.js';
import { parseMysqlSecret } from '../lambdas/mysql/secret.js';
import { lambdaContext } from '../bin/local/harness.js';
import { ListeningTrap } from '../bin/local/hostile.js';
import { account, mysqlLogin, mysqlServer, MysqlFixtures, rootConnection } from '../bin/local/mysql.js';
import { testPassword } from '../bin/local/postgres.js';
import type { Step, Strategy } from '../lambdas/core/types.js';
import { useRotationSuite } from './support/rotationSuite.js';
import {
  badInputMatrix,
  currentValue,
  edit,
  expectNoSecretValues,
  plantPending,
  refusal,
  secretState,
  TcpTrap,
  type Refusal,
} from './support/badInput.js';

/**
 * Bad-input matrix of the MySQL/MariaDB kind (issue 14), against the machine's MariaDB with users
 * of the case's own: malformed secrets, each field missing or mistyped, unknown engines, hostile
 * identifiers, master secrets for elsewhere, mismatched or planted AWSPENDING values, the
 * rotation's state (unknown token, token not pending, rotation off, unknown secret) and bad
 * settings. Every row is refused with an error naming the problem (never a value); afterwards the
 * secret's versions are as they were, every account of the case and the master still log in, and
 * no account of the case, the master or root changed (authentication string, privileges), nor any
 * pairing marker.
 */
const suite = useRotationSuite();
let root: mysql.Connection;
const fixtures = new MysqlFixtures(() => root);
const master = { username: `bi_master_${randomBytes(4).toString('hex')}`, password: testPassword() };
let otherHost: ListeningTrap;
let otherPort: TcpTrap;

beforeAll(async () => {
  root = await rootConnection();
  await fixtures.createUser(master.username, master.password);
  await root.query(`GRANT ALL PRIVILEGES ON *.* TO ${account(master.username)} WITH GRANT OPTION`);
  otherHost = await ListeningTrap.start('127.0.0.3');
  otherPort = await TcpTrap.start('127.0.0.1');
});
afterAll(async () => {
  await fixtures.dropAll();
  await root?.end();
  await otherHost?.close();
  await otherPort?.close();
});

interface Login {
  readonly username: string;
  password: string;
}

class Case {
  public readonly prefix = `bi_${randomBytes(4).toString('hex')}`;
  public readonly arns: string[] = [];
  public readonly planted: string[] = [];
  public readonly logins: Login[] = [];
  private n = 0;

  /** An account of the case with a password (`name` must start with the prefix). */
  public async user(name = `${this.prefix}_u${this.n++}`): Promise<Login> {
    if (!name.startsWith(this.prefix)) throw new Error('a case names its accounts with its prefix');
    const login = { username: name, password: this.plant(testPassword()) };
    await fixtures.createUser(name, login.password);
    this.logins.push(login);
    return login;
  }

  public value(login: Login, changes: Record<string, unknown> = {}): Record<string, unknown> {
    return edit(
      { engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, username: login.username, password: login.password },
      changes,
    );
  }

  public async secret(value: unknown, name = `${this.prefix}-s${this.n++}`): Promise<string> {
    const arn = await suite.secret(name, value);
    this.arns.push(arn);
    return arn;
  }

  /** A master secret for the file's master account unless `changes` says otherwise. */
  public async master(changes: Record<string, unknown> = {}, name = `${this.prefix}-master`): Promise<string> {
    return this.secret(edit({ engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, ...master }, changes), name);
  }

  public plant(value: string): string {
    this.planted.push(value);
    suite.sensitive(value);
    return value;
  }
}

interface Arranged {
  readonly arn: string;
  /** The token to send (no RotateSecret is made then: the arrangement set the state itself). */
  readonly token?: string;
}

interface Row {
  readonly name: string;
  /** @default single-user */
  readonly strategy?: Strategy;
  /** The function's environment besides ROTATION_STRATEGY. */
  readonly env?: Record<string, string>;
  readonly arrange: (c: Case) => Promise<Arranged>;
  readonly plant?: (c: Case, a: Arranged) => unknown;
  readonly before?: readonly Step[];
  readonly step: Step;
  readonly event?: (arn: string, token: string, c: Case) => unknown;
  readonly expect: Refusal;
}

const refused = (name: string, message: RegExp): Refusal => ({ name, message });
const ALT: Strategy = 'alternating-users';

function secretOf(value: (c: Case, login: Login) => unknown | Promise<unknown>) {
  return async (c: Case): Promise<Arranged> => {
    const login = await c.user();
    return { arn: await c.secret(await value(c, login)) };
  };
}

function plainSecret(strategy: Strategy = 'single-user', changes: Record<string, unknown> = {}) {
  return secretOf(async (c, login) => c.value(login, strategy === ALT ? { masterarn: await c.master(), ...changes } : changes));
}

function withMaster(master: (c: Case) => Promise<string>) {
  return secretOf(async (c, login) => c.value(login, { masterarn: await master(c) }));
}

const malformed = (name: string, value: (c: Case, login: Login) => unknown, message: RegExp): Row => ({
  name,
  arrange: secretOf(value),
  step: 'createSecret',
  expect: refused('SecretFormatError', message),
});

const field = (name: string, changes: Record<string, unknown>, message: RegExp, strategy?: Strategy): Row => ({
  name,
  strategy,
  arrange: plainSecret(strategy, changes),
  step: 'createSecret',
  expect: refused('SecretFormatError', message),
});

/** A hostile user name that names no account: refused at the login, no statement run. */
const hostileName = (name: string, suffix: (prefix: string) => string): Row => ({
  name,
  arrange: async (c) => {
    await c.user();
    const login = { username: `${c.prefix}${suffix(c.prefix)}`, password: c.plant(testPassword()) };
    return { arn: await c.secret(c.value(login)) };
  },
  before: ['createSecret'],
  step: 'setSecret',
  expect: refused('RotationStepError', /cannot log in as ".*" with the pending, current or previous password/s),
});

const masterRow = (name: string, master: (c: Case) => Promise<string>, expected: Refusal): Row => ({
  name,
  strategy: ALT,
  arrange: withMaster(master),
  before: ['createSecret'],
  step: 'setSecret',
  expect: expected,
});

const plantRow = (name: string, strategy: Strategy, plant: Row['plant'], step: Step, expected: Refusal): Row => ({
  name,
  strategy,
  arrange: plainSecret(strategy),
  plant,
  before: step === 'createSecret' ? [] : ['createSecret'],
  step,
  expect: expected,
});

/** AWSCURRENT of the case's secret with changes (a fresh password unless `changes` names one). */
async function pendingLike(c: Case, a: Arranged, changes: Record<string, unknown>): Promise<Record<string, unknown>> {
  const now = JSON.parse(currentValue(await secretState(suite.player.client, a.arn))!) as Record<string, unknown>;
  return edit(now, { password: c.plant(testPassword()), ...changes });
}
const currentUsername = async (a: Arranged) =>
  (JSON.parse(currentValue(await secretState(suite.player.client, a.arn))!) as { username: string }).username;

const rows: readonly Row[] = [
  // --- the secret's JSON -------------------------------------------------------------------
  malformed('a value that is not JSON (an INI line with the password)', (c, l) => `user=${l.username}\npassword=${l.password}\n`, /\(AWSCURRENT\): value is not valid JSON/),
  malformed('a JSON array holding the credential', (c, l) => [{ username: l.username }, { password: l.password }], /\(AWSCURRENT\): value must be a JSON object/),
  malformed('a JSON number', () => '3306', /value must be a JSON object/),
  malformed('an empty object', () => ({}), /field 'engine' is missing; field 'host' is missing; field 'username' is missing; field 'password' is missing/),
  // --- each required field missing --------------------------------------------------------
  field("no 'engine'", { engine: undefined }, /field 'engine' is missing/),
  field("no 'host'", { host: undefined }, /field 'host' is missing/),
  field("no 'username'", { username: undefined }, /field 'username' is missing/),
  field("no 'password'", { password: undefined }, /field 'password' is missing/),
  {
    name: "no 'masterarn' with alternating users",
    strategy: ALT,
    arrange: plainSecret(),
    step: 'createSecret',
    expect: refused('SecretFormatError', /\(AWSCURRENT\): field 'masterarn' is missing \(required by the alternating-users strategy\)/),
  },
  // --- each field of the wrong type -------------------------------------------------------
  field("'port' a word", { port: 'three' }, /field 'port' is invalid: must be a port number \(1 to 65535\)/),
  field("'port' zero", { port: 0 }, /field 'port' is invalid/),
  field("'username' a number", { username: 42 }, /field 'username' is invalid/),
  field("'password' an object", { password: { value: 'x' } }, /field 'password' is invalid/),
  field("'dbname' a number", { dbname: 7 }, /field 'dbname' is invalid/),
  field("'ssl' a word", { ssl: 'maybe' }, /field 'ssl' is invalid/),
  field("'masterarn' empty", { masterarn: '' }, /field 'masterarn' is invalid/),
  // --- unknown engine ---------------------------------------------------------------------
  field("engine 'postgres' (another kind's)", { engine: 'postgres' }, /field 'engine' is invalid/),
  field("engine 'MySQL' (wrong case)", { engine: 'MySQL' }, /field 'engine' is invalid/),
  // --- hostile identifiers ----------------------------------------------------------------
  field('a user name with NUL', { username: 'app\u0000root' }, /field 'username' is invalid: must not contain NUL/),
  field('a user name of 129 characters', { username: 'u'.repeat(129) }, /field 'username' is invalid: must be at most 128 characters/),
  field('a non-ASCII user name of 129 characters', { username: 'ü'.repeat(129) }, /field 'username' is invalid: must be at most 128 characters/),
  {
    name: 'alternating users: a 27-character user name whose clone would pass MAX_USERNAME_LENGTH 32',
    strategy: ALT,
    arrange: async (c) => {
      const login = await c.user(`${c.prefix}_`.padEnd(27, 'x'));
      return { arn: await c.secret(c.value(login, { masterarn: await c.master() })) };
    },
    step: 'createSecret',
    expect: refused('SecretFormatError', /field 'username' is too long for alternating users: '_clone' would make it 33 characters, over MAX_USERNAME_LENGTH 32/),
  },
  hostileName('a user name with quotes, a semicolon and an SQL comment (no such account)', (p) => `'@'%' IDENTIFIED BY 'x'; CREATE USER '${p}x'@'%'; -- `),
  hostileName('a user name with backslashes, backticks and a newline (no such account)', () => "\\'`;\nDROP USER root@localhost;#"),
  hostileName('a non-ASCII user name (no such account)', () => '_ünïcødé_日本'),
  field('a database name with NUL', { dbname: 'mysql\u0000information_schema' }, /field 'dbname' is invalid: must not contain NUL/),
  field('a database name of 65 characters', { dbname: 'd'.repeat(65) }, /field 'dbname' is invalid: must be at most 64 characters/),
  {
    name: 'a database name with a backtick, a semicolon and a comment (no such database)',
    arrange: plainSecret('single-user', { dbname: 'db`; DROP DATABASE mysql; -- ' }),
    before: ['createSecret'],
    step: 'setSecret',
    expect: refused('RotationStepError', /setSecret for secret .* failed: Incorrect database name 'db`; DROP DATABASE mysql; -- '/),
  },
  field('a host with a quote, a semicolon and a comment', { host: `127.0.0.1'; DROP USER root; --` }, /field 'host' is invalid: must be a host name or an IP address/),
  field('a host with a newline and a space', { host: '127.0.0.1\n evil.example' }, /field 'host' is invalid: must be a host name or an IP address/),
  field('a host of 300 characters', { host: `${'h'.repeat(59)}.`.repeat(5) }, /field 'host' is invalid: must be at most 253 characters/),
  // --- the master secret ------------------------------------------------------------------
  masterRow('a master secret for another port', (c) => c.master({ port: otherPort.port }), refused('UnsafeRotationError', /the master secret .* is for a different host or port/)),
  masterRow('a master secret for another host', (c) => c.master({ host: otherHost.host, port: otherHost.port }), refused('UnsafeRotationError', /the master secret .* is for a different host or port/)),
  {
    name: 'a master secret that is the rotated secret itself',
    strategy: ALT,
    arrange: async (c) => {
      const login = await c.user();
      const name = `${c.prefix}-self`;
      return { arn: await c.secret(c.value(login, { masterarn: name }), name) };
    },
    before: ['createSecret'],
    step: 'setSecret',
    expect: refused('UnsafeRotationError', /refusing to rotate the master user itself/),
  },
  {
    name: 'a master secret for the clone login',
    strategy: ALT,
    arrange: secretOf(async (c, login) => c.value(login, { masterarn: await c.master({ username: `${login.username}_clone` }) })),
    before: ['createSecret'],
    step: 'setSecret',
    expect: refused('UnsafeRotationError', /refusing to rotate the master user itself/),
  },
  masterRow(
    'a master secret that does not exist',
    async (c) => `arn:aws:secretsmanager:us-east-1:123456789012:secret:${c.prefix}-gone-AbCdEf`,
    refused('RotationStateError', /secret arn:.*-gone-AbCdEf: no AWSCURRENT value/),
  ),
  masterRow(
    'a master secret that is not JSON',
    (c) => c.secret(`${master.username}:${master.password}`, `${c.prefix}-master`),
    refused('SecretFormatError', /secret \S*-master\S* \(AWSCURRENT\): value is not valid JSON/),
  ),
  masterRow(
    "a master secret of another engine ('postgres')",
    (c) => c.master({ engine: 'postgres' }),
    refused('SecretFormatError', /secret \S*-master\S* \(AWSCURRENT\): field 'engine' is invalid/),
  ),
  // --- mismatched users between versions, planted AWSPENDING values ----------------------
  plantRow('single-user: AWSPENDING for another account (the master)', 'single-user', (c) => ({ engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, username: master.username, password: c.plant(testPassword()) }), 'setSecret', refused('UnsafeRotationError', /username or host differs between AWSCURRENT and AWSPENDING/)),
  plantRow('single-user: AWSPENDING for the same user on another host', 'single-user', (c, a) => pendingLike(c, a!, { host: otherHost.host, port: otherHost.port }), 'setSecret', refused('UnsafeRotationError', /username or host differs between AWSCURRENT and AWSPENDING/)),
  plantRow('single-user: AWSPENDING for the same user on another port', 'single-user', (c, a) => pendingLike(c, a!, { port: otherPort.port }), 'setSecret', refused('UnsafeRotationError', /username or host differs between AWSCURRENT and AWSPENDING/)),
  plantRow('alternating users: AWSPENDING for an account that is not the alternate', ALT, async (c, a) => pendingLike(c, a!, { username: (await c.user()).username }), 'setSecret', refused('UnsafeRotationError', /AWSPENDING must name the alternate login of ".*" on the same host/)),
  plantRow('alternating users: AWSPENDING for the alternate on another host', ALT, async (c, a) => pendingLike(c, a!, { username: `${await currentUsername(a!)}_clone`, host: otherHost.host, port: otherHost.port }), 'setSecret', refused('UnsafeRotationError', /AWSPENDING must name the alternate login of ".*" on the same host/)),
  plantRow('alternating users: AWSPENDING with another master secret', ALT, async (c, a) => pendingLike(c, a!, { username: `${await currentUsername(a!)}_clone`, masterarn: await c.master({}, `${c.prefix}-master2`) }), 'setSecret', refused('UnsafeRotationError', /masterarn differs between AWSCURRENT and AWSPENDING/)),
  plantRow('an AWSPENDING value that is not JSON', 'single-user', (c) => c.plant(`{"password":"${testPassword()}"`), 'createSecret', refused('SecretFormatError', /\(AWSPENDING\): value is not valid JSON/)),
  plantRow('an AWSPENDING value of another engine', 'single-user', (c, a) => pendingLike(c, a!, { engine: 'postgres' }), 'createSecret', refused('SecretFormatError', /\(AWSPENDING\): field 'engine' is invalid/)),
  plantRow('testSecret: AWSPENDING planted for the master with a password of its own', 'single-user', (c) => ({ engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, username: master.username, password: c.plant(testPassword()) }), 'testSecret', refused('RotationStepError', /testSecret for secret .* failed: Access denied for user/)),
  plantRow('finishSecret on a cold instance: AWSPENDING planted for another account', 'single-user', async (c, a) => pendingLike(c, a!, { username: (await c.user()).username }), 'finishSecret', refused('RotationStateError', /finishSecret refuses to move AWSCURRENT: testSecret has not proven the pending value/)),
  // --- the rotation's state ---------------------------------------------------------------
  {
    name: 'a token that is not a version of the secret',
    arrange: plainSecret(),
    step: 'createSecret',
    event: (arn) => ({ SecretId: arn, ClientRequestToken: randomUUID(), Step: 'setSecret' }),
    expect: refused('RotationStateError', /token [0-9a-f-]{36} is not a version of this secret/),
  },
  {
    name: 'a token staged AWSPREVIOUS (an old rotation), not AWSPENDING',
    arrange: async (c) => {
      const login = await c.user();
      const arn = await c.secret(c.value(login));
      const env = { ROTATION_STRATEGY: 'single-user' };
      await suite.player.rotate(suite.handler(createMysqlKind({ env }), env), arn);
      login.password = (await suite.player.value<{ password: string }>(arn)).password;
      const previous = (await suite.player.versionOf(arn, 'AWSPREVIOUS'))!;
      await suite.player.startRotation(arn);
      return { arn, token: previous };
    },
    step: 'setSecret',
    expect: refused('RotationStateError', /token [0-9a-f-]{36} is not staged AWSPENDING/),
  },
  {
    name: 'a secret whose rotation is not enabled',
    arrange: async (c) => ({ arn: await c.secret(c.value(await c.user())), token: randomUUID() }),
    step: 'createSecret',
    expect: refused('RotationStateError', /rotation is not enabled/),
  },
  {
    name: 'a SecretId that names no secret',
    arrange: plainSecret(),
    step: 'createSecret',
    event: (_arn, token, c) => ({ SecretId: `${c.prefix}-no-such-secret`, ClientRequestToken: token, Step: 'createSecret' }),
    expect: refused('RotationStepError', /createSecret for secret bi_\w+-no-such-secret failed: .*can't find the specified secret/i),
  },
  // --- bad settings -----------------------------------------------------------------------
  {
    name: "ROTATION_STRATEGY 'sideways'",
    env: { ROTATION_STRATEGY: 'sideways' },
    arrange: plainSecret(),
    step: 'createSecret',
    expect: refused('ConfigurationError', /mysql rotation: environment variable ROTATION_STRATEGY is invalid/),
  },
  {
    name: 'PASSWORD_LENGTH 3',
    env: { PASSWORD_LENGTH: '3' },
    arrange: plainSecret(),
    step: 'createSecret',
    expect: refused('ConfigurationError', /mysql rotation: environment variable PASSWORD_LENGTH is invalid/),
  },
  {
    name: "DUAL_PASSWORD 'maybe'",
    env: { DUAL_PASSWORD: 'maybe' },
    arrange: plainSecret(),
    step: 'createSecret',
    expect: refused('ConfigurationError', /mysql rotation: environment variable DUAL_PASSWORD is invalid/),
  },
];

/** The case's accounts, the master and root: authentication string and the privileges that matter. */
async function accountState(prefix: string) {
  const [accounts] = await root.query(
    `SELECT User AS user, Host AS host, authentication_string AS auth, Super_priv AS super, Grant_priv AS grantPriv,
            Create_user_priv AS createUser, Select_priv AS selectPriv
       FROM mysql.user WHERE User IN (?, 'root') OR LEFT(User, ?) = ? ORDER BY User, Host`,
    [master.username, prefix.length, prefix],
  );
  const markers = await root
    .query('SELECT clone_user, clone_host, base_user, secret_arn FROM rotor.clone_pairs WHERE LEFT(clone_user, ?) = ?', [prefix.length, prefix])
    .then(([r]) => r, (err: { errno?: number }) => {
      if (err.errno === 1146 || err.errno === 1049) return []; // no clone was ever made on this server
      throw err;
    });
  return { accounts, markers };
}

badInputMatrix('mysql', rows, 55, async (row) => {
  // Prepare
  const c = new Case();
  const arranged = await row.arrange(c);
  const { arn } = arranged;
  const env = { ROTATION_STRATEGY: row.strategy ?? 'single-user', ...row.env };
  const handler = () => suite.handler(createMysqlKind({ env }), env);
  const token = arranged.token ?? (await suite.player.startRotation(arn));
  if (row.plant) await plantPending(suite.player.client, arn, token, await row.plant(c, arranged));
  const warm = handler();
  for (const step of row.before ?? []) await warm(suite.player.event(arn, token, step), lambdaContext());
  const secretBefore = await secretState(suite.player.client, arn);
  const accountsBefore = await accountState(c.prefix);
  const reached = { host: otherHost.connections, port: otherPort.connections };

  // Act
  const sent = row.event ? row.event(arn, token, c) : suite.player.event(arn, token, row.step);
  const err = await refusal(handler()(sent, lambdaContext()), row.expect);

  // Assess
  expect(await secretState(suite.player.client, arn)).toEqual(secretBefore);
  expect(await accountState(c.prefix)).toEqual(accountsBefore);
  expect({ host: otherHost.connections, port: otherPort.connections }).toEqual(reached);
  for (const login of [...c.logins, master]) {
    expect(await mysqlLogin(login.username, login.password), `${login.username} still logs in`).toMatch(new RegExp(`^${login.username}@`));
  }
  const parsed = (() => {
    try {
      return parseMysqlSecret(JSON.parse(currentValue(secretBefore) ?? ''), 'AWSCURRENT');
    } catch {
      return undefined;
    }
  })();
  if (parsed && parsed.port === mysqlServer.port && c.logins.some((l) => l.username === parsed.username)) {
    expect(await mysqlLogin(parsed.username, parsed.password), 'AWSCURRENT still logs in').toBeDefined();
  }
  await expectNoSecretValues(err, suite.logs, suite.player.client, c.arns, c.planted);
});
