/**
 * Defence in depth against secret values leaking through errors: drivers sometimes echo
 * the statement or the input they failed on. Every error that leaves the engine is rebuilt
 * from its name, code and message only, with every registered sensitive string masked.
 */
export const REDACTED = '[REDACTED]';

export class Redactor {
  readonly #values = new Set<string>();

  public add(value: string | undefined): void {
    // Very short strings would mask ordinary words; credentials are never that short.
    if (typeof value === 'string' && value.length >= 6) this.#values.add(value);
  }

  public text(input: string): string {
    let out = input;
    for (const value of [...this.#values].sort((a, b) => b.length - a.length)) {
      out = out.split(value).join(REDACTED);
    }
    return out;
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
