import { tokenize } from './grants.js';
import { accountName, hexLiteral } from './sql.js';

/**
 * The account options a clone must share with the user it stands in for, read from what
 * `SHOW CREATE USER` prints on both MariaDB (10.4+) and MySQL (5.7, 8): resource limits, the
 * account lock, the password-expiry policy and (MySQL 8) the other password options. The text
 * is tokenized (see grants.ts), so a quoted name or authentication string cannot be read as a
 * clause. Nothing here reads or returns a password hash.
 */

/** Resource limits, as `WITH ...` prints and takes them; 0 means "no limit". */
export const LIMITS = [
  'MAX_QUERIES_PER_HOUR',
  'MAX_UPDATES_PER_HOUR',
  'MAX_CONNECTIONS_PER_HOUR',
  'MAX_USER_CONNECTIONS',
  /** MariaDB only (seconds, a decimal). */
  'MAX_STATEMENT_TIME',
] as const;
export type LimitName = (typeof LIMITS)[number];

/** MySQL 8's password options besides expiry, with the value an absent clause means. */
export const PASSWORD_OPTIONS = {
  'PASSWORD HISTORY': 'DEFAULT',
  'PASSWORD REUSE INTERVAL': 'DEFAULT',
  'PASSWORD REQUIRE CURRENT': 'DEFAULT',
  FAILED_LOGIN_ATTEMPTS: '0',
  PASSWORD_LOCK_TIME: '0',
} as const;
export type PasswordOptionName = keyof typeof PASSWORD_OPTIONS;

/** The password-expiry policy: `PASSWORD EXPIRE NEVER | DEFAULT | INTERVAL n DAY`. */
export type ExpiryPolicy = 'NEVER' | 'DEFAULT' | { readonly intervalDays: number };

export interface AccountOptions {
  /** Every limit, '0' when the server prints none (MAX_STATEMENT_TIME normalised: '1.5'). */
  readonly limits: Readonly<Record<LimitName, string>>;
  readonly locked: boolean;
  /**
   * The policy; undefined when the server printed only `PASSWORD EXPIRE` (the password is
   * expired now and MySQL then prints no policy): unknown, so not copied.
   */
  readonly expiry: ExpiryPolicy | undefined;
  /** The account's password is expired now (never copied: the clone must keep a working password). */
  readonly expiredNow: boolean;
  /** MySQL 8 only: the clauses the server printed (absent ones at their defaults). */
  readonly passwordOptions: Readonly<Record<PasswordOptionName, string>>;
}

type Token = ReturnType<typeof tokenize>[number];

const word = (t: Token | undefined, ...values: string[]) => t !== undefined && t.kind === 'word' && values.includes(t.value);

/** A number as printed: `100`, `1.500000` (tokenized as 1 . 500000); the index after it. */
function numberAt(tokens: Token[], at: number): { value: string; next: number } | undefined {
  const t = tokens[at];
  if (!t || t.kind !== 'word' || !/^\d+$/.test(t.value)) return undefined;
  const dot = tokens[at + 1];
  const frac = tokens[at + 2];
  if (dot?.kind === 'punct' && dot.value === '.' && frac?.kind === 'word' && /^\d+$/.test(frac.value) && dot.start === t.end) {
    return { value: `${t.value}.${frac.value}`, next: at + 3 };
  }
  return { value: t.value, next: at + 1 };
}

/** `1.500000` → `1.5`, `2.000000` → `2`, `100` → `100`: equal limits compare equal. */
function normalise(value: string): string {
  if (!value.includes('.')) return value.replace(/^0+(?=\d)/, '');
  const [whole = '0', frac = ''] = value.split('.');
  const f = frac.replace(/0+$/, '');
  return `${whole.replace(/^0+(?=\d)/, '')}${f ? `.${f}` : ''}`;
}

/**
 * Reads the options of the rows of `SHOW CREATE USER` (MariaDB adds a second row,
 * `ALTER USER ... PASSWORD EXPIRE INTERVAL n DAY`, when the password is expired: the policy is
 * read from there).
 */
