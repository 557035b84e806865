/**
 * `rotor leak --from gitleaks|trufflehog|github <report>`: report files in each scanner's format,
 * made here from generated values, handed to the real CLI against moto. A value a Rotor-managed
 * secret holds (by its fingerprint tag) becomes one leak event carrying the fingerprint; the
 * others are listed with the reason; no value is printed or sent. The IAM and token secrets here
 * carry legacy plain tags (as written before keyed fingerprints): they must stay findable; the
 * database secret carries a keyed one (Rotor's fingerprint key, found by its tag).
 */
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RotorTags } from '../lambdas/contract/index.js';
import { plainFingerprint as fingerprint } from '../lambdas/core/fingerprint.js';
import { createFingerprintKey, type LocalFingerprintKey } from '../bin/local/fingerprintKey.js';
import { startRefusingProxy } from '../bin/local/refusingProxy.js';
import { fakeAccessKeyId } from '../bin/local/awsAdmin.js';
import { captureEvents } from '../bin/local/events.js';
import { noteCredential } from '../bin/local/hygiene.js';
import { startMoto, type MotoServer } from '../bin/local/moto.js';
import { testPassword, uniqueName } from '../bin/local/postgres.js';
import { cliEnv, runCli } from './support/cli.js';

let moto: MotoServer;
let dir: string;
const keyId = fakeAccessKeyId();
const keySecret = `${testPassword()}${testPassword()}`.slice(0, 40);
const token = testPassword();
const oldToken = testPassword();
const stranger = testPassword();
const dbPassword = testPassword();
const names = { iam: uniqueName('leak/iam'), token: uniqueName('leak/token'), db: uniqueName('leak/db') };
let key: LocalFingerprintKey;

