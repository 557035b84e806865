import { finding } from '../contract/index.js';
import { UnsafeRotationError } from '../core/errors.js';
import type { PreflightContext, PreflightFinding, RotationKind } from '../core/types.js';
import { checkPairing } from '../database/alternatingUsers.js';
import type { AlternatePair } from '../database/databaseKind.js';
import { DatabaseChecks, masterSessionFailed, withDatabasePreflight, type DatabasePreflight } from '../database/preflight.js';
import { isAuthFailure, withSession, type Session } from './connection.js';
import { PAIRING_WHERE, readPairing, type MysqlKind } from './mysqlKind.js';
import type { MysqlOptions } from './options.js';
import type { MysqlSecret } from './secret.js';
import { accountName, describeServer, hexLiteral } from './sql.js';

const { ok, problem } = finding;

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The master's part of a MySQL/MariaDB preflight, read-only: one master session of SELECT and
 * SHOW statements only. What alternating users needs of the master: the CREATE USER privilege
 * and GRANT OPTION (global, as USER_PRIVILEGES reports them), reading mysql.user and the user's
 * grants (SHOW GRANTS FOR, as setSecret does); and a clone that exists must carry Rotor's pairing
 * marker for this secret (rotor.clone_pairs, the same check setSecret makes). `host` is the
 * account's host part, as the current login proved it (proveCurrent).
 */
export function mysqlPreflight(settings: () => MysqlOptions): DatabasePreflight<MysqlSecret, string> {
  return {
    async passwordRules(current: MysqlSecret, ctx: PreflightContext<MysqlSecret>) {
      ctx.recordLogin();
      const variables = await withSession(current, settings(), (s) =>
        s.rows<{ Variable_name: string; Value: string }>("SHOW VARIABLES WHERE Variable_name LIKE 'validate\\_password%' OR Variable_name LIKE 'simple\\_password\\_check%'"),
      );
      return [serverPasswordRules(new Map(variables.map((v) => [String(v.Variable_name), String(v.Value)])), ctx)];
    },

    async masterChecks(master: MysqlSecret, _current: MysqlSecret, pair: AlternatePair, host: string, ctx: PreflightContext<MysqlSecret>) {
      ctx.recordLogin();
      try {
        return await withSession(master, settings(), (s) => masterFindings(s, pair, host, ctx));
      } catch (err) {
        return masterSessionFailed(err, master.username, isAuthFailure(err));
      }
    },
  };
}

/**
 * The MySQL kind with its preflight (`rotor preflight`), as the rotation function's entry deploys
 * it. Attached there, not in mysqlKind.ts: the emergency and retire functions, which hold every
 * kind, never preflight and do not carry its code.
 */
export function withMysqlPreflight(kind: MysqlKind): RotationKind<MysqlSecret> {
  return withDatabasePreflight(kind, kind.engine, mysqlPreflight(kind.options));
}

/** The classes GetRandomPassword draws from (its punctuation: every printable ASCII character that is no letter, digit or space). */
const DIGITS = '0123456789';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/** A server's password validation rules: the least length and counts of each character class. */
interface PasswordRules {
  readonly source: string;
  readonly minLength: number;
  readonly digits: number;
  readonly upper: number;
  readonly lower: number;
  readonly other: number;
}

/**
 * The rules of the server's password validation, when it has one (read with SHOW VARIABLES, which
 * every account may): MariaDB's simple_password_check plugin (minimal_length, digits,
 * letters_same_case for each case, other_characters) or MySQL's validate_password component
 * (`validate_password.*`, 8.0) or plugin (`validate_password_*`, 5.7; policy LOW checks the
 * length only). The server refuses a new password that breaks them, so setSecret would fail.
 */
