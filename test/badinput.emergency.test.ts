import { randomBytes } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { PutSecretValueCommand, TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import type mysql from 'mysql2/promise';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, expect, inject } from 'vitest';
import { ALLOW_LOOPBACK_FOR_TESTS } from '../lambdas/contract/testing.js';
import { plainFingerprint } from '../lambdas/core/fingerprint.js';
import { SecretsApi } from '../lambdas/core/secretsApi.js';
import { RotorTags, type Strategy } from '../lambdas/core/types.js';
import { createEmergencyHandler } from '../lambdas/emergency/index.js';
import { revokeVersion } from '../lambdas/emergency/revoke.js';
import { mysqlKind } from '../lambdas/mysql/mysqlKind.js';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import type { RotationKind } from '../lambdas/core/types.js';
import { fakeAccessKeyId } from '../bin/local/awsAdmin.js';
import { captureEvents, eventsClient } from '../bin/local/events.js';
import { lambdaContext, smClient } from '../bin/local/harness.js';
import { guardDutyEvent, healthEvent, leakEvent } from '../bin/local/leakEvents.js';
import { createRotationFunction } from '../bin/local/moto.js';
import { mysqlLogin, mysqlServer, MysqlFixtures, rootConnection } from '../bin/local/mysql.js';
import { adminClient, pgLogin, testPassword, type PostgresCluster } from '../bin/local/postgres.js';
import { Routes, TokenProviderServer } from '../bin/local/tokenProvider.js';
import { errorText } from './support/logCapture.js';
import { useRotationSuite } from './support/rotationSuite.js';
import { badInputMatrix, edit, expectNoSecretValues, refusal, secretState, TcpTrap, type Refusal } from './support/badInput.js';

/**
 * Bad-input matrix of the emergency handler (issue 14): leak events with fields missing, mistyped
 * or oversized; leaks naming what no Rotor-managed secret holds, a secret Rotor does not manage or
 * of an unknown kind, one whose rotation is off; and leaked versions planted to point elsewhere
 * (another IAM user's key, another host or port, another login, another provider token's id, the
 * current credential itself, a value of another shape). Events go through the handler as
 * deployed; the planted database versions go through its revoke step (lambdas/emergency/revoke.ts),
 * which the handler reaches only after a rotation. Every row is refused with an error naming the
 * problem (never a value); afterwards every secret of the case is as it was, every login, key and
 * token of the case still works (none was locked, deactivated, deleted or revoked), and no
 * "Secret Rotated" / "Secret Revoked" event was sent.
 */
process.env[ALLOW_LOOPBACK_FOR_TESTS] = '1';

const cluster = inject('postgres') as unknown as PostgresCluster;
const suite = useRotationSuite();
let admin: pg.Client;
let root: mysql.Connection;
const mysqlUsers = new MysqlFixtures(() => root);
let provider: TokenProviderServer;
let otherPort: TcpTrap;
let iam: IAMClient;

