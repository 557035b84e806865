import { randomBytes } from 'node:crypto';
import { ListUserTagsCommand } from '@aws-sdk/client-iam';
import { expect } from 'vitest';
import { parseIamSecret } from '../lambdas/iam/secret.js';
import type { Step } from '../lambdas/core/types.js';
import { lambdaContext } from '../bin/local/harness.js';
import { fakeAccessKeyId } from '../bin/local/awsAdmin.js';
import { callerArn, useIamSuite, type KeyPair } from './support/iam.js';
import {
  badInputMatrix,
  currentValue,
  edit,
  expectNoSecretValues,
  plantPending,
  refusal,
  secretState,
  type Refusal,
} from './support/badInput.js';

/**
 * Bad-input matrix of the IAM access key kind (issue 14), against moto with signature checks (STS
 * really refuses unknown keys): malformed secrets, each field missing or mistyped, hostile user
 * names and key ids, mismatched users between versions and planted AWSPENDING values (another
 * user's key, a key that does not exist, a key with the wrong secret), and malformed events.
 * Every row is refused with an error naming the problem (never a value); afterwards the secret's
 * versions are as they were, every user of the case holds exactly the keys (and statuses and
 * markers) it held, and the key in use still signs in as its user.
 */
const t = useIamSuite();
const { suite } = t;
const userArn = (username: string) => `arn:aws:iam::123456789012:user/${username}`;

interface User {
  readonly username: string;
  readonly key: KeyPair;
}

class Case {
  public readonly arns: string[] = [];
  public readonly planted: string[] = [];
  /** Users whose keys must be as they were, and whose key must still sign in. */
  public readonly users: User[] = [];
  private n = 0;
  public readonly prefix = `bi-${randomBytes(4).toString('hex')}`;

  public async user(): Promise<User> {
    const username = await t.createUser(this.prefix);
    const key = await t.createKey(username);
    this.plant(key.secretAccessKey);
    const user = { username, key };
    this.users.push(user);
    return user;
  }

  public value(user: User, changes: Record<string, unknown> = {}): Record<string, unknown> {
    return edit({ username: user.username, ...user.key }, changes);
  }

  public async secret(value: unknown): Promise<string> {
    const arn = await suite.secret(`${this.prefix}/s${this.n++}`, value);
    this.arns.push(arn);
    return arn;
  }

  public plant(value: string): string {
    this.planted.push(value);
    suite.sensitive(value);
    return value;
  }

  /** A secret-access-key-shaped value made now (never a real key). */
  public fakeSecret(): string {
    return this.plant(randomBytes(30).toString('base64'));
  }
}

interface Arranged {
  readonly arn: string;
}

interface Row {
  readonly name: string;
  readonly arrange: (c: Case) => Promise<Arranged>;
  readonly plant?: (c: Case, a: Arranged) => unknown;
  readonly before?: readonly Step[];
  readonly step: Step;
  readonly event?: (arn: string, token: string) => unknown;
  readonly expect: Refusal;
}

const refused = (name: string, message: RegExp): Refusal => ({ name, message });

function secretOf(value: (c: Case, user: User) => unknown) {
  return async (c: Case): Promise<Arranged> => {
    const user = await c.user();
    return { arn: await c.secret(value(c, user)) };
  };
}
const plainSecret = () => secretOf((c, u) => c.value(u));

const malformed = (name: string, value: (c: Case, user: User) => unknown, message: RegExp): Row => ({
  name,
  arrange: secretOf(value),
  step: 'createSecret',
  expect: refused('SecretFormatError', message),
});
const field = (name: string, changes: Record<string, unknown>, message: RegExp): Row =>
  malformed(name, (c, u) => c.value(u, changes), message);

const pendingRow = (name: string, plant: (c: Case, a: Arranged) => Promise<unknown> | unknown, step: Step, expected: Refusal): Row => ({
  name,
  arrange: plainSecret(),
  plant,
  before: step === 'createSecret' ? [] : ['createSecret'],
  step,
  expect: expected,
});

const current = async (a: Arranged) => JSON.parse(currentValue(await secretState(suite.player.client, a.arn))!) as { username: string };

const eventOf = (arn: string, token: string, changes: Record<string, unknown>) =>
  edit({ SecretId: arn, ClientRequestToken: token, Step: 'createSecret' }, changes);

const NAME_RULE = /field 'username' is invalid: must be an IAM user name \(letters, digits and \+=,\.@_-\)/;

