import { describe, expect, it } from 'vitest';
import { Redactor, REDACTED } from '../lambdas/core/redact';
import { RotationCache } from '../lambdas/core/rotationCache';
import { readSettings } from '../lambdas/core/settings';
import { parseLeakEvent } from '../lambdas/emergency/events';
import { LogCapture } from './support/logCapture';
import { testPassword } from './support/postgres';
import { fakeAccessKeyId } from './support/awsAdmin';

const [keyA, keyB, keyC] = [fakeAccessKeyId(), fakeAccessKeyId(), fakeAccessKeyId()];

describe('Redactor', () => {
  it('rebuilds errors without driver attributes and masks registered values in the chain', () => {
    const r = new Redactor();
    const secret = testPassword();
    r.add(secret);
    const inner = Object.assign(new Error(`bad statement with ${secret}`), { sql: `ALTER USER x IDENTIFIED BY '${secret}'`, code: 'ER_X' });
    const outer = new Error('step failed', { cause: inner });
    const safe = r.error(outer);
    const text = JSON.stringify({ m: safe.message, s: safe.stack, c: (safe.cause as Error).message, f: Object.entries(safe.cause as object) });
    expect(text).not.toContain(secret);
    expect((safe.cause as Error).message).toBe(`bad statement with ${REDACTED}`);
    expect((safe.cause as { code?: string }).code).toBe('ER_X');
    expect((safe.cause as { sql?: string }).sql).toBeUndefined();
  });
});

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

describe('settings and cache', () => {
  it('reads defaults and overrides from the environment', () => {
    const kind = { name: 'k', strategies: ['single-user', 'alternating-users'] as const, passwordPolicy: { length: 32, excludeCharacters: '/' } };
    expect(readSettings({}, kind)).toEqual({ strategy: 'single-user', passwordPolicy: { length: 32, excludeCharacters: '/' } });
    expect(readSettings({ PASSWORD_LENGTH: '48', EXCLUDE_CHARACTERS: 'ab', ROTATION_STRATEGY: 'alternating-users' }, kind)).toEqual({
      strategy: 'alternating-users',
      passwordPolicy: { length: 48, excludeCharacters: 'ab' },
    });
    expect(() => readSettings({ PASSWORD_LENGTH: '4' }, kind)).toThrow(/PASSWORD_LENGTH is invalid/);
    expect(() => readSettings({ ROTATION_STRATEGY: 'alternating-users' }, { ...kind, strategies: ['single-user'] })).toThrow(
      /not supported/,
    );
  });

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

describe('leak event parsing', () => {
  it('reads AWS Health exposure events with several keys, and GuardDuty IAM findings', () => {
    const health = parseLeakEvent({
      id: 'h1', source: 'aws.health', 'detail-type': 'AWS Health Event',
      detail: { eventTypeCode: 'AWS_RISK_CREDENTIALS_EXPOSED', affectedEntities: [{ entityValue: keyA }, { entityValue: keyB }] },
    });
    expect(health.map((r) => r.accessKeyId)).toEqual([keyA, keyB]);
    const gd = parseLeakEvent({
      id: 'g1', source: 'aws.guardduty', 'detail-type': 'GuardDuty Finding',
      detail: { type: 'CredentialAccess:IAMUser/AnomalousBehavior', resource: { accessKeyDetails: { accessKeyId: keyC } } },
    });
    expect(gd).toEqual([expect.objectContaining({ via: 'aws.guardduty', accessKeyId: keyC })]);
    expect(() => parseLeakEvent({ source: 'aws.health', 'detail-type': 'AWS Health Event', detail: { eventTypeCode: 'AWS_EC2_MAINTENANCE' } })).toThrow(/not a credential exposure/);
    expect(() => parseLeakEvent({ source: 'aws.s3', 'detail-type': 'Object Created' })).toThrow(/unsupported event/);
  });
});
