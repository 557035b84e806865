import { randomBytes } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { GetSecretValueCommand, PutSecretValueCommand, TagResourceCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CLAIM_STAGE } from '../lambdas/core/claim.js';
import { plainFingerprint } from '../lambdas/core/fingerprint.js';
import { createRotationHandler } from '../lambdas/core/handler.js';
import { createRetireHandler, type RetireReport, type RetireResult } from '../lambdas/retire/retire.js';
import { revokeVersion } from '../lambdas/emergency/revoke.js';
import { SecretsApi } from '../lambdas/core/secretsApi.js';
import { RotorTags, Strategies, type KindContext } from '../lambdas/core/types.js';
import { createApiTokenKind, REVOKE_FAILED_METRIC } from '../lambdas/api-token/apiTokenKind.js';
import { lambdaContext, smClient, STEPS } from '../bin/local/harness.js';
import { errorText } from './support/logCapture.js';
import { HugeAnswer, ListeningTrap } from '../bin/local/hostile.js';
import { freePort } from '../bin/local/ports.js';
import { useRotationSuite } from './support/rotationSuite.js';
import { Routes, TokenProviderServer } from '../bin/local/tokenProvider.js';
import { ALLOW_LOOPBACK_FOR_TESTS } from '../lambdas/contract/testing.js';

// The emulators listen on 127.0.0.1 over plain http: the local-test opt-in, and every
// management secret (or self-rotating secret) lists 127.0.0.1 in its allowedHosts.
process.env[ALLOW_LOOPBACK_FOR_TESTS] = '1';

const suite = useRotationSuite();
let provider: TokenProviderServer;
const timings: Record<string, number> = {};

beforeAll(async () => {
  provider = await TokenProviderServer.start();
});
afterAll(async () => {
  await provider?.close();
  // Printed after the log capture of the last case has stopped.
  if (Object.keys(timings).length > 0) console.log(`one rotation (four steps) per provider, ms: ${JSON.stringify(timings)}`);
});
beforeEach(() => {
  provider.resetFaults();
});

/** Short pauses so that failure cases stay fast; the limits themselves are the defaults. */
const kind = createApiTokenKind({ verifyDelayMs: 50, http: { backoffMs: 20, timeoutMs: 3_000 } });
const handler = () => suite.handler(kind);
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const HOUR = 3_600_000;

/** A token secret, tagged as the CDK construct tags it, so that the retire handler finds it. */
async function tokenSecret(name: string, secretValue: Record<string, unknown>): Promise<string> {
  const arn = await suite.secret(name, secretValue);
  await suite.player.client.send(
    new TagResourceCommand({ SecretId: arn, Tags: [{ Key: RotorTags.KIND, Value: 'api-token' }] }),
  );
  return arn;
}

interface TokenSecret {
  provider: string;
  token: string;
  tokenId?: string;
  revokeQueue?: string[];
  previousTokenId?: string;
  issuedAt?: string;
  [k: string]: unknown;
}
const value = (arn: string, stage = 'AWSCURRENT') => suite.player.value<TokenSecret>(arn, stage);

/** A Datadog management secret and an API key secret that names it. */
async function datadogSecret(extra: Record<string, unknown> = {}) {
  const management = provider.datadogManagement();
  suite.sensitive(management.apiKey, management.appKey);
  const managementSecretArn = await suite.secret(unique('dd-management'), { ...management, allowedHosts: [provider.host] });
  const key = provider.datadogApiKey();
  const arn = await tokenSecret(unique('dd-key'), {
    provider: 'datadog',
    token: key.token,
    tokenId: key.tokenId,
    managementSecretArn,
    baseUrl: provider.datadogBaseUrl,
    graceperiod: 0,
    ...extra,
  });
  return { arn, key, managementSecretArn };
}

/** A Cloudflare management token ("API Tokens Write") and a token secret that names it. */
async function cloudflareSecret(extra: Record<string, unknown> = {}, managerCanWrite = true) {
  const manager = provider.cloudflareToken(managerCanWrite);
  const managementSecretArn = await suite.secret(unique('cf-management'), { token: manager.token, allowedHosts: [provider.host] });
  const app = provider.cloudflareToken();
  const arn = await tokenSecret(unique('cf-token'), {
    provider: 'cloudflare',
    token: app.token,
    tokenId: app.tokenId,
    managementSecretArn,
    baseUrl: provider.cloudflareBaseUrl,
    ...extra,
  });
  return { arn, app, manager };
}

/** Acme request templates for the generic HTTP provider, dual-active. */
function acmeTemplates(base = provider.acmeBaseUrl) {
  return {
    dualActive: true,
    issue: {
      method: 'POST',
      url: `${base}/v1/tokens`,
      headers: { authorization: 'Bearer {{management.adminToken}}' },
      body: { name: 'rotor-{{rotation}}' },
      tokenPath: '$.token.secret',
      tokenIdPath: '$.token.id',
    },
    verify: { method: 'GET', url: `${base}/v1/whoami`, headers: { 'x-acme-token': '{{token}}' }, tokenIdPath: '$.id' },
    revoke: {
      method: 'DELETE',
      url: `${base}/v1/tokens/{{tokenId}}`,
      headers: { authorization: 'Bearer {{management.adminToken}}' },
    },
  };
}

async function acmeSecret(extra: Record<string, unknown> = {}) {
  const admin = provider.acmeToken(true);
  suite.sensitive(admin.token);
  const managementSecretArn = await suite.secret(unique('acme-management'), { adminToken: admin.token, allowedHosts: [provider.host] });
  const app = provider.acmeToken();
  const arn = await tokenSecret(unique('acme-token'), {
    provider: 'http',
    token: app.token,
    tokenId: app.tokenId,
    managementSecretArn,
    graceperiod: 0,
    http: acmeTemplates(),
    ...extra,
  });
  return { arn, app, admin };
}

