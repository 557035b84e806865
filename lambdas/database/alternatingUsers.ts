import { UnsafeRotationError } from '../core/errors.js';

/**
 * Naming of the alternating-users strategy, shared by the database kinds: a login `app` and
 * its clone `app_clone`; each rotation changes the one that is not current.
 */
export const CLONE_SUFFIX = '_clone';

/** The base login of a pair: `app_clone` → `app`, `app` → `app`. */
export function baseUsername(username: string): string {
  return username.endsWith(CLONE_SUFFIX) ? username.slice(0, -CLONE_SUFFIX.length) : username;
}

/** The login the current one alternates with: `app` ↔ `app_clone`. */
export function alternateUsername(username: string): string {
  return username.endsWith(CLONE_SUFFIX) ? baseUsername(username) : `${username}${CLONE_SUFFIX}`;
}

/** What the alternating-users checks need of a database secret. */
interface AlternatingSecret {
  readonly username: string;
  readonly masterarn?: string;
}

/**
 * setSecret's guard for alternating users: AWSPENDING must name the alternate login of
 * AWSCURRENT, on the same server, with the same master secret; anything else could point the
 * master credential at a login this secret does not own.
 */
export function checkAlternatePending<S extends AlternatingSecret>(
  current: S,
  pending: S,
  sameServer: (a: S, b: S) => boolean,
  secretArn: string,
): void {
  if (pending.username !== alternateUsername(current.username) || !sameServer(pending, current)) {
    throw new UnsafeRotationError(
      `secret ${secretArn}: AWSPENDING must name the alternate login of ${JSON.stringify(current.username)} on the same host`,
    );
  }
  if (pending.masterarn !== current.masterarn) {
    throw new UnsafeRotationError(`secret ${secretArn}: masterarn differs between AWSCURRENT and AWSPENDING`);
  }
}

/**
 * The pairing of the alternating-users strategy. The suffix alone proves nothing: anybody can
 * name a login `boss_clone`, and a secret for it with its own password would otherwise lead the
 * master to reset `boss`'s password and grant `boss`'s privileges to it. So Rotor records, in
 * the database and in the same master session that creates the clone, that the clone belongs to
 * this base login and to this secret (its ARN), in a place only privileged users can write
 * (PostgreSQL: a role comment; MySQL/MariaDB: a row in a Rotor table). Before any master
 * action both kinds read the record back over the master connection they already hold (no
 * extra login, no extra Secrets Manager call) and refuse a pair they cannot prove.
 */
export interface ClonePairing {
  /** The login the clone stands in for. */
  readonly base: string;
  /** The ARN of the secret that rotates the pair. */
  readonly secret: string;
}

/** Where the README explains the marker and how to adopt a clone made before markers existed. */
export const PAIRING_README_SECTION = 'README.md, section "Adopting a clone created before pairing markers"';

/** What a marker is read from: absent (no marker), or the text/fields the database holds. */
export type PairingRecord = ClonePairing | undefined;

/**
 * Refuses unless `found` pairs `clone` with `base` for `secretArn`. The message names the login
 * and what is missing, never the record itself (its text is whatever someone wrote there).
 */
export function checkPairing(
  found: PairingRecord | 'unreadable',
  expected: {
    readonly clone: string;
    readonly base: string;
    readonly secretArn: string;
    /** Where the kind keeps markers, for the message ("the role comment", "table rotor.clone_pairs"). */
    readonly where: string;
  },
): void {
  const { clone, base, secretArn, where } = expected;
  if (found !== undefined && found !== 'unreadable' && found.base === base && found.secret === secretArn) return;
  const what =
    found === undefined
      ? `has no Rotor pairing marker (${where})`
      : found === 'unreadable'
        ? `has no Rotor pairing marker (${where} holds something else)`
        : found.base !== base
          ? `has a Rotor pairing marker (${where}) for another base login, not ${JSON.stringify(base)}`
          : `has a Rotor pairing marker (${where}) for another secret, not this one`;
  throw new UnsafeRotationError(
    `secret ${secretArn}: the login ${JSON.stringify(clone)} ${what}, so Rotor cannot prove it created it as the ` +
      `alternate of ${JSON.stringify(base)} for this secret; refusing to act with the master secret. A clone Rotor ` +
      `created before pairing markers existed can be adopted by the database administrator: see ${PAIRING_README_SECTION}`,
  );
}

/**
 * The text form of a marker (PostgreSQL's role comment): `rotor-pairing v1 {"base":...,"secret":...}`.
 * JSON keeps any login name (quotes, spaces, SQL words) unambiguous.
 */
export const PAIRING_PREFIX = 'rotor-pairing v1 ';

export function pairingText(pairing: ClonePairing): string {
  return `${PAIRING_PREFIX}${JSON.stringify({ base: pairing.base, secret: pairing.secret })}`;
}

/** Reads a marker text; undefined when there is none, 'unreadable' when the text is something else. */
export function parsePairingText(text: string | null | undefined): PairingRecord | 'unreadable' {
  if (text === null || text === undefined) return undefined;
  if (!text.startsWith(PAIRING_PREFIX)) return 'unreadable';
  try {
    const value = JSON.parse(text.slice(PAIRING_PREFIX.length)) as unknown;
    if (typeof value !== 'object' || value === null) return 'unreadable';
    const { base, secret } = value as Record<string, unknown>;
    return typeof base === 'string' && typeof secret === 'string' ? { base, secret } : 'unreadable';
  } catch {
    return 'unreadable';
  }
}
