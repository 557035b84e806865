import { describe, expect, it } from 'vitest';
import { maskCredentialShapes, Redactor, REDACTED } from '../lambdas/core/redact.js';
import { fakeAccessKeyId } from '../bin/local/awsAdmin.js';
import { testPassword } from '../bin/local/postgres.js';

describe('Redactor', () => {
  it('masks every registered value, whatever its length', () => {
    const r = new Redactor();
    for (const v of ['x', 'q7', 'Zq~', 'k7#Q', 'k7#Qp']) r.add(v);
    expect(r.size).toBe(5);
    expect(r.text('login x failed')).toBe(`login ${REDACTED} failed`);
    expect(r.text("PASSWORD 'q7'")).toBe(`PASSWORD '${REDACTED}'`);
    expect(r.text('{"password":"Zq~"}')).toBe(`{"password":"${REDACTED}"}`);
    expect(r.text('postgres://app:Zq~@db')).toBe(`postgres://app:${REDACTED}@db`);
    // 4 characters and more: masked inside other text too.
    expect(r.text('pw=xxk7#Qpyy and k7#Q.')).toBe(`pw=xx${REDACTED}yy and ${REDACTED}.`);
  });

  it('masks values of 1 to 3 characters only as whole tokens, so ordinary words stay readable', () => {
    const r = new Redactor();
    r.add('a');
    r.add('in');
    expect(r.text('a login failed in setSecret: password a was refused')).toBe(
      `${REDACTED} login failed ${REDACTED} setSecret: password ${REDACTED} was refused`,
    );
    expect(r.text('internal database')).toBe('internal database');
  });

  it('masks a short value in error messages, causes and stacks', () => {
    const r = new Redactor();
    r.add('pw1');
    const safe = r.error(new Error('step failed', { cause: new Error("ALTER ROLE app PASSWORD 'pw1'") }));
    expect((safe.cause as Error).message).toBe(`ALTER ROLE app PASSWORD '${REDACTED}'`);
    expect(JSON.stringify({ s: safe.stack, c: (safe.cause as Error).stack })).not.toMatch(/'pw1'/);
  });

  it('ignores empty and non-string values', () => {
    const r = new Redactor();
    r.add('');
    r.add(undefined);
    expect(r.size).toBe(0);
    expect(r.text('nothing to mask')).toBe('nothing to mask');
  });

  it('prefers the longer value where registered values overlap', () => {
    const r = new Redactor();
    const long = testPassword();
    r.add(long.slice(0, 8));
    r.add(long);
    expect(r.text(`value ${long} end`)).toBe(`value ${REDACTED} end`);
  });
});

describe('maskCredentialShapes', () => {
  it('masks token-shaped runs and access key ids, and keeps words, ids and paths without digits', () => {
    const key = fakeAccessKeyId();
    const token = 'dd0123456789abcdef0123456789abcd';
    const secretKey = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz0123abcd';
    expect(maskCredentialShapes(`key ${key} and ${token}; secret ${secretKey}.`)).toBe(
      `key ${REDACTED} and ${REDACTED}; secret ${REDACTED}`,
    );
    const plain = 'GuardDuty CredentialAccess:IAMUser/AnomalousBehavior, ticket SEC-42, https://example.test/some/long/path/name';
    expect(maskCredentialShapes(plain)).toBe(plain);
  });
});

describe('Redactor.error', () => {
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
