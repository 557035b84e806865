import type pg from 'pg';
import { RotationStepError } from '../core/errors.js';
import type { KindContext } from '../core/types.js';

/**
 * Making `app_clone` stand in for `app` (alternating users), beyond memberships: the user's
 * per-role settings, its role attributes, and one owner for every object either login creates.
 * Everything here runs in the master's transaction, after the pairing check, and is re-synced on
 * every rotation (added, changed and removed). Only names are logged, never a setting's value.
 *
 * Ownership: the clone's sessions run as the user's role, by a per-role setting Rotor keeps on
 * the clone, `ALTER ROLE app_clone SET role = 'app'` (the clone is a member of `app`). So what a
 * client creates through either login is owned by `app`, `app`'s default privileges apply to it,
 * both logins can use, ALTER and DROP it, and `current_user` (row-level security policies, audit
 * triggers) is `app` for both; `session_user` and pg_stat_activity still tell the logins apart.
 * `RESET ROLE`, `RESET ALL` and `DISCARD ALL` (connection poolers) return to the per-role value,
 * so a pooled clone session stays `app`. A shared owner role would instead mean moving every
 * object `app` owns to a new role and changing the user's own setup; this needs nothing but the
 * membership the clone already has. If the user itself runs as another role (its own
 * `ALTER ROLE app SET role = 'owner'`), the clone runs as that role too, so both still create
 * objects as one owner.
 */

/** A setting of a role: in every database (`database` null) or in one. */
interface Scoped<T> {
  readonly database: string | null;
  readonly values: T;
}

type RoleSettings = Map<string | null, Map<string, string>>;

/**
 * Variables PostgreSQL flags GUC_LIST_QUOTE (as pg_dump's variable_is_guc_list_quote): their
 * stored value is a list of quoted identifiers, so it is written back one literal per element;
 * one literal for the whole text would make `app, public` a single schema name.
 */
const LIST_QUOTE = new Set([
  'local_preload_libraries',
  'search_path',
  'session_preload_libraries',
  'shared_preload_libraries',
  'temp_tablespaces',
  'unix_socket_directories',
]);

/** Rotor's own setting on the clone: the role its sessions run as. */
export const RUNS_AS_SETTING = 'role';

/** PostgreSQL's "insufficient privilege". */
const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * Splits a GUC_LIST_QUOTE value as PostgreSQL stored it (flatten_set_variable_args: elements
 * joined by ", ", each double-quoted when needed, `""` for a quote inside). Unquoted elements
 * are kept as they are (not downcased), as pg_dump's SplitGUCList. Undefined when malformed.
 */