/** Revokes a leaked version as the emergency handler does (lambdas/emergency/revoke.ts). */
async function emergencyRevoke(arn: string, versionId: string): Promise<void> {
  try {
    const description = await new SecretsApi(suite.player.client).describe(arn);
    await revokeVersion(
      kind,
      { secretArn: arn, description, versionId, strategy: Strategies.SINGLE_USER },
      { client: suite.player.client, logger: new Logger({ serviceName: 'rotor-emergency' }) },
    );
  } catch (err) {
    suite.logs.note(errorText(err));
    throw err;
  }
}

/** Calls the revoke hook with only the leaked value (no ctx.current): the kind reads AWSCURRENT itself. */
async function revokeHookAlone(arn: string, leaked: TokenSecret): Promise<void> {
  const ctx: KindContext = {
    secretArn: arn,
    token: 'emergency',
    strategy: Strategies.SINGLE_USER,
    logger: new Logger({ serviceName: 'rotor-emergency' }),
    recordLogin: () => undefined,
    redact: () => undefined,
  };
  try {
    await kind.revoke!(leaked as never, ctx);
  } catch (err) {
    suite.logs.note(errorText(err));
    throw err;
  }
}

/** One run of the scheduled retire handler (lambdas/retire) at `at`; the result for `arn`. */
async function retireRun(arn: string, at = new Date()): Promise<RetireResult | undefined> {
  const run = createRetireHandler({ 'api-token': kind }, { client: smClient(suite.moto.endpoint), now: () => at });
  let report: RetireReport;
  try {
    report = await run({}, lambdaContext('rotor-retire'));
  } catch (err) {
    suite.logs.note(errorText(err));
    report = (err as { report?: RetireReport }).report!;
    if (!report) throw err;
  }
  return [...report.retired, ...report.skipped, ...report.failed].find((r) => r.secretArn === arn);
}

async function rotateTimed(label: string, arn: string) {
  const token = await suite.player.startRotation(arn);
  const started = performance.now();
  const outcomes = await suite.player.runSteps(handler(), arn, token);
  timings[label] = Math.round(performance.now() - started);
  return { token, outcomes };
}

/** Runs steps until one fails; returns the error (whose text is checked for leaks). */
async function failingStep(arn: string, token: string, step: (typeof STEPS)[number]) {
  return handler()(suite.player.event(arn, token, step), lambdaContext()).then(
    () => {
      throw new Error(`${step} succeeded`);
    },
    (err: Error) => err,
  );
}

