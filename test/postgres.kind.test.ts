import { createServer, type Server } from 'node:net';
import { PutSecretValueCommand, UpdateSecretCommand } from '@aws-sdk/client-secrets-manager';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { lambdaContext, smClient, STEPS } from '../bin/local/harness.js';
import { startRefusingProxy } from '../bin/local/refusingProxy.js';
import { RotorTags } from '../lambdas/contract/index.js';
import { createRotationHandler } from '../lambdas/core/handler.js';
import { candidateFingerprints, plainFingerprint } from '../lambdas/core/fingerprint.js';
import { heldFingerprint } from '../lambdas/core/labels.js';
import { adminClient, pgLogin, testPassword, uniqueName, type PostgresCluster } from '../bin/local/postgres.js';
import { useRotationSuite } from './support/rotationSuite.js';
import { freePort } from '../bin/local/ports.js';

const cluster = inject('postgres') as unknown as PostgresCluster;
const suite = useRotationSuite();
let admin: pg.Client;

beforeAll(async () => {
  admin = await adminClient(cluster);
});
afterAll(async () => {
  await admin?.end();
});

const ident = (s: string) => admin.escapeIdentifier(s);
const lit = (s: string) => admin.escapeLiteral(s);

interface Arranged {
  arn: string;
  username: string;
  password: string;
  dbname: string;
}

/** A role with a password, its own database and a table, and a secret for it. */
async function arrangeUser(
  opts: { username?: string; alternating?: boolean; secret?: Record<string, unknown> } = {},
): Promise<Arranged> {
  const username = opts.username ?? uniqueName('app');
  const password = testPassword();
  const dbname = uniqueName('db');
  await admin.query(`CREATE ROLE ${ident(username)} LOGIN PASSWORD ${lit(password)}`);
  await admin.query(`CREATE DATABASE ${ident(dbname)} OWNER ${ident(username)}`);
  const value: Record<string, unknown> = {
    engine: 'postgres',
    host: cluster.host,
    port: cluster.port,
    username,
    password,
    dbname,
  };
  if (opts.alternating) {
    value.masterarn = await suite.secret(uniqueName('master'), {
      engine: 'postgres',
      host: cluster.host,
      port: cluster.port,
      username: cluster.superuser.username,
      password: cluster.superuser.password,
    });
  }
  const arn = await suite.secret(uniqueName('secret'), { ...value, ...opts.secret });
  return { arn, username, password, dbname };
}

async function current(arn: string, stage = 'AWSCURRENT') {
  return suite.player.value<{ username: string; password: string; dbname: string }>(arn, stage);
}

async function logsIn(secret: { username: string; password: string; dbname?: string }) {
  return pgLogin(cluster, secret.username, secret.password, secret.dbname ?? 'postgres');
}

const single = () => suite.handler(postgresKind, { ROTATION_STRATEGY: 'single-user' });
const alternating = () => suite.handler(postgresKind, { ROTATION_STRATEGY: 'alternating-users' });

describe('the test PostgreSQL cluster', () => {
  it('refuses a wrong password (password authentication is really on)', async () => {
    const user = await arrangeUser();
    expect(await logsIn({ username: user.username, password: user.password })).toBe(true);
    expect(await logsIn({ username: user.username, password: `${user.password}x` })).toBe(false);
  });
});