export function splitGucList(raw: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  const space = (c: string | undefined) => c !== undefined && /\s/.test(c);
  while (space(raw[i])) i++;
  if (i === raw.length) return out;
  for (;;) {
    let element = '';
    if (raw[i] === '"') {
      i++;
      for (;;) {
        if (i >= raw.length) return undefined;
        if (raw[i] === '"') {
          if (raw[i + 1] === '"') {
            element += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        element += raw[i++];
      }
    } else {
      while (i < raw.length && raw[i] !== ',' && !space(raw[i])) element += raw[i++];
      if (element === '') return undefined;
    }
    out.push(element);
    while (space(raw[i])) i++;
    if (i === raw.length) return out;
    if (raw[i] !== ',') return undefined;
    i++;
    while (space(raw[i])) i++;
  }
}

function valueSql(client: pg.Client, name: string, value: string): string {
  if (LIST_QUOTE.has(name.toLowerCase())) {
    const parts = splitGucList(value);
    if (parts && parts.length > 0) return parts.map((p) => client.escapeLiteral(p)).join(', ');
  }
  return client.escapeLiteral(value);
}

/** Every per-role setting of `role` (pg_db_role_setting), by database (null: every database). */
async function roleSettings(client: pg.Client, role: string): Promise<RoleSettings> {
  const res = await client.query<{ database: string | null; config: string[] | null }>(
    `SELECT d.datname AS database, s.setconfig AS config
       FROM pg_catalog.pg_db_role_setting s
       JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
       LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
      WHERE r.rolname = $1 AND (s.setdatabase = 0 OR d.oid IS NOT NULL)`,
    [role],
  );
  const settings: RoleSettings = new Map();
  for (const row of res.rows) {
    const values = new Map<string, string>();
    for (const item of row.config ?? []) {
      const eq = item.indexOf('=');
      if (eq > 0) values.set(item.slice(0, eq), item.slice(eq + 1));
    }
    settings.set(row.database, values);
  }
  return settings;
}

/** How a setting is named in the log: its name, and its database unless it applies in all. */
function settingLabel(database: string | null, name: string): string {
  return database === null ? name : `${name} (database ${database})`;
}

/** What one sync did, for the log: names only. */
export interface SyncReport {
  settingsSet: string[];
  settingsReset: string[];
  attributes: string[];
  runsAs?: string;
  notSynced: string[];
  ownedByClone?: OwnedObjects;
  reassigned?: number;
}

export function emptyReport(): SyncReport {
  return { settingsSet: [], settingsReset: [], attributes: [], notSynced: [] };
}

/**
 * One catalog change the master may be refused (a superuser-only parameter, an attribute it
 * cannot grant): run in a savepoint, so a refusal is reported and the rest of the sync goes on.
 * Any other failure fails the step, naming what was being synced but not the server's message,
 * which may quote a setting's value.
 */
async function attempt(client: pg.Client, sql: string, what: string, ctx: KindContext): Promise<boolean> {
  await client.query('SAVEPOINT rotor_sync');
  try {
    await client.query(sql);
  } catch (err) {
    await client.query('ROLLBACK TO SAVEPOINT rotor_sync');
    const code = (err as { code?: string }).code;
    if (code === INSUFFICIENT_PRIVILEGE) return false;
    throw new RotationStepError(`secret ${ctx.secretArn}: could not sync ${what} onto the alternate login (SQLSTATE ${code ?? 'unknown'})`);
  }
  await client.query('RELEASE SAVEPOINT rotor_sync');
  return true;
}

/**
 * The clone gets every per-role setting of the user, globally and in each database, and loses
 * those the user no longer has; its global `role` is the user's own global `role` setting if it
 * has one, else the user's role (Rotor's ownership setting, never removed by the sync).
 */
export async function syncSettings(
  client: pg.Client,
  base: string,
  clone: string,
  report: SyncReport,
  ctx: KindContext,
): Promise<void> {
  const wanted = await roleSettings(client, base);
  const have = await roleSettings(client, clone);
  const everywhere = new Map(wanted.get(null) ?? []);
  if (!everywhere.has(RUNS_AS_SETTING)) everywhere.set(RUNS_AS_SETTING, base);
  wanted.set(null, everywhere);
  report.runsAs = everywhere.get(RUNS_AS_SETTING);

  const cloneIdent = client.escapeIdentifier(clone);
  const scopes = new Set([...wanted.keys(), ...have.keys()]);
  for (const database of scopes) {
    const want = wanted.get(database) ?? new Map<string, string>();
    const got = have.get(database) ?? new Map<string, string>();
    const target = database === null ? cloneIdent : `${cloneIdent} IN DATABASE ${client.escapeIdentifier(database)}`;
    for (const [name, value] of want) {
      if (got.get(name) === value) continue;
      const label = settingLabel(database, name);
      const sql = `ALTER ROLE ${target} SET ${client.escapeIdentifier(name)} TO ${valueSql(client, name, value)}`;
      if (await attempt(client, sql, `setting ${label}`, ctx)) report.settingsSet.push(label);
      else report.notSynced.push(`setting ${label} (the master may not set it)`);
    }
    for (const name of got.keys()) {
      if (want.has(name)) continue;
      const label = settingLabel(database, name);
      const sql = `ALTER ROLE ${target} RESET ${client.escapeIdentifier(name)}`;
      if (await attempt(client, sql, `setting ${label}`, ctx)) report.settingsReset.push(label);
      else report.notSynced.push(`setting ${label} (the master may not reset it)`);
    }
  }
}

interface RoleRow {
  rolname: string;
  rolsuper: boolean;
  rolinherit: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
  rolconnlimit: number;
  validuntil: string;
  me: string;
}

type Flag = 'rolinherit' | 'rolcreaterole' | 'rolcreatedb' | 'rolreplication' | 'rolbypassrls';

/**
 * Attributes copied to the clone. `grant`: what the master needs besides being a superuser:
 * CREATEROLE for the ordinary ones; REPLICATION and BYPASSRLS only a superuser may grant
 * (PostgreSQL 16+: also a CREATEROLE role that has them itself), so Rotor tries them only then.
 * SUPERUSER is never granted by Rotor, and LOGIN is the clone's own (always on).
 */
const FLAGS: ReadonlyArray<{ name: string; column: Flag; off: string; grant: 'createrole' | 'own' }> = [
  { name: 'INHERIT', column: 'rolinherit', off: 'NOINHERIT', grant: 'createrole' },
  { name: 'CREATEDB', column: 'rolcreatedb', off: 'NOCREATEDB', grant: 'createrole' },
  { name: 'CREATEROLE', column: 'rolcreaterole', off: 'NOCREATEROLE', grant: 'createrole' },
  { name: 'REPLICATION', column: 'rolreplication', off: 'NOREPLICATION', grant: 'own' },
  { name: 'BYPASSRLS', column: 'rolbypassrls', off: 'NOBYPASSRLS', grant: 'own' },
];

/**
 * The clone gets the user's CONNECTION LIMIT (each login has the limit; the two together may
 * hold twice as many sessions while clients move over), VALID UNTIL, and the attributes of FLAGS
 * the master may set. What the master may not set is reported, never forced.
 */
export async function syncAttributes(
  client: pg.Client,
  base: string,
  clone: string,
  report: SyncReport,
  ctx: KindContext,
): Promise<void> {
  const res = await client.query<RoleRow>(
    `SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolconnlimit,
            COALESCE(rolvaliduntil::text, 'infinity') AS validuntil, current_user AS me
       FROM pg_catalog.pg_roles WHERE rolname IN ($1, $2) OR rolname = current_user`,
    [base, clone],
  );
  const row = (name: string) => res.rows.find((r) => r.rolname === name);
  const user = row(base);
  const alt = row(clone);
  const master = res.rows[0] ? row(res.rows[0].me) : undefined;
  if (!user || !alt) throw new RotationStepError(`secret ${ctx.secretArn}: the user or its alternate login does not exist`);
  const cloneIdent = client.escapeIdentifier(clone);
  const alter = async (name: string, clause: string) => {
    if (await attempt(client, `ALTER ROLE ${cloneIdent} WITH ${clause}`, `attribute ${name}`, ctx)) report.attributes.push(name);
    else report.notSynced.push(`attribute ${name} (the master may not set it)`);
  };
  for (const flag of FLAGS) {
    if (user[flag.column] === alt[flag.column]) continue;
    const may = master?.rolsuper === true || (master?.rolcreaterole === true && (flag.grant === 'createrole' || master[flag.column]));
    if (!may) {
      report.notSynced.push(`attribute ${flag.name} (the master may not set it)`);
      continue;
    }
    await alter(flag.name, user[flag.column] ? flag.name : flag.off);
  }
  if (user.rolconnlimit !== alt.rolconnlimit) await alter('CONNECTION LIMIT', `CONNECTION LIMIT ${Number(user.rolconnlimit)}`);
  if (user.validuntil !== alt.validuntil) await alter('VALID UNTIL', `VALID UNTIL ${client.escapeLiteral(user.validuntil)}`);
  if (user.rolsuper !== alt.rolsuper) report.notSynced.push('attribute SUPERUSER (Rotor never changes it)');
}

/** Objects a role owns, from pg_shdepend (every database): names where the session can describe them. */
export interface OwnedObjects {
  readonly total: number;
  /** In the master session's database and shared objects: `table public.orders`, at most 50. */
  readonly here: string[];
  /** Elsewhere, counted by database and catalog. */
  readonly elsewhere: Array<Scoped<Record<string, number>>>;
}

const OWNED_LISTED = 50;

export async function ownedObjects(client: pg.Client, role: string): Promise<OwnedObjects> {
  const res = await client.query<{ database: string | null; catalog: string; object: string | null; here: boolean }>(
    `SELECT d.datname AS database, sd.classid::regclass::text AS catalog,
            sd.dbid IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())) AS here,
            CASE WHEN sd.dbid IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))
                 THEN pg_catalog.pg_describe_object(sd.classid, sd.objid, sd.objsubid) END AS object
       FROM pg_catalog.pg_shdepend sd
       JOIN pg_catalog.pg_roles r ON sd.refclassid = 'pg_catalog.pg_authid'::regclass AND sd.refobjid = r.oid
       LEFT JOIN pg_catalog.pg_database d ON d.oid = sd.dbid
      WHERE r.rolname = $1 AND sd.deptype = 'o'
      ORDER BY 1, 2, 4`,
    [role],
  );
  const here: string[] = [];
  const elsewhere = new Map<string, Record<string, number>>();
  for (const r of res.rows) {
    if (r.here) {
      if (here.length < OWNED_LISTED) here.push(r.object ?? r.catalog);
      continue;
    }
    const counts = elsewhere.get(r.database ?? '') ?? {};
    counts[r.catalog] = (counts[r.catalog] ?? 0) + 1;
    elsewhere.set(r.database ?? '', counts);
  }
  return {
    total: res.rows.length,
    here,
    elsewhere: [...elsewhere].map(([database, values]) => ({ database, values })),
  };
}

/**
 * Opt-in (REASSIGN_CLONE_OBJECTS): `REASSIGN OWNED BY clone TO user` in the master session's
 * database (and shared objects). PostgreSQL asks the master for the privileges of both roles; a
 * master that lacks them (RDS's rds_superuser is not a superuser) but may grant them (CREATEROLE)
 * is made a member for the statement and the membership is taken back in the same transaction,
 * so nobody ever sees it. Answers false when the master is refused.
 */
export async function reassignOwned(client: pg.Client, base: string, clone: string): Promise<boolean> {
  const res = await client.query<{ me: string; base: boolean; clone: boolean }>(
    `SELECT current_user AS me, pg_catalog.pg_has_role(current_user, $1, 'USAGE') AS base,
            pg_catalog.pg_has_role(current_user, $2, 'USAGE') AS clone`,
    [base, clone],
  );
  const row = res.rows[0];
  if (!row) return false;
  const me = client.escapeIdentifier(row.me);
  const missing = [row.base ? undefined : base, row.clone ? undefined : clone].filter((r): r is string => r !== undefined);
  await client.query('SAVEPOINT rotor_reassign');
  try {
    for (const role of missing) await client.query(`GRANT ${client.escapeIdentifier(role)} TO ${me}`);
    await client.query(`REASSIGN OWNED BY ${client.escapeIdentifier(clone)} TO ${client.escapeIdentifier(base)}`);
    for (const role of missing) await client.query(`REVOKE ${client.escapeIdentifier(role)} FROM ${me}`);
  } catch (err) {
    await client.query('ROLLBACK TO SAVEPOINT rotor_reassign');
    if ((err as { code?: string }).code === INSUFFICIENT_PRIVILEGE) return false;
    throw err;
  }
  await client.query('RELEASE SAVEPOINT rotor_reassign');
  return true;
}