export function passwordRulesOf(variables: ReadonlyMap<string, string>): PasswordRules | undefined {
  const num = (name: string) => {
    const v = variables.get(name);
    return v === undefined || !/^\d+$/.test(v) ? undefined : Number(v);
  };
  if (variables.has('simple_password_check_minimal_length')) {
    const same = num('simple_password_check_letters_same_case') ?? 0;
    return {
      source: 'simple_password_check',
      minLength: num('simple_password_check_minimal_length') ?? 0,
      digits: num('simple_password_check_digits') ?? 0,
      upper: same,
      lower: same,
      other: num('simple_password_check_other_characters') ?? 0,
    };
  }
  for (const sep of ['.', '_']) {
    const length = num(`validate_password${sep}length`);
    if (length === undefined) continue;
    const policy = (variables.get(`validate_password${sep}policy`) ?? 'MEDIUM').toUpperCase();
    const counts = policy === 'LOW' || policy === '0';
    const mixed = counts ? 0 : (num(`validate_password${sep}mixed_case_count`) ?? 0);
    return {
      source: `validate_password${sep === '.' ? '' : ' (plugin)'} policy ${policy}`,
      minLength: length,
      digits: counts ? 0 : (num(`validate_password${sep}number_count`) ?? 0),
      upper: mixed,
      lower: mixed,
      other: counts ? 0 : (num(`validate_password${sep}special_char_count`) ?? 0),
    };
  }
  return undefined;
}

function serverPasswordRules(variables: ReadonlyMap<string, string>, ctx: PreflightContext<MysqlSecret>): PreflightFinding {
  const rules = passwordRulesOf(variables);
  const check = DatabaseChecks.SERVER_PASSWORD_RULES;
  if (!rules) return ok(check, 'the server validates no password rules (no simple_password_check, no validate_password)');
  const { length } = ctx.passwordPolicy;
  const wanted = `at least ${rules.minLength} characters, ${rules.digits} digit(s), ${rules.upper} upper-case, ${rules.lower} lower-case and ${rules.other} other character(s)`;
  if (length < rules.minLength) {
    return problem(
      check,
      `the server's ${rules.source} wants ${wanted}; this function makes passwords of ${length} characters, which the server would refuse`,
      `set PASSWORD_LENGTH to ${rules.minLength} or more (the construct's passwordLength)`,
    );
  }
  // A class the exclusions leave no character of can never be in a password (whatever GetRandomPassword answers).
  const left = (chars: string) => [...chars].some((c) => !ctx.passwordPolicy.excludeCharacters.includes(c));
  const impossible = [
    ...(rules.digits > 0 && !left(DIGITS) ? ['digits'] : []),
    ...(rules.upper > 0 && !left(UPPER) ? ['upper-case letters'] : []),
    ...(rules.lower > 0 && !left(UPPER.toLowerCase()) ? ['lower-case letters'] : []),
    ...(rules.other > 0 && !left(PUNCTUATION) ? ['other characters'] : []),
  ];
  if (impossible.length > 0) {
    return problem(
      check,
      `the server's ${rules.source} wants ${wanted}; EXCLUDE_CHARACTERS leaves no ${impossible.join(', ')}, so the server would refuse every new password`,
      'exclude fewer characters (EXCLUDE_CHARACTERS, the construct\'s excludeCharacters) so that every class the server counts keeps some',
    );
  }
  // The counts: in the one password GetRandomPassword made with the function's policy.
  const sample = ctx.samplePassword;
  if (sample === undefined) return ok(check, `the server's ${rules.source} wants ${wanted}; the length fits (no sample password to count the classes)`);
  const count = (re: RegExp) => [...sample].filter((c) => re.test(c)).length;
  const short = [
    ...(count(/[0-9]/) < rules.digits ? ['digits'] : []),
    ...(count(/[A-Z]/) < rules.upper ? ['upper-case letters'] : []),
    ...(count(/[a-z]/) < rules.lower ? ['lower-case letters'] : []),
    ...(count(/[^A-Za-z0-9]/) < rules.other ? ['other characters'] : []),
  ];
  if (short.length > 0) {
    return problem(
      check,
      `the server's ${rules.source} wants ${wanted}; a password made with this function's policy had too few ${short.join(', ')}`,
      'exclude fewer characters (EXCLUDE_CHARACTERS) so that every class the server counts stays in the passwords',
    );
  }
  return ok(check, `the server's ${rules.source} wants ${wanted}: passwords made with this function's policy pass`);
}

