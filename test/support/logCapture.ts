/**
 * Captures everything written to stdout and stderr (Powertools' logger and metrics write
 * there, as in Lambda) so a test can prove that no secret value was ever printed.
 */
import { chunkText, noteOutput } from '../../bin/local/hygiene.js';

export class LogCapture {
  private chunks: string[] = [];
  private restore: Array<() => void> = [];

  public start(): this {
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        const text = chunkText(chunk);
        this.chunks.push(text);
        noteOutput(text);
        return process.env.ROTOR_TEST_ECHO_LOGS ? original(chunk as string, ...(rest as [])) : true;
      }) as typeof stream.write;
      this.restore.push(() => {
        stream.write = original;
      });
    }
    return this;
  }

  public stop(): void {
    for (const undo of this.restore.splice(0)) undo();
  }

  public text(): string {
    return this.chunks.join('');
  }

  /** Adds text that left the code under test another way (an error thrown to the runtime). */
  public note(text: string): void {
    this.chunks.push(text);
    noteOutput(text);
  }

  /** Parsed JSON log lines (Powertools writes one JSON object per line). */
  public records(): Array<Record<string, unknown>> {
    return this.text()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  }

  /** Every occurrence of any of `values` in what was captured (empty when clean). */
  public leaks(values: Iterable<string | undefined>): string[] {
    const text = this.text();
    return [...values].filter((v): v is string => typeof v === 'string' && v.length > 0 && text.includes(v));
  }
}

/** Every text an error carries to a log: message, stack and the chain of causes with their fields. */
export function errorText(err: unknown, depth = 0): string {
  if (!(err instanceof Error) || depth > 6) return String(err);
  const fields = JSON.stringify(Object.fromEntries(Object.entries(err)));
  return [err.name, err.message, err.stack ?? '', fields, err.cause ? errorText(err.cause, depth + 1) : ''].join('\n');
}
