import { UnsafeRotationError } from '../core/errors.js';
import type { SetContext } from '../core/types.js';

/** How many unlabelled versions single-user setSecret tries, newest first (each try is a login). */
export const singleUserDefaults = { historyAttempts: 5 } as const;

/** Where a password single-user setSecret logs in with came from. */
export type KnownPasswordSource = 'AWSCURRENT' | 'AWSPREVIOUS' | `version ${string}`;

/**
 * The passwords single-user setSecret may log in with to change its own password, in order:
 * AWSCURRENT; AWSPREVIOUS (a half-done earlier attempt, or a restored password); then, newest
 * first, the secret's other versions for the same login (a cancelled rotation whose setSecret
 * had already changed the password leaves the only working password in a version that lost its
 * AWSPENDING label when the next rotation started). Each source is read only when the caller
 * gets to it, so a normal rotation spends no Secrets Manager call on them; a password already
 * offered is not offered twice.
 */
export async function* knownPasswords<S extends { password: string }>(
  current: S,
  ctx: SetContext<S>,
  sameLogin: (a: S, b: S) => boolean,
  options: { historyAttempts: number } = singleUserDefaults,
): AsyncGenerator<[label: KnownPasswordSource, credentials: S]> {
  const offered = new Set<string>([current.password]);
  yield ['AWSCURRENT', current];
  const previous = await ctx.previous();
  if (previous && sameLogin(previous.value, current) && !offered.has(previous.value.password)) {
    offered.add(previous.value.password);
    yield ['AWSPREVIOUS', { ...current, password: previous.value.password }];
  }
  let tried = 0;
  for await (const version of ctx.history()) {
    if (tried >= options.historyAttempts) return;
    if (!sameLogin(version.value, current) || offered.has(version.value.password)) continue;
    offered.add(version.value.password);
    tried++;
    yield [`version ${version.versionId}`, { ...current, password: version.value.password }];
  }
}

/** Single-user rotation changes a password only: AWSPENDING must be the same login on the same server. */
export function checkSameLogin<S>(current: S, pending: S, sameLogin: (a: S, b: S) => boolean, secretArn: string): void {
  if (!sameLogin(pending, current)) {
    throw new UnsafeRotationError(
      `secret ${secretArn}: username or host differs between AWSCURRENT and AWSPENDING; single-user rotation refuses to change them`,
    );
  }
}
