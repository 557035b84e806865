import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { LogCapture } from './support/logCapture.js';

describe('LogCapture', () => {
  it('catches a value written by a logger (the leak check can fail)', () => {
    const capture = new LogCapture().start();
    // Not a generated credential (testPassword would record it for the suite-wide hygiene check): this leak is on purpose.
    const value = randomBytes(24).toString('base64url');
    try {
      process.stdout.write(`{"message":"oops ${value}"}\n`);
    } finally {
      capture.stop();
    }
    expect(capture.leaks([value])).toEqual([value]);
  });
});
