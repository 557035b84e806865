import { accountName } from './sql.js';

/**
 * Copies one account's privileges to another by reading what the server prints
 * (`SHOW GRANTS FOR`, `SHOW CREATE USER`) and writing the difference as GRANT/REVOKE
 * statements. The text is tokenized, never searched with patterns, so a database, table or
 * role name holding SQL words or quotes cannot change what a statement means. Nothing here
 * keeps or returns a password hash: `IDENTIFIED ...` clauses are dropped while reading.
 */

export class GrantParseError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'GrantParseError';
  }
}

interface Token {
  readonly kind: 'word' | 'ident' | 'string' | 'punct';
  /** Unquoted value (identifiers, strings) or the text itself; words upper-cased. */
  readonly value: string;
  readonly start: number;
  readonly end: number;
}

/** Splits a statement the server printed into words, `quoted` identifiers, 'strings' and punctuation. */
export function tokenize(text: string, backslashEscapes = true): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === '`' || c === "'" || c === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new GrantParseError('unterminated quoted text in a grant statement');
        const d = text[i]!;
        if (d === '\\' && c !== '`' && backslashEscapes) {
          value += text[i + 1] ?? '';
          i += 2;
          continue;
        }
        if (d === c) {
          if (text[i + 1] === c) {
            value += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += d;
        i++;
      }
      tokens.push({ kind: c === '`' ? 'ident' : 'string', value, start, end: i });
      continue;
    }
    if (/[A-Za-z0-9_$]/.test(c)) {
      while (i < text.length && /[A-Za-z0-9_$]/.test(text[i]!)) i++;
      tokens.push({ kind: 'word', value: text.slice(start, i).toUpperCase(), start, end: i });
      continue;
    }
    i++;
    tokens.push({ kind: 'punct', value: c, start, end: i });
  }
  return tokens;
}

const isWord = (t: Token | undefined, ...words: string[]): boolean =>
  t !== undefined && t.kind === 'word' && words.includes(t.value);

/** The account a statement names at `at` (`user`@`host`), and the index after it. */
function accountAt(tokens: Token[], at: number): { user: string; host: string; next: number } | undefined {
  const u = tokens[at];
  const sep = tokens[at + 1];
  const h = tokens[at + 2];
  if (!u || !sep || !h || sep.value !== '@' || u.kind === 'punct' || h.kind === 'punct') return undefined;
  return { user: u.value, host: h.value, next: at + 3 };
}

function sameAccount(a: { user: string; host: string }, b: { user: string; host: string }): boolean {
  return a.user === b.user && a.host.toLowerCase() === b.host.toLowerCase();
}

/** Top-level comma-separated parts of tokens[from, to). */
function splitTopLevel(tokens: Token[], from: number, to: number): Token[][] {
  const parts: Token[][] = [[]];
  let depth = 0;
  for (let i = from; i < to; i++) {
    const t = tokens[i]!;
    if (t.value === '(' && t.kind === 'punct') depth++;
    if (t.value === ')' && t.kind === 'punct') depth--;
    if (depth === 0 && t.kind === 'punct' && t.value === ',') parts.push([]);
    else parts.at(-1)!.push(t);
  }
  return parts.filter((p) => p.length > 0);
}

/**
 * One privilege item per column: `SELECT (`a`, `b`)` becomes `SELECT (`a`)` and `SELECT (`b`)`,
 * so that a difference in one column is granted or revoked alone.
 */
function privilegeItems(text: string, part: Token[]): string[] {
  const open = part.findIndex((t) => t.kind === 'punct' && t.value === '(');
  const name = (open < 0 ? part : part.slice(0, open)).map((t) => t.value).join(' ');
  if (open < 0) return [name];
  let close = part.length - 1;
  while (close > open && !(part[close]!.kind === 'punct' && part[close]!.value === ')')) close--;
  return splitTopLevel(part, open + 1, close > open ? close : part.length).map(
    (col) => `${name} (${text.slice(col[0]!.start, col.at(-1)!.end)})`,
  );
}

/** What SHOW GRANTS says an account holds. */
export interface GrantSet {
  /** Privileges by object (`*.*`, `` `db`.* ``, `` `db`.`t` ``, `PROCEDURE ...`, a PROXY account), as the server prints it. */
  readonly objects: Map<string, { privileges: Set<string>; grantOption: boolean }>;
  /** Roles granted to the account, as printed, with their ADMIN OPTION. */
  readonly roles: Map<string, { adminOption: boolean }>;
  /** MariaDB's `SET DEFAULT ROLE r FOR ...` line (MySQL prints default roles in SHOW CREATE USER). */
  defaultRole?: string;
}

