import { describe, expect, it } from 'vitest';
import { RotationCache } from '../lambdas/core/rotationCache.js';

describe('RotationCache', () => {
  it('forgets rotations past their age and beyond its size', () => {
    let now = 0;
    const cache = new RotationCache({ maxRotations: 2, maxAgeMs: 1000 }, () => now);
    cache.get('s', 'a').values.set('v', 'x');
    expect(cache.get('s', 'a').values.get('v')).toBe('x');
    now = 2000;
    expect(cache.get('s', 'a').values.get('v')).toBeUndefined();
    cache.get('s', 'a').values.set('v', 'x');
    cache.get('s', 'b');
    cache.get('s', 'c');
    expect(cache.get('s', 'a').values.get('v')).toBeUndefined();
  });
});