const rows: readonly Row[] = [
  // --- the secret's JSON -------------------------------------------------------------------
  malformed('a value that is not JSON (a credentials file)', (c, u) => `[default]\naws_access_key_id = ${u.key.accessKeyId}\naws_secret_access_key = ${u.key.secretAccessKey}\n`, /\(AWSCURRENT\): value is not valid JSON/),
  malformed('a JSON array of the key pair', (c, u) => [u.key.accessKeyId, u.key.secretAccessKey], /\(AWSCURRENT\): value must be a JSON object/),
  malformed('JSON null', () => 'null', /value must be a JSON object/),
  malformed('an empty object', () => ({}), /field 'username' is missing; field 'accessKeyId' is missing; field 'secretAccessKey' is missing/),
  malformed("the SDK's field names (AccessKeyId, SecretAccessKey) instead of Rotor's", (c, u) => ({ UserName: u.username, AccessKeyId: u.key.accessKeyId, SecretAccessKey: u.key.secretAccessKey }), /field 'username' is missing; field 'accessKeyId' is missing; field 'secretAccessKey' is missing/),
  // --- each required field missing --------------------------------------------------------
  field("no 'username'", { username: undefined }, /field 'username' is missing/),
  field("no 'accessKeyId'", { accessKeyId: undefined }, /field 'accessKeyId' is missing/),
  field("no 'secretAccessKey'", { secretAccessKey: undefined }, /field 'secretAccessKey' is missing/),
  // --- each field of the wrong type -------------------------------------------------------
  field("'username' a number", { username: 42 }, /field 'username' is invalid/),
  field("'accessKeyId' a number", { accessKeyId: 1234567890123456 }, /field 'accessKeyId' is invalid/),
  field("'secretAccessKey' a boolean", { secretAccessKey: true }, /field 'secretAccessKey' is invalid/),
  field("'secretAccessKey' empty", { secretAccessKey: '' }, /field 'secretAccessKey' is invalid/),
  field("'graceperiod' negative", { graceperiod: -1 }, /field 'graceperiod' is invalid/),
  field("'graceperiod' a word", { graceperiod: 'soon' }, /field 'graceperiod' is invalid/),
  field("'graceperiod' of a million hours", { graceperiod: 1_000_000 }, /field 'graceperiod' is invalid/),
  // --- hostile identifiers ----------------------------------------------------------------
  field('a user name with a quote', { username: "app'; DROP" }, NAME_RULE),
  field('a user name with a semicolon and a comment', { username: 'app;--' }, NAME_RULE),
  field('a user name with a newline', { username: 'app\nadmin' }, NAME_RULE),
  field('a user name with NUL', { username: 'app\u0000admin' }, NAME_RULE),
  field('a non-ASCII user name', { username: 'müller' }, NAME_RULE),
  field('a user name that is an ARN', { username: 'arn:aws:iam::123456789012:user/admin' }, NAME_RULE),
  field('a user name of 65 characters', { username: 'u'.repeat(65) }, /field 'username' is invalid/),
  field('an access key id of 7 characters', { accessKeyId: 'AKIA123' }, /field 'accessKeyId' is invalid/),
  field('an access key id with a semicolon', { accessKeyId: `${fakeAccessKeyId()};DELETE` }, /field 'accessKeyId' is invalid: must be an access key id/),
  field('an access key id of 129 characters', { accessKeyId: `AKIA${'A'.repeat(125)}` }, /field 'accessKeyId' is invalid/),
  // --- the state of the user --------------------------------------------------------------
  {
    name: 'AWSCURRENT for a user that does not exist',
    arrange: secretOf((c, u) => c.value(u, { username: `${u.username}-gone` })),
    step: 'createSecret',
    expect: refused('RotationStepError', /IAM user "bi-[\w-]+-gone" does not exist/),
  },
  // --- mismatched users between versions, planted AWSPENDING values ----------------------
  pendingRow('setSecret: AWSPENDING for another user (with that user\'s real key)', async (c) => c.value(await c.user()), 'setSecret',
    refused('UnsafeRotationError', /username differs between AWSCURRENT and AWSPENDING; IAM rotation refuses to change it/)),
  pendingRow("testSecret: AWSPENDING naming this user with another user's key", async (c, a) => ({ ...(await c.user()).key, username: (await current(a)).username }), 'testSecret',
    refused('RotationStepError', /the pending access key signs in as arn:aws:iam::\d+:user\/bi-[\w-]+, not as IAM user "bi-[\w-]+"/)),
  pendingRow('setSecret: AWSPENDING naming a key that does not exist', async (c, a) => ({ username: (await current(a)).username, accessKeyId: fakeAccessKeyId(), secretAccessKey: c.fakeSecret() }), 'setSecret',
    refused('RotationStepError', /the pending access key AKIA\w+ does not exist on IAM user "bi-[\w-]+"/)),
  pendingRow("testSecret: AWSPENDING with the user's own key id and a wrong secret", async (c, a) => {
    const now = JSON.parse(currentValue(await secretState(suite.player.client, a.arn))!) as Record<string, unknown>;
    return { ...now, secretAccessKey: c.fakeSecret() };
  }, 'testSecret', refused('RotationStepError', /the pending access key AKIA\w+ does not work: STS did not accept the key within 300 ms/)),
  pendingRow('an AWSPENDING value that is not JSON', (c) => c.plant(`aws_secret_access_key=${c.fakeSecret()}`), 'createSecret',
    refused('SecretFormatError', /\(AWSPENDING\): value is not valid JSON/)),
  pendingRow('an AWSPENDING value with a hostile user name', async (c, a) => ({ ...(await c.user()).key, username: "x';--" }), 'createSecret',
    refused('SecretFormatError', /\(AWSPENDING\): field 'username' is invalid: must be an IAM user name/)),
  pendingRow("finishSecret on a cold instance: AWSPENDING with another user's key", async (c, a) => ({ ...(await c.user()).key, username: (await current(a)).username }), 'finishSecret',
    refused('RotationStateError', /finishSecret refuses to move AWSCURRENT: testSecret has not proven the pending value/)),
  // --- malformed events -------------------------------------------------------------------
  { name: 'an event whose SecretId is an array', arrange: plainSecret(), step: 'createSecret', event: (arn, token) => eventOf(arn, token, { SecretId: [arn] }), expect: refused('InvalidEventError', /field 'SecretId' must be a string, got an array/) },
  { name: 'an event whose Step is null', arrange: plainSecret(), step: 'createSecret', event: (arn, token) => eventOf(arn, token, { Step: null }), expect: refused('InvalidEventError', /field 'Step' is missing/) },
  { name: 'an event whose ClientRequestToken is a number', arrange: plainSecret(), step: 'createSecret', event: (arn, token) => eventOf(arn, token, { ClientRequestToken: 7 }), expect: refused('InvalidEventError', /field 'ClientRequestToken' must be a string, got a number/) },
];