describe('ApiTokenRotation datadog (dual-active)', () => {
  it('issues a new key; the old one keeps working until retire, then is refused', async () => {
    // Prepare
    const { arn, key } = await datadogSecret();
    const before = await suite.player.versionOf(arn, 'AWSCURRENT');
    // Act
    const { token, outcomes } = await rotateTimed('datadog', arn);
    // Assess
    const now = await value(arn);
    expect(now.token).not.toBe(key.token);
    expect(now.tokenId).not.toBe(key.tokenId);
    expect(now.token).toMatch(/^[0-9a-f]{32}$/);
    expect(provider.accepts(now.token)).toBe(true);
    expect(provider.accepts(key.token)).toBe(true);
    const versions = await suite.player.versions(arn);
    expect(versions[token]).toEqual(['AWSCURRENT']);
    expect(versions[before!]).toEqual(['AWSPREVIOUS']);
    expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
    // The kind reads the management secret once more, outside the engine's count.
    // 9, and the createSecret claim that keeps a duplicate delivery from issuing twice.
    expect(outcomes.reduce((n, o) => n + o.secretsManagerCalls, 0)).toBeLessThanOrEqual(10);
    expect(provider.count(Routes.DATADOG_CREATE)).toBe(1);
    // A secret scanner that finds the token can name the secret by the token's fingerprint.
    // Keyed with Rotor's fingerprint key (never the plain SHA-256 any more).
    const fp = suite.fingerprintKey.key;
    expect((await suite.player.describe(arn)).Tags).toContainEqual({ Key: RotorTags.FINGERPRINT_CURRENT, Value: fp.fingerprint(now.token) });
    expect((await suite.player.describe(arn)).Tags).toContainEqual({ Key: RotorTags.FINGERPRINT_PREVIOUS, Value: fp.fingerprint(key.token) });
    expect(JSON.stringify((await suite.player.describe(arn)).Tags)).not.toContain(plainFingerprint(now.token));

    expect(await retireRun(arn)).toMatchObject({ outcome: 'retired' });

    expect(provider.accepts(key.token)).toBe(false);
    expect(provider.accepts(now.token)).toBe(true);
    expect(await retireRun(arn)).toMatchObject({ outcome: 'skipped', reason: 'AWSPREVIOUS already retired' });
  });

  it('keeps the old key for the grace window: graceperiod hours, else 24', async () => {
    const byDefault = await datadogSecret({ graceperiod: undefined });
    const twoHours = await datadogSecret({ graceperiod: 2 });
    for (const { arn } of [byDefault, twoHours]) await suite.player.rotate(handler(), arn);

    const open = await retireRun(byDefault.arn);
    expect(open).toMatchObject({ outcome: 'skipped', reason: 'grace window not over' });
    const ends = Date.parse(open!.graceEndsAt!);
    expect(ends - Date.now()).toBeGreaterThan(23.9 * HOUR);
    expect(provider.count(Routes.DATADOG_DELETE)).toBe(0);

    const inThreeHours = new Date(Date.now() + 3 * HOUR);
    expect(await retireRun(twoHours.arn, inThreeHours)).toMatchObject({ outcome: 'retired' });
    expect(await retireRun(byDefault.arn, inThreeHours)).toMatchObject({ outcome: 'skipped' });
    expect(provider.accepts(twoHours.key.token)).toBe(false);
    expect(provider.accepts(byDefault.key.token)).toBe(true);

    expect(await retireRun(byDefault.arn, new Date(ends))).toMatchObject({ outcome: 'retired' });
    expect(provider.accepts(byDefault.key.token)).toBe(false);
  });

  it('revokes the key that loses its last label on the next rotation, leaving no orphan keys', async () => {
    const { arn, key } = await datadogSecret({ keyName: 'orphan-check' });
    await suite.player.rotate(handler(), arn);
    const first = await value(arn);
    await suite.player.rotate(handler(), arn);
    const second = await value(arn);
    expect(provider.accepts(key.token)).toBe(false);
    expect(provider.accepts(first.token)).toBe(true);
    expect(provider.accepts(second.token)).toBe(true);
    expect(second.revokeQueue).toBeUndefined();
    expect(provider.liveNamed('orphan-check-')).toBe(2);
  });

  it('without graceperiod, leaves a still-live older key to the retire handler', async () => {
    const { arn, key } = await datadogSecret({ graceperiod: undefined });
    await suite.player.rotate(handler(), arn);
    const first = await value(arn);
    await suite.player.rotate(handler(), arn); // before any retire run
    const second = await value(arn);
    expect(second.previousTokenId).toBe(first.tokenId);
    expect(second.revokeQueue).toBeUndefined();
    expect(provider.accepts(key.token)).toBe(true);

    expect(await retireRun(arn, new Date(Date.now() + 25 * HOUR))).toMatchObject({ outcome: 'retired' });

    expect(provider.accepts(key.token)).toBe(false);
    expect(provider.accepts(first.token)).toBe(false);
    expect(provider.accepts(second.token)).toBe(true);
  });

  it('is idempotent: every step run twice issues one key', async () => {
    const { arn, key } = await datadogSecret();
    const token = await suite.player.startRotation(arn);
    const outcomes = [];
    for (const step of STEPS) {
      outcomes.push(await handler()(suite.player.event(arn, token, step), lambdaContext()));
      outcomes.push(await handler()(suite.player.event(arn, token, step), lambdaContext()));
    }
    expect(outcomes.map((o) => o.outcome)).toEqual([
      'done', 'pending-exists', 'done', 'done', 'done', 'done', 'done', 'already-current',
    ]);
    expect(provider.count(Routes.DATADOG_CREATE)).toBe(1);
    expect(provider.accepts((await value(arn)).token)).toBe(true);
    expect(provider.accepts(key.token)).toBe(true);
    // The old and the new value (besides the createSecret claim, which holds no credential).
    const values = Object.entries(await suite.player.versions(arn)).filter(([, stages]) => !stages.includes(CLAIM_STAGE));
    expect(values).toHaveLength(2);
  });

  it('honours a 429 (X-RateLimit-Reset) and then succeeds', async () => {
    const { arn } = await datadogSecret();
    provider.failNext(Routes.DATADOG_CREATE, { status: 429, retryAfter: 1 });
    const started = Date.now();
    await suite.player.rotate(handler(), arn);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(provider.count(Routes.DATADOG_CREATE, 429)).toBe(1);
    expect(provider.count(Routes.DATADOG_CREATE, 201)).toBe(1);
    expect(provider.accepts((await value(arn)).token)).toBe(true);
  });

  it('fails fast on a Retry-After beyond the bound, and AWSCURRENT still works', async () => {
    const { arn, key } = await datadogSecret();
    provider.failNext(Routes.DATADOG_CREATE, { status: 429, retryAfter: 3600 });
    const token = await suite.player.startRotation(arn);
    const err = await failingStep(arn, token, 'createSecret');
    expect(err.message).toMatch(/rate limited \(HTTP 429\); the provider asks to wait 3600 s/);
    expect((await value(arn)).token).toBe(key.token);
    expect(provider.accepts(key.token)).toBe(true);
  });

  it('when revoking the old key fails, the rotation succeeds, reports it, and retire retries it', async () => {
    const { arn, key } = await datadogSecret();
    await suite.player.rotate(handler(), arn);
    const first = await value(arn);
    provider.failNext(Routes.DATADOG_DELETE, { status: 500, times: 4 });

    const { outcomes } = await suite.player.rotate(handler(), arn);

    expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
    const second = await value(arn);
    expect(second.revokeQueue).toEqual([key.tokenId]);
    expect(provider.accepts(key.token)).toBe(true);
    const warned = suite.logs.records().find((r) => r.message === 'revoking an old token failed; the retire handler retries it');
    expect(warned).toMatchObject({ level: 'WARN', tokenId: key.tokenId });
    expect(JSON.stringify(warned)).toMatch(/answered HTTP 500/);
    const metric = suite.logs.records().find((r) => REVOKE_FAILED_METRIC in r);
    expect(metric).toMatchObject({ [REVOKE_FAILED_METRIC]: 1, kind: 'api-token', provider: 'datadog' });

    // The retire run while the provider still fails: reported, not tagged as retired.
    provider.failNext(Routes.DATADOG_DELETE, { status: 500, times: 8 });
    expect(await retireRun(arn)).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/revoking 2 old token\(s\) failed/) });
    expect(provider.accepts(key.token)).toBe(true);
    // The next run succeeds.
    expect(await retireRun(arn)).toMatchObject({ outcome: 'retired' });

    expect(provider.accepts(key.token)).toBe(false);
    expect(provider.accepts(first.token)).toBe(false);
    expect(provider.accepts(second.token)).toBe(true);
  });

  it('fails with a clear error when the provider is down, and AWSCURRENT still works', async () => {
    const closed = await freePort();
    const { arn, key } = await datadogSecret({ baseUrl: `http://127.0.0.1:${closed}/datadog` });
    const token = await suite.player.startRotation(arn);
    const err = await failingStep(arn, token, 'createSecret');
    expect(err.message).toMatch(
      new RegExp(`datadog issue: POST http://127.0.0.1:${closed}/datadog/api/v2/api_keys: cannot reach the provider \\(ECONNREFUSED\\) after 4 attempts`),
    );
    expect((await value(arn)).token).toBe(key.token);
    expect(provider.accepts(key.token)).toBe(true);
  });

  it('revokes a leaked previous key at once (emergency), and refuses to revoke the current one', async () => {
    const { arn, key } = await datadogSecret({ graceperiod: 48 });
    await suite.player.rotate(handler(), arn);
    const now = await value(arn);
    const previousId = (await suite.player.versionOf(arn, 'AWSPREVIOUS'))!;
    await emergencyRevoke(arn, previousId);
    expect(provider.accepts(key.token)).toBe(false);
    expect(provider.accepts(now.token)).toBe(true);
    await emergencyRevoke(arn, previousId); // events come at least once: already gone, still fine
    await revokeHookAlone(arn, await value(arn, 'AWSPREVIOUS'));
    await expect(revokeHookAlone(arn, now)).rejects.toThrow(/still AWSCURRENT; rotate the secret first/);
    expect(provider.accepts(now.token)).toBe(true);
  });
});

