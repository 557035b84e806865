import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RotorMetrics } from '../lambdas/contract/index.js';
import { createPostgresKind, postgresKind } from '../lambdas/postgres/postgresKind.js';
import { adminClient, pgLogin, testPassword, uniqueName, type PostgresCluster } from '../bin/local/postgres.js';
import { useRotationSuite } from './support/rotationSuite.js';

/**
 * Alternating users where the clone is the user to every client (issue 11, PostgreSQL): per-role
 * settings, attributes, one owner for what either login creates, default privileges, the master
 * an RDS-like CREATEROLE role, and the sessions of the login about to change counted.
 */
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

interface Login {
  username: string;
  password: string;
  dbname?: string;
}

type MasterKind = 'superuser' | 'createrole';

/** A role with a password and its own database, a master secret, and an alternating-users secret for it. */
async function arrange(opts: { master?: MasterKind } = {}) {
  const username = uniqueName('app');
  const password = testPassword();
  const dbname = uniqueName('db');
  await admin.query(`CREATE ROLE ${ident(username)} LOGIN PASSWORD ${lit(password)}`);
  await admin.query(`CREATE DATABASE ${ident(dbname)} OWNER ${ident(username)}`);
  let master = { username: cluster.superuser.username, password: cluster.superuser.password };
  if (opts.master === 'createrole') {
    // As RDS/Aurora's master (rds_superuser): CREATEROLE and CREATEDB, not a superuser.
    master = { username: uniqueName('rdsadmin'), password: testPassword() };
    await admin.query(`CREATE ROLE ${ident(master.username)} LOGIN CREATEROLE CREATEDB PASSWORD ${lit(master.password)}`);
  }
  const masterarn = await suite.secret(uniqueName('master'), {
    engine: 'postgres', host: cluster.host, port: cluster.port, ...master,
  });
  const arn = await suite.secret(uniqueName('secret'), {
    engine: 'postgres', host: cluster.host, port: cluster.port, username, password, dbname, masterarn,
  });
  const db = await adminClient(cluster, dbname);
  opened.push(db);
  return { arn, username, password, dbname, clone: `${username}_clone`, master, db };
}

const opened: pg.Client[] = [];
afterAll(async () => {
  await Promise.all(opened.map((c) => c.end().catch(() => undefined)));
});

/** A client session of a login (not Rotor's: its own application_name). */
async function session(login: Login, dbname = login.dbname ?? 'postgres', applicationName = 'orders-api'): Promise<pg.Client> {
  const client = new pg.Client({
    host: cluster.host, port: cluster.port, user: login.username, password: login.password, database: dbname,
    application_name: applicationName,
  });
  client.on('error', () => undefined);
  await client.connect();
  opened.push(client);
  return client;
}

async function value(arn: string, stage = 'AWSCURRENT') {
  return suite.player.value<{ username: string; password: string; dbname: string }>(arn, stage);
}

async function one<T>(client: pg.Client, sql: string): Promise<T> {
  const res = await client.query(sql);
  return Object.values(res.rows[0] as Record<string, unknown>)[0] as T;
}

/** A role's per-role settings as `db|name=value`, sorted (db empty: every database). */
async function settingsOf(role: string): Promise<string[]> {
  const res = await admin.query<{ db: string | null; config: string[] }>(
    `SELECT d.datname AS db, s.setconfig AS config FROM pg_db_role_setting s
       JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase WHERE r.rolname = $1`,
    [role],
  );
  return res.rows.flatMap((r) => r.config.map((c) => `${r.db ?? ''}|${c}`)).sort();
}

async function attributesOf(role: string) {
  const res = await admin.query(
    `SELECT rolinherit, rolcreatedb, rolcreaterole, rolconnlimit, COALESCE(rolvaliduntil, 'infinity') AS validuntil
       FROM pg_roles WHERE rolname = $1`,
    [role],
  );
  return res.rows[0] as Record<string, unknown>;
}

const alternating = () => suite.handler(postgresKind, { ROTATION_STRATEGY: 'alternating-users' });

/** The log lines with this message. */
function logged(message: string): Array<Record<string, unknown>> {
  return suite.logs.records().filter((r) => r.message === message);
}

function metrics(name: string): Array<Record<string, unknown>> {
  return suite.logs.records().filter((r) => name in r);
}