describe('PostgresRotation single-user', () => {
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
    expect(now.password).not.toMatch(/[:/@"'\\]/);
    expect(await logsIn(now)).toBe(true);
    expect(await logsIn({ ...now, password: user.password })).toBe(false);
    const versions = await suite.player.versions(user.arn);
    expect(versions[token]).toEqual(['AWSCURRENT']);
    expect(versions[before!]).toEqual(['AWSPREVIOUS']);
    expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
    const calls = outcomes.reduce((n, o) => n + o.secretsManagerCalls, 0);
    const logins = outcomes.reduce((n, o) => n + o.logins, 0);
    expect(calls).toBeLessThanOrEqual(10);
    expect(logins).toBeLessThanOrEqual(3);
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
    for (const step of STEPS) {
      outcomes.push(await handler(suite.player.event(user.arn, token, step), lambdaContext()));
      outcomes.push(await handler(suite.player.event(user.arn, token, step), lambdaContext()));
    }
    expect(outcomes.map((o) => o.outcome)).toEqual([
      'done', 'pending-exists', 'done', 'done', 'done', 'done', 'done', 'already-current',
    ]);
    const now = await current(user.arn);
    expect(await logsIn(now)).toBe(true);
    expect(Object.keys(await suite.player.versions(user.arn))).toHaveLength(2);
  });

  it('recovers from a crash between setSecret and finishSecret when the service retries', async () => {
    const user = await arrangeUser();
    const token = await suite.player.startRotation(user.arn);
    await suite.player.runSteps(single(), user.arn, token, ['createSecret', 'setSecret']);
    // A new (cold) function instance retries the rotation from the start with the same token.
    const outcomes = await suite.player.runSteps(single(), user.arn, token);
    expect(outcomes.map((o) => o.outcome)).toEqual(['pending-exists', 'done', 'done', 'done']);
    const now = await current(user.arn);
    expect(await logsIn(now)).toBe(true);
    expect((await suite.player.versions(user.arn))[token]).toEqual(['AWSCURRENT']);
  });

  it('falls back to AWSPREVIOUS when the database still has the previous password', async () => {
    const user = await arrangeUser();
    await suite.player.rotate(single(), user.arn);
    // Someone restored the old password on the server: current does not log in, previous does.
    await admin.query(`ALTER ROLE ${ident(user.username)} PASSWORD ${lit(user.password)}`);
    await suite.player.rotate(single(), user.arn);
    const now = await current(user.arn);
    expect(await logsIn(now)).toBe(true);
    expect(await logsIn({ ...now, password: user.password })).toBe(false);
  });

  it('refuses a pending version whose username or host differs from the current one', async () => {
    const user = await arrangeUser();
    const token = await suite.player.startRotation(user.arn);
    const tampered = { engine: 'postgres', host: cluster.host, port: cluster.port, username: 'postgres', password: testPassword() };
    suite.sensitive(tampered.password);
    await suite.player.client.send(
      new PutSecretValueCommand({ SecretId: user.arn, ClientRequestToken: token, SecretString: JSON.stringify(tampered), VersionStages: ['AWSPENDING'] }),
    );
    await expect(single()(suite.player.event(user.arn, token, 'setSecret'), lambdaContext())).rejects.toThrow(
      /username or host differs/,
    );
    expect(await logsIn({ username: 'postgres', password: cluster.superuser.password })).toBe(true);
    expect(await logsIn(await current(user.arn))).toBe(true);
  });

  it('rotates a user name that needs quoting', async () => {
    const user = await arrangeUser({ username: `Mixed Case "quoted" ${uniqueName('u')}` });
    await suite.player.rotate(single(), user.arn);
    const now = await current(user.arn);
    expect(now.username).toBe(user.username);
    expect(await logsIn(now)).toBe(true);
    expect(await logsIn({ ...now, password: user.password })).toBe(false);
  });

  it('treats a user name that tries SQL injection as a plain name', async () => {
    const evil = `x"; ALTER ROLE postgres PASSWORD 'pwned'; --${uniqueName('')}`;
    const user = await arrangeUser({ username: evil });
    await suite.player.rotate(single(), user.arn);
    expect(await logsIn(await current(user.arn))).toBe(true);
    expect(await logsIn({ username: 'postgres', password: cluster.superuser.password })).toBe(true);
    expect(await logsIn({ username: 'postgres', password: 'pwned' })).toBe(false);
  });

  it('fails within the connection timeout when the host does not answer, and keeps the current login', async () => {
    const silent: Server = createServer(() => undefined); // accepts, never speaks
    const port = await freePort();
    await new Promise<void>((r) => silent.listen(port, '127.0.0.1', r));
    try {
      const user = await arrangeUser();
      await suite.player.client.send(
        new UpdateSecretCommand({
          SecretId: user.arn,
          SecretString: JSON.stringify({ ...(await current(user.arn)), engine: 'postgres', host: '127.0.0.1', port }),
        }),
      );
      const token = await suite.player.startRotation(user.arn);
      const handler = single();
      await handler(suite.player.event(user.arn, token, 'createSecret'), lambdaContext());
      const started = Date.now();
      await expect(handler(suite.player.event(user.arn, token, 'setSecret'), lambdaContext())).rejects.toThrow(
        /timeout/i,
      );
      const elapsed = Date.now() - started;
      expect(elapsed).toBeLessThan(8_000);
      expect(await logsIn({ username: user.username, password: user.password, dbname: user.dbname })).toBe(true);
    } finally {
      silent.close();
    }
  });

  it('with ssl true refuses a server that offers no TLS instead of sending the password in clear', async () => {
    const user = await arrangeUser({ secret: { ssl: true } });
    const token = await suite.player.startRotation(user.arn);
    const handler = single();
    await handler(suite.player.event(user.arn, token, 'createSecret'), lambdaContext());
    await expect(handler(suite.player.event(user.arn, token, 'setSecret'), lambdaContext())).rejects.toThrow(/SSL/);
    expect(await logsIn(user)).toBe(true);
  });

  it('with ssl false connects in plain text', async () => {
    const user = await arrangeUser({ secret: { ssl: false } });
    await suite.player.rotate(single(), user.arn);
    expect(await logsIn(await current(user.arn))).toBe(true);
  });
});