describe('ApiTokenRotation cloudflare (roll-only)', () => {
  it('rolls the token: the new value verifies, the old one is refused at once', async () => {
    const { arn, app } = await cloudflareSecret();
    const { outcomes } = await rotateTimed('cloudflare', arn);
    const now = await value(arn);
    expect(now.token).not.toBe(app.token);
    expect(now.tokenId).toBe(app.tokenId);
    expect(now.token).toHaveLength(40);
    expect(provider.accepts(now.token)).toBe(true);
    expect(provider.accepts(app.token)).toBe(false);
    // 9, and the createSecret claim that keeps a duplicate delivery from issuing twice.
    expect(outcomes.reduce((n, o) => n + o.secretsManagerCalls, 0)).toBeLessThanOrEqual(10);
    expect(provider.count(Routes.CLOUDFLARE_ROLL)).toBe(1);
    // Nothing is left to retire or revoke: the roll did it.
    expect(await retireRun(arn, new Date(Date.now() + 25 * HOUR))).toMatchObject({ outcome: 'retired' });
    await emergencyRevoke(arn, (await suite.player.versionOf(arn, 'AWSPREVIOUS'))!);
    expect(provider.count(Routes.CLOUDFLARE_DELETE)).toBe(0);
    expect(provider.accepts(now.token)).toBe(true);
  });

  it('is idempotent: every step run twice rolls once', async () => {
    const { arn } = await cloudflareSecret();
    const token = await suite.player.startRotation(arn);
    for (const step of STEPS) {
      await handler()(suite.player.event(arn, token, step), lambdaContext());
      await handler()(suite.player.event(arn, token, step), lambdaContext());
    }
    expect(provider.count(Routes.CLOUDFLARE_ROLL)).toBe(1);
    expect(provider.accepts((await value(arn)).token)).toBe(true);
  });

  it('when storing the rolled value fails, the retry stores it instead of rolling again', async () => {
    const { arn, app } = await cloudflareSecret();
    const token = await suite.player.startRotation(arn);
    const client = smClient(suite.moto.endpoint);
    const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
    let failures = 0;
    // Every store of the pending value by this instance fails (its in-invocation retries too).
    (client as { send: unknown }).send = async (command: unknown) => {
      if (command instanceof PutSecretValueCommand && command.input.VersionStages?.includes('AWSPENDING')) {
        failures++;
        throw Object.assign(new Error('simulated network failure'), { name: 'TimeoutError' });
      }
      return send(command);
    };
    const flaky = createRotationHandler(kind, { client: client as SecretsManagerClient, bounds: { storeBackoffMs: 10 } });

    await expect(flaky(suite.player.event(arn, token, 'createSecret'), lambdaContext())).rejects.toThrow(/simulated/);
    expect(failures).toBeGreaterThan(1); // retried within the invocation
    expect(provider.accepts(app.token)).toBe(false); // the roll happened

    const outcomes = await suite.player.runSteps(handler(), arn, token);

    expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
    expect(provider.count(Routes.CLOUDFLARE_ROLL)).toBe(1);
    expect(provider.accepts((await value(arn)).token)).toBe(true);
  });

  it('uses the token itself only with selfRotation: true (explicit opt-in)', async () => {
    const app = provider.cloudflareToken(true); // may roll itself
    const base = { provider: 'cloudflare', token: app.token, tokenId: app.tokenId, baseUrl: provider.cloudflareBaseUrl };
    const implicit = await suite.secret(unique('cf-self'), base);
    const token = await suite.player.startRotation(implicit);
    const err = await failingStep(implicit, token, 'createSecret');
    expect(err.message).toMatch(/field 'managementSecretArn' is missing .*'selfRotation': true/);
    expect(provider.accepts(app.token)).toBe(true);

    const explicit = await suite.secret(unique('cf-self'), { ...base, selfRotation: true, allowedHosts: [provider.host] });
    await suite.player.rotate(handler(), explicit);
    expect(provider.accepts(app.token)).toBe(false);
    expect(provider.accepts((await value(explicit)).token)).toBe(true);
  });

  it('honours a 429 with Retry-After on the roll, then succeeds', async () => {
    const { arn, app } = await cloudflareSecret();
    provider.failNext(Routes.CLOUDFLARE_ROLL, { status: 429, retryAfter: 1 });
    const started = Date.now();
    await suite.player.rotate(handler(), arn);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(provider.count(Routes.CLOUDFLARE_ROLL, 429)).toBe(1);
    expect(provider.count(Routes.CLOUDFLARE_ROLL, 200)).toBe(1);
    expect(provider.accepts(app.token)).toBe(false);
    expect(provider.accepts((await value(arn)).token)).toBe(true);
  });

  it('reports a management token without "API Tokens Write" clearly, and AWSCURRENT still works', async () => {
    const { arn, app } = await cloudflareSecret({}, false);
    const token = await suite.player.startRotation(arn);
    const err = await failingStep(arn, token, 'createSecret');
    expect(err.message).toMatch(/cloudflare roll: PUT .*\/value answered HTTP 403 \(provider error code 9109\): the provider refused the credential$/);
    expect(provider.accepts(app.token)).toBe(true);
  });
});