const USAGE = 'USAGE';
const ALL = 'ALL PRIVILEGES';

/**
 * Reads the lines of `SHOW GRANTS FOR account`. Every line must be for that account;
 * anything the kind cannot copy faithfully (MySQL's partial revokes) is refused rather than
 * half-copied.
 */
export function parseGrants(
  lines: readonly string[],
  owner: { user: string; host: string },
  backslashEscapes = true,
): GrantSet {
  const set: GrantSet = { objects: new Map(), roles: new Map() };
  lines.forEach((line, index) => {
    const where = `SHOW GRANTS line ${index + 1}`;
    const tokens = tokenize(line, backslashEscapes);
    if (isWord(tokens[0], 'SET') && isWord(tokens[1], 'DEFAULT') && isWord(tokens[2], 'ROLE')) {
      const forAt = tokens.findIndex((t, i) => i > 2 && isWord(t, 'FOR'));
      const who = forAt > 0 ? accountAt(tokens, forAt + 1) : undefined;
      if (!who || !sameAccount(who, owner)) throw new GrantParseError(`${where}: SET DEFAULT ROLE for another account`);
      const role = line.slice(tokens[3]!.start, tokens[forAt - 1]!.end);
      if (role.toUpperCase() !== 'NONE') set.defaultRole = role;
      return;
    }
    if (isWord(tokens[0], 'REVOKE')) {
      throw new GrantParseError(`${where}: partial revokes cannot be copied to another account`);
    }
    if (!isWord(tokens[0], 'GRANT')) throw new GrantParseError(`${where}: not a GRANT statement`);
    let depth = 0;
    let onAt = -1;
    let toAt = -1;
    let grantee: { user: string; host: string; next: number } | undefined;
    for (let i = 1; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t.kind === 'punct' && t.value === '(') depth++;
      if (t.kind === 'punct' && t.value === ')') depth--;
      if (depth !== 0) continue;
      if (onAt < 0 && isWord(t, 'ON')) onAt = i;
      if (isWord(t, 'TO')) {
        grantee = accountAt(tokens, i + 1);
        if (grantee) {
          toAt = i;
          break;
        }
      }
    }
    if (!grantee || toAt < 0) throw new GrantParseError(`${where}: no grantee`);
    if (!sameAccount(grantee, owner)) throw new GrantParseError(`${where}: grants to another account`);
    // The tail: IDENTIFIED ... (dropped: it holds a password hash), REQUIRE ... (copied from
    // SHOW CREATE USER instead), WITH GRANT OPTION / ADMIN OPTION / resource limits.
    let grantOption = false;
    let adminOption = false;
    for (let i = grantee.next; i < tokens.length - 1; i++) {
      if (isWord(tokens[i + 1], 'OPTION')) {
        if (isWord(tokens[i], 'GRANT')) grantOption = true;
        if (isWord(tokens[i], 'ADMIN')) adminOption = true;
      }
    }
    if (onAt < 0 || onAt > toAt) {
      for (const part of splitTopLevel(tokens, 1, toAt)) {
        set.roles.set(line.slice(part[0]!.start, part.at(-1)!.end), { adminOption });
      }
      return;
    }
    const object = line.slice(tokens[onAt + 1]!.start, tokens[toAt - 1]!.end);
    const entry = set.objects.get(object) ?? { privileges: new Set<string>(), grantOption: false };
    for (const part of splitTopLevel(tokens, 1, onAt)) {
      for (const item of privilegeItems(line, part)) if (item !== USAGE) entry.privileges.add(item);
    }
    entry.grantOption ||= grantOption;
    set.objects.set(object, entry);
  });
  return set;
}

const REQUIRE_WORDS = new Set(['NONE', 'SSL', 'X509', 'ISSUER', 'SUBJECT', 'CIPHER', 'AND']);

/**
 * The TLS requirement in `SHOW CREATE USER` (`SSL`, `X509`, `ISSUER '...' AND SUBJECT '...'`),
 * `NONE` when the server prints none.
 */
export function parseRequire(createUser: string, backslashEscapes = true): string {
  const tokens = tokenize(createUser, backslashEscapes);
  const at = tokens.findIndex((t) => isWord(t, 'REQUIRE'));
  if (at < 0) return 'NONE';
  let end = at + 1;
  while (end < tokens.length && (tokens[end]!.kind === 'string' || REQUIRE_WORDS.has(tokens[end]!.value))) end++;
  if (end === at + 1) return 'NONE';
  return createUser.slice(tokens[at + 1]!.start, tokens[end - 1]!.end);
}

