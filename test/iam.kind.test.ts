import { randomBytes } from 'node:crypto';
import { ListUserTagsCommand } from '@aws-sdk/client-iam';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../lambdas/core/errors.js';
import type { KindContext } from '../lambdas/core/types.js';
import { createIamKind, iamDefaults } from '../lambdas/iam/iamKind.js';
import { lambdaContext, STEPS } from '../bin/local/harness.js';
import { errorText } from './support/logCapture.js';
import { callerArn, failingPutOnce, useIamSuite, type KeyPair } from './support/iam.js';
import { fakeAccessKeyId } from '../bin/local/awsAdmin.js';
import { builtHandler } from './support/builtBundle.js';

const exampleKeyId = fakeAccessKeyId();

const t = useIamSuite();
const { suite } = t;

const userArn = (username: string) => `arn:aws:iam::123456789012:user/${username}`;

/** What a kind hook receives outside a rotation (the emergency handler's call to revoke). */
function kindContext(secretArn: string): KindContext {
  return {
    secretArn,
    token: 'emergency',
    strategy: 'single-user',
    logger: new Logger({ serviceName: 'rotor-test' }),
    recordLogin: () => undefined,
    redact: () => undefined,
  };
}

describe('the test moto server', () => {
  it('checks signatures: unknown keys and wrong secrets are refused, an inactive key still signs', async () => {
    const user = await t.arrange();
    expect(await callerArn(user.key)).toBe(userArn(user.username));
    expect(await callerArn({ ...user.key, secretAccessKey: `${user.key.secretAccessKey}x` })).toBe(
      'refused: SignatureDoesNotMatch',
    );
    expect(await callerArn({ accessKeyId: fakeAccessKeyId(), secretAccessKey: 'x' })).toBe(
      'refused: InvalidClientTokenId',
    );
    await t.setStatus(user.username, user.key.accessKeyId, 'Inactive');
    expect(await callerArn(user.key)).toBe(userArn(user.username)); // why testSecret also asks IAM
  });
});

