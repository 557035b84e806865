import { randomBytes } from 'node:crypto';
import { TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiTokenKind } from '../lambdas/api-token/apiTokenKind.js';
import { plainFingerprint } from '../lambdas/core/fingerprint.js';
import { REDACTED } from '../lambdas/core/redact.js';
import { RotorTags } from '../lambdas/core/types.js';
import { credentialVersions, emergencyDriver, leakEvent } from './support/emergency.js';
import { captureEvents } from '../bin/local/events.js';
import { createRotationFunction } from '../bin/local/moto.js';
import { useRotationSuite } from './support/rotationSuite.js';
import { Routes, TokenProviderServer } from '../bin/local/tokenProvider.js';
import { ALLOW_LOOPBACK_FOR_TESTS } from '../lambdas/contract/testing.js';

// The emulators listen on 127.0.0.1 over plain http: the local-test opt-in, and every
// management secret (or self-rotating secret) lists 127.0.0.1 in its allowedHosts.
process.env[ALLOW_LOOPBACK_FOR_TESTS] = '1';

/**
 * Emergency rotation of API tokens against the local provider emulators, whose token tables
 * give a real "refused": Datadog-like (dual-active, revoked by id) and Cloudflare-like (roll-only,
 * the roll kills the old value). The emergency handler runs with the deployed kinds.
 */
const suite = useRotationSuite();
const emergency = emergencyDriver(() => ({ endpoint: suite.moto.endpoint, player: suite.player, logs: suite.logs }));
let provider: TokenProviderServer;
const figures: string[] = [];

beforeAll(async () => {
  provider = await TokenProviderServer.start();
});
afterAll(async () => {
  await provider?.close();
  for (const f of figures) console.info(f);
});
beforeEach(async () => {
  provider.resetFaults();
  await createRotationFunction(suite.moto.endpoint);
});

/** The rotation function's kind, with short pauses (the emergency handler uses the deployed one). */
const rotationKind = createApiTokenKind({ verifyDelayMs: 50, http: { backoffMs: 20, timeoutMs: 3_000 } });
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

interface TokenSecret {
  token: string;
  tokenId?: string;
  [k: string]: unknown;
}
const value = (arn: string, stage = 'AWSCURRENT') => suite.player.value<TokenSecret>(arn, stage);

async function tokenSecret(name: string, secretValue: Record<string, unknown>): Promise<string> {
  const arn = await suite.secret(name, secretValue);
  await suite.player.client.send(new TagResourceCommand({ SecretId: arn, Tags: [{ Key: RotorTags.KIND, Value: 'api-token' }] }));
  return arn;
}

/** A Datadog API key secret after one normal rotation: key 0 AWSPREVIOUS (still live), key 1 AWSCURRENT. */
async function datadog(graceperiod: number) {
  const management = provider.datadogManagement();
  suite.sensitive(management.apiKey, management.appKey);
  const managementSecretArn = await suite.secret(unique('dd-management'), { ...management, allowedHosts: [provider.host] });
  const key = provider.datadogApiKey();
  const arn = await tokenSecret(unique('dd-key'), {
    provider: 'datadog', token: key.token, tokenId: key.tokenId, managementSecretArn, baseUrl: provider.datadogBaseUrl, graceperiod,
  });
  const rotation = suite.handler(rotationKind);
  await suite.player.rotate(rotation, arn);
  return { arn, rotation, older: key.token, current: await value(arn) };
}

/** Polls the emulator until it refuses the token; the time since `started`. */
async function refusedAfter(token: string, started: number): Promise<number> {
  for (let i = 0; i < 100 && provider.accepts(token); i++) await new Promise((r) => setTimeout(r, 20));
  return Date.now() - started;
}