describe('ApiTokenRotation generic HTTP provider (configured by data)', () => {
  it('rotates dual-active from request templates; retire revokes the old token', async () => {
    const { arn, app } = await acmeSecret();
    await rotateTimed('http (acme)', arn);
    const now = await value(arn);
    expect(now.token).not.toBe(app.token);
    expect(now.tokenId).toMatch(/^tok_/);
    expect(provider.accepts(now.token)).toBe(true);
    expect(provider.accepts(app.token)).toBe(true);
    expect(await retireRun(arn)).toMatchObject({ outcome: 'retired' });
    expect(provider.accepts(app.token)).toBe(false);
    expect(provider.accepts(now.token)).toBe(true);
  });

  it('rotates a roll-only provider whose tokens roll themselves (selfRotation)', async () => {
    const app = provider.acmeToken();
    const arn = await suite.secret(unique('acme-self'), {
      provider: 'http',
      token: app.token,
      selfRotation: true,
      allowedHosts: [provider.host],
      http: {
        dualActive: false,
        issue: {
          method: 'POST',
          url: `${provider.acmeBaseUrl}/v1/tokens/self/roll`,
          headers: { 'x-acme-token': '{{token}}' },
          tokenPath: 'secret',
        },
        verify: { method: 'GET', url: `${provider.acmeBaseUrl}/v1/whoami`, headers: { 'x-acme-token': '{{token}}' } },
      },
    });
    await suite.player.rotate(handler(), arn);
    expect(provider.accepts(app.token)).toBe(false);
    expect(provider.accepts((await value(arn)).token)).toBe(true);
  });

  it('masks credentials a provider echoes in its error bodies', async () => {
    const { arn, app, admin } = await acmeSecret();
    const stranger = randomBytes(24).toString('base64url');
    suite.sensitive(stranger);
    provider.failNext(Routes.ACME_ISSUE, { status: 400, body: { error: `bad request from ${admin.token} near ${stranger}` } });
    const token = await suite.player.startRotation(arn);
    const err = await failingStep(arn, token, 'createSecret');
    // An issuing request's answer is never quoted (it may hold a credential no redactor knows yet).
    expect(err.message).toMatch(/http issue: POST .*\/acme\/v1\/tokens answered HTTP 400$/);
    expect(errorText(err)).not.toContain(admin.token);
    expect(errorText(err)).not.toContain(stranger);
    expect(provider.accepts(app.token)).toBe(true);
  });

  it('refuses a template that authenticates with {{token}} without selfRotation', async () => {
    const templates = acmeTemplates();
    const { arn, app } = await acmeSecret({
      http: { ...templates, issue: { ...templates.issue, headers: { authorization: 'Bearer {{token}}' } } },
    });
    const token = await suite.player.startRotation(arn);
    const err = await failingStep(arn, token, 'createSecret');
    expect(err.message).toMatch(/field 'http.issue' sends \{\{token\}\}, the token being rotated: that is self-rotation, an explicit opt-in/);
    expect(provider.count(Routes.ACME_ISSUE)).toBe(0);
    expect(provider.accepts(app.token)).toBe(true);
  });
});

describe('ApiTokenRotation refuses bad configuration before calling the provider', () => {
  const cases: Array<[string, () => Promise<{ arn: string; token: string }>, RegExp]> = [
    [
      'an unknown provider',
      async () => {
        const { arn, key } = await datadogSecret({ provider: 'nope' });
        return { arn, token: key.token };
      },
      /field 'provider' is invalid: unknown provider 'nope' \(known: datadog, cloudflare, http\)/,
    ],
    [
      'a Datadog secret without managementSecretArn',
      async () => {
        const { arn, key } = await datadogSecret({ managementSecretArn: undefined });
        return { arn, token: key.token };
      },
      /field 'managementSecretArn' is missing/,
    ],
    [
      'a Datadog secret without tokenId',
      async () => {
        const { arn, key } = await datadogSecret({ tokenId: undefined });
        return { arn, token: key.token };
      },
      /field 'tokenId' is missing/,
    ],
    [
      'a generic secret without a verify template',
      async () => {
        const { arn, app } = await acmeSecret({ http: { ...acmeTemplates(), verify: undefined } });
        return { arn, token: app.token };
      },
      /field 'http.verify' is missing/,
    ],
    [
      'a management secret without a field the provider needs',
      async () => {
        const managementSecretArn = await suite.secret(unique('dd-management'), { apiKey: provider.datadogApiKey().token, allowedHosts: [provider.host] });
        const { arn, key } = await datadogSecret({ managementSecretArn });
        return { arn, token: key.token };
      },
      /management secret .*: field 'appKey' is missing \(required by provider 'datadog'\)/,
    ],
    [
      'a non-https base URL',
      async () => {
        const { arn, key } = await datadogSecret({ baseUrl: 'http://api.datadoghq.com' });
        return { arn, token: key.token };
      },
      /field 'baseUrl' must use https \(http is allowed only for loopback hosts\), got http for host api.datadoghq.com/,
    ],
    [
      'a non-https template URL',
      async () => {
        const { arn, app } = await acmeSecret({ http: acmeTemplates('http://tokens.example.com') });
        return { arn, token: app.token };
      },
      /field 'http.issue.url' must use https/,
    ],
    [
      'a host the management secret does not allow',
      async () => {
        const { arn, key } = await datadogSecret({ baseUrl: 'https://collector.example.com' });
        return { arn, token: key.token };
      },
      /host collector.example.com is not in the management secret's allowedHosts/,
    ],
    [
      'a management secret that is the rotated secret itself',
      async () => {
        const name = unique('dd-self');
        const key = provider.datadogApiKey();
        const arn = await suite.secret(name, {
          provider: 'datadog', token: key.token, tokenId: key.tokenId, managementSecretArn: name, baseUrl: provider.datadogBaseUrl,
        });
        return { arn, token: key.token };
      },
      /field 'managementSecretArn' names the secret being rotated/,
    ],
    [
      'a management secret that holds the rotated token itself',
      async () => {
        const app = provider.cloudflareToken(true);
        const managementSecretArn = await suite.secret(unique('cf-management'), { token: app.token, allowedHosts: [provider.host] });
        const arn = await tokenSecret(unique('cf-token'), {
          provider: 'cloudflare', token: app.token, tokenId: app.tokenId, managementSecretArn, baseUrl: provider.cloudflareBaseUrl,
        });
        return { arn, token: app.token };
      },
      /the management secret holds the token being rotated; that is self-rotation/,
    ],
  ];

  for (const [what, arrange, message] of cases) {
    it(`refuses ${what}, naming the problem; AWSCURRENT still works`, async () => {
      const { arn, token: current } = await arrange();
      const token = await suite.player.startRotation(arn);
      const err = await failingStep(arn, token, 'createSecret');
      expect(err.message).toMatch(message);
      expect((await value(arn)).token).toBe(current);
      expect(provider.accepts(current)).toBe(true);
      expect(provider.count(Routes.DATADOG_CREATE) + provider.count(Routes.ACME_ISSUE) + provider.count(Routes.CLOUDFLARE_ROLL)).toBe(0);
    });
  }

  it('refuses a pending value that points the provider elsewhere', async () => {
    const { arn, key } = await datadogSecret();
    const token = await suite.player.startRotation(arn);
    const tampered = { ...(await value(arn)), baseUrl: 'https://api.datadoghq.eu', token: randomBytes(16).toString('hex') };
    suite.sensitive(tampered.token);
    await suite.player.client.send(
      new PutSecretValueCommand({ SecretId: arn, ClientRequestToken: token, SecretString: JSON.stringify(tampered), VersionStages: ['AWSPENDING'] }),
    );
    const err = await failingStep(arn, token, 'setSecret');
    expect(err.message).toMatch(/provider settings .* differ between AWSCURRENT and AWSPENDING/);
    expect(provider.accepts(key.token)).toBe(true);
  });
});

