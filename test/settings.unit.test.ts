import { describe, expect, it } from 'vitest';
import { readSettings } from '../lambdas/core/settings.js';

describe('readSettings (lambdas/core/settings.ts, through the contract)', () => {
  it('reads defaults and overrides from the environment', () => {
    const kind = { name: 'k', strategies: ['single-user', 'alternating-users'] as const, passwordPolicy: { length: 32, excludeCharacters: '/' } };
    expect(readSettings({}, kind)).toEqual({ strategy: 'single-user', passwordPolicy: { length: 32, excludeCharacters: '/' } });
    expect(readSettings({ PASSWORD_LENGTH: '48', EXCLUDE_CHARACTERS: 'ab', ROTATION_STRATEGY: 'alternating-users' }, kind)).toEqual({
      strategy: 'alternating-users',
      passwordPolicy: { length: 48, excludeCharacters: 'ab' },
    });
    expect(() => readSettings({ PASSWORD_LENGTH: '4' }, kind)).toThrow(/PASSWORD_LENGTH is invalid/);
    // Set but empty excludes nothing; only an absent variable falls back to the kind's policy.
    expect(readSettings({ EXCLUDE_CHARACTERS: '' }, kind).passwordPolicy.excludeCharacters).toBe('');
    expect(() => readSettings({ ROTATION_STRATEGY: 'alternating-users' }, { ...kind, strategies: ['single-user'] })).toThrow(
      /not supported/,
    );
  });
});
