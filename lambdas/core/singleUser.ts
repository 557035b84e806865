import { UnsafeRotationError } from './errors';
import type { SetContext } from './types';

/**
 * The passwords single-user setSecret may log in with to change its own password, in order:
 * AWSCURRENT, then AWSPREVIOUS (a half-done earlier attempt, or a restored password) for the
 * same login. AWSPREVIOUS is read only if the caller asks for it, so a normal rotation spends
 * no Secrets Manager call on it.
 */
export async function* knownPasswords<S extends { password: string }>(
  current: S,
  ctx: SetContext<S>,
  sameLogin: (a: S, b: S) => boolean,
): AsyncGenerator<[label: 'AWSCURRENT' | 'AWSPREVIOUS', credentials: S]> {
  yield ['AWSCURRENT', current];
  const previous = await ctx.previous();
  if (previous && sameLogin(previous.value, current)) {
    yield ['AWSPREVIOUS', { ...current, password: previous.value.password }];
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
