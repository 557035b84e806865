import { IAMClient } from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRotationHandler } from '../lambdas/core/handler.js';
import { Steps } from '../lambdas/core/types.js';
import { createEmergencyHandler } from '../lambdas/emergency/index.js';
import { createIamKind } from '../lambdas/iam/iamKind.js';
import { region, type KeyPair } from '../bin/local/awsAdmin.js';
import { eventsClient } from '../bin/local/events.js';
import { healthEvent } from '../bin/local/leakEvents.js';
import { startFaultForwarder, type FaultForwarder } from '../bin/local/faultForwarder.js';
import { lambdaContext, STEPS } from '../bin/local/harness.js';
import { createRotationFunction } from '../bin/local/moto.js';
import { FAULTS, useFaultMatrix, type FaultTarget, type Subject } from './support/faults.js';
import { callerArn, useIamSuite } from './support/iam.js';
import { errorText } from './support/logCapture.js';

/*
 * The fault matrix for IAM access keys (test/support/faults.ts), against a moto server that
 * checks signatures. The kind's IAM and STS clients reach moto through a TCP forwarder
 * (switched to refusing for "unreachable"); "refusing" makes the function's own IAM credential
 * sign wrongly for the step (moto answers SignatureDoesNotMatch).
 */

const t = useIamSuite();
const { suite } = t;
const matrix = useFaultMatrix('iam', () => ({ player: suite.player, logs: suite.logs, endpoint: suite.moto.endpoint }));
let forwarder: FaultForwarder;
let iam: IAMClient;
let refusing = false;

beforeAll(async () => {
  forwarder = await startFaultForwarder({ host: '127.0.0.1', port: suite.moto.port });
  // The function's own credentials, wrong while `refusing`: an expiration a moment away makes the
  // SDK ask for them again on every request (as for a role's credentials about to expire).
  iam = new IAMClient({
    endpoint: forwarder.url,
    region,
    credentials: async () => ({
      ...t.admin,
      ...(refusing ? { secretAccessKey: `${t.admin.secretAccessKey}x` } : {}),
      expiration: new Date(Date.now() + 1_000),
    }),
  });
  await createRotationFunction(suite.moto.endpoint, 'rotor-rotation', t.admin);
});
afterAll(async () => {
  await forwarder?.close();
});

interface IamSubject extends Subject {
  readonly username: string;
}

const userArn = (username: string) => `arn:aws:iam::123456789012:user/${username}`;
const keyOf = (v: Record<string, unknown>): KeyPair => ({ accessKeyId: String(v.accessKeyId), secretAccessKey: String(v.secretAccessKey) });

const kind = () =>
  createIamKind({
    iam,
    stsClient: (credentials) => new STSClient({ endpoint: forwarder.url, region, credentials: { ...credentials } }),
    testFirstDelayMs: 20,
    testMaxDelayMs: 100,
    testTimeoutMs: 2_000,
  });

const iamTarget: FaultTarget = {
  kind: 'iam',
  strategy: 'dual-active keys',
  inPlace: false,
  issues: true,
  async arrange(): Promise<IamSubject> {
    const user = await t.arrange();
    suite.sensitive(t.admin.secretAccessKey, `${t.admin.secretAccessKey}x`);
    return {
      arn: user.arn,
      username: user.username,
      // STS accepts the key as the user, and IAM reports it Active (moto lets an inactive key sign).
      works: async (v) =>
        (await callerArn(keyOf(v))) === userArn(user.username) && (await t.keys(user.username))[String(v.accessKeyId)] === 'Active',
    };
  },
  instance: () => {
    suite.sensitive(t.admin.secretAccessKey);
    const client = matrix.client(t.admin) as SecretsManagerClient;
    return suite.captured(createRotationHandler(kind(), { client, env: { ...suite.fingerprintKey.env } }));
  },
  unreachable: (on) => (on ? forwarder.refuse() : forwarder.pass()),
  async refusing(_subject, on) {
    refusing = on;
  },
  leakIdentity: (v) => String(v.accessKeyId),
  fingerprintKey: () => suite.fingerprintKey.key,
  async leftovers(subject) {
    const { username } = subject as IamSubject;
    const held = new Set<string>();
    for (const stage of ['AWSCURRENT', 'AWSPREVIOUS']) {
      const v = await suite.player.value(subject.arn, stage).catch(() => undefined);
      if (v) held.add(String(v.accessKeyId));
    }
    return Object.keys(await t.keys(username))
      .filter((id) => !held.has(id))
      .map((id) => `access key ${id} on the user is held by no labelled version`);
  },
  revoked: async (_subject, leaked) => (await callerArn(keyOf(leaked))).startsWith('refused'),
};

