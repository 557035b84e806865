import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiTokenChecks, withApiTokenPreflight } from '../lambdas/api-token/preflight.js';
import { createApiTokenKind } from '../lambdas/api-token/apiTokenKind.js';
import { ALLOW_LOOPBACK_FOR_TESTS } from '../lambdas/contract/testing.js';
import { ListeningTrap } from '../bin/local/hostile.js';
import { freePort } from '../bin/local/ports.js';
import { Routes, TokenProviderServer } from '../bin/local/tokenProvider.js';
import { check, enableRotation, problems, runPreflight, secretState } from './support/preflight.js';
import { useRotationSuite } from './support/rotationSuite.js';

/**
 * `rotor preflight` for API tokens, by calling the rotation handler locally with the preflight
 * event: moto for Secrets Manager, the provider emulator (bin/local/tokenProvider.ts) for Datadog
 * and Cloudflare. Every case checks that nothing changed: the secret's versions, labels and tags,
 * no request that issues, rolls or revokes, the current token still accepted.
 */
// The emulators listen on 127.0.0.1 over plain http: the local-test opt-in (as test/api-token.kind.test.ts).
process.env[ALLOW_LOOPBACK_FOR_TESTS] = '1';

const WRITES = [Routes.DATADOG_CREATE, Routes.DATADOG_DELETE, Routes.CLOUDFLARE_ROLL, Routes.CLOUDFLARE_DELETE, Routes.ACME_ISSUE, Routes.ACME_REVOKE, Routes.ACME_ROLL];
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

describe('ApiTokenRotation preflight', () => {
  const figures: string[] = [];
  // Printed after the last case's log capture has stopped.
  afterAll(() => void (figures.length && process.stderr.write(`${figures.join('\n')}\n`)));
  const suite = useRotationSuite();
  const kind = withApiTokenPreflight(createApiTokenKind({ http: { backoffMs: 20, maxAttempts: 2, timeoutMs: 3_000 } }));
  let provider: TokenProviderServer;
  let after: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    provider = await TokenProviderServer.start();
  });
  afterAll(async () => {
    await provider?.close();
  });
  beforeEach(() => provider.resetFaults());
  afterEach(async () => {
    await after?.();
    after = undefined;
  });

  async function armed(arn: string, token: string) {
    await enableRotation(suite.moto.endpoint, suite.player.client, arn);
    const before = await secretState(suite.player.client, arn);
    after = async () => {
      expect(await secretState(suite.player.client, arn)).toEqual(before);
      expect(WRITES.map((route) => provider.count(route))).toEqual(WRITES.map(() => 0));
      expect(provider.accepts(token)).toBe(true);
    };
    return () => runPreflight(suite.moto.endpoint, kind, arn, { note: (text) => suite.logs.note(text) });
  }

  async function datadog(opts: { management?: Record<string, string>; baseUrl?: string; allowedHosts?: string[] } = {}) {
    const management = opts.management ?? provider.datadogManagement();
    suite.sensitive(...Object.values(management));
    const managementSecretArn = await suite.secret(unique('dd-management'), { ...management, allowedHosts: opts.allowedHosts ?? [provider.host] });
    const key = provider.datadogApiKey();
    const arn = await suite.secret(unique('dd-key'), {
      provider: 'datadog',
      token: key.token,
      tokenId: key.tokenId,
      managementSecretArn,
      baseUrl: opts.baseUrl ?? provider.datadogBaseUrl,
    });
    return { run: await armed(arn, key.token), key };
  }

  it('reports every check ok for a healthy Datadog key (dual-active, management API and application key)', async () => {
    const { run } = await datadog();
    const report = await run();
    expect(problems(report)).toEqual([]);
    expect(report.checks.every((c) => c.status === 'ok'), JSON.stringify(report.checks)).toBe(true);
    figures.push(`[figure] preflight api-token healthy case 1: ${report.durationMs} ms in the handler, ${report.secretsManagerCalls} Secrets Manager calls, ${report.logins} logins`);
    expect(provider.count(Routes.DATADOG_VALIDATE, 200)).toBe(1);
    expect(provider.count(Routes.DATADOG_GET, 200)).toBe(1);
    expect(report.logins).toBe(2);
  });

  it('reports every check ok for a healthy Cloudflare token (roll-only, a management token)', async () => {
    const manager = provider.cloudflareToken(true);
    const managementSecretArn = await suite.secret(unique('cf-management'), { token: manager.token, allowedHosts: [provider.host] });
    const app = provider.cloudflareToken();
    const arn = await suite.secret(unique('cf-token'), { provider: 'cloudflare', token: app.token, tokenId: app.tokenId, managementSecretArn, baseUrl: provider.cloudflareBaseUrl });
    const report = await (await armed(arn, app.token))();
    expect(problems(report)).toEqual([]);
    expect(check(report, ApiTokenChecks.MANAGEMENT_CREDENTIAL).status).toBe('ok');
    expect(provider.count(Routes.CLOUDFLARE_VERIFY, 200)).toBe(2);
  });

  it('finds a management credential the provider refuses', async () => {
    // A real API key, and an application key the provider never issued.
    const { apiKey } = provider.datadogManagement();
    const { run } = await datadog({ management: { apiKey, appKey: randomBytes(20).toString('hex') } });
    const report = await run();
    expect(problems(report)).toEqual([ApiTokenChecks.MANAGEMENT_CREDENTIAL]);
    expect(check(report, ApiTokenChecks.MANAGEMENT_CREDENTIAL).detail).toMatch(/refuses the management credential of arn:aws:secretsmanager:/);
    expect(provider.count(Routes.DATADOG_GET, 403)).toBe(1);
  });

  it('finds a provider that does not answer (a closed loopback port)', async () => {
    const { run } = await datadog({ baseUrl: `http://127.0.0.1:${await freePort()}/datadog` });
    const report = await run();
    expect(problems(report)).toEqual([ApiTokenChecks.PROVIDER_REACHABLE]);
    expect(check(report, ApiTokenChecks.PROVIDER_REACHABLE).detail).toMatch(/does not answer/);
    expect(check(report, ApiTokenChecks.MANAGEMENT_CREDENTIAL).status).toBe('skipped');
  });

  it('sends no credential to a host the management secret does not allow', async () => {
    const trap = await ListeningTrap.start('127.0.0.2');
    try {
      const { run } = await datadog({ baseUrl: `${trap.url}/datadog`, allowedHosts: [provider.host] });
      const report = await run();
      expect(problems(report)).toEqual([ApiTokenChecks.PROVIDER_REACHABLE]);
      expect(check(report, ApiTokenChecks.PROVIDER_REACHABLE).detail).toMatch(/127\.0\.0\.2/);
      expect(trap.connections).toBe(0);
    } finally {
      await trap.close();
    }
  });
});
