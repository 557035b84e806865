import { createHash, randomUUID } from 'node:crypto';
import type { SecretsApi } from './secretsApi.js';

/**
 * Claims: "only one of several concurrent callers does this", made with Secrets Manager itself.
 *
 * PutSecretValue is atomic about its ClientRequestToken: on AWS a second call with the same
 * token and a different value fails with ResourceExistsException, and the same value again is a
 * no-op. So a claim is a small version of the secret whose version id is derived from what is
 * being claimed (the rotation token and a purpose) and whose value names its owner: the first
 * writer wins, every other writer learns it lost. It needs no other store and no permission
 * beyond the PutSecretValue/GetSecretValue a Rotor function already holds on its own secret.
 *
 * A claim version carries only the label CLAIM_STAGE (never AWSCURRENT: PutSecretValue without
 * VersionStages would move AWSCURRENT). Each new claim takes the label from the last one, so
 * older claims become unlabelled (deprecated) versions that Secrets Manager removes in time.
 * Claim values hold ids and times only, never a credential.
 *
 * moto overwrites a reused token instead of refusing it, so under moto every caller wins; tests
 * of concurrency put a stand-in in front of it that refuses, as AWS does.
 */
export const CLAIM_STAGE = 'ROTOR_CLAIM';

/** What a claim version holds. */
export interface ClaimRecord {
  readonly rotorClaim: {
    /** What is claimed, e.g. `create:<token>` or `announce:<version>`. */
    readonly purpose: string;
    /** 1 for the first claim; a later attempt takes over a claim whose holder's lease ran out. */
    readonly attempt: number;
    /** Random id of the caller that holds it. */
    readonly owner: string;
    /** ISO time until which the holder may still be working (its invocation's deadline). */
    readonly until: string;
  };
}

/** The version id of a claim: 64 hex digits (Secrets Manager accepts 32 to 64 characters). */
export function claimVersionId(purpose: string, attempt = 1): string {
  return createHash('sha256').update(`rotor-claim\u0000${purpose}\u0000${attempt}`).digest('hex');
}

/** A fresh owner id: one per caller (a step run, an emergency delivery). */
export function newClaimOwner(): string {
  return randomUUID();
}

export type ClaimOutcome =
  | { readonly won: true; readonly attempt: number }
  | { readonly won: false; readonly attempt: number; readonly heldUntil: number | undefined };

export interface ClaimRequest {
  readonly purpose: string;
  readonly owner: string;
  /** How long the holder may work: its invocation's deadline. A released claim ends at once. */
  readonly leaseMs: number;
  /** Version ids DescribeSecret listed (AWS lists labelled ones; moto every one). */
  readonly existingVersionIds?: Iterable<string>;
  readonly now?: () => number;
  /** Attempts beyond this are refused (a loop guard: each attempt is one lease). @default 20 */
  readonly maxAttempts?: number;
}

/**
 * Tries to take a claim, through the caller's SecretsApi (which counts every call).
 *
 * The latest attempt listed is read first: held by another caller and not expired → lost;
 * expired or released → the next attempt is written. A write refused with
 * ResourceExistsException means another caller wrote that attempt first: it is read, and unless
 * it has expired (or a later attempt exists, i.e. it was released or taken over) the claim is lost.
 */
export async function takeClaim(api: SecretsApi, secretId: string, request: ClaimRequest): Promise<ClaimOutcome> {
  const now = request.now ?? Date.now;
  const maxAttempts = request.maxAttempts ?? 20;
  const listed = new Set(request.existingVersionIds ?? []);
  const read = (attempt: number) => readClaim(api, secretId, request.purpose, attempt);
  const expired = (held: ClaimRecord['rotorClaim']) => !(Date.parse(held.until) > now());

  let attempt = 1;
  for (let a = maxAttempts; a >= 1; a--) {
    if (listed.has(claimVersionId(request.purpose, a))) {
      attempt = a;
      const held = await read(a);
      if (held && !expired(held)) {
        return held.owner === request.owner
          ? { won: true, attempt: a }
          : { won: false, attempt: a, heldUntil: Date.parse(held.until) };
      }
      attempt = a + 1;
      break;
    }
  }
  for (; attempt <= maxAttempts; attempt++) {
    const record: ClaimRecord = {
      rotorClaim: {
        purpose: request.purpose,
        attempt,
        owner: request.owner,
        until: new Date(now() + request.leaseMs).toISOString(),
      },
    };
    try {
      await api.putVersion(secretId, claimVersionId(request.purpose, attempt), JSON.stringify(record), CLAIM_STAGE);
      return { won: true, attempt };
    } catch (err) {
      if ((err as Error).name !== 'ResourceExistsException') throw err;
    }
    const held = await read(attempt);
    if (held && expired(held)) continue;
    if (held && held.owner === request.owner) return { won: true, attempt };
    if (await read(attempt + 1)) continue;
    return { won: false, attempt, heldUntil: held ? Date.parse(held.until) : undefined };
  }
  return { won: false, attempt: maxAttempts, heldUntil: undefined };
}

/**
 * Ends a claim this caller holds before its lease runs out (its work failed and may be retried
 * at once): the next attempt is written as already expired. A refusal means another caller took
 * over meanwhile, which is just as good.
 */
export async function releaseClaim(
  api: SecretsApi,
  secretId: string,
  claim: { readonly purpose: string; readonly owner: string; readonly attempt: number },
): Promise<void> {
  const record: ClaimRecord = {
    rotorClaim: { purpose: claim.purpose, attempt: claim.attempt + 1, owner: claim.owner, until: new Date(0).toISOString() },
  };
  try {
    await api.putVersion(secretId, claimVersionId(claim.purpose, claim.attempt + 1), JSON.stringify(record), CLAIM_STAGE);
  } catch (err) {
    if ((err as Error).name !== 'ResourceExistsException') throw err;
  }
}

/** A claim version's record; undefined when the version does not exist or holds no claim. */
async function readClaim(
  api: SecretsApi,
  secretId: string,
  purpose: string,
  attempt: number,
): Promise<ClaimRecord['rotorClaim'] | undefined> {
  const found = await api.getVersion(secretId, claimVersionId(purpose, attempt), undefined);
  let parsed: Partial<ClaimRecord> | null;
  try {
    parsed = JSON.parse(found?.secretString ?? 'null') as Partial<ClaimRecord> | null;
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
  const claim = parsed?.rotorClaim;
  if (!claim || typeof claim.owner !== 'string' || typeof claim.until !== 'string') return undefined;
  return claim;
}