describe('PostgreSQL alternating users: the clone is the user to every client', () => {
  it('after two flips the user\'s settings (global and per database) work through the clone, and a setting removed from the user is removed from the clone', async () => {
    // Prepare: the user's tables sit in its own schema, found through its search_path.
    const user = await arrange();
    const tenant = uniqueName('tenant');
    suite.sensitive(tenant); // a setting's value must never reach a log
    await user.db.query(`CREATE SCHEMA orders AUTHORIZATION ${ident(user.username)}`);
    await user.db.query(`CREATE TABLE orders.items (id int)`);
    await user.db.query(`ALTER TABLE orders.items OWNER TO ${ident(user.username)}`);
    await user.db.query(`INSERT INTO orders.items VALUES (1), (2)`);
    await admin.query(`ALTER ROLE ${ident(user.username)} SET search_path = orders, "$user", public`);
    await admin.query(`ALTER ROLE ${ident(user.username)} IN DATABASE ${ident(user.dbname)} SET statement_timeout = '4321ms'`);
    await admin.query(`ALTER ROLE ${ident(user.username)} SET app.tenant = ${lit(tenant)}`);
    await admin.query(`ALTER ROLE ${ident(user.username)} SET work_mem = '7MB'`);
    const handler = alternating();

    // Act: app -> app_clone -> app.
    await suite.player.rotate(handler, user.arn);
    const clone = await value(user.arn);
    expect(clone.username).toBe(user.clone);
    const first = logged('alternate login synced with the user').at(-1)!;
    expect(first.settingsSet).toEqual(
      expect.arrayContaining(['role', 'search_path', 'app.tenant', 'work_mem', `statement_timeout (database ${user.dbname})`]),
    );
    await suite.player.rotate(handler, user.arn);
    const base = await value(user.arn);
    expect(base.username).toBe(user.username);
    const previous = await value(user.arn, 'AWSPREVIOUS');
    expect(previous.username).toBe(user.clone);

    // Assess: the clone (still working as AWSPREVIOUS) and the user behave the same.
    for (const login of [previous, base]) {
      const c = await session(login, user.dbname);
      expect((await c.query('SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(2);
      expect(await one(c, 'SHOW search_path')).toBe('orders, "$user", public');
      expect(await one(c, 'SHOW statement_timeout')).toBe('4321ms');
      expect(await one(c, "SELECT current_setting('app.tenant')")).toBe(tenant);
      expect(await one(c, 'SHOW work_mem')).toBe('7MB');
      // The per-database setting stays in its database.
      const elsewhere = await session(login, 'postgres');
      expect(await one(elsewhere, 'SHOW statement_timeout')).toBe('0');
      expect(await one(elsewhere, 'SHOW search_path')).toBe('orders, "$user", public');
    }

    // The user loses one setting and changes another; the next rotation follows.
    await admin.query(`ALTER ROLE ${ident(user.username)} RESET work_mem`);
    await admin.query(`ALTER ROLE ${ident(user.username)} IN DATABASE ${ident(user.dbname)} SET statement_timeout = '999ms'`);
    await suite.player.rotate(handler, user.arn);
    const now = await value(user.arn);
    expect(now.username).toBe(user.clone);
    const c = await session(now, user.dbname);
    expect(await one(c, 'SHOW work_mem')).toBe('4MB'); // the server's default, as for the user
    expect(await one(c, 'SHOW statement_timeout')).toBe('999ms');
    const last = logged('alternate login synced with the user').at(-1)!;
    expect(last.settingsReset).toEqual(['work_mem']);
    expect(last.settingsSet).toEqual([`statement_timeout (database ${user.dbname})`]);

    // The clone's settings are the user's, plus Rotor's own `role` (never removed by the sync).
    expect(await settingsOf(user.clone)).toEqual([...(await settingsOf(user.username)), `|role=${user.username}`].sort());
  });

  it('a table created by either login is used and altered by the other, and by the user after flipping back', async () => {
    const user = await arrange();
    const handler = alternating();
    await suite.player.rotate(handler, user.arn);
    const clone = await value(user.arn);
    const viaClone = await session(clone, user.dbname);
    const viaBase = await session(user, user.dbname);

    // The clone's sessions run as the user's role; the login is still the clone.
    expect((await viaClone.query('SELECT session_user AS s, current_user AS c')).rows[0]).toEqual({ s: user.clone, c: user.username });
    await viaClone.query('CREATE TABLE made_by_clone (id int)');
    await viaBase.query('CREATE TABLE made_by_base (id int)');
    const owners = await user.db.query(
      `SELECT relname, pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname IN ('made_by_clone', 'made_by_base') ORDER BY 1`,
    );
    expect(owners.rows).toEqual([
      { relname: 'made_by_base', owner: user.username },
      { relname: 'made_by_clone', owner: user.username },
    ]);
    await viaBase.query('INSERT INTO made_by_clone VALUES (1)');
    await viaBase.query('ALTER TABLE made_by_clone ADD COLUMN by_base text');
    await viaClone.query('INSERT INTO made_by_base VALUES (1)');
    await viaClone.query('ALTER TABLE made_by_base ADD COLUMN by_clone text');
    // A pooler's reset keeps the clone's session as the user.
    await viaClone.query('DISCARD ALL');
    expect(await one(viaClone, 'SELECT current_user')).toBe(user.username);
    await viaClone.query('RESET ROLE');
    expect(await one(viaClone, 'SELECT current_user')).toBe(user.username);

    // Flip back: the user's new password, and both logins still migrate everything.
    await suite.player.rotate(handler, user.arn);
    const back = await value(user.arn);
    expect(back.username).toBe(user.username);
    const base2 = await session(back, user.dbname);
    await base2.query('ALTER TABLE made_by_clone RENAME COLUMN by_base TO migrated');
    await base2.query('CREATE INDEX ON made_by_clone (id)');
    const clone2 = await session(clone, user.dbname);
    await clone2.query('ALTER TABLE made_by_base DROP COLUMN by_clone');
    await clone2.query('DROP TABLE made_by_clone');
    expect((await base2.query('SELECT count(*)::int AS n FROM made_by_base')).rows[0].n).toBe(1);
  });

  it("the user's own `role` setting becomes the clone's (one owner still), and Rotor's comes back when the user drops it", async () => {
    const user = await arrange();
    const owner = uniqueName('owner');
    await admin.query(`CREATE ROLE ${ident(owner)}`);
    await admin.query(`GRANT ${ident(owner)} TO ${ident(user.username)}`);
    await user.db.query(`GRANT CREATE ON SCHEMA public TO ${ident(owner)}`);
    await user.db.query(`CREATE SCHEMA "Odd, Name" AUTHORIZATION ${ident(user.username)}`);
    await admin.query(`ALTER ROLE ${ident(user.username)} SET role = ${lit(owner)}`);
    await admin.query(`ALTER ROLE ${ident(user.username)} SET search_path = "Odd, Name", public`);
    const handler = alternating();
    await suite.player.rotate(handler, user.arn);
    const clone = await value(user.arn);
    const viaClone = await session(clone, user.dbname);
    const viaBase = await session(user, user.dbname);
    for (const c of [viaClone, viaBase]) {
      expect(await one(c, 'SELECT current_user')).toBe(owner);
      expect(await one(c, 'SHOW search_path')).toBe('"Odd, Name", public');
    }
    await viaClone.query('CREATE TABLE public.by_clone (id int)');
    await viaBase.query('CREATE TABLE public.by_base (id int)');
    await viaBase.query('ALTER TABLE public.by_clone ADD COLUMN x int');
    await viaClone.query('ALTER TABLE public.by_base ADD COLUMN x int');
    expect(await settingsOf(user.clone)).toEqual(await settingsOf(user.username));

    // The user stops running as `owner`: the clone runs as the user again (Rotor's setting).
    await admin.query(`ALTER ROLE ${ident(user.username)} RESET role`);
    await suite.player.rotate(handler, user.arn);
    await suite.player.rotate(handler, user.arn);
    expect(await settingsOf(user.clone)).toEqual([...(await settingsOf(user.username)), `|role=${user.username}`].sort());
    const again = await session(await value(user.arn), user.dbname);
    expect(await one(again, 'SELECT current_user')).toBe(user.username);
  });

  it('the clone gets the user\'s CONNECTION LIMIT, VALID UNTIL and attributes, re-synced when they change', async () => {
    const user = await arrange();
    await admin.query(
      `ALTER ROLE ${ident(user.username)} CONNECTION LIMIT 11 VALID UNTIL '2999-01-01 00:00:00+00' CREATEDB NOINHERIT`,
    );
    const handler = alternating();
    await suite.player.rotate(handler, user.arn);
    expect(await attributesOf(user.clone)).toEqual(await attributesOf(user.username));
    expect((await attributesOf(user.clone)).rolconnlimit).toBe(11);
    expect(logged('alternate login synced with the user').at(-1)!.attributes).toEqual(
      expect.arrayContaining(['CONNECTION LIMIT', 'VALID UNTIL', 'CREATEDB', 'INHERIT']),
    );

    await admin.query(`ALTER ROLE ${ident(user.username)} CONNECTION LIMIT -1 VALID UNTIL 'infinity' NOCREATEDB INHERIT`);
    await suite.player.rotate(handler, user.arn);
    await suite.player.rotate(handler, user.arn);
    expect(await attributesOf(user.clone)).toEqual(await attributesOf(user.username));
    expect((await attributesOf(user.clone)).rolconnlimit).toBe(-1);
    expect(await pgLogin(cluster, user.clone, (await value(user.arn)).password, user.dbname)).toBe(true);
  });

  it("the user's default privileges apply to a table created through the clone", async () => {
    const user = await arrange();
    const reader = { username: uniqueName('reader'), password: testPassword() };
    suite.sensitive(reader.password);
    await admin.query(`CREATE ROLE ${ident(reader.username)} LOGIN PASSWORD ${lit(reader.password)}`);
    await user.db.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(user.username)} GRANT SELECT ON TABLES TO ${ident(reader.username)}`);
    await suite.player.rotate(alternating(), user.arn);
    const clone = await value(user.arn);
    const viaClone = await session(clone, user.dbname);
    await viaClone.query('CREATE TABLE reports (id int)');
    await viaClone.query('INSERT INTO reports VALUES (7)');
    const asReader = await session(reader, user.dbname);
    expect((await asReader.query('SELECT id FROM reports')).rows).toEqual([{ id: 7 }]);
    await expect(asReader.query('INSERT INTO reports VALUES (8)')).rejects.toMatchObject({ code: '42501' });
  });

  it('counts the sessions of the login about to get its new password (OldLoginSessions), not Rotor\'s own', async () => {
    const user = await arrange();
    const handler = alternating();
    await suite.player.rotate(handler, user.arn); // the clone does not exist yet: no session
    expect(metrics(RotorMetrics.OLD_LOGIN_SESSIONS).at(-1)).toMatchObject({ [RotorMetrics.OLD_LOGIN_SESSIONS]: 0, kind: 'postgres' });

    // A client still on the user's password a full rotation later, and a session named like Rotor's.
    const stale = await session(user, user.dbname, 'billing-worker');
    await session(user, user.dbname, 'rotor');
    const { outcomes } = await suite.player.rotate(handler, user.arn);
    expect(outcomes.reduce((n, o) => n + o.logins, 0)).toBeLessThanOrEqual(3);
    expect(outcomes.reduce((n, o) => n + o.secretsManagerCalls, 0)).toBeLessThanOrEqual(11); // 10, and the fingerprint tags' TagResource
    expect(metrics(RotorMetrics.OLD_LOGIN_SESSIONS).at(-1)).toMatchObject({ [RotorMetrics.OLD_LOGIN_SESSIONS]: 1, kind: 'postgres' });
    expect(suite.logs.records().filter((r) => r.oldLoginSessions !== undefined).at(-1)).toMatchObject({
      level: 'WARN', login: user.username, oldLoginSessions: 1,
    });
    // Open sessions keep working (PostgreSQL checks a password at login only).
    expect(await one(stale, 'SELECT 1')).toBe(1);
  });

  it('single-user: counts the login\'s other sessions through its own session before changing its password', async () => {
    const user = await arrange();
    await session(user, user.dbname, 'orders-api');
    await session(user, 'postgres', 'orders-api');
    const { outcomes } = await suite.player.rotate(suite.handler(postgresKind, { ROTATION_STRATEGY: 'single-user' }), user.arn);
    expect(outcomes.reduce((n, o) => n + o.logins, 0)).toBeLessThanOrEqual(3);
    expect(metrics(RotorMetrics.OLD_LOGIN_SESSIONS).at(-1)).toMatchObject({ [RotorMetrics.OLD_LOGIN_SESSIONS]: 2, kind: 'postgres' });
    expect(logged('password changed').at(-1)).toMatchObject({ loggedInWith: 'AWSCURRENT', oldLoginSessions: 2 });
  });
});

describe('PostgreSQL alternating users with an RDS-like master (CREATEROLE, not a superuser)', () => {
  it('syncs settings, attributes, memberships and ownership, reports what it may not set, and counts sessions', async () => {
    // Prepare
    const user = await arrange({ master: 'createrole' });
    expect(await one(admin, `SELECT rolsuper FROM pg_roles WHERE rolname = ${lit(user.master.username)}`)).toBe(false);
    const group = uniqueName('writers');
    await admin.query(`CREATE ROLE ${ident(group)}`);
    await admin.query(`GRANT ${ident(group)} TO ${ident(user.username)}`);
    await user.db.query(`CREATE SCHEMA orders AUTHORIZATION ${ident(user.username)}`);
    await admin.query(`ALTER ROLE ${ident(user.username)} SET search_path = orders, public`);
    await admin.query(`ALTER ROLE ${ident(user.username)} IN DATABASE ${ident(user.dbname)} SET statement_timeout = '2500ms'`);
    await admin.query(`ALTER ROLE ${ident(user.username)} CONNECTION LIMIT 9 VALID UNTIL '2998-06-01 00:00:00+00'`);
    // Only a superuser may set these on a role: the clone cannot get them from this master.
    await admin.query(`ALTER ROLE ${ident(user.username)} SET log_statement = 'all'`);
    await admin.query(`ALTER ROLE ${ident(user.username)} BYPASSRLS`);
    const handler = alternating();

    // Act: two flips, within the budgets.
    for (let i = 0; i < 2; i++) {
      const { outcomes } = await suite.player.rotate(handler, user.arn);
      expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
      expect(outcomes.reduce((n, o) => n + o.logins, 0)).toBeLessThanOrEqual(3);
      expect(outcomes.reduce((n, o) => n + o.secretsManagerCalls, 0)).toBeLessThanOrEqual(11); // 10, and the fingerprint tags' TagResource
    }

    // Assess
    const clone = await value(user.arn, 'AWSPREVIOUS');
    expect(clone.username).toBe(user.clone);
    const viaClone = await session(clone, user.dbname);
    expect(await one(viaClone, 'SHOW search_path')).toBe('orders, public');
    expect(await one(viaClone, 'SHOW statement_timeout')).toBe('2500ms');
    expect(await one(viaClone, 'SELECT current_user')).toBe(user.username);
    await viaClone.query('CREATE TABLE t (id int)'); // lands in orders, owned by the user
    const viaBase = await session(await value(user.arn), user.dbname);
    await viaBase.query('ALTER TABLE t ADD COLUMN note text');
    expect(await one(user.db, `SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'orders.t'::regclass`)).toBe(user.username);
    const attrs = await attributesOf(user.clone);
    expect(attrs).toEqual(await attributesOf(user.username));
    expect(attrs.rolconnlimit).toBe(9);
    const members = await admin.query(
      `SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1`,
      [user.clone],
    );
    expect(members.rows.map((r) => r.rolname).sort()).toEqual([user.username, group].sort());
    const warned = logged('the alternate login differs from the user where the master may not change it').at(-1)!;
    expect(warned.notSynced).toEqual(
      expect.arrayContaining(['setting log_statement (the master may not set it)', 'attribute BYPASSRLS (the master may not set it)']),
    );
    expect(await settingsOf(user.clone)).not.toContain('|log_statement=all');
    expect(metrics(RotorMetrics.OLD_LOGIN_SESSIONS)).toHaveLength(2);
  });

  it('reports objects the clone owns from before, and with REASSIGN_CLONE_OBJECTS reassigns them to the user, leaving the master no membership', async () => {
    const user = await arrange({ master: 'createrole' });
    await suite.player.rotate(alternating(), user.arn);
    // As an earlier Rotor left it: a table created through the clone, owned by the clone.
    await user.db.query('CREATE TABLE legacy (id int)');
    await user.db.query(`ALTER TABLE legacy OWNER TO ${ident(user.clone)}`);

    // Default: reported (by database and catalog: the master's session is in another database), not changed.
    await suite.player.rotate(alternating(), user.arn);
    const report = suite.logs.records().filter((r) => typeof r.message === 'string' && r.message.startsWith('the alternate login owns objects')).at(-1)!;
    expect(report).toMatchObject({ level: 'WARN', login: user.clone, objects: 1, elsewhere: [{ database: user.dbname, byCatalog: { pg_class: 1 } }] });
    expect(await one(user.db, `SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'legacy'`)).toBe(user.clone);

    // Opt-in: reassigned in the secret's database by the CREATEROLE master.
    const reassigning = suite.handler(createPostgresKind({ env: { REASSIGN_CLONE_OBJECTS: 'true' } }), { ROTATION_STRATEGY: 'alternating-users' });
    await suite.player.rotate(reassigning, user.arn);
    const done = logged('objects the alternate login owned were reassigned to the user (REASSIGN_CLONE_OBJECTS)').at(-1)!;
    expect(done).toMatchObject({ login: user.clone, objects: 1, inThisDatabase: ['table legacy'], reassigned: 1 });
    expect(await one(user.db, `SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'legacy'`)).toBe(user.username);
    const previous = await value(user.arn, 'AWSPREVIOUS');
    expect(previous.username).toBe(user.username);
    const base = await session(previous, user.dbname);
    await base.query('ALTER TABLE legacy ADD COLUMN migrated boolean');
    const masterRoles = await admin.query(
      `SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1`,
      [user.master.username],
    );
    expect(masterRoles.rows).toEqual([]);
    // Nothing left to report.
    await suite.player.rotate(reassigning, user.arn);
    expect(suite.logs.records().filter((r) => r.objects !== undefined)).toHaveLength(2);
  });
});