beforeAll(async () => {
  admin = await adminClient(cluster);
  root = await rootConnection();
  provider = await TokenProviderServer.start();
  otherPort = await TcpTrap.start('127.0.0.1');
  iam = new IAMClient({ endpoint: suite.moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
});
afterAll(async () => {
  await admin?.end();
  await mysqlUsers.dropAll();
  await root?.end();
  await provider?.close();
  await otherPort?.close();
});
beforeEach(async () => {
  provider.resetFaults();
  await createRotationFunction(suite.moto.endpoint);
});

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

interface Login {
  readonly username: string;
  readonly password: string;
}

class Case {
  public readonly prefix = `bi_${randomBytes(4).toString('hex')}`;
  public readonly arns: string[] = [];
  public readonly planted: string[] = [];
  public readonly pg: Login[] = [];
  public readonly mysql: Login[] = [];
  public readonly iamUsers: string[] = [];
  public readonly tokens: string[] = [];
  private n = 0;

  public plant(value: string): string {
    this.planted.push(value);
    suite.sensitive(value);
    return value;
  }

  /** A secret of the case, tagged as the constructs tag it (unless `tags` is null). */
  public async secret(value: unknown, tags: Record<string, string> | null, name = `${this.prefix}-s${this.n++}`): Promise<string> {
    const arn = await suite.secret(name, value);
    this.arns.push(arn);
    if (tags) {
      await suite.player.client.send(new TagResourceCommand({ SecretId: arn, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }));
    }
    return arn;
  }

  /** Stages `value` AWSPREVIOUS on the secret (as somebody with PutSecretValue could); its version id. */
  public async previous(arn: string, value: unknown): Promise<string> {
    const out = await suite.player.client.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: typeof value === 'string' ? value : JSON.stringify(value), VersionStages: ['AWSPREVIOUS'] }),
    );
    return out.VersionId!;
  }

  public async pgRole(): Promise<Login> {
    const login = { username: `${this.prefix}_u${this.n++}`, password: this.plant(testPassword()) };
    await admin.query(`CREATE ROLE ${admin.escapeIdentifier(login.username)} LOGIN PASSWORD ${admin.escapeLiteral(login.password)}`);
    this.pg.push(login);
    return login;
  }

  public pgValue(login: Login, changes: Record<string, unknown> = {}): Record<string, unknown> {
    return edit({ engine: 'postgres', host: cluster.host, port: cluster.port, username: login.username, password: login.password }, changes);
  }

  public async pgMaster(): Promise<string> {
    return this.secret(this.pgValue({ username: cluster.superuser.username, password: cluster.superuser.password }), null, `${this.prefix}-master`);
  }

  /** A Rotor-managed PostgreSQL secret for a new role. */
  public async pgSecret(strategy: Strategy = 'single-user'): Promise<{ arn: string; login: Login }> {
    const login = await this.pgRole();
    const value = this.pgValue(login, strategy === 'alternating-users' ? { masterarn: await this.pgMaster() } : {});
    return { arn: await this.secret(value, { [RotorTags.KIND]: 'postgres', [RotorTags.STRATEGY]: strategy }), login };
  }

  public async mysqlUser(): Promise<Login> {
    const login = { username: `${this.prefix}_m${this.n++}`, password: this.plant(testPassword()) };
    await mysqlUsers.createUser(login.username, login.password);
    this.mysql.push(login);
    return login;
  }

  /** An IAM user of the case with one key. */
  public async iamUser(): Promise<{ username: string; accessKeyId: string; secretAccessKey: string }> {
    const username = unique(this.prefix.replace('_', '-'));
    await iam.send(new CreateUserCommand({ UserName: username }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: username }))).AccessKey!;
    this.plant(key.SecretAccessKey!);
    this.iamUsers.push(username);
    return { username, accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
  }

  /** A provider token that must still be live afterwards. */
  public keep(token: string): string {
    this.tokens.push(token);
    return this.plant(token);
  }
}

interface Arranged {
  /** The secret the leak is about (its state is checked afterwards, as every secret of the case). */
  readonly arn?: string;
  /** What the row delivers: an event to the handler, or a leaked version to the revoke step. */
  readonly act: () => Promise<unknown>;
}

interface Row {
  readonly name: string;
  readonly arrange: (c: Case) => Promise<Arranged>;
  readonly expect: Refusal;
}

const refused = (name: string, message: RegExp): Refusal => ({ name, message });

/** The emergency handler as deployed (the registry's kinds), with short polls. */
function deliver(event: unknown): Promise<unknown> {
  const handler = createEmergencyHandler({
    sm: smClient(suite.moto.endpoint),
    events: eventsClient(suite.moto.endpoint),
    pollIntervalMs: 50,
    waitTimeoutMs: 3_000,
  });
  return handler(event as never, lambdaContext('rotor-emergency')).catch((err: unknown) => {
    suite.logs.note(errorText(err));
    throw err;
  });
}

/** The handler's revoke step for one version, as it runs it after a rotation. */
async function revoke<S>(kind: RotationKind<S>, arn: string, versionId: string, strategy: Strategy): Promise<unknown> {
  const description = await new SecretsApi(suite.player.client).describe(arn);
  return revokeVersion(kind, { secretArn: arn, description, versionId, strategy }, { client: suite.player.client, logger: new Logger({ serviceName: 'rotor-emergency' }) }).catch(
    (err: unknown) => {
      suite.logs.note(errorText(err));
      throw err;
    },
  );
}

/** A leak event about a Rotor-managed PostgreSQL secret, changed by `make`. */
const eventRow = (name: string, make: (arn: string, c: Case) => unknown, message: RegExp): Row => ({
  name,
  arrange: async (c) => {
    const { arn } = await c.pgSecret();
    return { arn, act: () => deliver(make(arn, c)) };
  },
  expect: refused('InvalidEventError', message),
});

