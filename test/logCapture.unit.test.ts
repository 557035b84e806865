import { describe, expect, it } from 'vitest';
import { testPassword } from '../bin/local/postgres.js';
import { LogCapture } from './support/logCapture.js';

describe('LogCapture', () => {
  it('catches a value written by a logger (the leak check can fail)', () => {
    const capture = new LogCapture().start();
    const value = testPassword();
    try {
      process.stdout.write(`{"message":"oops ${value}"}\n`);
    } finally {
      capture.stop();
    }
    expect(capture.leaks([value])).toEqual([value]);
  });
});