describe('PostgresRotation alternating-users', () => {
  it('creates the clone user on first rotation; the old login keeps working', async () => {
    const user = await arrangeUser({ alternating: true });
    await admin.query(`CREATE TABLE IF NOT EXISTS rotor_probe (id int)`);
    const reader = uniqueName('readers');
    await admin.query(`CREATE ROLE ${ident(reader)}`);
    await admin.query(`GRANT SELECT ON rotor_probe TO ${ident(reader)}`);
    await admin.query(`GRANT ${ident(reader)} TO ${ident(user.username)}`);
    const before = await suite.player.versionOf(user.arn, 'AWSCURRENT');

    const { token, outcomes } = await suite.player.rotate(alternating(), user.arn);

    const now = await current(user.arn);
    expect(now.username).toBe(`${user.username}_clone`);
    expect(await logsIn(now)).toBe(true);
    expect(await logsIn({ username: user.username, password: user.password, dbname: user.dbname })).toBe(true);
    const versions = await suite.player.versions(user.arn);
    expect(versions[token]).toEqual(['AWSCURRENT']);
    expect(versions[before!]).toEqual(['AWSPREVIOUS']);
    const members = await admin.query(
      `SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1 ORDER BY 1`,
      [now.username],
    );
    expect(members.rows.map((r) => r.rolname).sort()).toEqual([user.username, reader].sort());
    const calls = outcomes.reduce((n, o) => n + o.secretsManagerCalls, 0);
    const logins = outcomes.reduce((n, o) => n + o.logins, 0);
    // 10, and finishSecret's TagResource of the keyed fingerprint tags (README, "Fingerprints").
    expect(calls).toBeLessThanOrEqual(11);
    expect(logins).toBeLessThanOrEqual(3);
  });

  it('alternates back to the base user and re-syncs memberships on every rotation', async () => {
    const user = await arrangeUser({ alternating: true });
    const handler = alternating();
    const first = uniqueName('role_a');
    await admin.query(`CREATE ROLE ${ident(first)}`);
    await admin.query(`GRANT ${ident(first)} TO ${ident(user.username)}`);
    await suite.player.rotate(handler, user.arn);
    const one = await current(user.arn);
    expect(one.username).toBe(`${user.username}_clone`);

    // Between rotations the user gains one membership and loses another.
    const second = uniqueName('role_b');
    await admin.query(`CREATE ROLE ${ident(second)}`);
    await admin.query(`GRANT ${ident(second)} TO ${ident(user.username)}`);
    await admin.query(`REVOKE ${ident(first)} FROM ${ident(user.username)}`);

    await suite.player.rotate(handler, user.arn);
    const two = await current(user.arn);
    expect(two.username).toBe(user.username);
    expect(await logsIn(two)).toBe(true);
    expect(await logsIn(one)).toBe(true); // previous login still works
    expect(await logsIn({ ...two, password: user.password })).toBe(false);

    await suite.player.rotate(handler, user.arn);
    const three = await current(user.arn);
    expect(three.username).toBe(`${user.username}_clone`);
    expect(await logsIn(three)).toBe(true);
    expect(await logsIn(two)).toBe(true);
    expect(await logsIn(one)).toBe(false);

    const members = await admin.query(
      `SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1`,
      [`${user.username}_clone`],
    );
    expect(members.rows.map((r) => r.rolname).sort()).toEqual([user.username, second].sort());
  });

  it('is idempotent: every step run twice in a row', async () => {
    const user = await arrangeUser({ alternating: true });
    const handler = alternating();
    const token = await suite.player.startRotation(user.arn);
    for (const step of STEPS) {
      await handler(suite.player.event(user.arn, token, step), lambdaContext());
      await handler(suite.player.event(user.arn, token, step), lambdaContext());
    }
    const now = await current(user.arn);
    expect(await logsIn(now)).toBe(true);
    expect(await logsIn(user)).toBe(true);
  });

  it('keeps the current login working through a crash between setSecret and finishSecret', async () => {
    const user = await arrangeUser({ alternating: true });
    const token = await suite.player.startRotation(user.arn);
    await suite.player.runSteps(alternating(), user.arn, token, ['createSecret', 'setSecret']);
    expect(await logsIn(await current(user.arn))).toBe(true);
    await suite.player.runSteps(alternating(), user.arn, token);
    const now = await current(user.arn);
    expect(now.username).toBe(`${user.username}_clone`);
    expect(await logsIn(now)).toBe(true);
  });

  it('rotates a user name that needs quoting and one that tries SQL injection', async () => {
    for (const username of [`Odd "Name" ${uniqueName('q')}`, `y'); DROP ROLE postgres; --${uniqueName('')}`]) {
      const user = await arrangeUser({ alternating: true, username });
      await suite.player.rotate(alternating(), user.arn);
      const now = await current(user.arn);
      expect(now.username).toBe(`${username}_clone`);
      expect(await logsIn(now)).toBe(true);
    }
    expect(await logsIn({ username: 'postgres', password: cluster.superuser.password })).toBe(true);
  });

  it('refuses to use the master secret when the current credential does not log in (no confused deputy)', async () => {
    const user = await arrangeUser({ alternating: true });
    await admin.query(`ALTER ROLE ${ident(user.username)} PASSWORD ${lit(testPassword())}`);
    const token = await suite.player.startRotation(user.arn);
    const handler = alternating();
    await handler(suite.player.event(user.arn, token, 'createSecret'), lambdaContext());
    await expect(handler(suite.player.event(user.arn, token, 'setSecret'), lambdaContext())).rejects.toThrow(
      /AWSCURRENT credential does not log in/,
    );
    const clone = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [`${user.username}_clone`]);
    expect(clone.rowCount).toBe(0);
  });

  it('checks the 63-byte limit for the clone name before creating anything', async () => {
    const atLimit = `a${uniqueName('').replace('_', '')}`.padEnd(57, 'x'); // 57 + '_clone' = 63
    const ok = await arrangeUser({ alternating: true, username: atLimit });
    await suite.player.rotate(alternating(), ok.arn);
    expect((await current(ok.arn)).username).toHaveLength(63);

    const over = `b${uniqueName('').replace('_', '')}`.padEnd(58, 'x'); // 58 + '_clone' = 64
    const tooLong = await arrangeUser({ alternating: true, username: over });
    const token = await suite.player.startRotation(tooLong.arn);
    await expect(
      alternating()(suite.player.event(tooLong.arn, token, 'createSecret'), lambdaContext()),
    ).rejects.toThrow(/username' is too long for alternating users.*64 bytes/);
    expect(await logsIn(tooLong)).toBe(true);
  });

  it('refuses a secret without masterarn, naming the field', async () => {
    const user = await arrangeUser();
    const token = await suite.player.startRotation(user.arn);
    await expect(alternating()(suite.player.event(user.arn, token, 'createSecret'), lambdaContext())).rejects.toThrow(
      /field 'masterarn' is missing/,
    );
    expect(await logsIn(user)).toBe(true);
  });
});

