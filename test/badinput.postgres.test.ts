import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { createPostgresKind } from '../lambdas/postgres/postgresKind.js';
import { parsePostgresSecret } from '../lambdas/postgres/secret.js';
import type { Step, Strategy } from '../lambdas/core/types.js';
import { lambdaContext } from '../bin/local/harness.js';
import { ListeningTrap } from '../bin/local/hostile.js';
import { adminClient, pgLogin, testPassword, type PostgresCluster } from '../bin/local/postgres.js';
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
 * Bad-input matrix of the PostgreSQL kind (issue 14): malformed secrets, each field missing or
 * mistyped, unknown engines, hostile identifiers, master secrets for elsewhere, mismatched or
 * planted AWSPENDING values, and malformed rotation events. Every row is refused with an error
 * naming the problem (never a value), and afterwards: the secret's versions are as they were
 * (AWSCURRENT unchanged), every login the case made still logs in with its password, and no
 * role of the case nor the superuser changed (password verifier, login, comment, memberships).
 */
const cluster = inject('postgres') as unknown as PostgresCluster;
const suite = useRotationSuite();
let admin: pg.Client;
/** "Another host": nothing may connect there. */
let otherHost: ListeningTrap;
/** "Another port" on the cluster's host: nothing may connect there either. */
let otherPort: TcpTrap;

beforeAll(async () => {
  admin = await adminClient(cluster);
  otherHost = await ListeningTrap.start('127.0.0.2');
  otherPort = await TcpTrap.start('127.0.0.1');
});
afterAll(async () => {
  await admin?.end();
  await otherHost?.close();
  await otherPort?.close();
});

interface Login {
  readonly username: string;
  readonly password: string;
}

/** What one case owns: its roles (all named with its prefix), its secrets and planted values. */
class Case {
  public readonly prefix = `bi_${randomBytes(4).toString('hex')}`;
  public readonly arns: string[] = [];
  public readonly planted: string[] = [];
  /** Logins that must still log in after the refused step. */
  public readonly logins: Login[] = [];
  private n = 0;

  /** A login role with a password; `name` (which must start with the prefix) or a fresh name. */
  public async role(name = `${this.prefix}_u${this.n++}`): Promise<Login> {
    if (!name.startsWith(this.prefix)) throw new Error('a case names its roles with its prefix');
    const login = { username: name, password: this.plant(testPassword()) };
    await admin.query(`CREATE ROLE ${admin.escapeIdentifier(name)} LOGIN PASSWORD ${admin.escapeLiteral(login.password)}`);
    this.logins.push(login);
    return login;
  }

  /** A value as AWS's PostgreSQL template writes it, for `login` on the cluster. */
  public value(login: Login, changes: Record<string, unknown> = {}): Record<string, unknown> {
    return edit(
      { engine: 'postgres', host: cluster.host, port: cluster.port, username: login.username, password: login.password, dbname: 'postgres' },
      changes,
    );
  }

  /** A secret this case owns (a string is stored as it is). */
  public async secret(value: unknown, name = `${this.prefix}-s${this.n++}`): Promise<string> {
    const arn = await suite.secret(name, value);
    this.arns.push(arn);
    return arn;
  }

  /** A master secret: the superuser unless `changes` says otherwise. */
  public async master(changes: Record<string, unknown> = {}, name = `${this.prefix}-master`): Promise<string> {
    return this.secret(
      edit(
        { engine: 'postgres', host: cluster.host, port: cluster.port, username: cluster.superuser.username, password: cluster.superuser.password },
        changes,
      ),
      name,
    );
  }

  /** A value planted somewhere, looked for in the error and the logs. */
  public plant(value: string): string {
    this.planted.push(value);
    suite.sensitive(value);
    return value;
  }
}

interface Arranged {
  readonly arn: string;
}