/** MySQL 8's `DEFAULT ROLE ...` clause of `SHOW CREATE USER`, if any. */
export function parseDefaultRoles(createUser: string, backslashEscapes = true): string | undefined {
  const tokens = tokenize(createUser, backslashEscapes);
  const at = tokens.findIndex((t, i) => isWord(t, 'DEFAULT') && isWord(tokens[i + 1], 'ROLE'));
  if (at < 0) return undefined;
  let end = at + 2;
  // A list of accounts: `r`@`%`, `s`@`%`
  for (;;) {
    const who = accountAt(tokens, end);
    if (!who) break;
    end = who.next;
    if (tokens[end]?.kind === 'punct' && tokens[end]!.value === ',') end++;
    else break;
  }
  return end === at + 2 ? undefined : createUser.slice(tokens[at + 2]!.start, tokens[end - 1]!.end);
}

/**
 * Statements that make `clone`'s grants equal to `wanted` given that it holds `have`. Missing
 * privileges are granted before extra ones are revoked, so a login in use never loses a
 * privilege it keeps; only a REVOKE ALL PRIVILEGES (then a re-grant) opens a short gap.
 */
export function grantSyncStatements(
  flavour: 'mysql' | 'mariadb',
  wanted: GrantSet,
  have: GrantSet,
  clone: { user: string; host: string },
): string[] {
  const to = accountName(clone.user, clone.host);
  const grants: string[] = [];
  const revokes: string[] = [];
  const none = { privileges: new Set<string>(), grantOption: false };
  const list = (privileges: Iterable<string>) => [...privileges].join(', ') || USAGE;

  for (const [object, w] of wanted.objects) {
    const h = have.objects.get(object) ?? none;
    const missing = h.privileges.has(ALL) ? [] : [...w.privileges].filter((p) => !h.privileges.has(p));
    const needOption = w.grantOption && !h.grantOption;
    if (missing.length > 0 || needOption) {
      const privileges = missing.length > 0 ? missing : [...w.privileges];
      grants.push(`GRANT ${list(privileges)} ON ${object} TO ${to}${needOption ? ' WITH GRANT OPTION' : ''}`);
    }
  }
  for (const [object, h] of have.objects) {
    const w = wanted.objects.get(object) ?? none;
    // ALL PRIVILEGES at a level implies every other privilege at that level (columns too).
    let extra = w.privileges.has(ALL) ? [] : [...h.privileges].filter((p) => !w.privileges.has(p));
    if (extra.includes(ALL)) {
      // REVOKE ALL takes the column privileges of that level too: grant back all that is wanted.
      revokes.push(`REVOKE ALL PRIVILEGES ON ${object} FROM ${to}`);
      if (w.privileges.size > 0) revokes.push(`GRANT ${list(w.privileges)} ON ${object} TO ${to}`);
      extra = [];
    }
    if (extra.length > 0) revokes.push(`REVOKE ${list(extra)} ON ${object} FROM ${to}`);
    if (h.grantOption && !w.grantOption) revokes.push(`REVOKE GRANT OPTION ON ${object} FROM ${to}`);
  }

  for (const [role, w] of wanted.roles) {
    const h = have.roles.get(role);
    if (!h || (w.adminOption && !h.adminOption)) {
      grants.push(`GRANT ${role} TO ${to}${w.adminOption ? ' WITH ADMIN OPTION' : ''}`);
    } else if (h.adminOption && !w.adminOption) {
      revokes.push(`REVOKE ${role} FROM ${to}`, `GRANT ${role} TO ${to}`);
    }
  }
  for (const role of have.roles.keys()) {
    if (!wanted.roles.has(role)) revokes.push(`REVOKE ${role} FROM ${to}`);
  }

  const statements = [...grants, ...revokes];
  if (flavour === 'mariadb' && wanted.defaultRole !== have.defaultRole) {
    statements.push(`SET DEFAULT ROLE ${wanted.defaultRole ?? 'NONE'} FOR ${to}`);
  }
  return statements;
}

/** MySQL 8: make the clone's default roles those of the user (from SHOW CREATE USER). */
export function defaultRoleStatement(
  wanted: string | undefined,
  have: string | undefined,
  clone: { user: string; host: string },
): string | undefined {
  if (wanted === have) return undefined;
  return `ALTER USER ${accountName(clone.user, clone.host)} DEFAULT ROLE ${wanted ?? 'NONE'}`;
}