export function parseAccountOptions(rows: readonly string[], backslashEscapes = true): AccountOptions {
  const limits = Object.fromEntries(LIMITS.map((l) => [l, '0'])) as Record<LimitName, string>;
  const passwordOptions: Record<PasswordOptionName, string> = { ...PASSWORD_OPTIONS };
  let locked = false;
  let expiry: ExpiryPolicy | undefined = 'DEFAULT';
  let expiredNow = false;
  let policySeen = false;
  for (const row of rows) {
    const tokens = tokenize(row, backslashEscapes);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t.kind !== 'word') continue;
      if ((LIMITS as readonly string[]).includes(t.value)) {
        const n = numberAt(tokens, i + 1);
        if (n) {
          limits[t.value as LimitName] = normalise(n.value);
          i = n.next - 1;
        }
        continue;
      }
      if (t.value === 'ACCOUNT' && word(tokens[i + 1], 'LOCK', 'UNLOCK')) {
        locked = tokens[i + 1]!.value === 'LOCK';
        i++;
        continue;
      }
      if (t.value === 'FAILED_LOGIN_ATTEMPTS' || t.value === 'PASSWORD_LOCK_TIME') {
        const n = numberAt(tokens, i + 1);
        const value = n?.value ?? (word(tokens[i + 1], 'UNBOUNDED') ? 'UNBOUNDED' : undefined);
        if (value !== undefined) {
          passwordOptions[t.value] = value;
          i = n ? n.next - 1 : i + 1;
        }
        continue;
      }
      if (t.value !== 'PASSWORD') continue;
      const next = tokens[i + 1];
      if (word(next, 'EXPIRE')) {
        const what = tokens[i + 2];
        if (word(what, 'NEVER', 'DEFAULT')) {
          expiry = what!.value as 'NEVER' | 'DEFAULT';
          policySeen = true;
          i += 2;
        } else if (word(what, 'INTERVAL')) {
          const n = numberAt(tokens, i + 3);
          if (n && word(tokens[n.next], 'DAY')) {
            expiry = { intervalDays: Number(n.value) };
            policySeen = true;
            i = n.next;
          }
        } else {
          expiredNow = true;
          i += 1;
        }
        continue;
      }
      if (word(next, 'HISTORY')) {
        const n = numberAt(tokens, i + 2);
        passwordOptions['PASSWORD HISTORY'] = n?.value ?? 'DEFAULT';
        i = n ? n.next - 1 : i + 2;
        continue;
      }
      if (word(next, 'REUSE') && word(tokens[i + 2], 'INTERVAL')) {
        const n = numberAt(tokens, i + 3);
        if (n && word(tokens[n.next], 'DAY')) {
          passwordOptions['PASSWORD REUSE INTERVAL'] = `${n.value} DAY`;
          i = n.next;
        } else {
          passwordOptions['PASSWORD REUSE INTERVAL'] = 'DEFAULT';
          i += 3;
        }
        continue;
      }
      if (word(next, 'REQUIRE') && word(tokens[i + 2], 'CURRENT')) {
        const how = tokens[i + 3];
        // Bare `PASSWORD REQUIRE CURRENT` means required.
        passwordOptions['PASSWORD REQUIRE CURRENT'] = word(how, 'DEFAULT', 'OPTIONAL') ? how!.value : '';
        i += word(how, 'DEFAULT', 'OPTIONAL') ? 3 : 2;
      }
    }
  }
  // Expired now and no policy printed (MySQL): the policy is unknown.
  if (expiredNow && !policySeen) expiry = undefined;
  return { limits, locked, expiry, expiredNow, passwordOptions };
}

export function expiryClause(policy: ExpiryPolicy): string {
  return typeof policy === 'string' ? `PASSWORD EXPIRE ${policy}` : `PASSWORD EXPIRE INTERVAL ${policy.intervalDays} DAY`;
}

const sameExpiry = (a: ExpiryPolicy | undefined, b: ExpiryPolicy | undefined) =>
  (a === undefined && b === undefined) ||
  (a !== undefined && b !== undefined && expiryClause(a) === expiryClause(b));

function passwordOptionClause(name: PasswordOptionName, value: string): string {
  if (name === 'PASSWORD REQUIRE CURRENT') return value ? `${name} ${value}` : name;
  return `${name} ${value}`;
}

/** What the clone needs to match the user, and what was left as it is. */
export interface OptionsSync {
  /** One `ALTER USER clone ...` statement, or undefined when nothing differs. */
  readonly statement?: string;
  /** Names of what the statement changes (`MAX_USER_CONNECTIONS`, `ACCOUNT LOCK`, `PASSWORD EXPIRE`, ...): never a value. */
  readonly changed: string[];
  /** Names of what differs and was not changed, each with why. */
  readonly skipped: Array<{ readonly option: string; readonly reason: string }>;
}

/**
 * The statement that makes the clone's limits, lock and password policy those of the user.
 * A limit the user no longer has is reset to 0; MAX_STATEMENT_TIME is MariaDB's, the other
 * password options MySQL's. The expiry policy is never `PASSWORD EXPIRE` (expired now), and
 * is not changed when `mayExpireClone` says the new policy would leave the clone's current
 * password expired (it is applied at the rotation that gives the clone a new password).
 */
