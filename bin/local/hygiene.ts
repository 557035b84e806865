/**
 * The suite-wide secret-hygiene ledger. While the test suite runs, every process that takes part
 * (the vitest workers, and the child processes they start) writes two things into one folder:
 * what left the code under test (log lines, metrics, errors, events, CLI output) and every
 * credential a test or Rotor generated (passwords, secret access keys, tokens). At the end of the
 * run, `checkHygiene` looks for every credential in everything produced, across all files, and
 * the run fails on any match (test/support/globalSetup.ts).
 *
 * Off (every call a no-op) unless HYGIENE_DIR_ENV names the folder: the sandbox and the bench
 * record nothing. The folder holds test credentials only, and is removed after the check.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The variable that names the ledger folder (set by the suite's global setup, inherited by every child). */
export const HYGIENE_DIR_ENV = 'ROTOR_TEST_HYGIENE_DIR';

/** Values shorter than this are not credentials any test makes (and would match by chance). */
const MIN_CREDENTIAL_LENGTH = 12;
/** Fixed dummy values of the local services (moto's 'testing' keys): public, never secret. */
const PUBLIC_VALUES = new Set(['testing', 'test', 'password']);
/** Buffered output is written out past this many characters (and at exit). */
const FLUSH_AT = 1 << 20;

const dir = (): string | undefined => process.env[HYGIENE_DIR_ENV] || undefined;

let output: string[] = [];
let outputChars = 0;
let credentials = new Set<string>();
let hooked = false;

function file(kind: 'output' | 'credentials'): string {
  return join(dir()!, `${kind}-${process.pid}.txt`);
}

/** Writes what is buffered to this process's ledger files. */
export function flushHygiene(): void {
  if (!dir()) return;
  if (output.length) appendFileSync(file('output'), output.join(''));
  if (credentials.size) appendFileSync(file('credentials'), [...credentials].map((c) => `${JSON.stringify(c)}\n`).join(''));
  output = [];
  outputChars = 0;
  credentials = new Set();
}

function ensureExitFlush(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', flushHygiene);
}

/** What a stream's `write` was given, as text (a string, or bytes). */
export function chunkText(chunk: unknown): string {
  return typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString();
}

/** Text that left the code under test: a log line, a metric, an error's message and stack, an event, CLI output. */
export function noteOutput(text: string | undefined): void {
  if (!dir() || !text) return;
  ensureExitFlush();
  output.push(text.endsWith('\n') ? text : `${text}\n`);
  outputChars += text.length;
  if (outputChars > FLUSH_AT) flushHygiene();
}

/** Credentials a test or Rotor generated: each is looked for in every output of the run. */
export function noteCredential(...values: Array<string | undefined>): void {
  if (!dir()) return;
  ensureExitFlush();
  for (const v of values) if (typeof v === 'string' && v.length >= MIN_CREDENTIAL_LENGTH && !PUBLIC_VALUES.has(v)) credentials.add(v);
}

export interface HygieneReport {
  readonly outputChars: number;
  readonly outputFiles: number;
  readonly credentials: number;
  /** One line per credential found: where and a masked context (never the value). */
  readonly findings: string[];
}

/**
 * Looks for every recorded credential in every recorded output. One pass over the text: each
 * credential is indexed by its first MIN_CREDENTIAL_LENGTH characters, and every position of
 * the text is looked up once (a per-credential `includes` over megabytes would not finish).
 * A credential is also looked for as it appears inside a JSON string (escaped).
 */
export function checkHygiene(ledger: string): HygieneReport {
  const names = readdirSync(ledger);
  const creds = new Set<string>();
  for (const name of names.filter((n) => n.startsWith('credentials-'))) {
    for (const line of readFileSync(join(ledger, name), 'utf8').split('\n')) if (line) creds.add(JSON.parse(line) as string);
  }
  const byPrefix = new Map<string, Array<{ needle: string; credential: string }>>();
  for (const credential of creds) {
    for (const needle of new Set([credential, JSON.stringify(credential).slice(1, -1)])) {
      const key = needle.slice(0, MIN_CREDENTIAL_LENGTH);
      const list = byPrefix.get(key) ?? [];
      list.push({ needle, credential });
      byPrefix.set(key, list);
    }
  }
  const findings: string[] = [];
  const reported = new Set<string>();
  let outputChars = 0;
  const outputs = names.filter((n) => n.startsWith('output-'));
  for (const name of outputs) {
    const text = readFileSync(join(ledger, name), 'utf8');
    outputChars += text.length;
    for (let i = 0; i + MIN_CREDENTIAL_LENGTH <= text.length; i++) {
      const candidates = byPrefix.get(text.slice(i, i + MIN_CREDENTIAL_LENGTH));
      if (!candidates) continue;
      for (const { needle, credential } of candidates) {
        if (!text.startsWith(needle, i) || reported.has(credential)) continue;
        reported.add(credential);
        const fingerprint = createHash('sha256').update(credential).digest('hex').slice(0, 16);
        const line = text.lastIndexOf('\n', i) + 1;
        const context = text.slice(Math.max(line, i - 80), i) + '<CREDENTIAL>' + text.slice(i + needle.length, i + needle.length + 80).split('\n')[0];
        findings.push(`credential sha256:${fingerprint} (${credential.length} chars) in ${name}: ${context.split(credential).join('<CREDENTIAL>')}`);
      }
    }
  }
  return { outputChars, outputFiles: outputs.length, credentials: creds.size, findings };
}