function emergency() {
  const handler = createEmergencyHandler({
    sm: new SecretsManagerClient({ endpoint: suite.moto.endpoint, region, credentials: t.admin }),
    events: eventsClient(suite.moto.endpoint, t.admin),
    kinds: { iam: kind() },
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

describe('fault matrix: iam', () => {
  for (const step of STEPS) {
    for (const fault of FAULTS) {
      it(`${step} × ${fault}`, async () => {
        const row = await matrix.runCase(iamTarget, step, fault);
        expect(row.outcome, JSON.stringify(row, null, 2)).not.toBe('failed');
      });
    }
  }
  for (const after of [Steps.CREATE, Steps.SET, Steps.TEST]) {
    it(`CancelRotateSecret after ${after}, then a new rotation`, async () => {
      const row = await matrix.runCancel(iamTarget, after);
      expect(row.outcome, JSON.stringify(row, null, 2)).not.toBe('failed');
    });
  }
  it('an emergency rotation racing a scheduled one (in flight after setSecret)', async () => {
    const row = await matrix.runEmergencyRace(iamTarget, emergency, Steps.SET);
    expect(row.outcome, JSON.stringify(row, null, 2)).not.toBe('failed');
  });
});

describe('a finishSecret that died after moving AWSCURRENT, retried on a new instance', () => {
  it('leaves the fingerprint tags naming the new key: an AWS Health exposure of it finds the secret and revokes it', async () => {
    // Prepare: a rotation whose finishSecret moved AWSCURRENT, then its instance died (every
    // later call of it fails at the stand-in); the service retried the step on a new instance.
    const subject = await iamTarget.arrange();
    const token = await suite.player.startRotation(subject.arn);
    await suite.player.runSteps(iamTarget.instance(), subject.arn, token, [Steps.CREATE, Steps.SET, Steps.TEST]);
    let dead = false;
    matrix.proxy.intercept((operation) => {
      if (dead) return 'ProcessDied';
      if (operation === 'UpdateSecretVersionStage') dead = true;
      return undefined;
    });
    try {
      await expect(iamTarget.instance()(suite.player.event(subject.arn, token, Steps.FINISH), lambdaContext())).rejects.toThrow(/ProcessDied/);
    } finally {
      matrix.proxy.intercept(undefined);
    }
    const retried = await iamTarget.instance()(suite.player.event(subject.arn, token, Steps.FINISH), lambdaContext());
    expect(retried.outcome).toBe('already-current');
    const leaked = await suite.player.value(subject.arn, 'AWSCURRENT');
    // Act: AWS finds the new key in public.
    let handled = false;
    const service = (async () => {
      // Play the rotation the emergency handler starts, as the service would.
      for (let n = 0; n < 400 && !handled; n++) {
        const pending = Object.entries(await suite.player.versions(subject.arn)).find(([id, s]) => s.includes('AWSPENDING') && id !== token)?.[0];
        if (pending) return suite.player.runSteps(iamTarget.instance(), subject.arn, pending);
        await new Promise((r) => setTimeout(r, 25));
      }
      return [];
    })();
    const handling = emergency()(healthEvent([String(leaked.accessKeyId)]), lambdaContext('rotor-emergency')).finally(() => {
      handled = true;
    });
    const [results, played] = await Promise.allSettled([handling, service]);
    // Assess
    expect(played.status).toBe('fulfilled');
    expect(results.status === 'fulfilled' ? results.value[0] : errorText(results.reason)).toMatchObject({
      outcome: 'rotated-and-revoked',
      leakedVersionId: token,
    });
    expect(await iamTarget.revoked!(subject, leaked)).toBe(true);
    expect(await subject.works(await suite.player.value(subject.arn, 'AWSCURRENT'))).toBe(true);
  });
});