const ID = () => randomBytes(8).toString('hex');

const rows: readonly Row[] = [
  // --- leak events with fields missing, mistyped or oversized -----------------------------
  eventRow('a secretId of 2049 characters', (arn) => leakEvent({ secretId: `${arn}${'x'.repeat(2049 - arn.length)}` }), /^leak event: field 'detail\.secretId' is longer than 2048 characters; nothing was changed$/),
  eventRow('a reporter of 257 characters', (arn) => leakEvent({ secretId: arn, reporter: 'r'.repeat(257) }), /field 'detail\.reporter' is longer than 256 characters/),
  eventRow('an access key id in lower case', (_arn, c) => leakEvent({ accessKeyId: c.plant(fakeAccessKeyId().toLowerCase()) }), /field 'detail\.accessKeyId' must be an access key id/),
  eventRow('a fingerprint in upper case', (_arn, c) => leakEvent({ fingerprint: c.plant(plainFingerprint(ID()).toUpperCase()) }), /field 'detail\.fingerprint' must be 32 lowercase hex digits/),
  eventRow('a fingerprint that is the leaked token itself', (_arn, c) => leakEvent({ fingerprint: c.plant(randomBytes(20).toString('base64url')) }), /field 'detail\.fingerprint' must be 32 lowercase hex digits/),
  eventRow('a detail that is an array', (arn) => ({ ...leakEvent({}), detail: [{ secretId: arn }] }), /^leak event: field 'detail' must be an object, got an array/),
  eventRow('a detail-type that is a number', (arn) => ({ ...leakEvent({ secretId: arn }), 'detail-type': 7 }), /field 'detail-type' must be a string, got a number/),
  eventRow('an event id of 129 characters', (arn) => leakEvent({ secretId: arn }, 'e'.repeat(129)), /field 'id' must be 1 to 128 characters/),
  eventRow('an event id with a newline', (arn) => leakEvent({ secretId: arn }, 'id\nrotor:kind=iam'), /field 'id' must be 1 to 128 characters of letters, digits/),
  eventRow('a Health event whose affectedEntities is a string', (_arn, c) => ({ ...healthEvent([]), detail: { ...healthEvent([]).detail, affectedEntities: c.plant(fakeAccessKeyId()) } }), /field 'detail\.affectedEntities' must be a non-empty array, got a string/),
  eventRow('a Health event of a numeric type code', () => ({ ...healthEvent([fakeAccessKeyId()]), detail: { ...healthEvent([]).detail, eventTypeCode: 42 } }), /field 'detail\.eventTypeCode' is not a credential exposure/),
  eventRow('a GuardDuty finding of another type', () => ({ ...guardDutyEvent(fakeAccessKeyId(), 'u'), detail: { ...guardDutyEvent(fakeAccessKeyId(), 'u').detail, type: 'Recon:EC2/PortProbeUnprotectedPort' } }), /field 'detail\.type' is not a finding of IAM credential misuse/),
  // --- leaks naming what Rotor cannot act on ----------------------------------------------
  {
    name: 'a secretId that names no secret and looks like a credential',
    arrange: async (c) => {
      const { arn } = await c.pgSecret();
      return { arn, act: () => deliver(leakEvent({ secretId: c.plant(`${randomBytes(18).toString('base64url')}9Z`) })) };
    },
    expect: refused('RotationStateError', /^secret \[REDACTED\]: not found$/),
  },
  {
    name: 'a secret Rotor does not manage (no rotor:kind tag)',
    arrange: async (c) => {
      const login = await c.pgRole();
      const arn = await c.secret(c.pgValue(login), null);
      return { arn, act: () => deliver(leakEvent({ secretId: arn })) };
    },
    expect: refused('RotationStateError', /not managed by Rotor \(no rotor:kind tag\); nothing was changed/),
  },
  {
    name: "a secret tagged with an unknown kind ('oracle')",
    arrange: async (c) => {
      const login = await c.pgRole();
      const arn = await c.secret(c.pgValue(login), { [RotorTags.KIND]: 'oracle' });
      return { arn, act: () => deliver(leakEvent({ secretId: arn })) };
    },
    expect: refused('RotationStateError', /kind 'oracle' cannot revoke a leaked value/),
  },
  {
    name: "a secret tagged with kind '__proto__'",
    arrange: async (c) => {
      const login = await c.pgRole();
      const arn = await c.secret(c.pgValue(login), { [RotorTags.KIND]: '__proto__' });
      return { arn, act: () => deliver(leakEvent({ secretId: arn })) };
    },
    expect: refused('RotationStateError', /kind '__proto__' cannot revoke a leaked value/),
  },
  {
    name: 'an access key id that no secret holds',
    arrange: async (c) => {
      const user = await c.iamUser();
      const arn = await c.secret(user, { [RotorTags.KIND]: 'iam', [RotorTags.FINGERPRINT_CURRENT]: plainFingerprint(user.accessKeyId) });
      return { arn, act: () => deliver(leakEvent({ accessKeyId: fakeAccessKeyId() })) };
    },
    expect: refused('RotationStateError', /no Rotor-managed secret holds access key AKIA\w+/),
  },
  {
    name: 'a fingerprint that no secret holds',
    arrange: async (c) => {
      const { arn } = await c.pgSecret();
      return { arn, act: () => deliver(leakEvent({ fingerprint: plainFingerprint(ID()) })) };
    },
    expect: refused('RotationStateError', /no Rotor-managed secret holds fingerprint [0-9a-f]{32}/),
  },
  {
    name: 'a leaked AWSCURRENT of a secret whose rotation is off',
    arrange: async (c) => {
      const { arn } = await c.pgSecret();
      return { arn, act: () => deliver(leakEvent({ secretId: arn })) };
    },
    expect: refused('RotationStateError', /rotation is not enabled, so Rotor cannot rotate it/),
  },
  // --- leaked versions planted to point elsewhere (IAM, through the handler) --------------
  {
    name: "IAM: a leaked AWSPREVIOUS naming another user's key",
    arrange: async (c) => {
      const app = await c.iamUser();
      const boss = await c.iamUser();
      const arn = await c.secret(app, { [RotorTags.KIND]: 'iam', [RotorTags.FINGERPRINT_PREVIOUS]: plainFingerprint(boss.accessKeyId) });
      await c.previous(arn, boss);
      return { arn, act: () => deliver(leakEvent({ accessKeyId: boss.accessKeyId })) };
    },
    expect: refused('UnsafeRotationError', /the leaked value names IAM user "bi-[\w-]+", not the secret's user "bi-[\w-]+"; refusing to touch another user's key/),
  },
  {
    name: 'IAM: a leaked AWSPREVIOUS that is the current key',
    arrange: async (c) => {
      const app = await c.iamUser();
      const arn = await c.secret(app, { [RotorTags.KIND]: 'iam', [RotorTags.FINGERPRINT_PREVIOUS]: plainFingerprint(app.accessKeyId) });
      await c.previous(arn, { ...app, note: 'a copy' });
      return { arn, act: () => deliver(leakEvent({ accessKeyId: app.accessKeyId })) };
    },
    expect: refused('UnsafeRotationError', /the leaked value is the same credential as AWSCURRENT; refusing to revoke it/),
  },
  {
    name: 'IAM: a leaked AWSPREVIOUS that is not JSON',
    arrange: async (c) => {
      const app = await c.iamUser();
      const leakedKey = fakeAccessKeyId();
      const arn = await c.secret(app, { [RotorTags.KIND]: 'iam', [RotorTags.FINGERPRINT_PREVIOUS]: plainFingerprint(leakedKey) });
      await c.previous(arn, c.plant(`${leakedKey}:${randomBytes(30).toString('base64')}`));
      return { arn, act: () => deliver(leakEvent({ accessKeyId: leakedKey })) };
    },
    expect: refused('SecretFormatError', /\(version [0-9a-f-]{36}\): value is not valid JSON/),
  },
  {
    name: 'IAM: a leaked AWSPREVIOUS of another kind (a database login)',
    arrange: async (c) => {
      const app = await c.iamUser();
      const leakedKey = fakeAccessKeyId();
      const arn = await c.secret(app, { [RotorTags.KIND]: 'iam', [RotorTags.FINGERPRINT_PREVIOUS]: plainFingerprint(leakedKey) });
      await c.previous(arn, { engine: 'postgres', host: cluster.host, username: 'postgres', password: c.plant(testPassword()) });
      return { arn, act: () => deliver(leakEvent({ accessKeyId: leakedKey })) };
    },
    expect: refused('SecretFormatError', /\(version [0-9a-f-]{36}\): field 'accessKeyId' is missing; field 'secretAccessKey' is missing/),
  },
  // --- leaked versions planted to point elsewhere (API tokens, through the handler) -------
  {
    name: "API token: a leaked AWSPREVIOUS naming another token's id",
    arrange: async (c) => {
      const admin = provider.acmeToken(true);
      c.keep(admin.token);
      const managementSecretArn = await c.secret({ adminToken: admin.token, allowedHosts: [provider.host] }, null, `${c.prefix}-management`);
      const app = provider.acmeToken();
      const victim = provider.acmeToken(); // another application's token, which the leak must not revoke
      const attacker = provider.acmeToken(); // a live token whose value the planted version holds
      for (const t of [app, victim, attacker]) c.keep(t.token);
      const value = { provider: 'http', token: app.token, tokenId: app.tokenId, managementSecretArn, graceperiod: 48, http: acmeTemplates() };
      const arn = await c.secret(value, { [RotorTags.KIND]: 'api-token', [RotorTags.FINGERPRINT_PREVIOUS]: plainFingerprint(attacker.token) });
      await c.previous(arn, { ...value, token: attacker.token, tokenId: victim.tokenId });
      return { arn, act: () => deliver(leakEvent({ fingerprint: plainFingerprint(attacker.token) })) };
    },
    expect: refused('UnsafeRotationError', /the provider reports the leaked token as token tok_\w+, not tok_\w+; refusing to revoke by id/),
  },
  // --- leaked versions planted to point elsewhere (databases, the revoke step) ------------
  {
    name: 'PostgreSQL: a leaked version for another port',
    arrange: async (c) => {
      const { arn, login } = await c.pgSecret();
      const leaked = await c.previous(arn, c.pgValue(login, { port: otherPort.port, password: c.plant(testPassword()) }));
      return { arn, act: () => revoke(postgresKind, arn, leaked, 'single-user') };
    },
    expect: refused('UnsafeRotationError', /the leaked version is for a different host or port/),
  },
  {
    name: 'PostgreSQL alternating users: a leaked version for a login that is not the alternate',
    arrange: async (c) => {
      const { arn } = await c.pgSecret('alternating-users');
      const other = await c.pgRole();
      const leaked = await c.previous(arn, c.pgValue(other, { password: c.plant(testPassword()) }));
      return { arn, act: () => revoke(postgresKind, arn, leaked, 'alternating-users') };
    },
    expect: refused('UnsafeRotationError', /the leaked login is not the alternate of "bi_\w+"; refusing to touch it/),
  },
  {
    name: 'PostgreSQL alternating users: a leaked version for the superuser',
    arrange: async (c) => {
      const { arn } = await c.pgSecret('alternating-users');
      const leaked = await c.previous(arn, c.pgValue({ username: cluster.superuser.username, password: c.plant(testPassword()) }));
      return { arn, act: () => revoke(postgresKind, arn, leaked, 'alternating-users') };
    },
    expect: refused('UnsafeRotationError', /the leaked login is not the alternate of "bi_\w+"; refusing to touch it/),
  },
  {
    name: 'PostgreSQL: the leaked version is AWSCURRENT',
    arrange: async (c) => {
      const { arn } = await c.pgSecret();
      const current = (await suite.player.versionOf(arn, 'AWSCURRENT'))!;
      return { arn, act: () => revoke(postgresKind, arn, current, 'single-user') };
    },
    expect: refused('UnsafeRotationError', /the leaked version is still AWSCURRENT; rotate before revoking/),
  },
  {
    name: 'PostgreSQL: a leaked version holding the current password',
    arrange: async (c) => {
      const { arn, login } = await c.pgSecret();
      const leaked = await c.previous(arn, c.pgValue(login, { dbname: 'template1' }));
      return { arn, act: () => revoke(postgresKind, arn, leaked, 'single-user') };
    },
    expect: refused('UnsafeRotationError', /the leaked value is the same credential as AWSCURRENT; refusing to revoke it/),
  },
  {
    name: 'PostgreSQL: a leaked version with a hostile host',
    arrange: async (c) => {
      const { arn, login } = await c.pgSecret();
      const leaked = await c.previous(arn, c.pgValue(login, { host: "127.0.0.1'; DROP ROLE postgres; --", password: c.plant(testPassword()) }));
      return { arn, act: () => revoke(postgresKind, arn, leaked, 'single-user') };
    },
    expect: refused('SecretFormatError', /\(version [0-9a-f-]{36}\): field 'host' is invalid: must be a host name or an IP address/),
  },
  {
    name: 'MySQL: a leaked version for another port',
    arrange: async (c) => {
      const login = await c.mysqlUser();
      const value = { engine: 'mariadb', host: mysqlServer.host, port: mysqlServer.port, ...login };
      const arn = await c.secret(value, { [RotorTags.KIND]: 'mysql' });
      const leaked = await c.previous(arn, { ...value, port: otherPort.port, password: c.plant(testPassword()) });
      return { arn, act: () => revoke(mysqlKind, arn, leaked, 'single-user') };
    },
    expect: refused('UnsafeRotationError', /the leaked version is for a different host or port/),
  },
];

