import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { createRotationHandler } from '../../lambdas/core/handler.js';
import type { RotationKind } from '../../lambdas/core/types.js';
import { allSecretStrings, SecretsManagerPlayer, sensitiveValues, smClient, type Handler } from '../../bin/local/harness.js';
import { errorText, LogCapture } from './logCapture.js';
import { noteCredential } from '../../bin/local/hygiene.js';
import { awsEnvFor, startMoto, type MotoServer } from '../../bin/local/moto.js';
import { createFingerprintKey, type LocalFingerprintKey } from '../../bin/local/fingerprintKey.js';
import { settings } from '../../lambdas/contract/index.js';

/**
 * The per-file fixture every rotation test uses: its own moto server (reset before each case),
 * a Secrets Manager player, and a log capture that fails the case if any password, key or token
 * of any version of any secret the case made, or any extra value it registers, was printed.
 * Each case has Rotor's fingerprint key secret, as a deployed stack does: `handler()` gets its
 * ARN (ROTOR_FINGERPRINT_KEY_ARN), and so does process.env (emergency handlers built without an
 * env of their own read it there).
 */
export function useRotationSuite(options: { motoInitialNoAuth?: number } = {}) {
  const state = {
    moto: undefined as unknown as MotoServer,
    player: undefined as unknown as SecretsManagerPlayer,
    logs: new LogCapture(),
    secretIds: new Set<string>(),
    extraSensitive: new Set<string>(),
    fingerprintKey: undefined as LocalFingerprintKey | undefined,
  };

  beforeAll(async () => {
    state.moto = await startMoto({ initialNoAuthActionCount: options.motoInitialNoAuth });
    Object.assign(process.env, awsEnvFor(state.moto.endpoint));
    state.player = new SecretsManagerPlayer(smClient(state.moto.endpoint));
  });
  afterAll(async () => {
    await state.moto?.stop();
  });
  beforeEach(async () => {
    if (options.motoInitialNoAuth === undefined) await state.moto.reset();
    state.secretIds.clear();
    state.extraSensitive.clear();
    state.logs = new LogCapture().start();
    state.fingerprintKey = await createFingerprintKey(state.player.client);
    Object.assign(process.env, state.fingerprintKey.env);
  });
  afterEach(async () => {
    state.logs.stop();
    delete process.env[settings.fingerprintKeyArn.name];
    const stored = await allSecretStrings(state.player.client, state.secretIds);
    const values = [...sensitiveValues(stored), ...state.extraSensitive];
    noteCredential(...values);
    expect(values.length, 'the case registered no secret values to look for').toBeGreaterThan(0);
    expect(state.logs.leaks(values), 'secret values found in the captured logs').toEqual([]);
  });

  return {
    get moto() {
      return state.moto;
    },
    get player() {
      return state.player;
    },
    get logs() {
      return state.logs;
    },
    /** This case's fingerprint key (its secret, ROTOR_FINGERPRINT_KEY_ARN, the key to compute expected tags). */
    get fingerprintKey(): LocalFingerprintKey {
      if (!state.fingerprintKey) throw new Error('the fingerprint key is made before each case: ask for it inside a case');
      return state.fingerprintKey;
    },
    /** Creates a secret the case owns (its every version is checked for leaks). */
    async secret(name: string, value: unknown): Promise<string> {
      const arn = await state.player.createSecret(name, value);
      state.secretIds.add(arn);
      if (typeof value === 'string') state.extraSensitive.add(value);
      return arn;
    },
    /** Also look for these strings in the logs. */
    sensitive(...values: string[]) {
      for (const v of values) state.extraSensitive.add(v);
    },
    handler<S>(kind: RotationKind<S>, env: Record<string, string> = {}): Handler {
      return this.captured(createRotationHandler(kind, { client: smClient(state.moto.endpoint), env: { ...state.fingerprintKey?.env, ...env } }));
    },
    /** The handler, with whatever it throws captured: that reaches the Lambda runtime's log too. */
    captured(handler: Handler): Handler {
      return async (event, context) => {
        try {
          return await handler(event, context);
        } catch (err) {
          state.logs.note(errorText(err));
          throw err;
        }
      };
    },
  };
}