describe('emergency rotation and revocation: API tokens', () => {
  it('dual-active (Datadog-like), leak by fingerprint of the current token: rotates, revokes it, the provider refuses it', async () => {
    // A 48-hour grace window: nothing but the emergency revoke may kill the leaked key today.
    const { arn, rotation, current } = await datadog(48);
    const leakedVersionId = (await suite.player.versionOf(arn, 'AWSCURRENT'))!;
    expect(provider.accepts(current.token)).toBe(true);
    const seen = await captureEvents(suite.moto.endpoint, { source: ['rotor'], 'detail-type': ['Secret Rotated', 'Secret Revoked'] });

    const started = Date.now();
    const [[result]] = await emergency.deliver(
      arn,
      rotation,
      leakEvent({ fingerprint: suite.fingerprintKey.key.fingerprint(current.token), reason: 'secret scanner: token in a public repository', reporter: 'scanner' }),
    );
    const took = await refusedAfter(current.token, started);

    expect(result).toMatchObject({ outcome: 'rotated-and-revoked', leakedVersionId, kind: 'api-token', via: 'rotor' });
    expect(provider.accepts(current.token)).toBe(false);
    const now = await value(arn);
    expect(now.tokenId).not.toBe(current.tokenId);
    expect(provider.accepts(now.token)).toBe(true);
    expect(provider.count(Routes.DATADOG_DELETE, 204)).toBeGreaterThanOrEqual(1);
    const versions = await suite.player.versions(arn);
    expect(Object.values(versions).flat()).not.toContain('AWSPREVIOUS');
    expect(versions[leakedVersionId]).toEqual([]);
    expect((await suite.player.describe(arn)).Tags).toContainEqual({ Key: 'rotor:revoked-version', Value: leakedVersionId });
    const announced = await seen.drain();
    suite.logs.note(JSON.stringify(announced));
    expect(announced.map((e) => e['detail-type']).sort()).toEqual(['Secret Revoked', 'Secret Rotated']);
    expect(JSON.stringify(announced)).not.toContain(current.token);
    figures.push(`[figure] api-token datadog (dual-active, by fingerprint): leak event to leaked token refused in ${took} ms`);
  });

  it('dual-active, leak by fingerprint of the AWSPREVIOUS token (in its grace window): revoked without a rotation', async () => {
    const { arn, rotation, older, current } = await datadog(48);
    expect(provider.accepts(older)).toBe(true);
    const before = await credentialVersions(suite.player, arn);
    const started = Date.now();
    const [[result]] = await emergency.deliver(arn, rotation, leakEvent({ fingerprint: suite.fingerprintKey.key.fingerprint(older), reason: 'old key in a log' }));
    const took = await refusedAfter(older, started);

    expect(result).toMatchObject({ outcome: 'revoked' });
    expect(provider.accepts(older)).toBe(false);
    expect(provider.accepts(current.token)).toBe(true);
    expect(Object.keys(await credentialVersions(suite.player, arn))).toEqual(Object.keys(before));
    expect(Object.values(await suite.player.versions(arn)).flat()).not.toContain('AWSPREVIOUS');
    figures.push(`[figure] api-token datadog (AWSPREVIOUS token, no rotation): leak event to leaked token refused in ${took} ms`);
  });

  it('roll-only (Cloudflare-like), leak by secretId: the roll kills the leaked token; revoke proves it refused', async () => {
    const manager = provider.cloudflareToken(true);
    const managementSecretArn = await suite.secret(unique('cf-management'), { token: manager.token, allowedHosts: [provider.host] });
    const app = provider.cloudflareToken();
    const arn = await tokenSecret(unique('cf-token'), {
      provider: 'cloudflare', token: app.token, tokenId: app.tokenId, managementSecretArn, baseUrl: provider.cloudflareBaseUrl,
    });
    const rotation = suite.handler(rotationKind);
    await suite.player.rotate(rotation, arn);
    const leaked = await value(arn);
    const leakedVersionId = (await suite.player.versionOf(arn, 'AWSCURRENT'))!;
    expect(provider.accepts(leaked.token)).toBe(true);
    const seen = await captureEvents(suite.moto.endpoint, { source: ['rotor'] });

    const started = Date.now();
    const [[result]] = await emergency.deliver(arn, rotation, leakEvent({ secretId: arn, reason: 'token pasted in a ticket' }));
    const took = await refusedAfter(leaked.token, started);

    expect(result).toMatchObject({ outcome: 'rotated-and-revoked', leakedVersionId, kind: 'api-token' });
    expect(provider.accepts(leaked.token)).toBe(false);
    const now = await value(arn);
    expect(now.tokenId).toBe(leaked.tokenId);
    expect(provider.accepts(now.token)).toBe(true);
    expect(provider.accepts(manager.token)).toBe(true);
    expect(provider.count(Routes.CLOUDFLARE_DELETE)).toBe(0);
    expect(Object.values(await suite.player.versions(arn)).flat()).not.toContain('AWSPREVIOUS');
    suite.logs.note(JSON.stringify(await seen.drain()));
    figures.push(`[figure] api-token cloudflare (roll-only, by secretId): leak event to leaked token refused in ${took} ms`);
  });

  it('a reason quoting the leaked token (and the AWSPREVIOUS one) is masked in the log and the events', async () => {
    const { arn, rotation, older, current } = await datadog(48);
    const seen = await captureEvents(suite.moto.endpoint, { source: ['rotor'], 'detail-type': ['Secret Rotated', 'Secret Revoked'] });
    const reason = `scanner: ${current.token} in a public repo, next to ${older}`;
    const [[result]] = await emergency.deliver(arn, rotation, leakEvent({ fingerprint: suite.fingerprintKey.key.fingerprint(current.token), reason }));
    const expected = `scanner: ${REDACTED} in a public repo, next to ${REDACTED}`;
    expect(result).toMatchObject({ outcome: 'rotated-and-revoked', reason: expected });
    expect(provider.accepts(current.token)).toBe(false);
    const announced = await seen.drain();
    expect(announced.map((e) => e.detail.reason)).toEqual([expected, expected]);
    expect(JSON.stringify(announced) + suite.logs.text()).not.toContain(current.token);
    suite.logs.note(JSON.stringify(announced));
  });

  it('a fingerprint no Rotor secret holds: clear error, nothing touched', async () => {
    const { arn, rotation, current } = await datadog(0);
    const versions = await suite.player.versions(arn);
    const stranger = plainFingerprint(provider.datadogApiKey().token);
    await expect(emergency.deliver(arn, rotation, leakEvent({ fingerprint: stranger, reason: 'x' }))).rejects.toThrow(
      new RegExp(`no Rotor-managed secret holds fingerprint ${stranger}`),
    );
    expect(await suite.player.versions(arn)).toEqual(versions);
    expect(provider.accepts(current.token)).toBe(true);
  });
});