function acmeTemplates(base = provider.acmeBaseUrl): Record<string, unknown> {
  return {
    dualActive: true,
    issue: {
      method: 'POST',
      url: `${base}/v1/tokens`,
      headers: { authorization: 'Bearer {{management.adminToken}}' },
      body: { name: 'rotor-{{rotation}}' },
      tokenPath: '$.token.secret',
      tokenIdPath: '$.token.id',
    },
    verify: { method: 'GET', url: `${base}/v1/whoami`, headers: { 'x-acme-token': '{{token}}' }, tokenIdPath: '$.id' },
    revoke: { method: 'DELETE', url: `${base}/v1/tokens/{{tokenId}}`, headers: { authorization: 'Bearer {{management.adminToken}}' } },
  };
}

/** The case's PostgreSQL roles and the superuser: password verifier and login. */
async function pgState(prefix: string) {
  const res = await admin.query(
    'SELECT rolname, rolpassword, rolcanlogin FROM pg_authid WHERE rolname = $1 OR starts_with(rolname, $2) ORDER BY rolname',
    [cluster.superuser.username, prefix],
  );
  return res.rows;
}

/** The keys of every IAM user of the case, with their status. */
async function iamState(c: Case) {
  const out: Record<string, Record<string, string>> = {};
  for (const u of c.iamUsers) {
    const keys = await iam.send(new ListAccessKeysCommand({ UserName: u }));
    out[u] = Object.fromEntries((keys.AccessKeyMetadata ?? []).map((k) => [k.AccessKeyId!, k.Status!]));
  }
  return out;
}