describe('IamAccessKeyRotation', () => {
  it('first rotation: the new key signs in as the user, the old key stays active, AWSPREVIOUS is set', async () => {
    // Prepare
    const user = await t.arrange({ extra: { note: 'kept', graceperiod: 12 } });
    const before = await suite.player.versionOf(user.arn, 'AWSCURRENT');
    // Act
    const started = Date.now();
    const { token, outcomes } = await suite.player.rotate(t.handler(), user.arn);
    const elapsed = Date.now() - started;
    // Assess
    const now = await t.value(user.arn);
    expect(now.username).toBe(user.username);
    expect(now.accessKeyId).not.toBe(user.key.accessKeyId);
    expect(now).toMatchObject({ note: 'kept', graceperiod: 12 });
    expect(await callerArn(now)).toBe(userArn(user.username));
    expect(await callerArn(user.key)).toBe(userArn(user.username));
    expect(await t.keys(user.username)).toEqual({ [user.key.accessKeyId]: 'Active', [now.accessKeyId]: 'Active' });
    const versions = await suite.player.versions(user.arn);
    expect(versions[token]).toEqual(['AWSCURRENT']);
    expect(versions[before!]).toEqual(['AWSPREVIOUS']);
    expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
    const calls = outcomes.reduce((n, o) => n + o.secretsManagerCalls, 0);
    expect(calls).toBeLessThanOrEqual(10);
    expect(outcomes.reduce((n, o) => n + o.logins, 0)).toBe(1);
    // The new key carries Rotor's mark (what the IAM console shows as its description).
    const tags = await t.iam.send(new ListUserTagsCommand({ UserName: user.username }));
    expect(tags.Tags).toEqual([{ Key: now.accessKeyId, Value: expect.stringMatching(/^Rotor: iam\/secret-/) }]);
    process.stderr.write(`[figure] one IAM rotation against moto: ${elapsed} ms, ${calls} Secrets Manager calls\n`);
  });

  it('deletes the key AWSPREVIOUS holds when the user already holds two keys, and says the grace window was cut short', async () => {
    // Prepare: key A is AWSCURRENT, key B (still active) AWSPREVIOUS.
    const user = await t.arrange();
    const older = await t.createKey(user.username);
    await t.sm.send(
      new PutSecretValueCommand({
        SecretId: user.arn,
        SecretString: JSON.stringify({ username: user.username, ...older }),
        VersionStages: ['AWSCURRENT'],
      }),
    );
    await t.sm.send(
      new PutSecretValueCommand({
        SecretId: user.arn,
        SecretString: JSON.stringify({ username: user.username, ...user.key }),
        VersionStages: ['AWSCURRENT'],
      }),
    );
    expect((await t.value(user.arn, 'AWSPREVIOUS')).accessKeyId).toBe(older.accessKeyId);
    // Act
    await suite.player.rotate(t.handler(), user.arn);
    // Assess
    const now = await t.value(user.arn);
    expect(await t.keys(user.username)).toEqual({ [user.key.accessKeyId]: 'Active', [now.accessKeyId]: 'Active' });
    expect(await callerArn(older)).toBe('refused: InvalidClientTokenId');
    expect(await callerArn(now)).toBe(userArn(user.username));
    const warning = suite.logs.records().find((r) => String(r.message).includes('cuts that window short'));
    expect(warning).toMatchObject({ level: 'WARN', accessKeyId: older.accessKeyId });
  });

  it('refuses to delete a key Rotor does not know: clear error, nothing deleted, the current key still works', async () => {
    const user = await t.arrange();
    const stranger = await t.createKey(user.username);
    const token = await suite.player.startRotation(user.arn);
    await expect(t.handler()(suite.player.event(user.arn, token, 'createSecret'), lambdaContext())).rejects.toThrow(
      new RegExp(`key ${stranger.accessKeyId} .*is in no version of the secret.*never deletes a key it does not know`),
    );
    expect(await t.keys(user.username)).toEqual({
      [user.key.accessKeyId]: 'Active',
      [stranger.accessKeyId]: 'Active',
    });
    expect(await callerArn(user.key)).toBe(userArn(user.username));
    expect((await t.value(user.arn)).accessKeyId).toBe(user.key.accessKeyId);
  });

  it('rotates twice back to back: the two newest keys are live, the first one is deleted', async () => {
    const user = await t.arrange();
    const handler = t.handler();
    await suite.player.rotate(handler, user.arn);
    const first = await t.value(user.arn);
    await suite.player.rotate(handler, user.arn);
    const second = await t.value(user.arn);
    expect(new Set([user.key.accessKeyId, first.accessKeyId, second.accessKeyId]).size).toBe(3);
    expect(await t.keys(user.username)).toEqual({ [first.accessKeyId]: 'Active', [second.accessKeyId]: 'Active' });
    expect((await t.value(user.arn, 'AWSPREVIOUS')).accessKeyId).toBe(first.accessKeyId);
    expect(await callerArn(second)).toBe(userArn(user.username));
    expect(await callerArn(first)).toBe(userArn(user.username));
    expect(await callerArn(user.key)).toBe('refused: InvalidClientTokenId');
  });

  it('is idempotent: every step run twice in a row makes one key', async () => {
    const user = await t.arrange();
    const handler = t.handler();
    const token = await suite.player.startRotation(user.arn);
    const outcomes = [];
    for (const step of STEPS) {
      outcomes.push(await handler(suite.player.event(user.arn, token, step), lambdaContext()));
      outcomes.push(await handler(suite.player.event(user.arn, token, step), lambdaContext()));
    }
    expect(outcomes.map((o) => o.outcome)).toEqual([
      'done', 'pending-exists', 'done', 'done', 'done', 'done', 'done', 'already-current',
    ]);
    const now = await t.value(user.arn);
    expect(await t.keys(user.username)).toEqual({ [user.key.accessKeyId]: 'Active', [now.accessKeyId]: 'Active' });
    expect(await callerArn(now)).toBe(userArn(user.username));
  });

  it('recovers from a stop between CreateAccessKey and PutSecretValue: the orphan is deleted, never a third key', async () => {
    // Prepare: one rotation done, so the user holds the current key and the previous one.
    const user = await t.arrange();
    await suite.player.rotate(t.handler(), user.arn);
    const current = await t.value(user.arn);
    const token = await suite.player.startRotation(user.arn);
    // Act 1: createSecret deletes the previous key, creates a key, then "dies" before storing it.
    const crashing = failingPutOnce(suite.moto.endpoint, t.admin);
    await expect(
      t.handler({ client: crashing })(suite.player.event(user.arn, token, 'createSecret'), lambdaContext()),
    ).rejects.toThrow(/injected failure/);
    expect(crashing.failures).toBe(1);
    const afterCrash = await t.keys(user.username);
    expect(Object.keys(afterCrash)).toHaveLength(2);
    const [orphan] = Object.keys(afterCrash).filter((id) => id !== current.accessKeyId);
    expect(orphan).toBeDefined();
    // Act 2: Secrets Manager retries the rotation from createSecret (a cold instance).
    const outcomes = await suite.player.runSteps(t.handler(), user.arn, token);
    // Assess
    expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
    const now = await t.value(user.arn);
    expect(now.accessKeyId).not.toBe(orphan);
    expect(await t.keys(user.username)).toEqual({ [current.accessKeyId]: 'Active', [now.accessKeyId]: 'Active' });
    const orphanLog = suite.logs.records().find((r) => String(r.message).includes('interrupted createSecret'));
    expect(orphanLog).toMatchObject({ accessKeyId: orphan });
    expect(await callerArn(now)).toBe(userArn(user.username));
  });

  it('retries STS while the new key is not yet accepted, then passes', async () => {
    const user = await t.arrange();
    // IAM's eventual consistency, played with real refusals: the first two calls are signed
    // with a wrong secret, which moto refuses as AWS refuses a key it has not propagated.
    let attempts = 0;
    const lagging = (key: KeyPair) => {
      const client = new STSClient({
        credentials: async () => ({
          ...key,
          secretAccessKey: attempts <= 2 ? `${key.secretAccessKey}-not-yet` : key.secretAccessKey,
          expiration: new Date(), // read again for every request
        }),
      });
      client.middlewareStack.add(
        (next) => async (args) => {
          attempts++;
          return next(args);
        },
        { step: 'initialize', name: 'countAttempts' },
      );
      return client;
    };
    const token = await suite.player.startRotation(user.arn);
    const outcomes = await suite.player.runSteps(
      t.handler({ stsClient: lagging, testFirstDelayMs: 50, testMaxDelayMs: 100 }),
      user.arn,
      token,
    );
    expect(outcomes[2]).toMatchObject({ step: 'testSecret', outcome: 'done', logins: 3 });
  });

  it('fails testSecret within the bound when the key never works, and leaves AWSCURRENT intact', async () => {
    // Prepare: the pending version names a real key of the user with a wrong secret.
    const user = await t.arrange();
    const spare = await t.createKey(user.username);
    const token = await suite.player.startRotation(user.arn);
    const broken = { username: user.username, accessKeyId: spare.accessKeyId, secretAccessKey: `${spare.secretAccessKey}x` };
    suite.sensitive(broken.secretAccessKey);
    await t.sm.send(
      new PutSecretValueCommand({ SecretId: user.arn, ClientRequestToken: token, SecretString: JSON.stringify(broken), VersionStages: ['AWSPENDING'] }),
    );
    const handler = t.handler({ testTimeoutMs: 1_500, testFirstDelayMs: 100, testMaxDelayMs: 400 });
    await suite.player.runSteps(handler, user.arn, token, ['createSecret', 'setSecret']);
    // Act
    const started = Date.now();
    const failure = handler(suite.player.event(user.arn, token, 'testSecret'), lambdaContext());
    // Assess
    await expect(failure).rejects.toThrow(/does not work: STS did not accept the key within 1500 ms \(\d+ attempts, last answer SignatureDoesNotMatch\)/);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1_500);
    expect(elapsed).toBeLessThan(3_500);
    const versions = await suite.player.versions(user.arn);
    expect(versions[token]).toEqual(['AWSPENDING']);
    expect((await t.value(user.arn)).accessKeyId).toBe(user.key.accessKeyId);
    expect(await callerArn(user.key)).toBe(userArn(user.username));
  });

  it('testSecret refuses a new key that IAM reports inactive (moto would let it sign)', async () => {
    const user = await t.arrange();
    const handler = t.handler();
    const token = await suite.player.startRotation(user.arn);
    await suite.player.runSteps(handler, user.arn, token, ['createSecret', 'setSecret']);
    const pending = await t.value(user.arn, 'AWSPENDING');
    await t.setStatus(user.username, pending.accessKeyId, 'Inactive');
    await expect(handler(suite.player.event(user.arn, token, 'testSecret'), lambdaContext())).rejects.toThrow(
      new RegExp(`pending access key ${pending.accessKeyId} is Inactive`),
    );
    await expect(handler(suite.player.event(user.arn, token, 'setSecret'), lambdaContext())).rejects.toThrow(
      /does not reactivate a key somebody deactivated/,
    );
    expect((await t.value(user.arn)).accessKeyId).toBe(user.key.accessKeyId);
  });

  it('setSecret refuses a pending key that no longer exists, and a pending value for another user', async () => {
    const user = await t.arrange();
    const handler = t.handler();
    const token = await suite.player.startRotation(user.arn);
    await handler(suite.player.event(user.arn, token, 'createSecret'), lambdaContext());
    const pending = await t.value(user.arn, 'AWSPENDING');
    await t.deleteKey(user.username, pending.accessKeyId);
    await expect(handler(suite.player.event(user.arn, token, 'setSecret'), lambdaContext())).rejects.toThrow(
      new RegExp(`pending access key ${pending.accessKeyId} does not exist on IAM user`),
    );

    const other = await t.arrange();
    const token2 = await suite.player.startRotation(other.arn);
    const foreign = { username: user.username, ...(await t.createKey(user.username)) };
    await t.sm.send(
      new PutSecretValueCommand({ SecretId: other.arn, ClientRequestToken: token2, SecretString: JSON.stringify(foreign), VersionStages: ['AWSPENDING'] }),
    );
    await expect(handler(suite.player.event(other.arn, token2, 'setSecret'), lambdaContext())).rejects.toThrow(
      /username differs between AWSCURRENT and AWSPENDING/,
    );
  });

  it('refuses malformed secrets, naming the field and never the value', async () => {
    const fake = randomBytes(20).toString('base64url');
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ accessKeyId: exampleKeyId, secretAccessKey: fake }, /field 'username' is missing/],
      [{ username: 'a', accessKeyId: exampleKeyId }, /field 'secretAccessKey' is missing/],
      [{ username: 'a b', accessKeyId: exampleKeyId, secretAccessKey: fake }, /field 'username' is invalid/],
      [{ username: 'a', accessKeyId: exampleKeyId, secretAccessKey: fake, graceperiod: -1 }, /field 'graceperiod' is invalid/],
      [{ username: 'a', accessKeyId: exampleKeyId, secretAccessKey: fake, graceperiod: 'soon' }, /field 'graceperiod' is invalid/],
    ];
    for (const [value, message] of cases) {
      const arn = await suite.secret(`iam/malformed-${Math.random().toString(16).slice(2)}`, value);
      const token = await suite.player.startRotation(arn);
      const failure = t.handler()(suite.player.event(arn, token, 'createSecret'), lambdaContext());
      await expect(failure).rejects.toThrow(message);
    }
  });

  it('refuses invalid options at construction, naming the option', () => {
    suite.sensitive(t.admin.secretAccessKey);
    expect(() => createIamKind({ testTimeoutMs: -1 })).toThrow(ConfigurationError);
    expect(() => createIamKind({ testTimeoutMs: 1_000_000 })).toThrow(/option 'testTimeoutMs' is invalid/);
    expect(() => createIamKind({ testFirstDelayMs: 9_000, testMaxDelayMs: 100 })).toThrow(/'testFirstDelayMs'.*testMaxDelayMs/);
    expect(() => createIamKind({ testTimeoutMs: 10, colour: 'red' } as never)).toThrow(ConfigurationError);
    expect(iamDefaults.testTimeoutMs).toBe(60_000);
  });
});