async function masterFindings(s: Session, pair: AlternatePair, host: string, ctx: PreflightContext<MysqlSecret>): Promise<PreflightFinding[]> {
  const who = await s.identify();
  const masterAccount = accountName(who.user, who.host);
  const found: PreflightFinding[] = [ok(DatabaseChecks.MASTER_LOGIN, `the master logs in as ${masterAccount} (${describeServer(who.server)})`)];

  // What setSecret reads first: the user and its clone in mysql.user, the user's grants.
  const base = accountName(pair.base, host);
  let counts: { base: number; clone: number };
  try {
    const [row] = await s.rows<{ base: number | string; clone: number | string }>(
      `SELECT (SELECT COUNT(*) FROM mysql.user WHERE User = ${hexLiteral(pair.base)} AND Host = ${hexLiteral(host)}) AS base,
              (SELECT COUNT(*) FROM mysql.user WHERE User = ${hexLiteral(pair.clone)} AND Host = ${hexLiteral(host)}) AS clone`,
    );
    counts = { base: Number(row?.base ?? 0), clone: Number(row?.clone ?? 0) };
    if (counts.base === 0) {
      found.push(problem(DatabaseChecks.MASTER_PRIVILEGES, `the user ${base} does not exist`, 'the alternating pair is built from the base account: create it, or correct the secret\'s username'));
      return found;
    }
    await s.rows(`SHOW GRANTS FOR ${base}`);
  } catch (err) {
    found.push(
      problem(
        DatabaseChecks.MASTER_PRIVILEGES,
        `the master cannot read mysql.user or the grants of ${base}: ${messageOf(err)}`,
        `GRANT SELECT ON mysql.* TO ${masterAccount} (setSecret reads the user's account and grants to copy them to the clone)`,
      ),
    );
    return found;
  }

  if (counts.clone > 0) {
    try {
      checkPairing(await readPairing(s, { user: pair.clone, host }, ctx), { ...pair, where: PAIRING_WHERE });
      found.push(ok(DatabaseChecks.CLONE_PAIRING, `the alternate login ${accountName(pair.clone, host)} carries Rotor's pairing marker for this secret`));
    } catch (err) {
      if (!(err instanceof UnsafeRotationError)) throw err;
      found.push(problem(DatabaseChecks.CLONE_PAIRING, err.message, 'see README.md, "Adopting a clone created before pairing markers"'));
      return found;
    }
  } else {
    found.push(ok(DatabaseChecks.CLONE_PAIRING, `no alternate login yet: the first rotation creates ${accountName(pair.clone, host)} with its pairing marker`));
  }

  // Global privileges of the master's own account (MySQL 8: privileges held through a role are not listed there).
  const rows = await s.rows<{ privilege: string; grantable: string }>(
    `SELECT PRIVILEGE_TYPE AS privilege, IS_GRANTABLE AS grantable FROM information_schema.USER_PRIVILEGES
      WHERE GRANTEE = ${hexLiteral(`'${who.user}'@'${who.host}'`)}`,
  );
  const createUser = rows.some((r) => String(r.privilege).toUpperCase() === 'CREATE USER');
  const grantOption = rows.some((r) => String(r.grantable).toUpperCase() === 'YES');
  const missing = [...(createUser ? [] : ['CREATE USER']), ...(grantOption ? [] : ['GRANT OPTION'])];
  if (missing.length > 0) {
    found.push(
      problem(
        DatabaseChecks.MASTER_PRIVILEGES,
        `the master ${masterAccount} lacks ${missing.join(' and ')} (global), which alternating users needs to create the alternate login and copy the user's grants to it`,
        `as an administrator: GRANT CREATE USER ON *.* TO ${masterAccount} WITH GRANT OPTION` +
          ' (and the privileges the user holds, which it copies; on RDS the master user has them)',
      ),
    );
  } else {
    found.push(ok(DatabaseChecks.MASTER_PRIVILEGES, `the master holds CREATE USER and GRANT OPTION (global)`));
  }
  return found;
}