describe('PostgresRotation alternating-users pairing (no confused deputy through the _clone name)', () => {
  /** Roles of a login's direct memberships. */
  async function membershipsOf(role: string): Promise<string[]> {
    const res = await admin.query<{ rolname: string }>(
      `SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1`,
      [role],
    );
    return res.rows.map((r) => r.rolname).sort();
  }

  async function commentOf(role: string): Promise<string | null> {
    const res = await admin.query<{ c: string | null }>(
      "SELECT shobj_description(oid, 'pg_authid') AS c FROM pg_roles WHERE rolname = $1",
      [role],
    );
    return res.rows[0]?.c ?? null;
  }

  async function masterArn(): Promise<string> {
    return suite.secret(uniqueName('master'), {
      engine: 'postgres', host: cluster.host, port: cluster.port,
      username: cluster.superuser.username, password: cluster.superuser.password,
    });
  }

  /**
   * A privileged login `boss` (member of a role that owns a table) and a plain login
   * `boss_clone`, both made by the administrator, not by Rotor.
   */
  async function arrangeForeignPair() {
    const boss = { username: uniqueName('boss'), password: testPassword() };
    const clone = { username: `${boss.username}_clone`, password: testPassword() };
    suite.sensitive(boss.password, clone.password);
    const vault = uniqueName('vault');
    await admin.query(`CREATE ROLE ${ident(vault)}`);
    await admin.query(`CREATE ROLE ${ident(boss.username)} LOGIN CREATEDB PASSWORD ${lit(boss.password)} IN ROLE ${ident(vault)}`);
    await admin.query(`CREATE ROLE ${ident(clone.username)} LOGIN PASSWORD ${lit(clone.password)}`);
    return { boss, clone, vault };
  }

  async function secretFor(login: { username: string; password: string }, master: string): Promise<string> {
    return suite.secret(uniqueName('secret'), {
      engine: 'postgres', host: cluster.host, port: cluster.port, ...login, masterarn: master,
    });
  }

  /** createSecret then setSecret; answers setSecret's error. */
  async function setSecretError(arn: string): Promise<Error> {
    const handler = alternating();
    const token = await suite.player.startRotation(arn);
    await handler(suite.player.event(arn, token, 'createSecret'), lambdaContext());
    const err = await handler(suite.player.event(arn, token, 'setSecret'), lambdaContext()).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err, 'setSecret was expected to refuse').toBeInstanceOf(Error);
    return err!;
  }

  it('refuses a secret for a boss_clone Rotor did not create: boss keeps its password, the clone gets no role', async () => {
    // Prepare: the foreign clone cannot write Rotor's marker on itself (no CREATEROLE).
    const { boss, clone, vault } = await arrangeForeignPair();
    const arn = await secretFor(clone, await masterArn());
    const forged = `rotor-pairing v1 ${JSON.stringify({ base: boss.username, secret: arn })}`;
    const self = await import('pg').then((m) => new m.default.Client({
      host: cluster.host, port: cluster.port, user: clone.username, password: clone.password, database: 'postgres',
    }));
    await self.connect();
    try {
      await expect(self.query(`COMMENT ON ROLE ${ident(clone.username)} IS ${lit(forged)}`)).rejects.toMatchObject({ code: '42501' });
    } finally {
      await self.end();
    }
    // Act
    const err = await setSecretError(arn);
    // Assess
    expect(err.message).toMatch(new RegExp(`login "${clone.username}" has no Rotor pairing marker`));
    expect(err.message).toContain(`alternate of "${boss.username}"`);
    expect(err.message).toContain('Adopting a clone created before pairing markers');
    expect(await logsIn(boss)).toBe(true);
    expect(await logsIn(clone)).toBe(true);
    expect(await membershipsOf(clone.username)).toEqual([]);
    expect(await membershipsOf(boss.username)).toEqual([vault]);
    expect((await current(arn)).password).toBe(clone.password);
  });

  it("refuses a secret for boss whose boss_clone exists and is not Rotor's: the clone keeps its password and roles", async () => {
    const { boss, clone } = await arrangeForeignPair();
    await admin.query(`COMMENT ON ROLE ${ident(clone.username)} IS 'billing reports (made by hand)'`);
    const arn = await secretFor(boss, await masterArn());

    const err = await setSecretError(arn);

    expect(err.message).toMatch(new RegExp(`login "${clone.username}" has no Rotor pairing marker \\(the role comment holds something else\\)`));
    expect(await logsIn(clone)).toBe(true);
    expect(await logsIn(boss)).toBe(true);
    expect(await membershipsOf(clone.username)).toEqual([]);
    expect(await commentOf(clone.username)).toBe('billing reports (made by hand)');
  });

  it('recognises the pair it created on every rotation, back and forth, within the login budget', async () => {
    const user = await arrangeUser({ alternating: true });
    const handler = alternating();
    const seen: Array<{ username: string; password: string; dbname: string }> = [];
    for (let i = 0; i < 4; i++) {
      const { outcomes } = await suite.player.rotate(handler, user.arn);
      expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
      expect(outcomes.reduce((n, o) => n + o.logins, 0)).toBeLessThanOrEqual(3);
      // 10, and finishSecret's TagResource of the keyed fingerprint tags.
      expect(outcomes.reduce((n, o) => n + o.secretsManagerCalls, 0)).toBeLessThanOrEqual(11);
      const now = await current(user.arn);
      expect(now.username).toBe(i % 2 === 0 ? `${user.username}_clone` : user.username);
      expect(await logsIn(now)).toBe(true);
      if (seen.length > 0) expect(await logsIn(seen.at(-1)!)).toBe(true);
      seen.push(now);
    }
    // The marker binds the clone to its base login and to this secret.
    expect(await commentOf(`${user.username}_clone`)).toBe(
      `rotor-pairing v1 ${JSON.stringify({ base: user.username, secret: user.arn })}`,
    );
    expect(await commentOf(user.username)).toBeNull();
  });

  it('refuses a pair whose marker names another secret or another base login', async () => {
    // Prepare: secret A makes the pair; secret B names the same logins with working passwords.
    const user = await arrangeUser({ alternating: true });
    await suite.player.rotate(alternating(), user.arn);
    const clone = await current(user.arn);
    const master = await masterArn();
    const forBase = await secretFor({ username: user.username, password: user.password }, master);
    const forClone = await secretFor({ username: clone.username, password: clone.password }, master);
    // Act / Assess: neither B reaches the master.
    for (const arn of [forBase, forClone]) {
      const err = await setSecretError(arn);
      expect(err.message).toMatch(new RegExp(`login "${clone.username}" has a Rotor pairing marker \\(the role comment\\) for another secret, not this one`));
    }
    expect(await logsIn(clone)).toBe(true);
    expect(await logsIn(user)).toBe(true);

    // A marker with this secret's ARN but another base login (written by hand) is refused too.
    const other = uniqueName('other');
    await admin.query(
      `COMMENT ON ROLE ${ident(clone.username)} IS ${lit(`rotor-pairing v1 ${JSON.stringify({ base: other, secret: forClone })}`)}`,
    );
    const err = await setSecretError(forClone);
    expect(err.message).toContain(`for another base login, not "${user.username}"`);
    expect(await logsIn(user)).toBe(true);
    // Secret A still rotates once its own marker is back (the README's adoption statement).
    await admin.query(
      `COMMENT ON ROLE ${ident(clone.username)} IS ${lit(`rotor-pairing v1 ${JSON.stringify({ base: user.username, secret: user.arn })}`)}`,
    );
    await suite.player.rotate(alternating(), user.arn);
    const back = await current(user.arn);
    expect(back.username).toBe(user.username);
    expect(await logsIn(back)).toBe(true);
    expect(await logsIn(clone)).toBe(true);
  });

  it('adopts a clone made before pairing markers with the README statement, and refuses it before', async () => {
    // A pair as an earlier Rotor left it: the clone is a member of the user, no comment.
    const user = await arrangeUser({ alternating: true });
    const clone = { username: `${user.username}_clone`, password: testPassword() };
    suite.sensitive(clone.password);
    await admin.query(`CREATE ROLE ${ident(clone.username)} LOGIN PASSWORD ${lit(clone.password)} IN ROLE ${ident(user.username)}`);
    const err = await setSecretError(user.arn);
    expect(err.message).toContain('has no Rotor pairing marker (the role comment)');
    expect(await logsIn(clone)).toBe(true);

    // The README's statement, run as the master.
    await admin.query(
      `COMMENT ON ROLE ${ident(clone.username)} IS ${lit(`rotor-pairing v1 {"base":"${user.username}","secret":"${user.arn}"}`)}`,
    );
    await suite.player.rotate(alternating(), user.arn);
    const now = await current(user.arn);
    expect(now.username).toBe(clone.username);
    expect(await logsIn(now)).toBe(true);
    expect(await logsIn({ ...now, password: clone.password })).toBe(false);
  });
});

