import { UnsafeRotationError } from './errors';

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