/** Every user of the case: its keys with their status, and its tags (Rotor's key markers). */
async function userState(c: Case) {
  const out: Record<string, unknown> = {};
  for (const u of c.users) {
    const tags = await t.iam.send(new ListUserTagsCommand({ UserName: u.username }));
    out[u.username] = { keys: await t.keys(u.username), tags: tags.Tags ?? [] };
  }
  return out;
}

badInputMatrix('iam', rows, 36, async (row) => {
  // Prepare
  const c = new Case();
  const arranged = await row.arrange(c);
  const { arn } = arranged;
  const handler = () => t.handler({ testTimeoutMs: 300, testFirstDelayMs: 50, testMaxDelayMs: 100 });
  const token = await suite.player.startRotation(arn);
  if (row.plant) await plantPending(suite.player.client, arn, token, await row.plant(c, arranged));
  const warm = handler();
  for (const step of row.before ?? []) await warm(suite.player.event(arn, token, step), lambdaContext());
  const secretBefore = await secretState(suite.player.client, arn);
  const usersBefore = await userState(c);

  // Act
  const sent = row.event ? row.event(arn, token) : suite.player.event(arn, token, row.step);
  const err = await refusal(handler()(sent, lambdaContext()), row.expect);

  // Assess
  expect(await secretState(suite.player.client, arn)).toEqual(secretBefore);
  expect(await userState(c)).toEqual(usersBefore);
  for (const u of c.users) expect(await callerArn(u.key), `${u.username}'s key still signs in`).toBe(userArn(u.username));
  const parsed = (() => {
    try {
      return parseIamSecret(JSON.parse(currentValue(secretBefore) ?? ''), 'AWSCURRENT');
    } catch {
      return undefined;
    }
  })();
  if (parsed && c.users.some((u) => u.username === parsed.username && u.key.accessKeyId === parsed.accessKeyId)) {
    expect(await callerArn(parsed), 'AWSCURRENT still signs in').toBe(userArn(parsed.username));
  }
  await expectNoSecretValues(err, suite.logs, suite.player.client, c.arns, c.planted);
});