interface Row {
  readonly name: string;
  /** @default single-user */
  readonly strategy?: Strategy;
  readonly arrange: (c: Case) => Promise<Arranged>;
  /** An AWSPENDING value planted for the rotation's token before any step runs. */
  readonly plant?: (c: Case, a: Arranged) => unknown;
  /** Steps that run (and succeed) before the refused one, on one warm instance. */
  readonly before?: readonly Step[];
  /** The refused step, run on a fresh (cold) instance. */
  readonly step: Step;
  /** The event sent instead of the step's own (malformed events). */
  readonly event?: (arn: string, token: string, c: Case) => unknown;
  readonly expect: Refusal;
}

const refused = (name: string, message: RegExp): Refusal => ({ name, message });
const ALT: Strategy = 'alternating-users';

/** A role and a secret whose AWSCURRENT is `value(c, login)` (a string is stored as it is). */
function secretOf(value: (c: Case, login: Login) => unknown | Promise<unknown>) {
  return async (c: Case): Promise<Arranged> => {
    const login = await c.role();
    return { arn: await c.secret(await value(c, login)) };
  };
}

/** A role and a well-formed secret for it (alternating: with a master secret for the superuser). */
function plainSecret(strategy: Strategy = 'single-user', changes: Record<string, unknown> = {}) {
  return secretOf(async (c, login) =>
    c.value(login, strategy === ALT ? { masterarn: await c.master(), ...changes } : changes),
  );
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
  arrange: secretOf(async (c, login) => c.value(login, strategy === ALT ? { masterarn: await c.master(), ...changes } : changes)),
  step: 'createSecret',
  expect: refused('SecretFormatError', message),
});

/**
 * A secret for a login whose name is hostile and names no role (its statements, were they run,
 * would change the superuser or create a role of the case, which the checks would see): refused
 * at the login, nothing run.
 */
const hostileName = (name: string, suffix: (prefix: string) => string): Row => ({
  name,
  arrange: async (c) => {
    const login = { username: `${c.prefix}${suffix(c.prefix)}`, password: c.plant(testPassword()) };
    await c.role(); // the case's own, ordinary login, which must keep working too
    return { arn: await c.secret(c.value(login)) };
  },
  before: ['createSecret'],
  step: 'setSecret',
  expect: refused('RotationStepError', /cannot log in as ".*" with the pending, current or previous password/s),
});

const event = (name: string, make: (arn: string, token: string, c: Case) => unknown, message: RegExp, errName = 'InvalidEventError'): Row => ({
  name,
  arrange: plainSecret(),
  step: 'createSecret',
  event: make,
  expect: refused(errName, message),
});

const eventOf = (arn: string, token: string, changes: Record<string, unknown>) =>
  edit({ SecretId: arn, ClientRequestToken: token, Step: 'createSecret' }, changes);

