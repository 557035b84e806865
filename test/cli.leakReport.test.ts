/**
 * `rotor leak --from gitleaks|trufflehog|github <report>`: report files in each scanner's format,
 * made here from generated values, handed to the real CLI against moto. A value a Rotor-managed
 * secret holds (by its fingerprint tag) becomes one leak event carrying the fingerprint; the
 * others are listed with the reason; no value is printed or sent.
 */
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RotorTags } from '../lambdas/contract/index.js';
import { fingerprint } from '../lambdas/core/fingerprint.js';
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
const names = { iam: uniqueName('leak/iam'), token: uniqueName('leak/token') };

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
});
