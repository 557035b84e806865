import { ListUserTagsCommand, TagUserCommand } from '@aws-sdk/client-iam';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { IamChecks, withIamPreflight } from '../lambdas/iam/preflight.js';
import { check, enableRotation, problems, runPreflight, secretState } from './support/preflight.js';
import { useIamSuite } from './support/iam.js';

/**
 * `rotor preflight` for IAM access keys, by calling the rotation handler locally with the
 * preflight event against moto with signature checks on (STS really refuses a wrong key). Every
 * case checks that nothing changed: the secret's versions, labels and tags, the user's keys and
 * their status, the user's tags (Rotor's key marks).
 */
const t = useIamSuite();
const { suite } = t;

describe('IamAccessKeyRotation preflight', () => {
  const figures: string[] = [];
  // Printed after the last case's log capture has stopped.
  afterAll(() => void (figures.length && process.stderr.write(`${figures.join('\n')}\n`)));
  let after: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await after?.();
    after = undefined;
  });

  async function userState(username: string) {
    const tags = await t.iam.send(new ListUserTagsCommand({ UserName: username }));
    return { keys: await t.keys(username), tags: tags.Tags };
  }

  /** Arms the "nothing changed" check for this secret and user, and answers the preflight to run. */
  async function armed(arn: string, username: string) {
    await enableRotation(suite.moto.endpoint, t.sm, arn, { credentials: t.admin });
    const before = { secret: await secretState(t.sm, arn), user: await userState(username) };
    after = async () => {
      expect(await secretState(t.sm, arn)).toEqual(before.secret);
      expect(await userState(username)).toEqual(before.user);
    };
    suite.sensitive(t.admin.secretAccessKey);
    return () => runPreflight(suite.moto.endpoint, withIamPreflight(t.kind(), { iam: t.iam }), arn, { client: t.sm, note: (text) => suite.logs.note(text) });
  }

  it('reports every check ok for a user with one key: room for the second', async () => {
    const user = await t.arrange();
    const report = await (await armed(user.arn, user.username))();
    expect(problems(report)).toEqual([]);
    expect(report.checks.every((c) => c.status === 'ok')).toBe(true);
    figures.push(`[figure] preflight iam healthy case 1: ${report.durationMs} ms in the handler, ${report.secretsManagerCalls} Secrets Manager calls, ${report.logins} logins`);
    expect(check(report, IamChecks.KEY_ROOM).detail).toBe('the user has room for a second key');
    expect(check(report, IamChecks.CURRENT_KEY).detail).toMatch(/is Active and signs in/);
    expect(report.logins).toBe(1);
  });

  it('reports ok when the user holds two keys and AWSPREVIOUS holds the other: it would be deleted', async () => {
    const user = await t.arrange();
    const older = await t.createKey(user.username);
    // Key B (older) becomes AWSPREVIOUS, key A AWSCURRENT.
    for (const key of [older, user.key]) {
      await t.sm.send(new PutSecretValueCommand({ SecretId: user.arn, SecretString: JSON.stringify({ username: user.username, ...key }), VersionStages: ['AWSCURRENT'] }));
    }
    const report = await (await armed(user.arn, user.username))();
    expect(problems(report)).toEqual([]);
    expect(check(report, IamChecks.KEY_ROOM).detail).toBe(
      `the AWSPREVIOUS key ${older.accessKeyId} (Active) would be deleted to make room, cutting its grace window short`,
    );
  });

  it('finds a user holding two keys neither of which AWSPREVIOUS holds, naming the key to delete', async () => {
    const user = await t.arrange();
    const stranger = await t.createKey(user.username);
    // A mark of another secret's: still not this secret's key.
    await t.iam.send(new TagUserCommand({ UserName: user.username, Tags: [{ Key: stranger.accessKeyId, Value: 'Rotor: iam/another' }] }));
    const report = await (await armed(user.arn, user.username))();
    expect(problems(report)).toEqual([IamChecks.KEY_ROOM]);
    const found = check(report, IamChecks.KEY_ROOM);
    expect(found.detail).toContain(`key ${stranger.accessKeyId} is in no version of the secret`);
    expect(found.fix).toContain(`aws iam delete-access-key --user-name ${user.username} --access-key-id ${stranger.accessKeyId}`);
  });

  it('finds an AWSCURRENT key STS refuses', async () => {
    const user = await t.arrange();
    const wrong = `${user.key.secretAccessKey.slice(0, -4)}ABCD`;
    suite.sensitive(wrong);
    await t.sm.send(
      new PutSecretValueCommand({
        SecretId: user.arn,
        SecretString: JSON.stringify({ username: user.username, accessKeyId: user.key.accessKeyId, secretAccessKey: wrong }),
        VersionStages: ['AWSCURRENT'],
      }),
    );
    const report = await (await armed(user.arn, user.username))();
    expect(problems(report)).toEqual([IamChecks.CURRENT_KEY]);
    expect(check(report, IamChecks.CURRENT_KEY).detail).toMatch(/STS refuses the AWSCURRENT key .*SignatureDoesNotMatch/);
  });

  it('finds an IAM user that does not exist', async () => {
    const user = await t.arrange();
    await t.deleteKey(user.username, user.key.accessKeyId);
    await t.sm.send(
      new PutSecretValueCommand({
        SecretId: user.arn,
        SecretString: JSON.stringify({ username: `${user.username}-gone`, ...user.key }),
        VersionStages: ['AWSCURRENT'],
      }),
    );
    const report = await (await armed(user.arn, user.username))();
    expect(problems(report)).toEqual([IamChecks.USER_KEYS]);
    expect(check(report, IamChecks.USER_KEYS).detail).toMatch(/does not exist/);
  });
});
