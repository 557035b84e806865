/**
 * Defence in depth against secret values leaking through errors: drivers sometimes echo
 * the statement or the input they failed on. Every error that leaves the engine is rebuilt
 * from its name, code and message only, with every registered sensitive string masked.
 */
export const REDACTED = '[REDACTED]';

/**
 * Values shorter than this are masked only where they stand as a whole token (see `Redactor`);
 * values of this length or longer are masked wherever they occur, even inside a word.
 */
export const WHOLE_TOKEN_BELOW = 4;

/** A letter or digit: what a short value must not touch on either side to count as a whole token. */
const WORD_CHAR = '[\\p{L}\\p{N}]';

/**
 * Every registered value is masked, whatever its length: a credential is a credential even when
 * someone chose a 2-character password, and an unmasked one is a leak.
 *
 * How: values of WHOLE_TOKEN_BELOW (4) characters or more are masked wherever they occur, also
 * inside a longer word (a 4-character password inside an unrelated word garbles that word; that
 * is the price, and it is rare). Values of 1 to 3 characters are masked only where they stand as
 * a whole token: not preceded or followed by a letter or digit. Masking a 1-character password
 * `a` inside every word would turn every message into noise and, worse, hint at the value by
 * where the masks fall; a whole-token occurrence (`password=a;`, `'a'`, `"a"`, `:a@`, a word of
 * its own) is how such a value actually appears in a statement, a URL or a JSON body, and is
 * masked. The residual risk, a 1-3 character value glued to letters or digits, tells a reader
 * nothing they could not guess from the alphabet.
 */
export class Redactor {
  readonly #values = new Set<string>();
  #shortPattern: RegExp | undefined;

  public add(value: string | undefined): void {
    if (typeof value !== 'string' || value.length === 0 || this.#values.has(value)) return;
    this.#values.add(value);
    if (value.length < WHOLE_TOKEN_BELOW) this.#shortPattern = undefined;
  }

  /** How many distinct values are registered. */
  public get size(): number {
    return this.#values.size;
  }

  public text(input: string): string {
    let out = input;
    const short: string[] = [];
    for (const value of [...this.#values].sort((a, b) => b.length - a.length)) {
      if (value.length < WHOLE_TOKEN_BELOW) short.push(value);
      else out = out.split(value).join(REDACTED);
    }
    if (short.length === 0) return out;
    this.#shortPattern ??= new RegExp(
      `(?<!${WORD_CHAR})(?:${short.map(escapeRegExp).join('|')})(?!${WORD_CHAR})`,
      'gu',
    );
    return out.replace(this.#shortPattern, REDACTED);
  }

  /**
   * A copy of an error that keeps what helps an operator (name, code, message, the chain of
   * causes) and drops every other attribute a driver may have attached (a statement, a config).
   */
  public error(err: unknown, depth = 0): Error {
    if (!(err instanceof Error)) return new Error(this.text(String(err)));
    const cause = err.cause !== undefined && depth < 5 ? this.error(err.cause, depth + 1) : undefined;
    const copy = new Error(this.text(err.message), cause ? { cause } : undefined);
    copy.name = err.name;
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') {
      (copy as Error & { code?: string | number }).code = code;
    }
    copy.stack = err.stack ? this.text(err.stack) : copy.stack;
    return copy;
  }
}

/**
 * Runs of 20 or more token characters (base64, base64url, hex, `~`, `.`) that hold at least one
 * letter and one digit: what API tokens, secret access keys and random passwords look like, and
 * what ordinary words, paths and ids with no digit do not. For text a caller wrote, where Rotor
 * cannot know every credential it may quote.
 */
const TOKEN_SHAPED = /[A-Za-z0-9_\-+/=.~]{20,}/g;
/** AWS access key ids (long-term AKIA, temporary ASIA, ABIA, ACCA). */
const ACCESS_KEY_SHAPED = /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,124}(?![A-Za-z0-9])/g;

/** Masks token-shaped runs and AWS access key ids in free text (see TOKEN_SHAPED). */
export function maskCredentialShapes(text: string): string {
  return text
    .replace(ACCESS_KEY_SHAPED, REDACTED)
    .replace(TOKEN_SHAPED, (run) => (/[A-Za-z]/.test(run) && /[0-9]/.test(run) ? REDACTED : run));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
