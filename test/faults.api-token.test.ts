import { randomBytes } from 'node:crypto';
import { TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiTokenKind } from '../lambdas/api-token/apiTokenKind.js';
import { currentValueReader } from '../lambdas/api-token/management.js';
import { ALLOW_LOOPBACK_FOR_TESTS } from '../lambdas/contract/testing.js';
import { createRotationHandler } from '../lambdas/core/handler.js';
import { SecretsApi } from '../lambdas/core/secretsApi.js';
import { RotorTags, Steps } from '../lambdas/core/types.js';
import { createEmergencyHandler } from '../lambdas/emergency/index.js';
import { eventsClient } from '../bin/local/events.js';
import { startFaultForwarder, type FaultForwarder } from '../bin/local/faultForwarder.js';
import { smClient, STEPS } from '../bin/local/harness.js';
import { createRotationFunction } from '../bin/local/moto.js';
import { Routes, TokenProviderServer, type Route } from '../bin/local/tokenProvider.js';
import { Faults, FAULTS, useFaultMatrix, type FaultTarget, type Subject } from './support/faults.js';
import { errorText } from './support/logCapture.js';
import { useRotationSuite } from './support/rotationSuite.js';

/*
 * The fault matrix for API tokens (test/support/faults.ts): a dual-active provider (Datadog-like:
 * issue a new key, revoke the old one after the grace window) and a roll-only one
 * (Cloudflare-like: the roll kills the old value at once, so it rotates in place). The provider
 * emulator sits behind a TCP forwarder that the secrets' baseUrl names (switched to refusing for
 * "unreachable"); "refusing" makes the emulator answer every request of the step with its
 * refusal (Datadog 403, Cloudflare 401).
 */

// The emulator listens on 127.0.0.1 over plain http: the local-test opt-in, with 127.0.0.1 in allowedHosts.
process.env[ALLOW_LOOPBACK_FOR_TESTS] = '1';

const suite = useRotationSuite();
const matrix = useFaultMatrix('api-token', () => ({ player: suite.player, logs: suite.logs, endpoint: suite.moto.endpoint }));
let provider: TokenProviderServer;
let forwarder: FaultForwarder;

beforeAll(async () => {
  provider = await TokenProviderServer.start();
  const { hostname, port } = new URL(provider.url);
  forwarder = await startFaultForwarder({ host: hostname, port: Number(port) });
});
afterAll(async () => {
  await forwarder?.close();
  await provider?.close();
});
beforeEach(() => {
  provider.resetFaults();
});

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

interface TokenSubject extends Subject {
  /** Keys Rotor issues for this secret are named `<keyName>-<rotation token>`. */
  readonly keyName: string;
  readonly seedTokenId: string;
}

/** Short pauses so that failing cases stay fast; the limits themselves are the defaults. */
function kindFor() {
  // Each instance has its own kind object: its issue journal is the warm function's memory.
  return createApiTokenKind({
    verifyDelayMs: 50,
    http: { backoffMs: 20, timeoutMs: 3_000 },
    readSecret: currentValueReader(new SecretsApi(matrix.client())),
  });
}

/** A token secret, tagged as the construct tags it (the provider, not a strategy, makes it dual-active). */
async function tagged(name: string, value: Record<string, unknown>): Promise<string> {
  const arn = await suite.secret(name, value);
  await suite.player.client.send(new TagResourceCommand({ SecretId: arn, Tags: [{ Key: RotorTags.KIND, Value: 'api-token' }] }));
  return arn;
}