describe('the built bundle (dist/lambdas/iam, as deployed)', () => {
  it('rotates with the function\'s own credentials from the environment', async () => {
    const user = await t.arrange();
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: t.admin.accessKeyId,
      AWS_SECRET_ACCESS_KEY: t.admin.secretAccessKey,
      IAM_TEST_TIMEOUT_MS: '5000',
    });
    suite.sensitive(t.admin.secretAccessKey);
    try {
      // Its credentials come from the environment, through the bundle's stand-in for the SDK's chain.
      const handler = builtHandler('iam');
      const { outcomes } = await suite.player.rotate(async (event, context) => {
        try {
          return await handler(event, context);
        } catch (err) {
          suite.logs.note(errorText(err));
          throw err;
        }
      }, user.arn);
      expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'done', 'done', 'done']);
      const now = await t.value(user.arn);
      expect(await callerArn(now)).toBe(userArn(user.username));
      expect(await t.keys(user.username)).toEqual({ [user.key.accessKeyId]: 'Active', [now.accessKeyId]: 'Active' });
    } finally {
      process.env = saved;
    }
  });
});

describe('IAM revoke (for the emergency handler)', () => {
  it('deactivates then deletes the leaked key, and does nothing the second time', async () => {
    const user = await t.arrange();
    await suite.player.rotate(t.handler(), user.arn);
    const leaked = { username: user.username, ...user.key };
    const kind = t.kind();
    await kind.revoke!(leaked, kindContext(user.arn));
    const now = await t.value(user.arn);
    expect(await t.keys(user.username)).toEqual({ [now.accessKeyId]: 'Active' });
    expect(await callerArn(user.key)).toBe('refused: InvalidClientTokenId');
    await kind.revoke!(leaked, kindContext(user.arn));
    expect(await t.keys(user.username)).toEqual({ [now.accessKeyId]: 'Active' });
    expect(await callerArn(now)).toBe(userArn(user.username));
  });
});