export function optionsSyncStatement(
  flavour: 'mysql' | 'mariadb',
  wanted: AccountOptions,
  have: AccountOptions,
  clone: { user: string; host: string },
  mayExpireClone: (policy: ExpiryPolicy) => boolean = () => false,
): OptionsSync {
  const changed: string[] = [];
  const skipped: Array<{ option: string; reason: string }> = [];
  const limits: string[] = [];
  for (const name of LIMITS) {
    if (name === 'MAX_STATEMENT_TIME' && flavour !== 'mariadb') continue;
    if (wanted.limits[name] !== have.limits[name]) {
      limits.push(`${name} ${wanted.limits[name]}`);
      changed.push(name);
    }
  }
  const options: string[] = [];
  if (wanted.expiry === undefined) {
    if (wanted.expiredNow) skipped.push({ option: 'PASSWORD EXPIRE', reason: "the user's password is expired and the server prints no policy" });
  } else if (!sameExpiry(wanted.expiry, have.expiry)) {
    if (mayExpireClone(wanted.expiry)) {
      skipped.push({
        option: 'PASSWORD EXPIRE',
        reason: "the clone's current password would be expired under the user's policy; applied when the clone next gets a password",
      });
    } else {
      options.push(expiryClause(wanted.expiry));
      changed.push('PASSWORD EXPIRE');
    }
  }
  if (flavour === 'mysql') {
    for (const name of Object.keys(PASSWORD_OPTIONS) as PasswordOptionName[]) {
      if (wanted.passwordOptions[name] !== have.passwordOptions[name]) {
        options.push(passwordOptionClause(name, wanted.passwordOptions[name]));
        changed.push(name);
      }
    }
  }
  if (wanted.locked !== have.locked) {
    options.push(wanted.locked ? 'ACCOUNT LOCK' : 'ACCOUNT UNLOCK');
    changed.push(wanted.locked ? 'ACCOUNT LOCK' : 'ACCOUNT UNLOCK');
  }
  if (limits.length === 0 && options.length === 0) return { changed, skipped };
  const parts = [`ALTER USER ${accountName(clone.user, clone.host)}`];
  if (limits.length > 0) parts.push(`WITH ${limits.join(' ')}`);
  parts.push(...options);
  return { statement: parts.join(' '), changed, skipped };
}

/**
 * The seconds since the account's password was last changed and the server's
 * default_password_lifetime (days, 0 = never): MariaDB keeps the time in mysql.global_priv's
 * JSON, MySQL in mysql.user. Columns `age` and `defaultDays`; no row for an unknown account.
 */
export function passwordAgeStatement(flavour: 'mysql' | 'mariadb', account: { user: string; host: string }): string {
  const where = `WHERE User = ${hexLiteral(account.user)} AND Host = ${hexLiteral(account.host)}`;
  return flavour === 'mariadb'
    ? `SELECT UNIX_TIMESTAMP() - CAST(JSON_VALUE(Priv, '$.password_last_changed') AS UNSIGNED) AS age,
              @@global.default_password_lifetime AS defaultDays FROM mysql.global_priv ${where}`
    : `SELECT UNIX_TIMESTAMP() - UNIX_TIMESTAMP(password_last_changed) AS age,
              @@global.default_password_lifetime AS defaultDays FROM mysql.user ${where}`;
}

/**
 * Whether a password `ageSeconds` old is expired under `policy`, or would be within a day
 * (`defaultDays` for DEFAULT; 0 days means never).
 */
export function expiresUnder(policy: ExpiryPolicy, ageSeconds: number, defaultDays: number): boolean {
  const days = policy === 'NEVER' ? 0 : policy === 'DEFAULT' ? defaultDays : policy.intervalDays;
  if (!(days > 0)) return false;
  return ageSeconds + 86_400 >= days * 86_400;
}

/** Open sessions of one login (by user name), Rotor's own connection excepted: column `n`. */
export function sessionCountStatement(user: string): string {
  return `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ${hexLiteral(user)} AND ID <> CONNECTION_ID()`;
}

/**
 * Views, routines, triggers and events whose DEFINER is `account` (as information_schema
 * prints it, `user@host`): columns `type`, `db`, `name`. Names only, no definitions.
 */
export function definerObjectsStatement(account: { user: string; host: string }): string {
  const definer = hexLiteral(`${account.user}@${account.host}`);
  return [
    `SELECT 'VIEW' AS type, TABLE_SCHEMA AS db, TABLE_NAME AS name FROM information_schema.VIEWS WHERE DEFINER = ${definer}`,
    `SELECT ROUTINE_TYPE, ROUTINE_SCHEMA, ROUTINE_NAME FROM information_schema.ROUTINES WHERE DEFINER = ${definer}`,
    `SELECT 'TRIGGER', TRIGGER_SCHEMA, TRIGGER_NAME FROM information_schema.TRIGGERS WHERE DEFINER = ${definer}`,
    `SELECT 'EVENT', EVENT_SCHEMA, EVENT_NAME FROM information_schema.EVENTS WHERE DEFINER = ${definer}`,
  ].join('\nUNION ALL ');
}