beforeAll(async () => {
  noteCredential(keySecret);
  moto = await startMoto();
  dir = mkdtempSync(join(tmpdir(), 'rotor-leak-report-'));
  const sm = new SecretsManagerClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  // As finishSecret leaves them: fingerprints of the identities in the tags, the values in the secret.
  await sm.send(
    new CreateSecretCommand({
      Name: names.iam,
      SecretString: JSON.stringify({ accessKeyId: keyId, secretAccessKey: keySecret }),
      Tags: [{ Key: RotorTags.KIND, Value: 'iam' }, { Key: RotorTags.FINGERPRINT_CURRENT, Value: fingerprint(keyId) }],
    }),
  );
  await sm.send(
    new CreateSecretCommand({
      Name: names.token,
      SecretString: JSON.stringify({ token }),
      Tags: [
        { Key: RotorTags.KIND, Value: 'api-token' },
        { Key: RotorTags.FINGERPRINT_CURRENT, Value: fingerprint(token) },
        { Key: RotorTags.FINGERPRINT_PREVIOUS, Value: fingerprint(oldToken) },
      ],
    }),
  );
  // A database secret as finishSecret leaves it now: its password's keyed fingerprint.
  key = await createFingerprintKey(sm);
  await sm.send(
    new CreateSecretCommand({
      Name: names.db,
      SecretString: JSON.stringify({ engine: 'postgres', host: '127.0.0.1', port: 5432, username: 'orders', password: dbPassword }),
      Tags: [{ Key: RotorTags.KIND, Value: 'postgres' }, { Key: RotorTags.FINGERPRINT_CURRENT, Value: key.key.fingerprint(dbPassword) }],
    }),
  );
  sm.destroy();
});
afterAll(async () => {
  await moto?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const env = () => cliEnv(moto.endpoint, { AWS_REGION: 'us-east-1' });

/** The reports, as each scanner writes them (only the fields Rotor reads, plus some it ignores). */
const reports = {
  gitleaks: () =>
    JSON.stringify([
      { Description: 'AWS', RuleID: 'aws-access-token', File: 'deploy/env.sh', StartLine: 3, Commit: 'a1b2c3d4e5f60718293a', Secret: keyId, Match: `AWS_ACCESS_KEY_ID=${keyId}`, Entropy: 3.6 },
      { Description: 'Generic API Key', RuleID: 'generic-api-key', File: 'app/config.js', StartLine: 12, Commit: 'a1b2c3d4e5f60718293a', Secret: token },
      { Description: 'Generic API Key', RuleID: 'generic-api-key', File: 'app/old.js', StartLine: 7, Commit: 'ffee0011', Secret: token },
      { Description: 'Generic API Key', RuleID: 'generic-api-key', File: 'notes.txt', StartLine: 1, Secret: stranger },
    ]),
  trufflehog: () =>
    [
      { SourceMetadata: { Data: { Git: { commit: 'a1b2c3d4e5f6', file: 'deploy/env.sh', line: 3 } } }, DetectorName: 'AWS', Verified: false, Raw: keyId, RawV2: `${keyId}${keySecret}` },
      { SourceMetadata: { Data: { Filesystem: { file: 'backup/tokens.txt', line: 2 } } }, DetectorName: 'Datadogtoken', Raw: oldToken },
      { SourceMetadata: { Data: { Git: { commit: 'bb', file: 'x.txt', line: 9 } } }, DetectorName: 'Generic', Raw: stranger },
    ]
      .map((l) => JSON.stringify(l))
      .join('\n'),
  github: () =>
    JSON.stringify([
      { number: 41, state: 'open', secret_type: 'aws_access_key_id', secret_type_display_name: 'AWS Access Key ID', secret: keyId, html_url: 'https://github.com/acme/app/security/secret-scanning/41' },
      { number: 42, state: 'open', secret_type: 'datadog_api_key', secret: stranger, html_url: 'https://github.com/acme/app/security/secret-scanning/42' },
    ]),
};

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('rotor leak --from <scanner> <report-file>', () => {
  it('gitleaks: one leak event per held value (fingerprint only), the rest listed with the reason', async () => {
    const inbox = await captureEvents(moto.endpoint, { source: ['rotor'], 'detail-type': ['Secret Leak Detected'] });
    const r = await runCli(['leak', '--from', 'gitleaks', write('gitleaks.json', reports.gitleaks()), '--yes', '--output', 'json'], env());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { findings: number; matched: number; eventsSent: number; results: Array<Record<string, string>> };
    expect(out).toMatchObject({ findings: 4, matched: 3, eventsSent: 2 });
    expect(out.results.map((x) => [x.where, x.secret ?? null, x.which ?? null])).toEqual([
      ['deploy/env.sh:3@a1b2c3d4e5f6', names.iam, 'current'],
      ['app/config.js:12@a1b2c3d4e5f6', names.token, 'current'],
      ['app/old.js:7@ffee0011', names.token, 'current'],
      ['notes.txt:1', null, null],
    ]);
    expect(out.results[3]!.reason).toMatch(/no secret is tagged with its fingerprint/);
    const events = await inbox.drain();
    expect(events.map((e) => e.detail.fingerprint).sort()).toEqual([fingerprint(keyId), fingerprint(token)].sort());
    for (const e of events) {
      expect(e.detail).not.toHaveProperty('secretId');
      expect(String(e.detail.reason)).toMatch(/^found by gitleaks \((aws-access-token|generic-api-key)\) at /);
    }
    for (const v of [keySecret, token, oldToken, stranger]) expect(r.stdout + r.stderr + JSON.stringify(events)).not.toContain(v);
  });

  it('trufflehog JSON lines: a pair (key id and secret) and a previous token match; a table for people', async () => {
    const r = await runCli(['leak', '--from', 'trufflehog', write('trufflehog.jsonl', reports.trufflehog()), '--yes'], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('trufflehog report: 3 finding(s), 2 held by Rotor-managed secrets, 2 leak event(s) sent (fingerprints only).');
    expect(r.stdout).toMatch(new RegExp(`deploy/env.sh:3@a1b2c3d4e5f6 +AWS +${names.iam} +current`));
    expect(r.stdout).toMatch(new RegExp(`backup/tokens.txt:2 +Datadogtoken +${names.token} +previous`));
    expect(r.stdout).toMatch(/x\.txt:9@bb +Generic +no secret is tagged/);
    for (const v of [keySecret, oldToken, stranger]) expect(r.stdout + r.stderr).not.toContain(v);
  });

  it('GitHub secret-scanning alerts (REST API JSON): matched by alert', async () => {
    const r = await runCli(['leak', '--from', 'github', write('alerts.json', reports.github()), '--yes', '--json'], env());
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { matched: number; results: Array<Record<string, string>> };
    expect(out.matched).toBe(1);
    expect(out.results[0]).toMatchObject({ where: 'https://github.com/acme/app/security/secret-scanning/41', rule: 'aws_access_key_id', secret: names.iam });
  });

  it('asks before sending (no terminal, no --yes: exit 5, nothing sent), and names a malformed report by scanner and finding', async () => {
    const inbox = await captureEvents(moto.endpoint, { source: ['rotor'], 'detail-type': ['Secret Leak Detected'] });
    const unconfirmed = await runCli(['leak', '--from', 'gitleaks', write('g2.json', reports.gitleaks())], env());
    expect(unconfirmed.code).toBe(5);
    expect(await inbox.drain()).toEqual([]);
    const notJson = await runCli(['leak', '--from', 'github', write('bad.json', '{not json'), '--yes'], env());
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/--from github: the report is not JSON/);
    const noSecret = await runCli(['leak', '--from', 'gitleaks', write('nosecret.json', JSON.stringify([{ RuleID: 'x', File: 'a.txt', StartLine: 1 }])), '--yes'], env());
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toContain('--from gitleaks: finding 1 (a.txt:1) has no Secret field');
    const both = await runCli(['leak', '--from', 'gitleaks', write('g3.json', '[]'), '--fingerprint', fingerprint(token)], env());
    expect(both.code).toBe(2);
    const noScanner = await runCli(['leak', write('g4.json', '[]')], env());
    expect(noScanner.code).toBe(2);
    expect(noScanner.stderr).toMatch(/name the scanner that wrote it with --from \(gitleaks, trufflehog, github\)/);
  });

  it('gitleaks: a postgres:// connection string matches the database secret by its password\'s keyed fingerprint; one event, the fingerprint only', async () => {
    const inbox = await captureEvents(moto.endpoint, { source: ['rotor'], 'detail-type': ['Secret Leak Detected'] });
    const url = `postgres://orders:${encodeURIComponent(dbPassword)}@db.internal:5432/orders`;
    const report = JSON.stringify([
      { RuleID: 'generic-api-key', File: '.env', StartLine: 1, Commit: 'c0ffee', Secret: url.slice(url.indexOf('//') + 2), Match: `DATABASE_URL=${url}` },
      { RuleID: 'generic-api-key', File: 'ci.yml', StartLine: 9, Secret: `jdbc:postgresql://db.internal:5432/orders?user=orders&password=${encodeURIComponent(dbPassword)}` },
    ]);
    const r = await runCli(['leak', '--from', 'gitleaks', write('db.json', report), '--yes', '--output', 'json'], env());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { matched: number; eventsSent: number; results: Array<Record<string, string>> };
    expect(out).toMatchObject({ matched: 2, eventsSent: 1 });
    expect(out.results.map((x) => x.secret)).toEqual([names.db, names.db]);
    const events = await inbox.drain();
    expect(events).toHaveLength(1);
    expect(events[0]!.detail.fingerprint).toBe(key.key.fingerprint(dbPassword));
    expect(events[0]!.detail.fingerprint).toMatch(/^k1:[0-9a-f]{32}$/);
    expect(events[0]!.detail).not.toHaveProperty('secretId');
    for (const v of [dbPassword, encodeURIComponent(dbPassword)]) expect(r.stdout + r.stderr + JSON.stringify(events)).not.toContain(v);
  });

  it("names Rotor's fingerprint key secret it cannot read (missing, access denied), and sends nothing", async () => {
    const inbox = await captureEvents(moto.endpoint, { source: ['rotor'], 'detail-type': ['Secret Leak Detected'] });
    const report = write('g5.json', reports.gitleaks());
    const missing = await runCli(['leak', '--from', 'gitleaks', report, '--yes', '--fingerprint-key-secret', 'no/such/key'], env());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('--fingerprint-key-secret: the fingerprint key secret no/such/key does not exist');
    const proxy = await startRefusingProxy(moto.endpoint);
    try {
      proxy.intercept((operation, body) => (operation === 'GetSecretValue' && body.SecretId === key.arn ? 'AccessDeniedException' : undefined));
      const denied = await runCli(['leak', '--from', 'gitleaks', report, '--yes'], cliEnv(proxy.endpoint, { AWS_REGION: 'us-east-1' }));
      expect(denied.code).toBe(1);
      expect(denied.stderr).toContain(`cannot read the fingerprint key secret ${key.arn}: access denied (secretsmanager:GetSecretValue on it`);
      expect(denied.stderr).toContain('kms:Decrypt');
    } finally {
      await proxy.close();
    }
    expect(await inbox.drain()).toEqual([]);
    const bothForms = await runCli(['leak', '--fingerprint', 'a'.repeat(32), '--fingerprint-key-secret', key.arn], env());
    expect(bothForms.code).toBe(2);
    expect(bothForms.stderr).toContain('--fingerprint-key-secret is for --from');
  });
});
