/**
 * Runs before every test file (vitest `setupFiles`): everything the file's process writes to
 * stdout and stderr, or to the console, goes to the suite's hygiene ledger as well (bin/local/hygiene.ts), and the
 * ledger is written out when the file ends. The global setup checks the ledger at the end of
 * the run: no credential any test generated may appear in anything any test produced.
 */
import { format } from 'node:util';
import { afterAll } from 'vitest';
import { chunkText, flushHygiene, noteOutput } from '../../bin/local/hygiene.js';

for (const stream of [process.stdout, process.stderr]) {
  const original = stream.write.bind(stream);
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    noteOutput(chunkText(chunk));
    return original(chunk as string, ...(rest as []));
  }) as typeof stream.write;
}

// vitest routes the global console to its reporter, not through process.stdout.
for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    noteOutput(format(...args));
    original(...args);
  };
}

afterAll(() => {
  flushHygiene();
});
