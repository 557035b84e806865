import {
  CancelRotateSecretCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { StepRecord } from '../bin/cli/rotationLog.js';
import { nextRotation, rateInterval } from '../bin/cli/schedule.js';
import { statusDefaults } from '../bin/cli/status.js';
import { waitForRotation, type StepLogReader, type WaitDeps } from '../bin/cli/wait.js';
import { createEmergencyHandler } from '../lambdas/emergency/index.js';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { retireKinds } from '../lambdas/retire/index.js';
import { cliEnv, FunctionLogs, loggingToCloudWatch, runCli, runCliOnTerminal, scriptCommand, type CliResult } from './support/cli.js';
import { captureEvents, eventsClient } from '../bin/local/events.js';
import { lambdaContext, playRotations, smClient } from '../bin/local/harness.js';
import { createRotationFunction } from '../bin/local/moto.js';
import { pgLogin, testPassword, uniqueName, type PostgresCluster } from '../bin/local/postgres.js';
import { useRotationSuite } from './support/rotationSuite.js';
import { usePostgresAdmin } from './support/pgAdmin.js';
import { fakeAccessKeyId } from '../bin/local/awsAdmin.js';

const exampleKeyId = fakeAccessKeyId();

const cluster = inject('postgres') as unknown as PostgresCluster;
const HOUR = 3_600_000;
const STEP_LINE = /^ {2}(createSecret|setSecret|testSecret|finishSecret)\s+(\S+)/;
const LEAK_PATTERN = { source: ['rotor'], 'detail-type': ['Secret Leak Detected'] };

describe('rotor CLI (the real binary against moto)', () => {
  const suite = useRotationSuite();
  const { admin } = usePostgresAdmin();

  /** Runs `rotor`; whatever it prints goes through the suite's leak check. */
  async function rotor(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
    const result = await runCli(args, cliEnv(suite.moto.endpoint, env));
    suite.logs.note(result.stdout + result.stderr);
    if (process.env.ROTOR_TEST_ECHO_LOGS) {
      console.info(`$ rotor ${args.join(' ')}\n${result.stdout}${result.stderr ? `[stderr]\n${result.stderr}` : ''}[exit ${result.code}]`);
    }
    return result;
  }

  const stepsOf = (stdout: string) =>
    stdout
      .split('\n')
      .map((l) => STEP_LINE.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => `${m[1]} ${m[2]}`);

  /**
   * A Rotor-managed PostgreSQL secret whose rotation is configured as the construct leaves it
   * (RotateSecret with the function, then a first rotation), and the rotation function as Lambda
   * runs it: its log lines reach /aws/lambda/rotor-rotation unless `logGroup` is false.
   */
  async function arrangePostgres(opts: { logGroup?: boolean } = {}) {
    await createRotationFunction(suite.moto.endpoint);
    const username = uniqueName('cli');
    const password = testPassword();
    await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
    const arn = await suite.secret(uniqueName('cli-pg'), { engine: 'postgres', host: cluster.host, port: cluster.port, username, password });
    await suite.player.client.send(
      new TagResourceCommand({ SecretId: arn, Tags: [{ Key: 'rotor:kind', Value: 'postgres' }, { Key: 'rotor:strategy', Value: 'single-user' }] }),
    );
    const rotation = suite.handler(postgresKind, { ROTATION_STRATEGY: 'single-user' });
    await suite.player.rotate(rotation, arn);
    const lambda =
      opts.logGroup === false
        ? rotation
        : loggingToCloudWatch(rotation, () => suite.logs, await new FunctionLogs(suite.moto.endpoint).create());
    const current = () => suite.player.value<{ username: string; password: string }>(arn);
    return { arn, username, lambda, current };
  }

  /** Turns rotation on as the construct does, without leaving a rotation in progress (unless asked). */
  async function enableRotation(arn: string, days: number, opts: { keepPending?: boolean } = {}) {
    const functionArn = await createRotationFunction(suite.moto.endpoint);
    await suite.player.client.send(
      new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: functionArn, RotationRules: { AutomaticallyAfterDays: days }, RotateImmediately: false }),
    );
    if (opts.keepPending) return;
    const pending = await suite.player.versionOf(arn, 'AWSPENDING');
    await suite.player.client.send(new UpdateSecretVersionStageCommand({ SecretId: arn, VersionStage: 'AWSPENDING', RemoveFromVersionId: pending }));
  }

  describe('rotate', () => {
    it('rotates now, prints each step as the function logs it, and exits 0', async () => {
      const { arn, lambda, current } = await arrangePostgres();
      const before = await suite.player.versionOf(arn, 'AWSCURRENT');
      const old = await current();

      const service = playRotations(suite.player, lambda, arn);
      const result = await rotor(['rotate', arn, '--timeout', '30']).finally(() => service.stop());

      expect(service.errors).toEqual([]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe('');
      const token = /^Token: (\S+)$/m.exec(result.stdout)?.[1];
      expect(token).toBeDefined();
      expect(stepsOf(result.stdout)).toEqual(['createSecret done', 'setSecret done', 'testSecret done', 'finishSecret done']);
      expect(result.stdout).toContain(`AWSCURRENT is now ${token}; ${before} is AWSPREVIOUS`);
      expect(result.stdout).toContain('steps from log group /aws/lambda/rotor-rotation');
      expect((await suite.player.versions(arn))[token!]).toEqual(['AWSCURRENT']);
      const now = await current();
      expect(await pgLogin(cluster, now.username, now.password)).toBe(true);
      expect(await pgLogin(cluster, old.username, old.password)).toBe(false);
      console.info(`[figure] rotor rotate against moto and PostgreSQL: ${result.durationMs} ms wall clock (process start included)`);
    });

    it('prints the failing step and its error, and exits 1, when a step fails', async () => {
      const { arn, lambda, username, current } = await arrangePostgres();
      const before = await suite.player.versionOf(arn, 'AWSCURRENT');
      // Someone changed the password behind Rotor's back: no known password logs in, setSecret fails.
      const unknown = testPassword();
      suite.sensitive(unknown);
      await admin.query(`ALTER ROLE ${admin.escapeIdentifier(username)} PASSWORD ${admin.escapeLiteral(unknown)}`);

      const service = playRotations(suite.player, lambda, arn);
      const result = await rotor(['rotate', arn, '--timeout', '30']).finally(() => service.stop());

      expect(service.errors).toHaveLength(1); // the service saw setSecret fail, as the CLI did
      expect(result.code).toBe(1);
      expect(stepsOf(result.stdout)).toEqual(['createSecret done', 'setSecret FAILED:']);
      expect(result.stdout).toMatch(/setSecret\s+FAILED: RotationStepError: .*cannot log in as/);
      expect(result.stderr).toMatch(/rotation of .* failed at setSecret: RotationStepError: .*cannot log in as/);
      expect(result.stderr).toContain('AWSCURRENT is unchanged');
      expect(await suite.player.versionOf(arn, 'AWSCURRENT')).toBe(before);
      expect((await current()).password).not.toBe(unknown);
    });

    it('gives up after --timeout when nothing rotates, exits 3 (timed out, may still finish) and says where it stopped', async () => {
      const { arn } = await arrangePostgres();
      const result = await rotor(['rotate', arn, '--timeout', '3']);
      expect(result.code).toBe(3);
      const token = /^Token: (\S+)$/m.exec(result.stdout)?.[1];
      expect(result.stderr).toContain(`timed out after 3 s waiting for the rotation of`);
      expect(result.stderr).toContain(`token ${token} is staged AWSPENDING`);
      expect(result.durationMs).toBeGreaterThanOrEqual(3000);
    });

    it('stops waiting, and exits 1, when the rotation is cancelled', async () => {
      const { arn } = await arrangePostgres();
      const running = rotor(['rotate', arn, '--timeout', '30']);
      let token: string | undefined;
      while (!token) {
        await new Promise((r) => setTimeout(r, 50));
        token = await suite.player.versionOf(arn, 'AWSPENDING');
      }
      await suite.player.client.send(new CancelRotateSecretCommand({ SecretId: arn }));
      const result = await running;
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`did not finish: rotation was turned off (CancelRotateSecret?); token ${token} is staged AWSPENDING`);
    });

    it('falls back to the staging labels, and says so, when the log group cannot be read', async () => {
      const { arn, lambda } = await arrangePostgres({ logGroup: false });
      const service = playRotations(suite.player, lambda, arn);
      const result = await rotor(['rotate', arn, '--timeout', '30']).finally(() => service.stop());
      expect(result.code, result.stderr).toBe(0);
      const token = /^Token: (\S+)$/m.exec(result.stdout)?.[1];
      expect(result.stderr).toMatch(/cannot read the rotation function's log group \/aws\/lambda\/rotor-rotation \(ResourceNotFoundException/);
      expect(result.stderr).toContain('showing progress from the staging labels');
      expect(result.stdout).toContain(`AWSCURRENT moved to ${token}`);
      expect(stepsOf(result.stdout)).toEqual([]);
    });

    it('prints the same in --json: one result object with the steps', async () => {
      const { arn, lambda } = await arrangePostgres();
      const service = playRotations(suite.player, lambda, arn);
      const result = await rotor(['rotate', arn, '--json', '--timeout', '30']).finally(() => service.stop());
      expect(result.code, result.stderr).toBe(0);
      const out = JSON.parse(result.stdout);
      expect(out).toMatchObject({ outcome: 'rotated', progressFrom: 'logs', logGroup: '/aws/lambda/rotor-rotation' });
      expect(out.steps.map((s: { step: string }) => s.step)).toEqual(['createSecret', 'setSecret', 'testSecret', 'finishSecret']);
      expect(out.currentVersionId).toBe(out.token);
    });

    it('refuses a secret without rotation, one with a rotation in progress, and an unknown secret, with exit 1', async () => {
      const arn = await suite.secret(uniqueName('cli-norot'), { username: 'app', password: testPassword() });
      const busy = await suite.secret(uniqueName('cli-busy'), { username: 'app', password: testPassword() });
      await enableRotation(busy, 30, { keepPending: true });
      const pending = await suite.player.versionOf(busy, 'AWSPENDING');
      const [off, inProgress, unknown, unknownJson] = await Promise.all([
        rotor(['rotate', arn]),
        rotor(['rotate', busy]),
        rotor(['rotate', 'no/such-secret']),
        rotor(['rotate', 'no/such-secret', '--json']),
      ]);
      expect(inProgress.code).toBe(1);
      expect(inProgress.stderr).toContain(`is already in progress: version ${pending} is staged AWSPENDING`);
      expect(inProgress.stderr).toContain(`--version-stage AWSPENDING --remove-from-version-id ${pending}`);
      expect(await suite.player.versionOf(busy, 'AWSPENDING')).toBe(pending);
      expect(JSON.parse(unknownJson.stdout)).toEqual({
        error: { name: 'SecretNotFoundError', message: expect.stringContaining("secret 'no/such-secret' not found"), exitCode: 1 },
      });
      expect(off.code).toBe(1);
      expect(off.stderr).toMatch(/rotation is not enabled for secret cli-norot_\w+\. Deploy a Rotor rotation construct/);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/secret 'no\/such-secret' not found in us-east-1 at http:\/\/127\.0\.0\.1:\d+: check the name or ARN/);
      expect(unknown.stdout).toBe('');
    });
  });

  describe('rotate --leaked', () => {
    it('sends the leak event and waits until the emergency handler has rotated and revoked', async () => {
      const { arn, lambda, current } = await arrangePostgres();
      const leaked = await current();
      const leakedVersionId = await suite.player.versionOf(arn, 'AWSCURRENT');
      const inbox = await captureEvents(suite.moto.endpoint, LEAK_PATTERN);
      const emergency = createEmergencyHandler({
        sm: smClient(suite.moto.endpoint),
        events: eventsClient(suite.moto.endpoint),
        pollIntervalMs: 50,
        waitTimeoutMs: 20_000,
      });
      // EventBridge → the emergency function (here through the SQS queue moto delivers to).
      let stop = false;
      const delivered: unknown[] = [];
      const bridge = (async () => {
        while (!stop) {
          for (const event of await inbox.drain()) {
            delivered.push(event);
            await emergency(event as never, lambdaContext('rotor-emergency'));
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const service = playRotations(suite.player, lambda, arn);

      const result = await rotor(['rotate', arn, '--leaked', '--yes', '--reason', 'pasted in a chat', '--timeout', '30']).finally(async () => {
        stop = true;
        await bridge;
        await service.stop();
      });

      expect(service.errors).toEqual([]);
      expect(result.code, result.stderr).toBe(0);
      expect(delivered).toHaveLength(1);
      expect(delivered[0]).toMatchObject({ source: 'rotor', detail: { secretId: arn, reason: 'pasted in a chat' } });
      const now = await suite.player.versionOf(arn, 'AWSCURRENT');
      expect(now).not.toBe(leakedVersionId);
      expect(result.stdout).toContain(`Leaked version: ${leakedVersionId}`);
      expect(result.stdout).toMatch(new RegExp(`Rotated and revoked in [\\d.]+ (s|ms): leaked version ${leakedVersionId}, new version ${now}`));
      expect(stepsOf(result.stdout)).toEqual(['createSecret done', 'setSecret done', 'testSecret done', 'finishSecret done']);
      expect(await pgLogin(cluster, leaked.username, leaked.password)).toBe(false);
      const fresh = await current();
      expect(await pgLogin(cluster, fresh.username, fresh.password)).toBe(true);
      console.info(`[figure] rotor rotate --leaked against moto and PostgreSQL: ${result.durationMs} ms wall clock`);
    });

    it('says clearly that nothing answered when no emergency handler acts on the event', async () => {
      const { arn } = await arrangePostgres();
      const leakedVersionId = await suite.player.versionOf(arn, 'AWSCURRENT');
      const inbox = await captureEvents(suite.moto.endpoint, LEAK_PATTERN);
      const result = await rotor(['rotate', arn, '--leaked', '--yes', '--timeout', '3']);
      expect(result.code).toBe(3);
      const eventId = /^Leak event sent: (\S+)/m.exec(result.stdout)?.[1];
      expect(result.stderr).toContain(`timed out after 3 s: the leak event was sent (${eventId})`);
      expect(result.stderr).toContain(`AWSCURRENT is still on the leaked version ${leakedVersionId}`);
      expect(result.stderr).toContain("emergency rule deployed on bus 'default' for source 'rotor'");
      const sent = await inbox.drain();
      expect(sent).toHaveLength(1);
      expect(sent[0]!.detail).toMatchObject({ secretId: arn, reason: 'no reason given' });
    });
  });

  describe('status', () => {
    async function managed(name: string, tags: Record<string, string>) {
      const arn = await suite.secret(name, { username: 'app', password: testPassword() });
      await suite.player.client.send(new TagResourceCommand({ SecretId: arn, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }));
      return arn;
    }
    async function newValue(arn: string) {
      await suite.player.client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: JSON.stringify({ username: 'app', password: testPassword() }) }));
    }

    it('lists only Rotor-managed secrets with schedule, overdue, stuck AWSPENDING and grace, as a table and as JSON', async () => {
      const p = uniqueName('st');
      const pg = await managed(`${p}-a-pg`, { 'rotor:kind': 'postgres', 'rotor:strategy': 'alternating-users' });
      await enableRotation(pg, 30);
      const my = await managed(`${p}-b-mysql`, { 'rotor:kind': 'mysql', 'rotor:strategy': 'single-user' });
      await enableRotation(my, 1);
      const stuck = await managed(`${p}-c-stuck`, { 'rotor:kind': 'postgres' });
      await enableRotation(stuck, 30, { keepPending: true });
      const iam = await managed(`${p}-d-iam`, { 'rotor:kind': 'iam', 'rotor:grace-hours': '36' });
      await newValue(iam);
      const api = await managed(`${p}-e-api`, { 'rotor:kind': 'api-token' });
      await newValue(api);
      const apiPrevious = await suite.player.versionOf(api, 'AWSPREVIOUS');
      await suite.player.client.send(new TagResourceCommand({ SecretId: api, Tags: [{ Key: 'rotor:retired-version', Value: apiPrevious }] }));
      await managed(`${p}-f-other`, { 'rotor:kind-legacy': 'postgres', team: 'x' });
      await suite.secret(`${p}-g-untagged`, { password: testPassword() });
      const t0 = Date.now();
      const later = new Date(t0 + 48 * HOUR).toISOString();

      const [json, jsonLater, tableLater] = await Promise.all([
        rotor(['status', '--json']),
        rotor(['status', '--json', '--at', later]),
        rotor(['status', '--at', later]),
      ]);

      for (const r of [json, jsonLater, tableLater]) expect(r.code, r.stderr).toBe(0);
      const now = JSON.parse(json.stdout);
      const byName = (out: { secrets: Array<Record<string, any>> }) => Object.fromEntries(out.secrets.map((s) => [s.name.slice(p.length + 1), s]));
      const s = byName(now);
      expect(Object.keys(s)).toEqual(['a-pg', 'b-mysql', 'c-stuck', 'd-iam', 'e-api']);
      expect(s['a-pg']).toMatchObject({ kind: 'postgres', strategy: 'alternating-users', rotationEnabled: true, rotationFunction: 'rotor-rotation', overdue: false });
      expect(Date.parse(s['a-pg'].nextRotation.at) - t0).toBeGreaterThan(29.9 * 24 * HOUR);
      expect(s['b-mysql']).toMatchObject({ kind: 'mysql', strategy: 'single-user', overdue: false });
      expect(s['c-stuck'].pending).toMatchObject({ stuck: false });
      expect(s['c-stuck'].strategy).toBeUndefined();
      expect(s['d-iam']).toMatchObject({ rotationEnabled: false, previous: { state: 'in-grace', graceHours: 36, graceHoursFrom: 'tag' } });
      expect(Math.abs(Date.parse(s['d-iam'].previous.graceEndsAt) - (t0 + 36 * HOUR))).toBeLessThan(2 * 60_000);
      expect(s['e-api'].previous).toMatchObject({ state: 'retired', versionId: apiPrevious });
      expect(s['a-pg'].previous).toBeUndefined(); // not a dual-active kind

      const l = byName(JSON.parse(jsonLater.stdout));
      expect(l['a-pg'].overdue).toBe(false);
      expect(l['b-mysql'].overdue).toBe(true);
      expect(l['c-stuck'].pending).toMatchObject({ stuck: true });
      expect(l['d-iam'].previous.state).toBe('due-for-retirement');
      expect(l['e-api'].previous.state).toBe('retired');
      expect(l['b-mysql'].problems.join()).toMatch(/rotation overdue since/);

      const rows = tableLater.stdout.split('\n');
      expect(rows[0]).toMatch(/^NAME\s+KIND\s+STRATEGY\s+ROTATION\s+LAST ROTATED\s+NEXT ROTATION\s+PENDING\s+PREVIOUS/);
      const row = (suffix: string) => rows.find((r) => r.startsWith(`${p}-${suffix} `)) ?? '';
      expect(row('a-pg')).toMatch(/postgres\s+alternating-users\s+on \(rotor-rotation\)/);
      expect(row('a-pg')).not.toContain('OVERDUE');
      expect(row('b-mysql')).toContain('OVERDUE');
      expect(row('c-stuck')).toMatch(/STUCK/);
      expect(row('d-iam')).toMatch(/iam\s+default\s+off.*due for retirement/);
      expect(row('e-api')).toContain('retired');
      expect(tableLater.stdout).not.toContain(`${p}-f-other`);
      expect(tableLater.stdout).not.toContain(`${p}-g-untagged`);
      expect(tableLater.stdout).toContain('5 Rotor-managed secrets in us-east-1 as of');
      expect(tableLater.stdout).toContain('1 overdue, 1 with a stuck AWSPENDING, 1 due for retirement, 2 with rotation off');
    });

    it('needs a region and credentials, and says how to give them', async () => {
      await suite.secret(uniqueName('cli-env'), { password: testPassword() });
      const [noRegion, noCredentials] = await Promise.all([
        rotor(['status'], { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined }),
        rotor(['status'], { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined }),
      ]);
      expect(noRegion.code).toBe(1);
      expect(noRegion.stderr).toMatch(/^rotor: no AWS region configured: set AWS_REGION .* pass --region/m);
      expect(noCredentials.code).toBe(1);
      expect(noCredentials.stderr).toMatch(/^rotor: no AWS credentials found: set AWS_ACCESS_KEY_ID/m);
      const withFlag = await rotor(['status', '--region', 'us-east-1'], { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined });
      expect(withFlag.code, withFlag.stderr).toBe(0);
    });
  });

  describe('leak', () => {
    it('sends the leak event for a secret, an access key id or a fingerprint and prints its id', async () => {
      const name = uniqueName('cli-leak');
      const arn = await suite.secret(name, { password: testPassword() });
      const inbox = await captureEvents(suite.moto.endpoint, LEAK_PATTERN);
      const bySecret = await rotor(['leak', '--yes', '--secret', name, '--reason', 'found in a public gist']);
      const [byKey, byFingerprint] = await Promise.all([
        rotor(['leak', '--yes', '--access-key-id', exampleKeyId, '--json']),
        rotor(['leak', '-y', '--fingerprint', 'a'.repeat(32), '--reason', 'scanner']),
      ]);

      for (const r of [bySecret, byKey, byFingerprint]) expect(r.code, r.stderr).toBe(0);
      const secretEventId = /^Leak event sent: (\S+)$/m.exec(bySecret.stdout)?.[1];
      expect(secretEventId).toBeDefined();
      expect(bySecret.stdout).toContain(`naming secret ${arn}`);
      const keyEvent = JSON.parse(byKey.stdout);
      expect(keyEvent).toMatchObject({ source: 'rotor', detailType: 'Secret Leak Detected', eventBusName: 'default', detail: { accessKeyId: exampleKeyId } });
      const events = await inbox.drain();
      expect(events).toHaveLength(3);
      const bySecretEvent = events.find((e) => e.detail.secretId);
      expect(bySecretEvent).toMatchObject({ source: 'rotor', 'detail-type': 'Secret Leak Detected', detail: { secretId: arn, reason: 'found in a public gist' } });
      expect(String(bySecretEvent!.detail.reporter)).toMatch(/^rotor cli \(/);
      expect(events.find((e) => e.detail.accessKeyId)?.detail).toMatchObject({ accessKeyId: exampleKeyId, reason: 'no reason given' });
      expect(events.find((e) => e.detail.fingerprint)?.detail).toMatchObject({ fingerprint: 'a'.repeat(32), reason: 'scanner' });
    });

    it('sends to the given source and bus', async () => {
      const name = uniqueName('cli-leak-src');
      await suite.secret(name, { password: testPassword() });
      const inbox = await captureEvents(suite.moto.endpoint, { source: ['acme.scanner'] });
      const result = await rotor(['leak', '--yes', '--secret', name, '--source', 'acme.scanner', '--event-bus', 'default']);
      expect(result.code, result.stderr).toBe(0);
      expect(await inbox.drain()).toHaveLength(1);
    });

    it('exits 2 with a clear message unless exactly one well-formed identifier is named', async () => {
      const name = uniqueName('cli-leak-usage');
      await suite.secret(name, { password: testPassword() });
      const inbox = await captureEvents(suite.moto.endpoint, LEAK_PATTERN);
      const [two, none, badFingerprint, unknownOption, reasonWithoutLeaked] = await Promise.all([
        rotor(['leak', '--secret', name, '--fingerprint', 'b'.repeat(32)]),
        rotor(['leak', '--reason', 'x']),
        rotor(['leak', '--fingerprint', 'XYZ']),
        rotor(['leak', '--secret', name, '--bogus']),
        rotor(['rotate', name, '--reason', 'x']),
      ]);
      for (const r of [two, none, badFingerprint, unknownOption, reasonWithoutLeaked]) expect(r.code, r.stderr).toBe(2);
      expect(two.stderr).toContain('name exactly one of --access-key-id, --secret, --fingerprint (got --secret and --fingerprint)');
      expect(none.stderr).toContain('name exactly one of --access-key-id, --secret, --fingerprint');
      expect(badFingerprint.stderr).toContain('--fingerprint: must be 32 lowercase hex digits');
      expect(unknownOption.stderr).toContain("unknown option '--bogus'");
      expect(reasonWithoutLeaked.stderr).toContain('--reason applies only with --leaked');
      expect(await inbox.drain()).toEqual([]);
    });

    it('exits 1 for an unknown secret and sends nothing', async () => {
      await suite.secret(uniqueName('cli-leak-known'), { password: testPassword() });
      const inbox = await captureEvents(suite.moto.endpoint, LEAK_PATTERN);
      const result = await rotor(['leak', '--secret', 'no/such-secret']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/secret 'no\/such-secret' not found in us-east-1/);
      expect(await inbox.drain()).toEqual([]);
    });
  });

  describe('as AWS CLI users expect it', () => {
    it('prints the table or JSON per --output, --json and AWS_DEFAULT_OUTPUT (the flag wins; they must agree); every help shows the globals and exit codes', async () => {
      const name = uniqueName('cli-out');
      const arn = await suite.secret(name, { password: testPassword() });
      await suite.player.client.send(new TagResourceCommand({ SecretId: arn, Tags: [{ Key: 'rotor:kind', Value: 'postgres' }] }));
      const helps = Promise.all(['status', 'rotate', 'leak'].map((c) => rotor([c, '--help'])));
      const [table, json, envJson, envJsonFlagTable, envText, conflict] = await Promise.all([
        rotor(['status', '--output', 'table']),
        rotor(['status', '--output', 'json']),
        rotor(['status'], { AWS_DEFAULT_OUTPUT: 'json' }),
        rotor(['--output', 'table', 'status'], { AWS_DEFAULT_OUTPUT: 'json' }),
        rotor(['status'], { AWS_DEFAULT_OUTPUT: 'text' }),
        rotor(['status', '--json', '--output', 'table']),
      ]);
      for (const r of [table, json, envJson, envJsonFlagTable, envText]) expect(r.code, r.stderr).toBe(0);
      for (const r of [table, envJsonFlagTable, envText]) {
        expect(r.stdout).toMatch(/^NAME\s+KIND\s+STRATEGY/);
        expect(r.stdout).toMatch(new RegExp(`^${name}\\s+postgres`, 'm'));
      }
      for (const r of [json, envJson]) {
        expect(JSON.parse(r.stdout).secrets.map((x: { name: string }) => x.name)).toContain(name);
      }
      expect(conflict.code).toBe(2);
      expect(conflict.stderr).toContain('--json and --output table disagree');
      for (const h of await helps) {
        expect(h.code).toBe(0);
        expect(h.stdout).toMatch(/Global Options:[\s\S]*--region <region>[\s\S]*--profile <name>[\s\S]*--output <format>/);
        expect(h.stdout).toMatch(/Exit codes:\n {2}0 {2}ok\n {2}1 {2}failed[\s\S]*\n {2}3 {2}timed out[\s\S]*\n {2}4 {2}status --fail-on[\s\S]*\n {2}5 {2}not confirmed/);
      }
    });

    it('names an unknown profile in the error (flag or AWS_PROFILE), and uses a known one, never printing a key', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'rotor-cli-profiles-'));
      const key = `rotorProfileKey${testPassword().replace(/\W/g, '')}`;
      suite.sensitive(key);
      writeFileSync(join(dir, 'config'), '[default]\nregion = us-east-1\n[profile ops]\nregion = us-east-1\n[profile bare]\nregion = us-east-1\n');
      writeFileSync(join(dir, 'credentials'), `[ops]\naws_access_key_id = AKIAROTORTEST\naws_secret_access_key = ${key}\n`);
      const files = {
        AWS_CONFIG_FILE: join(dir, 'config'),
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
      };
      try {
        const [byFlag, byEnv, known, bare] = await Promise.all([
          rotor(['status', '--profile', 'nosuch'], files),
          rotor(['status'], { ...files, AWS_PROFILE: 'typo' }),
          rotor(['status', '--profile', 'ops'], files),
          rotor(['status', '--profile', 'bare'], files),
        ]);
        expect(byFlag.code).toBe(1);
        expect(byFlag.stderr).toMatch(/^rotor: AWS profile 'nosuch' \(--profile\) not found in .*config or .*credentials \(profiles there: bare, default, ops\)/m);
        expect(byEnv.code).toBe(1);
        expect(byEnv.stderr).toContain("AWS profile 'typo' (AWS_PROFILE) not found");
        expect(known.code, known.stderr).toBe(0);
        expect(bare.code).toBe(1);
        expect(bare.stderr).toContain("cannot load credentials for AWS profile 'bare'");
        for (const r of [byFlag, byEnv, known, bare]) expect(r.stdout + r.stderr).not.toContain(key);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses leak and rotate --leaked without --yes when stdin is not a terminal (exit 5), and sends nothing', async () => {
      const { arn } = await arrangePostgres();
      const before = await suite.player.versionOf(arn, 'AWSCURRENT');
      const inbox = await captureEvents(suite.moto.endpoint, LEAK_PATTERN);
      const [leak, leakJson, leaked, yesAlone] = await Promise.all([
        rotor(['leak', '--secret', arn]),
        rotor(['leak', '--access-key-id', exampleKeyId, '--output', 'json']),
        rotor(['rotate', arn, '--leaked', '--timeout', '3']),
        rotor(['rotate', arn, '--yes']),
      ]);
      for (const r of [leak, leakJson, leaked]) expect(r.code, r.stderr).toBe(5);
      expect(leak.stderr).toMatch(/^rotor: rotor leak: report secret .* as leaked.*needs confirmation, and stdin is not a terminal.*Pass --yes/m);
      expect(leaked.stderr).toMatch(/rotor rotate --leaked: rotate .* and revoke its current value \(version .*\).*Pass --yes/);
      expect(JSON.parse(leakJson.stdout)).toEqual({ error: { name: 'NotConfirmedError', message: expect.stringContaining('Pass --yes'), exitCode: 5 } });
      expect(yesAlone.code).toBe(2);
      expect(yesAlone.stderr).toContain('--yes applies only with --leaked');
      expect(await inbox.drain()).toEqual([]);
      expect(await suite.player.versionOf(arn, 'AWSCURRENT')).toBe(before);
      expect(await suite.player.versionOf(arn, 'AWSPENDING')).toBeUndefined();
    });

    it.skipIf(!scriptCommand)('asks on a terminal before leak: no sends nothing (exit 5), yes sends the event', async () => {
      const name = uniqueName('cli-tty');
      const arn = await suite.secret(name, { password: testPassword() });
      const inbox = await captureEvents(suite.moto.endpoint, LEAK_PATTERN);
      const env = cliEnv(suite.moto.endpoint);
      const no = await runCliOnTerminal(['leak', '--secret', name], env, 'n\r');
      suite.logs.note(no.stdout + no.stderr);
      expect(no.code, no.stdout).toBe(5);
      expect(no.stdout).toContain(`rotor leak: report secret ${arn} as leaked; Rotor's emergency handler will rotate it and revoke the leaked value. Continue? [y/N]`);
      expect(no.stdout).toContain('not confirmed. Nothing was sent.');
      expect(await inbox.drain()).toEqual([]);
      const yes = await runCliOnTerminal(['leak', '--secret', name], env, 'yes\r');
      suite.logs.note(yes.stdout + yes.stderr);
      expect(yes.code, yes.stdout).toBe(0);
      expect(yes.stdout).toMatch(/Leak event sent: \S+/);
      expect((await inbox.drain()).map((e) => e.detail.secretId)).toEqual([arn]);
    });

    it('rotate --no-wait returns at once with the rotation started (exit 0); --timeout with it is a usage error', async () => {
      const { arn } = await arrangePostgres();
      const [started, withTimeout] = await Promise.all([
        rotor(['rotate', arn, '--no-wait', '--output', 'json']),
        rotor(['rotate', arn, '--no-wait', '--timeout', '5']),
      ]);
      expect(started.code, started.stderr).toBe(0);
      const out = JSON.parse(started.stdout);
      expect(out).toMatchObject({ outcome: 'started', secret: { arn } });
      expect(await suite.player.versionOf(arn, 'AWSPENDING')).toBe(out.token); // nobody completes it: it stays started
      expect(withTimeout.code).toBe(2);
      expect(withTimeout.stderr).toContain('--timeout applies only when waiting (not with --no-wait)');
      const again = await rotor(['rotate', arn, '--no-wait']);
      expect(again.code).toBe(1); // a failure, not a timeout: the started rotation is in progress
      expect(again.stderr).toContain(`is already in progress: version ${out.token} is staged AWSPENDING`);
    });

    it('exits 3 (timed out, may still finish) apart from 1 (failed) when a short bound passes on a rotation nobody completes', async () => {
      const { arn } = await arrangePostgres();
      const result = await rotor(['rotate', arn, '--timeout', '1', '--json']);
      expect(result.code).toBe(3);
      const out = JSON.parse(result.stdout);
      expect(out).toMatchObject({ outcome: 'timed-out' });
      expect(await suite.player.versionOf(arn, 'AWSPENDING')).toBe(out.token);
      expect(result.stderr).toContain('It may still finish: check rotor status.');
    });

    it('status --fail-on overdue,stuck exits 4 naming what matched, prints the report in full, and exits 0 when nothing does', async () => {
      const p = uniqueName('fo');
      const overdue = `${p}-overdue`;
      const stuck = `${p}-stuck`;
      const overdueArn = await suite.secret(overdue, { password: testPassword() });
      const stuckArn = await suite.secret(stuck, { password: testPassword() });
      for (const a of [overdueArn, stuckArn]) {
        await suite.player.client.send(new TagResourceCommand({ SecretId: a, Tags: [{ Key: 'rotor:kind', Value: 'postgres' }] }));
      }
      await enableRotation(overdueArn, 1);
      await enableRotation(stuckArn, 30, { keepPending: true });
      const later = new Date(Date.now() + 48 * HOUR).toISOString();
      const [both, bothJson, onlyStuckNow, bogus] = await Promise.all([
        rotor(['status', '--fail-on', 'overdue,stuck', '--at', later]),
        rotor(['status', '--fail-on', 'overdue,stuck', '--at', later, '--json']),
        rotor(['status', '--fail-on', 'stuck']),
        rotor(['status', '--fail-on', 'overdue,late']),
      ]);
      expect(both.code, both.stderr).toBe(4);
      expect(both.stdout).toMatch(new RegExp(`^${overdue}\\s.*OVERDUE`, 'm'));
      expect(both.stdout).toMatch(new RegExp(`^${stuck}\\s.*STUCK`, 'm'));
      expect(both.stderr).toMatch(/^rotor: --fail-on overdue,stuck: \d+ overdue \(.*\); \d+ stuck \(.*\)$/m);
      expect(both.stderr).toContain(overdue);
      expect(both.stderr).toContain(stuck);
      expect(bothJson.code).toBe(4);
      const failOn = JSON.parse(bothJson.stdout).failOn;
      expect(failOn).toMatchObject({ conditions: ['overdue', 'stuck'], exitCode: 4 });
      expect(failOn.matched.overdue).toContain(overdue);
      expect(failOn.matched.stuck).toContain(stuck);
      expect(failOn.matched.overdue).not.toContain(stuck);
      expect(onlyStuckNow.code, onlyStuckNow.stderr).toBe(0); // nothing has been pending for an hour yet
      expect(bogus.code).toBe(2);
      expect(bogus.stderr).toContain("--fail-on: unknown condition 'late' (choose from overdue, stuck");
    });
  });
});