describe('IAM lastUse (the retire run\'s evidence, issue 11)', () => {
  it('answers what IAM recorded for the previous key: nothing before a use, then the date, service and region of the last signed call; nothing to weigh for an inactive or deleted key', async () => {
    const user = await t.arrange();
    const kind = t.kind();
    const previous = { username: user.username, ...user.key };
    // moto answers ServiceName/Region 'N/A' and no date for a key never used: no use.
    expect(await kind.lastUse(previous, kindContext(user.arn))).toEqual({
      credentialId: user.key.accessKeyId,
      at: undefined,
      service: undefined,
      region: undefined,
    });
    const before = Date.now();
    expect(await callerArn(user.key)).toBe(userArn(user.username));
    const used = await kind.lastUse(previous, kindContext(user.arn));
    expect(used).toMatchObject({ credentialId: user.key.accessKeyId, service: 'sts', region: 'us-east-1' });
    // moto stamps the use with the server's clock (whole seconds or finer): not before the call.
    expect(used!.at!.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    await t.setStatus(user.username, user.key.accessKeyId, 'Inactive');
    expect(await kind.lastUse(previous, kindContext(user.arn))).toBeUndefined();
    await t.deleteKey(user.username, user.key.accessKeyId);
    expect(await kind.lastUse(previous, kindContext(user.arn))).toBeUndefined();
  });
});