function tokenTarget(flavour: 'datadog' | 'cloudflare'): FaultTarget {
  const routes: Route[] =
    flavour === 'datadog'
      ? [Routes.DATADOG_CREATE, Routes.DATADOG_DELETE, Routes.DATADOG_VALIDATE]
      : [Routes.CLOUDFLARE_ROLL, Routes.CLOUDFLARE_VERIFY, Routes.CLOUDFLARE_DELETE];
  const refusal = flavour === 'datadog' ? 403 : 401;
  return {
    kind: 'api-token',
    strategy: flavour === 'datadog' ? 'dual-active (datadog)' : 'roll-only (cloudflare)',
    inPlace: flavour === 'cloudflare',
    issues: true,
    async arrange(): Promise<TokenSubject> {
      const keyName = unique('fm');
      let arn: string;
      let seedTokenId: string;
      if (flavour === 'datadog') {
        const management = provider.datadogManagement();
        suite.sensitive(management.apiKey, management.appKey);
        const managementSecretArn = await suite.secret(unique('fm-dd-management'), { ...management, allowedHosts: [provider.host] });
        const key = provider.datadogApiKey();
        seedTokenId = key.tokenId;
        arn = await tagged(
          unique('fm-dd-key'),
          {
            provider: 'datadog',
            token: key.token,
            tokenId: key.tokenId,
            managementSecretArn,
            baseUrl: `${forwarder.url}/datadog`,
            graceperiod: 0,
            keyName,
          },
        );
      } else {
        const manager = provider.cloudflareToken(true);
        const managementSecretArn = await suite.secret(unique('fm-cf-management'), { token: manager.token, allowedHosts: [provider.host] });
        const app = provider.cloudflareToken();
        seedTokenId = app.tokenId;
        arn = await tagged(
          unique('fm-cf-token'),
          { provider: 'cloudflare', token: app.token, tokenId: app.tokenId, managementSecretArn, baseUrl: `${forwarder.url}/cloudflare/client/v4` },
        );
      }
      return { arn, keyName, seedTokenId, works: async (v) => provider.accepts(String(v.token)) };
    },
    instance: () => suite.captured(createRotationHandler(kindFor(), { client: matrix.client(), env: { ...suite.fingerprintKey.env } })),
    fingerprintKey: () => suite.fingerprintKey.key,
    unreachable: (on) => (on ? forwarder.refuse() : forwarder.pass()),
    async refusing(_subject, on) {
      if (!on) {
        provider.resetFaults();
        return;
      }
      for (const route of routes) provider.failNext(route, { status: refusal, times: 100 });
    },
    async gap(_subject, situation) {
      // Roll-only: an instance that died between the roll and the store took the only copy of
      // the new value with it (README, "When a pending value cannot be stored").
      if (flavour !== 'cloudflare' || situation.step !== Steps.CREATE) return undefined;
      if (situation.fault !== Faults.DIED_RETRY && situation.fault !== Faults.DIED_NEW_TOKEN) return undefined;
      return (
        'the roll killed AWSCURRENT and its new value died with the instance before it was stored (README, ' +
        '"When a pending value cannot be stored": the retried createSecret rolls again by token id)'
      );
    },
    leakIdentity: (v) => String(v.token),
    async leftovers(subject) {
      if (flavour !== 'datadog') return [];
      const { keyName, seedTokenId } = subject as TokenSubject;
      let held = 0;
      for (const stage of ['AWSCURRENT', 'AWSPREVIOUS']) {
        const v = await suite.player.value(subject.arn, stage).catch(() => undefined);
        if (v && v.tokenId !== seedTokenId && provider.accepts(String(v.token))) held++;
      }
      const live = provider.liveNamed(`${keyName}-`);
      return live > held ? [`${live - held} live key(s) issued for this secret that no labelled version holds`] : [];
    },
    revoked: async (_subject, leaked) => !provider.accepts(String(leaked.token)),
  };
}

function emergency() {
  const handler = createEmergencyHandler({
    sm: smClient(suite.moto.endpoint),
    events: eventsClient(suite.moto.endpoint),
    kinds: { 'api-token': kindFor() },
    pollIntervalMs: 50,
    waitTimeoutMs: 20_000,
  });
  return async (event: unknown, context: Parameters<typeof handler>[1]) => {
    try {
      return await handler(event, context);
    } catch (err) {
      suite.logs.note(errorText(err));
      throw err;
    }
  };
}

describe.each(['datadog', 'cloudflare'] as const)('fault matrix: api-token %s', (flavour) => {
  const target = tokenTarget(flavour);
  for (const step of STEPS) {
    for (const fault of FAULTS) {
      it(`${step} × ${fault}`, async () => {
        const row = await matrix.runCase(target, step, fault);
        expect(row.outcome, JSON.stringify(row, null, 2)).not.toBe('failed');
      });
    }
  }
  for (const after of [Steps.CREATE, Steps.SET, Steps.TEST]) {
    it(`CancelRotateSecret after ${after}, then a new rotation`, async () => {
      const row = await matrix.runCancel(target, after);
      expect(row.outcome, JSON.stringify(row, null, 2)).not.toBe('failed');
    });
  }
  it('an emergency rotation racing a scheduled one (in flight after setSecret)', async () => {
    await createRotationFunction(suite.moto.endpoint);
    const row = await matrix.runEmergencyRace(target, emergency, Steps.SET);
    expect(row.outcome, JSON.stringify(row, null, 2)).not.toBe('failed');
  });
});