describe('ApiTokenRotation sends credentials only to allowed hosts, in every mode', () => {
  let other: ListeningTrap;
  let third: ListeningTrap;
  beforeAll(async () => {
    other = await ListeningTrap.start('127.0.0.2');
    third = await ListeningTrap.start('127.0.0.3');
  });
  afterAll(async () => {
    await other?.close();
    await third?.close();
  });
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it("selfRotation (Cloudflare roll): a host outside the provider's official hosts is refused before any connection", async () => {
    // Prepare: a token that may roll itself, pointed at another host; the secret lists no allowedHosts.
    const app = provider.cloudflareToken(true);
    const arn = await suite.secret(unique('cf-self'), {
      provider: 'cloudflare', token: app.token, tokenId: app.tokenId, selfRotation: true, baseUrl: `${other.url}/client/v4`,
    });
    const token = await suite.player.startRotation(arn);
    // Act
    const err = await failingStep(arn, token, 'createSecret');
    // Assess
    expect(err.message).toMatch(
      new RegExp(
        `cloudflare configuration: host ${esc(`127.0.0.2:${other.port}`)} is not in the secret's allowedHosts ` +
          "\\(it lists none, so provider cloudflare's official hosts apply: api\\.cloudflare\\.com\\); " +
          'Rotor sends credentials only to allowed hosts',
      ),
    );
    expect(err.message).not.toContain('/client/v4');
    expect(other.connections).toBe(0);
    expect(provider.accepts(app.token)).toBe(true);
    expect((await value(arn)).token).toBe(app.token);
  });

  it("selfRotation (generic http): only the secret's own allowedHosts; another host is refused before any connection", async () => {
    const app = provider.acmeToken();
    const arn = await suite.secret(unique('acme-self'), {
      provider: 'http',
      token: app.token,
      selfRotation: true,
      allowedHosts: [provider.host],
      http: {
        dualActive: false,
        issue: { method: 'POST', url: `${third.url}/v1/tokens/self/roll?t={{token}}`, headers: { 'x-acme-token': '{{token}}' }, tokenPath: 'secret' },
        verify: { method: 'GET', url: `${provider.acmeBaseUrl}/v1/whoami`, headers: { 'x-acme-token': '{{token}}' } },
      },
    });
    const token = await suite.player.startRotation(arn);
    const err = await failingStep(arn, token, 'createSecret');
    expect(err.message).toMatch(
      new RegExp(`http configuration: host ${esc(`127.0.0.3:${third.port}`)} is not in the secret's allowedHosts; Rotor sends credentials only to allowed hosts`),
    );
    expect(err.message).not.toMatch(/self\/roll|t=/);
    expect(third.connections).toBe(0);
    expect(provider.accepts(app.token)).toBe(true);
  });

  it("with a management secret: issue goes only to its allowedHosts, before any connection", async () => {
    const { arn, key } = await datadogSecret({ baseUrl: `${other.url}/datadog` });
    const token = await suite.player.startRotation(arn);
    const err = await failingStep(arn, token, 'createSecret');
    expect(err.message).toMatch(
      new RegExp(`datadog configuration: host ${esc(`127.0.0.2:${other.port}`)} is not in the management secret's allowedHosts;`),
    );
    expect(other.connections).toBe(0);
    expect(provider.accepts(key.token)).toBe(true);
  });

  it('testSecret sends the pending token only to the allowed hosts (verify is checked too)', async () => {
    // Prepare: AWSCURRENT and AWSPENDING both point at another host (as if written by hand), so
    // testSecret is the first step to send anything.
    const { arn } = await datadogSecret({ baseUrl: `${third.url}/datadog` });
    const token = await suite.player.startRotation(arn);
    const pending = { ...(await value(arn)), token: randomBytes(16).toString('hex') };
    suite.sensitive(pending.token);
    await suite.player.client.send(
      new PutSecretValueCommand({ SecretId: arn, ClientRequestToken: token, SecretString: JSON.stringify(pending), VersionStages: ['AWSPENDING'] }),
    );
    // Act
    const err = await failingStep(arn, token, 'testSecret');
    // Assess
    expect(err.message).toMatch(
      new RegExp(`datadog configuration: host ${esc(`127.0.0.3:${third.port}`)} is not in the management secret's allowedHosts;`),
    );
    expect(third.connections).toBe(0);
  });

  it('retire revokes only through the allowed hosts: a management secret that no longer lists the host stops it', async () => {
    const { arn, key, managementSecretArn } = await datadogSecret();
    await suite.player.rotate(handler(), arn);
    const management = JSON.parse(
      (await suite.player.client.send(new GetSecretValueCommand({ SecretId: managementSecretArn, VersionStage: 'AWSCURRENT' }))).SecretString!,
    ) as Record<string, unknown>;
    await suite.player.client.send(
      new PutSecretValueCommand({ SecretId: managementSecretArn, SecretString: JSON.stringify({ ...management, allowedHosts: ['127.0.0.3'] }) }),
    );
    provider.resetFaults();

    const result = await retireRun(arn);

    expect(result).toMatchObject({ outcome: 'failed' });
    expect(suite.logs.text()).toMatch(/host 127\.0\.0\.1:\d+ is not in the management secret's allowedHosts/);
    expect(provider.count(Routes.DATADOG_DELETE)).toBe(0);
    expect(provider.accepts(key.token)).toBe(true);
  });

  it('without the test opt-in, loopback and plain http are refused even when the allowed hosts list them', async () => {
    const production = createApiTokenKind({ env: {}, verifyDelayMs: 50, http: { backoffMs: 20, timeoutMs: 3_000 } });
    const { arn, key } = await datadogSecret(); // its management secret lists 127.0.0.1
    const token = await suite.player.startRotation(arn);
    const err = await suite.handler(production)(suite.player.event(arn, token, 'createSecret'), lambdaContext()).then(
      () => new Error('createSecret succeeded'),
      (e: Error) => e,
    );
    expect(err.message).toMatch(
      new RegExp(
        `field 'baseUrl' may not name loopback host 127\\.0\\.0\\.1: loopback and plain http are allowed only when the ` +
          `function's environment sets ${ALLOW_LOOPBACK_FOR_TESTS}=1`,
      ),
    );
    expect(provider.requests).toEqual([]);
    expect(provider.accepts(key.token)).toBe(true);
  });
});

describe('ApiTokenRotation never copies a provider answer into a message', () => {
  // New token values a redactor could not guess: short, with spaces and other characters.
  const cases: Array<{ what: string; arrange: () => Promise<{ arn: string }>; message: RegExp; issued: string }> = [
    {
      what: 'an issue answered 500 text/plain that echoes the new token',
      issued: 'n3w t0k',
      arrange: async () => {
        const { arn } = await acmeSecret();
        provider.failNext(Routes.ACME_ISSUE, {
          status: 500, issued: 'n3w t0k', contentType: 'text/plain', body: 'created token {{issued}}; audit log unavailable',
        });
        return { arn };
      },
      message: /http issue: POST http:\/\/127\.0\.0\.1:\d+\/acme\/v1\/tokens answered HTTP 500$/,
    },
    {
      what: 'an issue answered 400 JSON that echoes the new token beside an error code',
      issued: 'x!y z',
      arrange: async () => {
        const { arn } = await acmeSecret();
        provider.failNext(Routes.ACME_ISSUE, {
          status: 400, issued: 'x!y z', body: { error: 'token {{issued}} exceeds the quota', detail: ['{{issued}}'], code: 'E_QUOTA' },
        });
        return { arn };
      },
      message: /answered HTTP 400 \(provider error code E_QUOTA\)$/,
    },
    {
      what: 'an issue answered 200 with a body that is not JSON but holds the new token',
      issued: 'ab cd',
      arrange: async () => {
        const { arn } = await acmeSecret();
        provider.failNext(Routes.ACME_ISSUE, { status: 200, issued: 'ab cd', contentType: 'text/plain', body: 'secret={{issued}}' });
        return { arn };
      },
      message: /answered HTTP 200 \(no string at \$\.token\.secret\)$/,
    },
    {
      what: 'a roll answered 502 in a Cloudflare envelope quoting the new value',
      issued: 'cf v@l',
      arrange: async () => {
        const { arn } = await cloudflareSecret();
        provider.failNext(Routes.CLOUDFLARE_ROLL, {
          status: 502,
          issued: 'cf v@l',
          body: { success: false, errors: [{ code: 10502, message: 'rolled to {{issued}}, cache write failed' }], result: '{{issued}}' },
        });
        return { arn };
      },
      message: /cloudflare roll: PUT .*\/value answered HTTP 502 \(provider error code 10502\)$/,
    },
  ];

  for (const { what, arrange, message, issued } of cases) {
    it(`for ${what}: status and error code only, the token nowhere`, async () => {
      // Prepare
      suite.sensitive(issued);
      const { arn } = await arrange();
      const before = (await value(arn)).token;
      const token = await suite.player.startRotation(arn);
      // Act
      const err = await failingStep(arn, token, 'createSecret');
      // Assess: the message, the error with its cause chain, and every log line.
      expect(err.message).toMatch(message);
      expect(errorText(err)).not.toContain(issued);
      expect(suite.logs.text()).not.toContain(issued);
      expect((await value(arn)).token).toBe(before);
    });
  }
});

describe('ApiTokenRotation caps the size of a provider answer', () => {
  it('stops reading a 20 MB answer past 1 MiB and says so; AWSCURRENT still works', async () => {
    // Prepare: a "provider" that streams 20 MB to anything.
    const huge = await HugeAnswer.start(20 * 1024 * 1024);
    try {
      const { arn, key } = await datadogSecret({ baseUrl: `${huge.url}/datadog` });
      const token = await suite.player.startRotation(arn);
      // Act
      const err = await failingStep(arn, token, 'createSecret');
      // Assess
      expect(err.message).toMatch(
        /datadog issue: POST http:\/\/127\.0\.0\.1:\d+\/datadog\/api\/v2\/api_keys: the response exceeded 1048576 bytes; Rotor stopped reading it/,
      );
      expect(err.name).toBe('ProviderError');
      expect(huge.requests).toBe(1);
      for (let i = 0; i < 100 && !huge.closedEarly; i++) await new Promise((r) => setTimeout(r, 20));
      expect(huge.closedEarly).toBe(true);
      expect(huge.bytesSent).toBeLessThan(huge.totalBytes);
      expect((await value(arn)).token).toBe(key.token);
    } finally {
      await huge.close();
    }
  });
});


describe('ApiTokenRotation under concurrent duplicate createSecret (stand-in that refuses a reused token, as AWS)', () => {
  async function twoInstancesAtOnce(arn: string, token: string) {
    const { startRefusingProxy } = await import('../bin/local/refusingProxy.js');
    const proxy = await startRefusingProxy(suite.moto.endpoint);
    try {
      // Two function instances (each its own kind object: no shared journal).
      const instance = () => {
        const h = createRotationHandler(createApiTokenKind({ verifyDelayMs: 50, http: { backoffMs: 20, timeoutMs: 3_000 } }), {
          client: smClient(proxy.endpoint),
        });
        return async (event: unknown) => {
          try {
            return await h(event, lambdaContext());
          } catch (err) {
            suite.logs.note(errorText(err));
            throw err;
          }
        };
      };
      const [a, b] = [instance(), instance()];
      const created = await Promise.all([a, b].map((h) => h(suite.player.event(arn, token, 'createSecret'))));
      return { created, rest: [a, b] };
    } finally {
      await proxy.close();
    }
  }

  it('roll-only (Cloudflare): one roll, the stored token is the live one, and the rotation converges', async () => {
    // Prepare
    const { arn, app } = await cloudflareSecret();
    const token = await suite.player.startRotation(arn);
    // Act
    const { created } = await twoInstancesAtOnce(arn, token);
    const outcomes = await suite.player.runSteps(handler(), arn, token, ['setSecret', 'testSecret', 'finishSecret']);
    // Assess
    expect(created.map((o) => o.outcome).sort()).toEqual(['done', 'pending-exists']);
    expect(provider.count(Routes.CLOUDFLARE_ROLL)).toBe(1);
    expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done']);
    expect(provider.accepts((await value(arn)).token)).toBe(true);
    expect(provider.accepts(app.token)).toBe(false);
  });

  it('dual-active (Datadog): one key issued, none left live that no version records', async () => {
    // Prepare
    const { arn, key } = await datadogSecret({ keyName: `dup-${randomBytes(3).toString('hex')}` });
    const { keyName } = await value(arn);
    const token = await suite.player.startRotation(arn);
    // Act
    const { created } = await twoInstancesAtOnce(arn, token);
    await suite.player.runSteps(handler(), arn, token, ['setSecret', 'testSecret', 'finishSecret']);
    // Assess
    expect(created.map((o) => o.outcome).sort()).toEqual(['done', 'pending-exists']);
    expect(provider.count(Routes.DATADOG_CREATE)).toBe(1);
    expect(provider.liveNamed(`${String(keyName)}-`)).toBe(1);
    expect(provider.accepts((await value(arn)).token)).toBe(true);
    expect(provider.accepts(key.token)).toBe(true);
  });
});

describe('ApiTokenRotation: selfRotation roll whose store fails', () => {
  it('retries the store within the invocation; when it keeps failing, PendingStoreFailed names the token id', async () => {
    // Prepare: a self-rotating Cloudflare token; Secrets Manager refuses every store of the pending value.
    const app = provider.cloudflareToken(true);
    const arn = await suite.secret(unique('cf-self'), {
      provider: 'cloudflare',
      token: app.token,
      tokenId: app.tokenId,
      baseUrl: provider.cloudflareBaseUrl,
      selfRotation: true,
      allowedHosts: [provider.host],
    });
    const token = await suite.player.startRotation(arn);
    const client = smClient(suite.moto.endpoint);
    const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
    let failures = 0;
    (client as { send: unknown }).send = async (command: unknown) => {
      if (command instanceof PutSecretValueCommand && command.input.VersionStages?.includes('AWSPENDING')) {
        failures++;
        throw Object.assign(new Error('simulated throttling'), { name: 'ThrottlingException', $fault: 'client' });
      }
      return send(command);
    };
    const flaky = createRotationHandler(kind, { client: client as SecretsManagerClient, bounds: { storeBackoffMs: 10 } });
    // Act
    const err = (await flaky(suite.player.event(arn, token, 'createSecret'), lambdaContext()).catch((e: unknown) => e)) as Error;
    suite.logs.note(errorText(err));
    // Assess: five attempts, then an error and a metric that name the token id (never the value).
    expect(failures).toBe(5);
    expect(err.message).toMatch(new RegExp(`the new credential \\(id ${app.tokenId}\\) was issued but storing it as AWSPENDING failed 5 time`));
    const metric = suite.logs.records().find((r) => 'PendingStoreFailed' in r);
    expect(metric).toMatchObject({ PendingStoreFailed: 1, kind: 'api-token', issuedId: app.tokenId });
    expect(provider.accepts(app.token)).toBe(false); // the roll happened: the README's recovery step applies
    // A retry on the same (warm) instance once Secrets Manager answers again stores the rolled value: one roll in all.
    (client as { send: unknown }).send = send;
    const outcomes = await suite.player.runSteps(flaky, arn, token);
    expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
    expect(provider.count(Routes.CLOUDFLARE_ROLL)).toBe(1);
    expect(provider.accepts((await value(arn)).token)).toBe(true);
  });
});
