import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CLAIM_STAGE } from '../../lambdas/core/claim.js';
import { expect } from 'vitest';
import { createEmergencyHandler, emergencyKinds } from '../../lambdas/emergency/index.js';
import type { EmergencyDeps, EmergencyResult } from '../../lambdas/emergency/emergency.js';
import { eventsClient } from '../../bin/local/events.js';
import { lambdaContext, playRotations, type Handler, type SecretsManagerPlayer } from '../../bin/local/harness.js';
import { errorText, type LogCapture } from './logCapture.js';

export { guardDutyEvent, healthEvent, leakEvent } from '../../bin/local/leakEvents.js';

export interface EmergencyFixture {
  readonly endpoint: string;
  readonly player: SecretsManagerPlayer;
  readonly logs: LogCapture;
  /** Credentials of the handler's Secrets Manager and EventBridge clients. @default dummy keys */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  readonly overrides?: Partial<EmergencyDeps>;
}

/**
 * The emergency handler as deployed (every kind of `emergencyKinds`), with short polls, and a
 * `deliver` that runs it on events while playing Secrets Manager's part for the secret's
 * rotations. What the handler throws is added to the captured logs (the leak check reads it).
 */
export function emergencyDriver(fixture: () => EmergencyFixture) {
  const handler = () => {
    const f = fixture();
    const credentials = f.credentials ?? { accessKeyId: 'testing', secretAccessKey: 'testing' };
    return createEmergencyHandler({
      sm: new SecretsManagerClient({ endpoint: f.endpoint, region: 'us-east-1', credentials }),
      events: eventsClient(f.endpoint, credentials),
      kinds: emergencyKinds,
      pollIntervalMs: 50,
      waitTimeoutMs: 20_000,
      ...f.overrides,
    });
  };
  return {
    handler,
    /** Delivers the events (concurrently) while playing the rotations; the results, in order. */
    async deliver(arn: string, rotation: Handler, ...events: unknown[]): Promise<EmergencyResult[][]> {
      const f = fixture();
      const service = playRotations(f.player, rotation, arn);
      try {
        return await Promise.all(
          events.map((e) =>
            handler()(e as never, lambdaContext('rotor-emergency')).catch((err: unknown) => {
              f.logs.note(errorText(err));
              throw err;
            }),
          ),
        );
      } finally {
        await service.stop();
        expect(service.errors).toEqual([]);
      }
    },
  };
}

/**
 * The secret's versions without Rotor's claim versions (core/claim.ts: small ROTOR_CLAIM
 * versions that hold ids only; moto also lists the ones a later claim unlabelled).
 */
export async function credentialVersions(player: SecretsManagerPlayer, secretId: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [id, stages] of Object.entries(await player.versions(secretId))) {
    if (stages.includes(CLAIM_STAGE)) continue;
    if (stages.length === 0) {
      const value = await player.client
        .send(new GetSecretValueCommand({ SecretId: secretId, VersionId: id }))
        .then((v) => v.SecretString ?? '', () => '');
      if (value.startsWith('{"rotorClaim"')) continue;
    }
    out[id] = stages;
  }
  return out;
}
