import type { SecretDescription } from './secretsApi.js';

/**
 * What a warm function remembers between the steps of one rotation. Secrets Manager calls
 * the same function four times in a row with the same token; a version's value never changes
 * once written, so values are kept by version id. Bounded in size and age.
 */
export interface CachedRotation {
  /** DescribeSecret as read by the latest step (reused only by read-only steps). */
  description?: SecretDescription;
  describedAt?: number;
  /** Secret strings by version id. */
  readonly values: Map<string, string>;
  /** testSecret succeeded for this token here (finishSecret's proof). */
  proven?: boolean;
  /** This function holds the token's createSecret claim (its own retries need not claim again). */
  claimed?: boolean;
}

export const cacheDefaults = {
  maxRotations: 16,
  /** Longer than any rotation takes; Secrets Manager gives a rotation at most a few minutes per step. */
  maxAgeMs: 15 * 60 * 1000,
} as const;

export class RotationCache {
  readonly #entries = new Map<string, CachedRotation & { createdAt: number }>();

  public constructor(
    private readonly options: { maxRotations: number; maxAgeMs: number } = cacheDefaults,
    private readonly now: () => number = Date.now,
  ) {}

  public get(secretId: string, token: string): CachedRotation {
    const key = `${secretId}\u0000${token}`;
    const found = this.#entries.get(key);
    if (found && this.now() - found.createdAt <= this.options.maxAgeMs) return found;
    if (found) this.#entries.delete(key);
    const entry = { values: new Map<string, string>(), createdAt: this.now() };
    this.#entries.set(key, entry);
    while (this.#entries.size > this.options.maxRotations) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return entry;
  }

  public forget(secretId: string, token: string): void {
    this.#entries.delete(`${secretId}\u0000${token}`);
  }

  /** A description fresh enough for a read-only step of the same rotation. */
  public static freshDescription(entry: CachedRotation, now: number, maxAgeMs: number): SecretDescription | undefined {
    if (!entry.description || entry.describedAt === undefined) return undefined;
    return now - entry.describedAt <= maxAgeMs ? entry.description : undefined;
  }
}
