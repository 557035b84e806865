import { describe, expect, it } from 'vitest';
import { testPassword } from '../bin/local/postgres';
import { LogCapture } from './support/logCapture';

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
