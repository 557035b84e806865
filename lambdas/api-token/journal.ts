import type { Issued } from './provider.js';

export const journalDefaults = {
  maxEntries: 16,
  /** Longer than Secrets Manager retries a step. */
  maxAgeMs: 15 * 60 * 1000,
} as const;

/**
 * What a warm function remembers of the tokens its createSecret issued or rolled, by secret and
 * rotation token, until the pending value is known to be stored. If PutSecretValue fails after a
 * roll (which has already invalidated the old value), Secrets Manager retries createSecret and
 * the retry stores the remembered value instead of rolling a second time and losing the first.
 */
export class IssueJournal {
  readonly #entries = new Map<string, { issued: Issued; at: number }>();

  public constructor(
    private readonly options: { maxEntries: number; maxAgeMs: number } = journalDefaults,
    private readonly now: () => number = Date.now,
  ) {}

  public remember(secretArn: string, token: string, issued: Issued): void {
    this.#entries.set(key(secretArn, token), { issued, at: this.now() });
    while (this.#entries.size > this.options.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  public recall(secretArn: string, token: string): Issued | undefined {
    const entry = this.#entries.get(key(secretArn, token));
    if (!entry) return undefined;
    if (this.now() - entry.at > this.options.maxAgeMs) {
      this.#entries.delete(key(secretArn, token));
      return undefined;
    }
    return entry.issued;
  }

  /** The pending value is stored: nothing to remember any more. */
  public forget(secretArn: string, token: string): void {
    this.#entries.delete(key(secretArn, token));
  }
}

const key = (secretArn: string, token: string) => `${secretArn}\u0000${token}`;