const rows: readonly Row[] = [
  // --- the secret's JSON -------------------------------------------------------------------
  malformed('a value that is not JSON (cut short after the password)', (c, l) => `{"engine":"postgres","username":"${l.username}","password":"${l.password}",`, /\(AWSCURRENT\): value is not valid JSON \(error at character \d+\)/),
  malformed('a JSON array holding the credential', (c, l) => [l.username, l.password], /\(AWSCURRENT\): value must be a JSON object/),
  malformed('a JSON string holding the credential', (c, l) => JSON.stringify(`${l.username}:${l.password}`), /value must be a JSON object/),
  malformed('JSON null', () => 'null', /value must be a JSON object/),
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
  field("'host' a number", { host: 127001 }, /field 'host' is invalid/),
  field("'port' a word", { port: 'five' }, /field 'port' is invalid: must be a port number \(1 to 65535\)/),
  field("'port' out of range", { port: 70_000 }, /field 'port' is invalid/),
  field("'port' a fraction", { port: 5432.5 }, /field 'port' is invalid/),
  field("'username' an array", { username: ['postgres'] }, /field 'username' is invalid/),
  field("'password' a number", { password: 12_345_678_901 }, /field 'password' is invalid/),
  field("'password' empty", { password: '' }, /field 'password' is invalid/),
  field("'dbname' empty", { dbname: '' }, /field 'dbname' is invalid/),
  field("'ssl' a word", { ssl: 'sometimes' }, /field 'ssl' is invalid/),
  field("'masterarn' a number", { masterarn: 42 }, /field 'masterarn' is invalid/),
  // --- unknown engine ---------------------------------------------------------------------
  field("engine 'oracle'", { engine: 'oracle' }, /field 'engine' is invalid/),
  field("engine 'mysql' (another kind's)", { engine: 'mysql' }, /field 'engine' is invalid/),
  // --- hostile identifiers ----------------------------------------------------------------
  field('a user name with NUL', { username: 'app\u0000postgres' }, /field 'username' is invalid: must not contain NUL/),
  field('a user name of 64 bytes', { username: 'u'.repeat(64) }, /field 'username' is invalid: must be at most 63 bytes/),
  field('a non-ASCII user name of 32 characters and 64 bytes', { username: 'é'.repeat(32) }, /field 'username' is invalid: must be at most 63 bytes/),
  {
    name: 'alternating users: a 58-byte user name whose clone would pass 63 bytes',
    strategy: ALT,
    arrange: async (c) => {
      const login = await c.role(`${c.prefix}_`.padEnd(58, 'x'));
      return { arn: await c.secret(c.value(login, { masterarn: await c.master() })) };
    },
    step: 'createSecret',
    expect: refused('SecretFormatError', /field 'username' is too long for alternating users: '_clone' would make it 64 bytes/),
  },
  hostileName('a user name with quotes, a semicolon and an SQL comment (no such role)', (p) => `"';DROP ROLE postgres;CREATE ROLE ${p}x;--`),
  hostileName('a user name with a backslash, a newline and a C comment (no such role)', () => `\\'\n/**/ALTER ROLE postgres NOLOGIN;\r\n`),
  hostileName('a non-ASCII user name (no such role)', () => `_ünïcødé_ß_日本`),
  field('a database name with NUL', { dbname: 'postgres\u0000template1' }, /field 'dbname' is invalid: must not contain NUL/),
  field('a database name of 64 bytes', { dbname: 'd'.repeat(64) }, /field 'dbname' is invalid: must be at most 63 bytes/),
  {
    name: 'a database name with quotes, a semicolon and a comment (no such database)',
    arrange: plainSecret('single-user', { dbname: `postgres"; DROP DATABASE postgres; --` }),
    before: ['createSecret'],
    step: 'setSecret',
    expect: refused('RotationStepError', /setSecret for secret .* failed: database ".*" does not exist/),
  },
  field('a host with a quote, a semicolon and a comment', { host: `127.0.0.1'; DROP ROLE postgres; --` }, /field 'host' is invalid: must be a host name or an IP address/),
  field('a host with a newline', { host: '127.0.0.1\nevil.example' }, /field 'host' is invalid: must be a host name or an IP address/),
  field('a host with NUL', { host: '127.0.0.1\u0000.evil.example' }, /field 'host' is invalid: must be a host name or an IP address/),
  field('a non-ASCII host', { host: 'dätenbank.example' }, /field 'host' is invalid: must be a host name or an IP address/),
  field('a host of 300 characters', { host: `${'a'.repeat(60)}.`.repeat(5) }, /field 'host' is invalid: must be at most 253 characters/),
  field('a host that is a socket path', { host: '/var/run/postgresql' }, /field 'host' is invalid: must be a host name or an IP address/),
  // --- the master secret ------------------------------------------------------------------
  {
    name: 'a master secret for another port',
    strategy: ALT,
    arrange: plainSecretWithMaster((c) => c.master({ port: otherPort.port })),
    before: ['createSecret'],
    step: 'setSecret',
    expect: refused('UnsafeRotationError', /the master secret .* is for a different host or port/),
  },
  {
    name: 'a master secret for another host',
    strategy: ALT,
    arrange: plainSecretWithMaster((c) => c.master({ host: otherHost.host, port: otherHost.port })),
    before: ['createSecret'],
    step: 'setSecret',
    expect: refused('UnsafeRotationError', /the master secret .* is for a different host or port/),
  },
  {
    name: 'a master secret that is the rotated secret itself',
    strategy: ALT,
    arrange: async (c) => {
      const login = await c.role();
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
    arrange: async (c) => {
      const login = await c.role();
      return { arn: await c.secret(c.value(login, { masterarn: await c.master({ username: `${login.username}_clone` }) })) };
    },
    before: ['createSecret'],
    step: 'setSecret',
    expect: refused('UnsafeRotationError', /refusing to rotate the master user itself/),
  },
  {
    name: 'a master secret that does not exist',
    strategy: ALT,
    arrange: plainSecretWithMaster(async (c) => `arn:aws:secretsmanager:us-east-1:123456789012:secret:${c.prefix}-gone-AbCdEf`),
    before: ['createSecret'],
    step: 'setSecret',
    expect: refused('RotationStateError', /secret arn:.*-gone-AbCdEf: no AWSCURRENT value/),
  },
  {
    name: 'a master secret that is not JSON',
    strategy: ALT,
    arrange: plainSecretWithMaster((c) => c.secret(`postgres:${cluster.superuser.password}`, `${c.prefix}-master`)),
    before: ['createSecret'],
    step: 'setSecret',
    expect: refused('SecretFormatError', /secret \S*-master\S* \(AWSCURRENT\): value is not valid JSON/),
  },
  {
    name: "a master secret of another engine ('mariadb')",
    strategy: ALT,
    arrange: plainSecretWithMaster((c) => c.master({ engine: 'mariadb' })),
    before: ['createSecret'],
    step: 'setSecret',
    expect: refused('SecretFormatError', /secret \S*-master\S* \(AWSCURRENT\): field 'engine' is invalid/),
  },
  // --- mismatched users between versions, planted AWSPENDING values ----------------------
  {
    name: 'single-user: AWSPENDING for another user (the superuser)',
    arrange: plainSecret(),
    plant: (c) => ({ engine: 'postgres', host: cluster.host, port: cluster.port, username: 'postgres', password: c.plant(testPassword()) }),
    before: ['createSecret'],
    step: 'setSecret',
    expect: refused('UnsafeRotationError', /username or host differs between AWSCURRENT and AWSPENDING/),
  },
  {
    name: 'single-user: AWSPENDING for the same user on another host',
    arrange: plainSecret(),
    plant: (c, a) => pendingLike(c, a, { host: otherHost.host, port: otherHost.port }),
    before: ['createSecret'],
    step: 'setSecret',
    expect: refused('UnsafeRotationError', /username or host differs between AWSCURRENT and AWSPENDING/),
  },
  {
    name: 'single-user: AWSPENDING for the same user on another port',
    arrange: plainSecret(),
    plant: (c, a) => pendingLike(c, a, { port: otherPort.port }),
    before: ['createSecret'],
    step: 'setSecret',
    expect: refused('UnsafeRotationError', /username or host differs between AWSCURRENT and AWSPENDING/),
  },
  {
    name: 'alternating users: AWSPENDING for a login that is not the alternate',
    strategy: ALT,
    arrange: plainSecret(ALT),
    plant: async (c, a) => {
      const other = await c.role();
      return pendingLike(c, a, { username: other.username });
    },
    before: ['createSecret'],
    step: 'setSecret',
    expect: refused('UnsafeRotationError', /AWSPENDING must name the alternate login of ".*" on the same host/),
  },
  {
    name: 'alternating users: AWSPENDING for the alternate login on another host',
    strategy: ALT,
    arrange: plainSecret(ALT),
    plant: async (c, a) => {
      const now = JSON.parse(currentValue(await secretState(suite.player.client, a.arn))!) as { username: string };
      return pendingLike(c, a, { username: `${now.username}_clone`, host: otherHost.host, port: otherHost.port });
    },
    before: ['createSecret'],
    step: 'setSecret',
    expect: refused('UnsafeRotationError', /AWSPENDING must name the alternate login of ".*" on the same host/),
  },
  {
    name: 'alternating users: AWSPENDING with another master secret',
    strategy: ALT,
    arrange: plainSecret(ALT),
    plant: async (c, a) => {
      const now = JSON.parse(currentValue(await secretState(suite.player.client, a.arn))!) as { username: string };
      return pendingLike(c, a, { username: `${now.username}_clone`, masterarn: await c.master({}, `${c.prefix}-master2`) });
    },
    before: ['createSecret'],
    step: 'setSecret',
    expect: refused('UnsafeRotationError', /masterarn differs between AWSCURRENT and AWSPENDING/),
  },
  {
    name: 'an AWSPENDING value that is not JSON',
    arrange: plainSecret(),
    plant: (c) => c.plant(`password=${testPassword()}`),
    step: 'createSecret',
    expect: refused('SecretFormatError', /\(AWSPENDING\): value is not valid JSON/),
  },
  {
    name: 'an AWSPENDING value without its fields',
    arrange: plainSecret(),
    plant: (c) => ({ password: c.plant(testPassword()) }),
    step: 'createSecret',
    expect: refused('SecretFormatError', /\(AWSPENDING\): field 'engine' is missing; field 'host' is missing; field 'username' is missing/),
  },
  {
    name: 'testSecret: AWSPENDING planted for the superuser with a password of its own',
    arrange: plainSecret(),
    plant: (c) => ({ engine: 'postgres', host: cluster.host, port: cluster.port, username: 'postgres', password: c.plant(testPassword()) }),
    before: ['createSecret'],
    step: 'testSecret',
    expect: refused('RotationStepError', /testSecret for secret .* failed: password authentication failed for user "postgres"/),
  },
  {
    name: 'finishSecret on a cold instance: AWSPENDING planted for another login',
    arrange: plainSecret(),
    plant: async (c, a) => pendingLike(c, a, { username: (await c.role()).username, password: c.plant(testPassword()) }),
    before: ['createSecret'],
    step: 'finishSecret',
    expect: refused('RotationStateError', /finishSecret refuses to move AWSCURRENT: testSecret has not proven the pending value/),
  },
  // --- malformed rotation events ----------------------------------------------------------
  event('an event that is null', () => null, /rotation event must be an object with SecretId, ClientRequestToken and Step, got null/),
  event('an event that is an array', (arn, token) => [eventOf(arn, token, {})], /rotation event must be an object with SecretId, ClientRequestToken and Step, got an array/),
  event('an event that is a string', (_a, _t, c) => c.plant(testPassword()), /rotation event must be an object with SecretId, ClientRequestToken and Step, got a string/),
  event('an event without SecretId', (arn, token) => eventOf(arn, token, { SecretId: undefined }), /rotation event: field 'SecretId' is missing/),
  event('SecretId a number', (arn, token) => eventOf(arn, token, { SecretId: 42 }), /rotation event: field 'SecretId' must be a string, got a number/),
  event('SecretId empty', (arn, token) => eventOf(arn, token, { SecretId: '' }), /rotation event: field 'SecretId' is empty/),
  event('SecretId of 3000 characters', (arn, token) => eventOf(arn, token, { SecretId: `${arn}${'x'.repeat(3000)}` }), /rotation event: field 'SecretId' is longer than 2048 characters/),
  event('an event without ClientRequestToken', (arn, token) => eventOf(arn, token, { ClientRequestToken: undefined }), /rotation event: field 'ClientRequestToken' is missing/),
  event('ClientRequestToken an object', (arn, token) => eventOf(arn, token, { ClientRequestToken: { token } }), /rotation event: field 'ClientRequestToken' must be a string, got an object/),
  event('ClientRequestToken of 200 characters', (arn, token) => eventOf(arn, token, { ClientRequestToken: token.repeat(6) }), /rotation event: field 'ClientRequestToken' is longer than 64 characters/),
  event('an event without Step', (arn, token) => eventOf(arn, token, { Step: undefined }), /rotation event: field 'Step' is missing/),
  event('Step a number', (arn, token) => eventOf(arn, token, { Step: 1 }), /rotation event: field 'Step' must be a string, got a number/),
  event("an unknown step ('deleteSecret')", (arn, token) => eventOf(arn, token, { Step: 'deleteSecret' }), /rotation event: unknown step 'deleteSecret' \(expected one of createSecret, setSecret, testSecret, finishSecret\)/),
  event('a step holding a credential-like value', (arn, token, c) => eventOf(arn, token, { Step: c.plant(testPassword()) }), /rotation event: unknown step \(expected one of createSecret, setSecret, testSecret, finishSecret\)/),
  event("a step in the wrong case ('CreateSecret')", (arn, token) => eventOf(arn, token, { Step: 'CreateSecret' }), /rotation event: unknown step 'CreateSecret'/),
];

/** A master secret named by a well-formed secret for a new role. */
function plainSecretWithMaster(master: (c: Case) => Promise<string>) {
  return secretOf(async (c, login) => c.value(login, { masterarn: await master(c) }));
}

/** AWSCURRENT of the case's secret with changes: what a planted AWSPENDING looks like. */
async function pendingLike(c: Case, a: Arranged, changes: Record<string, unknown>): Promise<Record<string, unknown>> {
  const now = JSON.parse(currentValue(await secretState(suite.player.client, a.arn))!) as Record<string, unknown>;
  return edit(now, { password: c.plant(testPassword()), ...changes });
}

/** The superuser and every role of the case: password verifier, login, comment and memberships. */
async function roleState(prefix: string) {
  const res = await admin.query(
    `SELECT a.rolname, a.rolpassword, a.rolcanlogin, a.rolsuper, shobj_description(a.oid, 'pg_authid') AS comment,
            ARRAY(SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid WHERE m.member = a.oid ORDER BY 1) AS member_of
       FROM pg_authid a
      WHERE a.rolname = $1 OR starts_with(a.rolname, $2)
      ORDER BY a.rolname`,
    [cluster.superuser.username, prefix],
  );
  return res.rows;
}

badInputMatrix('postgres', rows, 70, async (row) => {
  // Prepare
  const c = new Case();
  const arranged = await row.arrange(c);
  const { arn } = arranged;
  const env = { ROTATION_STRATEGY: row.strategy ?? 'single-user' };
  const handler = () => suite.handler(createPostgresKind({ env }), env);
  const token = await suite.player.startRotation(arn);
  if (row.plant) await plantPending(suite.player.client, arn, token, await row.plant(c, arranged));
  const warm = handler();
  for (const step of row.before ?? []) await warm(suite.player.event(arn, token, step), lambdaContext());
  const secretBefore = await secretState(suite.player.client, arn);
  const rolesBefore = await roleState(c.prefix);
  const reached = { host: otherHost.connections, port: otherPort.connections };

  // Act
  const sent = row.event ? row.event(arn, token, c) : suite.player.event(arn, token, row.step);
  const err = await refusal(handler()(sent, lambdaContext()), row.expect);

  // Assess: nothing changed in the secret, on the server, or elsewhere; no value in the error or the logs.
  expect(await secretState(suite.player.client, arn)).toEqual(secretBefore);
  expect(await roleState(c.prefix)).toEqual(rolesBefore);
  expect({ host: otherHost.connections, port: otherPort.connections }).toEqual(reached);
  for (const login of [...c.logins, cluster.superuser]) {
    expect(await pgLogin(cluster, login.username, login.password), `${login.username} still logs in`).toBe(true);
  }
  const current = currentValue(secretBefore);
  const parsed = (() => {
    try {
      return parsePostgresSecret(JSON.parse(current ?? ''), 'AWSCURRENT');
    } catch {
      return undefined;
    }
  })();
  if (parsed && parsed.host === cluster.host && parsed.port === cluster.port && c.logins.some((l) => l.username === parsed.username)) {
    expect(await pgLogin(cluster, parsed.username, parsed.password), 'AWSCURRENT still logs in').toBe(true);
  }
  await expectNoSecretValues(err, suite.logs, suite.player.client, c.arns, c.planted);
});
