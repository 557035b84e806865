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
