import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { testPassword } from '../bin/local/postgres.js';
import { connectionStringPasswords, parseScanReport } from '../bin/cli/scanReports.js';
import { Fingerprints, RotorTags } from '../lambdas/contract/index.js';
import { FingerprintKeyError } from '../lambdas/core/errors.js';
import { candidateFingerprints, FingerprintKey, fingerprintFormat, fingerprintKeySource, plainFingerprint } from '../lambdas/core/fingerprint.js';
import { heldFingerprint } from '../lambdas/core/labels.js';
import { Redactor } from '../lambdas/core/redact.js';
import { parseLeakEvent } from '../lambdas/emergency/events.js';

const keyText = () => testPassword() + testPassword();

describe('keyed fingerprints', () => {
  it('are k1: + the first 32 hex digits of HMAC-SHA-256 under the key, not the plain SHA-256', () => {
    const text = keyText();
    const key = new FingerprintKey(text, 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k');
    const password = testPassword();
    const keyed = key.fingerprint(password);
    expect(keyed).toBe(`k1:${createHmac('sha256', Buffer.from(text, 'utf8')).update(password, 'utf8').digest('hex').slice(0, 32)}`);
    expect(keyed).not.toContain(plainFingerprint(password));
    expect(plainFingerprint(password)).toBe(createHash('sha256').update(password).digest('hex').slice(0, 32));
    expect(fingerprintFormat(keyed)).toBe('keyed');
    expect(fingerprintFormat(plainFingerprint(password))).toBe('plain');
  });

  it('are stable under one key and differ under another', () => {
    const text = keyText();
    const password = testPassword();
    expect(new FingerprintKey(text, 'a').fingerprint(password)).toBe(new FingerprintKey(text, 'b').fingerprint(password));
    expect(new FingerprintKey(keyText(), 'c').fingerprint(password)).not.toBe(new FingerprintKey(text, 'a').fingerprint(password));
  });

  it('tell formats apart and refuse what is neither (upper case, short, another prefix, the value itself)', () => {
    expect(fingerprintFormat('k1:' + 'a'.repeat(32))).toBe('keyed');
    expect(fingerprintFormat('a'.repeat(32))).toBe('plain');
    for (const bad of ['A'.repeat(32), 'a'.repeat(31), 'k2:' + 'a'.repeat(32), 'k1:' + 'a'.repeat(33), testPassword(), '']) {
      expect(fingerprintFormat(bad), bad.length.toString()).toBeUndefined();
    }
  });

  it('keep the key out of logs and JSON, and the redactor masks it', () => {
    const text = keyText();
    const key = new FingerprintKey(text, 'arn:key');
    expect(JSON.stringify({ key })).not.toContain(text);
    expect(String(JSON.stringify(key))).toBe('"[fingerprint key arn:key]"');
    const redactor = new Redactor();
    key.registerWith(redactor);
    expect(redactor.text(`oops ${text} here`)).toBe('oops [REDACTED] here');
  });

  it('refuse a key shorter than the minimum, naming the secret, never the key', () => {
    const short = testPassword().slice(0, Fingerprints.MIN_KEY_LENGTH - 1);
    let err: unknown;
    try {
      new FingerprintKey(short, 'arn:short');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FingerprintKeyError);
    expect((err as Error).message).toContain('arn:short');
    expect((err as Error).message).not.toContain(short);
  });

  it('are matched keyed and legacy: a secret tagged before the change is still found, and which value it is', () => {
    const key = new FingerprintKey(keyText(), 'k');
    const value = testPassword();
    const candidates = candidateFingerprints(value, [key]);
    expect(candidates).toEqual([key.fingerprint(value), plainFingerprint(value)]);
    const legacy = new Map([[RotorTags.FINGERPRINT_PREVIOUS, plainFingerprint(value)]]);
    expect(heldFingerprint(legacy, candidates)).toEqual({ fingerprint: plainFingerprint(value), which: 'previous' });
    const keyed = new Map([[RotorTags.FINGERPRINT_CURRENT, key.fingerprint(value)]]);
    expect(heldFingerprint(keyed, candidates)).toEqual({ fingerprint: key.fingerprint(value), which: 'current' });
    expect(heldFingerprint(keyed, candidateFingerprints(testPassword(), [key]))).toBeUndefined();
  });

  it('the functions read no key when the variable is unset, and refuse a variable that is not an ARN, naming it', async () => {
    const none = fingerprintKeySource({} as never, {}, 'postgres rotation');
    await expect(none()).resolves.toBeUndefined();
    expect(none.reads).toBe(0);
    const bad = fingerprintKeySource({} as never, { ROTOR_FINGERPRINT_KEY_ARN: 'my-key' }, 'postgres rotation');
    await expect(bad()).rejects.toThrow(/postgres rotation: environment variable ROTOR_FINGERPRINT_KEY_ARN is invalid/);
  });
});

describe('leak events with fingerprints', () => {
  const event = (fingerprint: string) => ({ id: 'e1', source: 'rotor', 'detail-type': 'Secret Leak Detected', detail: { fingerprint } });

  it('carry a keyed fingerprint or a legacy one, as given', () => {
    const keyed = new FingerprintKey(keyText(), 'k').fingerprint(testPassword());
    expect(parseLeakEvent(event(keyed))[0]!.fingerprint).toBe(keyed);
    const legacy = plainFingerprint(testPassword());
    expect(parseLeakEvent(event(legacy))[0]!.fingerprint).toBe(legacy);
  });

  it('refuse anything else without echoing it', () => {
    const value = testPassword();
    expect(() => parseLeakEvent(event(value))).toThrow(/must be 32 lowercase hex digits, keyed with the prefix k1:/);
    try {
      parseLeakEvent(event(value));
    } catch (err) {
      expect((err as Error).message).not.toContain(value);
    }
  });
});

describe('connection strings in scanner findings', () => {
  it('give their URL-decoded password: postgres://, postgresql://, mysql://, mariadb://, and JDBC forms', () => {
    const p = testPassword() + '@:/%';
    const enc = encodeURIComponent(p);
    expect(connectionStringPasswords(`DATABASE_URL=postgres://app:${enc}@db.internal:5432/app?sslmode=require`)).toEqual([p]);
    expect(connectionStringPasswords(`"postgresql://app:${enc}@10.0.0.1/app"`)).toEqual([p]);
    expect(connectionStringPasswords(`mysql://root:${enc}@127.0.0.1:3306/shop`)).toEqual([p]);
    expect(connectionStringPasswords(`mariadb://u:${enc}@h/d`)).toEqual([p]);
    expect(connectionStringPasswords(`postgresql+psycopg2://app:${enc}@h:5432/d`)).toEqual([p]);
    expect(connectionStringPasswords(`jdbc:postgresql://db:5432/app?user=app&password=${enc}&ssl=true`)).toEqual([p]);
    expect(connectionStringPasswords(`jdbc:mysql://app:${enc}@db:3306/app`)).toEqual([p]);
    // No password: nothing.
    expect(connectionStringPasswords('postgres://app@db/app and https://user:pw@example.invalid/')).toEqual([]);
  });

  it('a gitleaks finding of a connection string contributes the whole match and its password', () => {
    const p = testPassword();
    const url = `postgres://app:${encodeURIComponent(p)}@db:5432/app`;
    const [finding] = parseScanReport('gitleaks', JSON.stringify([{ RuleID: 'generic-api-key', File: 'a.env', StartLine: 3, Secret: url.slice(6), Match: `DB=${url}` }]));
    expect(finding!.values).toContain(p);
    expect(finding!.values).toContain(`DB=${url}`);
  });
});