describe('PostgresRotation fingerprint tags (keyed: a leaked connection string names its secret)', () => {
  const tagsOf = async (arn: string) => new Map(((await suite.player.describe(arn)).Tags ?? []).map((t) => [t.Key!, t.Value!]));

  for (const strategy of ['single-user', 'alternating-users'] as const) {
    it(`${strategy}: finishSecret tags the keyed fingerprints of the new and the old password, never a plain SHA-256`, async () => {
      const user = await arrangeUser({ alternating: strategy === 'alternating-users' });
      await suite.player.rotate(strategy === 'single-user' ? single() : alternating(), user.arn);
      const now = await current(user.arn);
      expect(await logsIn(now)).toBe(true);
      const tags = await tagsOf(user.arn);
      const key = suite.fingerprintKey.key;
      expect(tags.get(RotorTags.FINGERPRINT_CURRENT)).toBe(key.fingerprint(now.password));
      expect(tags.get(RotorTags.FINGERPRINT_PREVIOUS)).toBe(key.fingerprint(user.password));
      for (const password of [now.password, user.password]) {
        expect([...tags.values()].join(' ')).not.toContain(plainFingerprint(password));
      }
      // A scanner's find of the new password maps to this secret, as AWSCURRENT.
      expect(heldFingerprint(tags, candidateFingerprints(now.password, [key]))).toEqual({ fingerprint: key.fingerprint(now.password), which: 'current' });
      expect(heldFingerprint(tags, candidateFingerprints(testPassword(), [key]))).toBeUndefined();
    });
  }

  it('a key secret the function cannot read does not fail the rotation: it finishes, stale fingerprint tags are removed, the error names the variable and the permission', async () => {
    const user = await arrangeUser();
    // A first rotation with the key: the secret carries fingerprint tags.
    await suite.player.rotate(single(), user.arn);
    expect((await tagsOf(user.arn)).get(RotorTags.FINGERPRINT_CURRENT)).toMatch(/^k1:/);
    const proxy = await startRefusingProxy(suite.moto.endpoint);
    try {
      const keyArn = suite.fingerprintKey.arn;
      proxy.intercept((operation, body) => (operation === 'GetSecretValue' && body.SecretId === keyArn ? 'AccessDeniedException' : undefined));
      const denied = suite.captured(
        createRotationHandler(postgresKind, { client: smClient(proxy.endpoint), env: { ...suite.fingerprintKey.env, ROTATION_STRATEGY: 'single-user' } }),
      );
      const { outcomes } = await suite.player.rotate(denied, user.arn);
      expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
      const now = await current(user.arn);
      expect(await logsIn(now)).toBe(true);
      const tags = await tagsOf(user.arn);
      expect(tags.has(RotorTags.FINGERPRINT_CURRENT)).toBe(false);
      expect(tags.has(RotorTags.FINGERPRINT_PREVIOUS)).toBe(false);
      expect(tags.has(RotorTags.LAST_FAILURE)).toBe(false);
      const logged = suite.logs.text();
      expect(logged).toContain('fingerprint tags not written: the rotation finishes without them');
      expect(logged).toContain(`ROTOR_FINGERPRINT_KEY_ARN): cannot read the fingerprint key secret ${keyArn}: access denied (secretsmanager:GetSecretValue on it`);
      expect(logged).toContain('FingerprintTagsSkipped');
    } finally {
      await proxy.close();
    }
  });

  it('without ROTOR_FINGERPRINT_KEY_ARN: rotates, writes no fingerprint tag, and says so', async () => {
    const user = await arrangeUser();
    const keyless = suite.captured(createRotationHandler(postgresKind, { client: smClient(suite.moto.endpoint), env: { ROTATION_STRATEGY: 'single-user' } }));
    const { outcomes } = await suite.player.rotate(keyless, user.arn);
    expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
    expect([...(await tagsOf(user.arn)).keys()].filter((k) => k.startsWith('rotor:fp-'))).toEqual([]);
    expect(suite.logs.text()).toContain('no fingerprint key configured (ROTOR_FINGERPRINT_KEY_ARN): fingerprint tags are not written');
  });
});
