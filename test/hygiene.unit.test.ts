import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkHygiene, flushHygiene, HYGIENE_DIR_ENV, noteCredential, noteOutput } from '../bin/local/hygiene.js';
import { testPassword } from '../bin/local/postgres.js';

/** Runs `fn` with the ledger pointed at a folder of its own (the suite's ledger is untouched). */
function withLedger(fn: () => void): ReturnType<typeof checkHygiene> {
  const suiteLedger = process.env[HYGIENE_DIR_ENV];
  flushHygiene(); // what this file noted so far belongs to the suite's ledger
  const dir = mkdtempSync(join(tmpdir(), 'rotor-hygiene-unit-'));
  process.env[HYGIENE_DIR_ENV] = dir;
  try {
    fn();
    flushHygiene();
    return checkHygiene(dir);
  } finally {
    if (suiteLedger === undefined) delete process.env[HYGIENE_DIR_ENV];
    else process.env[HYGIENE_DIR_ENV] = suiteLedger;
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the suite-wide secret-hygiene check', () => {
  afterEach(() => flushHygiene());

  it('finds a generated credential in any output, as written or escaped inside JSON, and never prints it', () => {
    const plain = testPassword();
    const quoted = `${testPassword()}"\\${testPassword()}`;
    const report = withLedger(() => {
      noteCredential(plain, quoted, testPassword());
      noteOutput(`{"level":"INFO","message":"rotated","detail":"${plain}"}`);
      noteOutput(JSON.stringify({ error: quoted }));
      noteOutput('a line with nothing in it');
    });
    expect(report.credentials).toBe(3);
    expect(report.findings).toHaveLength(2);
    for (const finding of report.findings) {
      expect(finding).toMatch(/credential sha256:[0-9a-f]{16} \(\d+ chars\) in output-\d+\.txt: .*<CREDENTIAL>/);
      expect(finding).not.toContain(plain);
      expect(finding).not.toContain(quoted);
    }
  });

  it('passes clean output, and ignores values too short or public to be credentials', () => {
    const report = withLedger(() => {
      noteCredential(testPassword(), 'testing', 'short');
      noteOutput('{"level":"INFO","message":"rotated","secretAccessKey":"testing"}');
    });
    expect(report).toMatchObject({ credentials: 1, findings: [] });
  });
});