describe('rotor CLI building blocks', () => {
  it("knows the retire handler's dual-active kinds", () => {
    expect([...statusDefaults.dualActiveKinds].sort()).toEqual(Object.keys(retireKinds).sort());
  });

  it('computes the next rotation from the service, AutomaticallyAfterDays or rate(), and names a cron()', () => {
    const last = new Date('2025-01-01T00:00:00Z');
    expect(rateInterval('rate(4 hours)')).toBe(4 * HOUR);
    expect(rateInterval('rate(1 day)')).toBe(24 * HOUR);
    expect(rateInterval('cron(0 8 * * ? *)')).toBeUndefined();
    const given = new Date('2025-02-01T00:00:00Z');
    expect(nextRotation({ rotationEnabled: true, nextRotationDate: given, lastRotatedDate: last })).toMatchObject({ at: given, basis: 'service' });
    expect(nextRotation({ rotationEnabled: true, lastRotatedDate: last, rules: { AutomaticallyAfterDays: 30 } })?.at?.toISOString()).toBe(
      '2025-01-31T00:00:00.000Z',
    );
    expect(nextRotation({ rotationEnabled: true, lastRotatedDate: last, rules: { ScheduleExpression: 'rate(12 hours)' } })?.at?.toISOString()).toBe(
      '2025-01-01T12:00:00.000Z',
    );
    expect(nextRotation({ rotationEnabled: true, lastRotatedDate: last, rules: { ScheduleExpression: 'cron(0 8 ? * MON *)' } })).toEqual({
      basis: 'cron',
      text: 'per cron(0 8 ? * MON *)',
    });
    expect(nextRotation({ rotationEnabled: true, rules: { AutomaticallyAfterDays: 7 } })?.text).toBe('unknown (never rotated)');
    expect(nextRotation({ rotationEnabled: false, rules: { AutomaticallyAfterDays: 7 } })).toBeUndefined();
  });

  /** A clock that moves only when the code under test sleeps. */
  function fakeTime() {
    let t = 0;
    const sleeps: number[] = [];
    return { now: () => t, sleep: async (ms: number) => void (sleeps.push(ms), (t += ms)), sleeps };
  }
  const labels = (versions: Record<string, string[]>) =>
    ({ send: async () => ({ RotationEnabled: true, VersionIdsToStages: versions }) }) as unknown as SecretsManagerClient;
  const line = (step: string, i: number): StepRecord => ({ eventId: `e${i}`, timestamp: i, step, token: 'tok', finished: true, outcome: 'done', durationMs: 5 });
  function scripted(reads: StepRecord[][]): StepLogReader {
    let i = 0;
    return { logGroupName: '/aws/lambda/x', read: async () => ({ ok: true, records: reads[i++] ?? [] }) };
  }
  const deps = (time: ReturnType<typeof fakeTime>, extra: Partial<WaitDeps>): WaitDeps => ({
    secrets: labels({ tok: ['AWSCURRENT'], old: ['AWSPREVIOUS'] }),
    now: time.now,
    sleep: time.sleep,
    pollIntervalMs: 1000,
    timeoutMs: 30_000,
    settleMs: 5000,
    onProgress: () => undefined,
    ...extra,
  });

  it('waits, bounded, for step lines that reach the log group after the labels show the rotation done', async () => {
    const time = fakeTime();
    const late = [[line('createSecret', 1), line('setSecret', 2), line('testSecret', 3)], [], [line('finishSecret', 4)]];
    const result = await waitForRotation('s', 'tok', deps(time, { stepLog: () => scripted(late) }));
    expect(result.outcome).toBe('rotated');
    expect(result.steps.map((s) => s.step)).toEqual(['createSecret', 'setSecret', 'testSecret', 'finishSecret']);
    expect(time.now()).toBe(1000); // two short waits of 500 ms

    const never = fakeTime();
    const missing = await waitForRotation('s', 'tok', deps(never, { stepLog: () => scripted([[line('createSecret', 1)]]) }));
    expect(missing.outcome).toBe('rotated');
    expect(never.now()).toBe(5000); // gave up on the last lines after settleMs
  });

  it('gives up at the bound, sleeping no further than it', async () => {
    const time = fakeTime();
    const result = await waitForRotation(
      's',
      'tok',
      deps(time, { secrets: labels({ tok: ['AWSPENDING'], cur: ['AWSCURRENT'] }), timeoutMs: 2500 }),
    );
    expect(result).toMatchObject({ outcome: 'timed-out', progressFrom: 'labels', state: 'token tok is staged AWSPENDING; AWSCURRENT is on cur' });
    expect(time.sleeps).toEqual([1000, 1000, 500]);
  });
});