badInputMatrix('emergency', rows, 31, async (row) => {
  // Prepare
  const c = new Case();
  const arranged = await row.arrange(c);
  const seen = await captureEvents(suite.moto.endpoint, { source: ['rotor'] });
  const secretsBefore = await Promise.all(c.arns.map((arn) => secretState(suite.player.client, arn)));
  const pgBefore = await pgState(c.prefix);
  const iamBefore = await iamState(c);
  const requests = provider.requests.length;
  const reached = otherPort.connections;

  // Act
  const err = await refusal(arranged.act(), row.expect);

  // Assess: nothing rotated, locked, deactivated, deleted or revoked, nothing announced.
  expect(await Promise.all(c.arns.map((arn) => secretState(suite.player.client, arn)))).toEqual(secretsBefore);
  expect(await pgState(c.prefix)).toEqual(pgBefore);
  expect(await iamState(c)).toEqual(iamBefore);
  expect(otherPort.connections, 'nothing reached another port').toBe(reached);
  expect(provider.requests.slice(requests).filter((r) => r.route === Routes.ACME_REVOKE || r.route === Routes.DATADOG_DELETE)).toEqual([]);
  for (const t of c.tokens) expect(provider.accepts(t), 'every token of the case is still live').toBe(true);
  for (const l of [...c.pg, cluster.superuser]) expect(await pgLogin(cluster, l.username, l.password), `${l.username} still logs in`).toBe(true);
  for (const l of c.mysql) expect(await mysqlLogin(l.username, l.password), `${l.username} still logs in`).toBeDefined();
  expect(await seen.drain(), 'no Secret Rotated / Secret Revoked event').toEqual([]);
  await expectNoSecretValues(err, suite.logs, suite.player.client, c.arns, c.planted);
});
