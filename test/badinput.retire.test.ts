import { randomBytes } from 'node:crypto';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { PutSecretValueCommand, TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { apiTokenKind } from '../lambdas/api-token/apiTokenKind.js';
import { RotorMetrics } from '../lambdas/contract/index.js';
import { ALLOW_LOOPBACK_FOR_TESTS } from '../lambdas/contract/testing.js';
import { RetireError } from '../lambdas/core/errors.js';
import { RotorTags } from '../lambdas/core/types.js';
import { iamKind } from '../lambdas/iam/iamKind.js';
import { retireKinds } from '../lambdas/retire/index.js';
import { createRetireHandler, type RetireReport, type RetireResult } from '../lambdas/retire/retire.js';
import { fakeAccessKeyId } from '../bin/local/awsAdmin.js';
import { lambdaContext, smClient } from '../bin/local/harness.js';
import { TokenProviderServer } from '../bin/local/tokenProvider.js';
import { errorText } from './support/logCapture.js';
import { useRotationSuite } from './support/rotationSuite.js';
import { badInputMatrix, expectNoSecretValues, refusal, secretState, type Refusal } from './support/badInput.js';

/**
 * Bad-input matrix of the scheduled retire handler (issue 14): AWSPREVIOUS versions planted to
 * point elsewhere, as somebody with PutSecretValue could (another IAM user, another user's key,
 * a user that does not exist, a live token with another token's id, a token naming another one
 * as the token it replaced, a token that never worked), and the normal retirements beside them.
 * The retire function may retire the keys and tokens of every Rotor-managed secret; AWSCURRENT is
 * the reference each planted value is checked against. Every refused row: the run fails (so the
 * function's Errors alarm fires) with that secret reported failed and an error naming the problem
 * (never a value), the RetireFailed metric counts it, the secret's versions are as they were,
 * every key of every user of the case keeps its status and every token the case keeps is live;
 * and a healthy secret beside it is retired in the same run. Real moto IAM and the token provider
 * emulator (bin/local/tokenProvider.ts); the handler runs with the registry's kinds, as deployed.
 */
process.env[ALLOW_LOOPBACK_FOR_TESTS] = '1';

const suite = useRotationSuite();
let provider: TokenProviderServer;
let iam: IAMClient;

beforeAll(async () => {
  provider = await TokenProviderServer.start();
  iam = new IAMClient({ endpoint: suite.moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
});
afterAll(async () => {
  await provider?.close();
});
beforeEach(() => {
  provider.resetFaults();
});

const HOUR = 3_600_000;

interface IamUser {
  readonly username: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

interface Token {
  readonly token: string;
  readonly tokenId: string;
}

class Case {
  public readonly prefix = `rr-${randomBytes(4).toString('hex')}`;
  public readonly arns: string[] = [];
  public readonly planted: string[] = [];
  public readonly iamUsers: string[] = [];
  /** Tokens that must still be live after the run. */
  public readonly tokens: string[] = [];
  private n = 0;

  public plant(value: string): string {
    this.planted.push(value);
    suite.sensitive(value);
    return value;
  }

  /** A secret of the case, tagged with its kind as the constructs tag it (null: no tags). */
  public async secret(value: unknown, kind: 'iam' | 'api-token' | null, name = `${this.prefix}-s${this.n++}`): Promise<string> {
    const arn = await suite.secret(name, value);
    this.arns.push(arn);
    if (kind) await suite.player.client.send(new TagResourceCommand({ SecretId: arn, Tags: [{ Key: RotorTags.KIND, Value: kind }] }));
    return arn;
  }

  /** Stages `value` AWSPREVIOUS (PutSecretValue with VersionStages). */
  public async previous(arn: string, value: unknown): Promise<void> {
    await suite.player.client.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: typeof value === 'string' ? value : JSON.stringify(value), VersionStages: ['AWSPREVIOUS'] }),
    );
  }

  /** Puts `value` as AWSCURRENT (the old AWSCURRENT becomes AWSPREVIOUS), as an operator could. */
  public async current(arn: string, value: unknown): Promise<void> {
    await suite.player.client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: JSON.stringify(value) }));
  }

  public async iamUser(): Promise<IamUser> {
    const username = `${this.prefix}-u${this.n++}`;
    await iam.send(new CreateUserCommand({ UserName: username }));
    this.iamUsers.push(username);
    return { username, ...(await this.iamKey(username)) };
  }

  public async iamKey(username: string): Promise<Omit<IamUser, 'username'>> {
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: username }))).AccessKey!;
    this.plant(key.SecretAccessKey!);
    return { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
  }

  /** A Rotor-managed IAM secret for a new user with one key. */
  public async iamSecret(): Promise<{ arn: string; user: IamUser }> {
    const user = await this.iamUser();
    return { arn: await this.secret(user, 'iam'), user };
  }

  /** A token that must still be live afterwards. */
  public keep<T extends Token>(t: T): T {
    this.tokens.push(t.token);
    this.plant(t.token);
    return t;
  }

  /** A token of the emulator's Acme API, nobody's business of this secret (not kept: the row says). */
  public acmeToken(): Token {
    const t = provider.acmeToken();
    this.plant(t.token);
    return t as Token;
  }

  public datadogKey(): Token {
    const t = provider.datadogApiKey();
    this.plant(t.token);
    return t as Token;
  }

  /** A dual-active generic HTTP (Acme) token secret: the provider reports a token's id when asked about it. */
  public async acmeSecret(grace: number | null = 0): Promise<{ arn: string; app: Token; value: Record<string, unknown> }> {
    const admin = this.keep(provider.acmeToken(true) as Token);
    const managementSecretArn = await this.secret({ adminToken: admin.token, allowedHosts: [provider.host] }, null, `${this.prefix}-acme-management`);
    const app = this.acmeToken();
    const value = { provider: 'http', token: app.token, tokenId: app.tokenId, managementSecretArn, graceperiod: grace ?? undefined, http: acmeTemplates() };
    return { arn: await this.secret(value, 'api-token'), app, value };
  }

  /** A Datadog API key secret: Datadog's validate call reports no key id. */
  public async datadogSecret(grace: number | null = 0): Promise<{ arn: string; app: Token; value: Record<string, unknown> }> {
    const management = provider.datadogManagement();
    this.plant(management.apiKey);
    this.plant(management.appKey);
    this.tokens.push(management.apiKey, management.appKey);
    const managementSecretArn = await this.secret({ ...management, allowedHosts: [provider.host] }, null, `${this.prefix}-dd-management`);
    const app = this.datadogKey();
    const value = { provider: 'datadog', token: app.token, tokenId: app.tokenId, managementSecretArn, baseUrl: provider.datadogBaseUrl, graceperiod: grace ?? undefined };
    return { arn: await this.secret(value, 'api-token'), app, value };
  }
}

function acmeTemplates(base = provider.acmeBaseUrl): Record<string, unknown> {
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
    revoke: { method: 'DELETE', url: `${base}/v1/tokens/{{tokenId}}`, headers: { authorization: 'Bearer {{management.adminToken}}' } },
  };
}

/** One rotation through the rotation handler as deployed (the registry's kind). */
async function rotate(kind: typeof iamKind | typeof apiTokenKind, arn: string): Promise<void> {
  await suite.player.rotate(suite.handler(kind as never), arn);
}

interface Arranged {
  /** The secret the planted (or normal) AWSPREVIOUS belongs to. */
  readonly arn: string;
  /** What a row that is not refused checks after the run (old credentials gone, the current one kept). */
  readonly after?: () => Promise<void>;
}

interface Row {
  readonly name: string;
  readonly arrange: (c: Case) => Promise<Arranged>;
  /** A refusal, or 'retired' (a normal retirement, or a planted value that leaves nothing to do). */
  readonly expect: Refusal | 'retired';
}

const refused = (name: string, message: RegExp): Refusal => ({ name, message });
const anotherUser = refused('UnsafeRotationError', /: the AWSPREVIOUS value names IAM user "[^"]+", not the secret's user "rr-\w+-u\d+"; refusing to touch another user's key$/);

/** The keys of an IAM user, with their status. */
async function keysOf(username: string): Promise<Record<string, string>> {
  const keys = await iam.send(new ListAccessKeysCommand({ UserName: username }));
  return Object.fromEntries((keys.AccessKeyMetadata ?? []).map((k) => [k.AccessKeyId!, k.Status!]));
}

const rows: readonly Row[] = [
  // --- IAM: planted AWSPREVIOUS values pointing elsewhere ------------------------------------
  {
    name: "IAM: AWSPREVIOUS naming another user and that user's key",
    arrange: async (c) => {
      const { arn } = await c.iamSecret();
      const boss = await c.iamUser();
      await c.previous(arn, boss);
      return { arn };
    },
    expect: anotherUser,
  },
  {
    name: 'IAM: AWSPREVIOUS naming another user and a key id no user holds',
    arrange: async (c) => {
      const { arn } = await c.iamSecret();
      const boss = await c.iamUser();
      await c.previous(arn, { username: boss.username, accessKeyId: fakeAccessKeyId(), secretAccessKey: c.plant(randomBytes(30).toString('base64')) });
      return { arn };
    },
    expect: anotherUser,
  },
  {
    name: 'IAM: AWSPREVIOUS naming a user that does not exist',
    arrange: async (c) => {
      const { arn } = await c.iamSecret();
      await c.previous(arn, { username: `${c.prefix}-nobody`, accessKeyId: fakeAccessKeyId(), secretAccessKey: c.plant(randomBytes(30).toString('base64')) });
      return { arn };
    },
    expect: anotherUser,
  },
  {
    name: "IAM: AWSPREVIOUS naming the secret's user in other letter case",
    arrange: async (c) => {
      const { arn, user } = await c.iamSecret();
      const second = await c.iamKey(user.username);
      await c.previous(arn, { username: user.username.toUpperCase(), ...second });
      return { arn };
    },
    expect: anotherUser,
  },
  {
    name: 'IAM: AWSPREVIOUS holding the current key',
    arrange: async (c) => {
      const { arn, user } = await c.iamSecret();
      await c.previous(arn, { ...user, note: 'a copy' });
      return { arn };
    },
    expect: refused('UnsafeRotationError', /: AWSPREVIOUS holds the same credential as AWSCURRENT; refusing to retire it$/),
  },
  {
    name: 'IAM: AWSPREVIOUS of another kind (an API token)',
    arrange: async (c) => {
      const { arn } = await c.iamSecret();
      await c.previous(arn, { provider: 'datadog', token: c.datadogKey().token, tokenId: 'k' });
      return { arn };
    },
    expect: refused('SecretFormatError', /\(AWSPREVIOUS\): field 'username' is missing/),
  },
  {
    name: "IAM: AWSPREVIOUS for the secret's user with another user's key id (nothing on the user to retire)",
    arrange: async (c) => {
      const { arn, user } = await c.iamSecret();
      const boss = await c.iamUser();
      await c.previous(arn, { username: user.username, accessKeyId: boss.accessKeyId, secretAccessKey: boss.secretAccessKey });
      return {
        arn,
        after: async () => {
          expect(await keysOf(boss.username), "the other user's key is untouched").toEqual({ [boss.accessKeyId]: 'Active' });
          expect(await keysOf(user.username)).toEqual({ [user.accessKeyId]: 'Active' });
          expect(suite.logs.records().some((r) => r.message === 'the previous access key is not on the user (already deleted): nothing to retire')).toBe(true);
        },
      };
    },
    expect: 'retired',
  },
  // --- IAM: the normal retirement ------------------------------------------------------------
  {
    name: 'IAM: after a rotation, the previous key is deactivated and the current one kept',
    arrange: async (c) => {
      const { arn, user } = await c.iamSecret();
      await rotate(iamKind, arn);
      const now = await suite.player.value<IamUser>(arn);
      return {
        arn,
        after: async () => {
          expect(await keysOf(user.username)).toEqual({ [user.accessKeyId]: 'Inactive', [now.accessKeyId]: 'Active' });
        },
      };
    },
    expect: 'retired',
  },
  // --- API tokens: planted AWSPREVIOUS values pointing elsewhere ------------------------------
  {
    name: "API token: AWSPREVIOUS holding a live token and another token's id (AWSCURRENT put by hand)",
    arrange: async (c) => {
      const { arn, app, value } = await c.acmeSecret();
      c.keep(app);
      const victim = c.keep(c.acmeToken());
      const attacker = c.keep(c.acmeToken());
      await c.previous(arn, { ...value, token: attacker.token, tokenId: victim.tokenId });
      return { arn };
    },
    expect: refused('UnsafeRotationError', /: the provider reports the AWSPREVIOUS token as token tok_\w+, not tok_\w+; refusing to revoke by id$/),
  },
  {
    name: 'API token: AWSPREVIOUS naming another token than the one AWSCURRENT replaced',
    arrange: async (c) => {
      const { arn, app, value } = await c.acmeSecret();
      await rotate(apiTokenKind, arn);
      c.keep(app); // the token AWSCURRENT replaced: not revoked while AWSPREVIOUS points elsewhere
      const victim = c.keep(c.acmeToken());
      const attacker = c.keep(c.acmeToken());
      await c.previous(arn, { ...value, token: attacker.token, tokenId: victim.tokenId });
      return { arn };
    },
    expect: refused('UnsafeRotationError', /: AWSPREVIOUS holds token id tok_\w+, but AWSCURRENT names token tok_\w+ as the one it replaced; refusing to revoke by id$/),
  },
  {
    name: "API token (no ids from the provider): AWSPREVIOUS holding a live key and another key's id (AWSCURRENT put by hand)",
    arrange: async (c) => {
      const { arn, app, value } = await c.datadogSecret();
      c.keep(app);
      const victim = c.keep(c.datadogKey());
      const attacker = c.keep(c.datadogKey());
      await c.previous(arn, { ...value, token: attacker.token, tokenId: victim.tokenId });
      return { arn };
    },
    expect: refused(
      'UnsafeRotationError',
      /: AWSPREVIOUS holds token id [0-9a-f-]{36}, AWSCURRENT names no token as the one it replaced, and datadog reports no token ids to confirm whose it is; refusing to revoke by id$/,
    ),
  },
  {
    name: 'API token (no ids from the provider): AWSPREVIOUS with the replaced key\'s id, holding another live key, naming a third as the one it replaced',
    arrange: async (c) => {
      const { arn, value } = await c.datadogSecret();
      await rotate(apiTokenKind, arn);
      const replaced = await suite.player.value<{ previousTokenId: string }>(arn);
      const victim = c.keep(c.datadogKey());
      const attacker = c.keep(c.datadogKey());
      // The replaced key's id is AWSCURRENT's own record (revoking it is due); the key held is not that id's.
      await c.previous(arn, { ...value, token: attacker.token, tokenId: replaced.previousTokenId, previousTokenId: victim.tokenId });
      return { arn };
    },
    expect: refused('RotationStepError', /: datadog still accepts the previous token after revoking it$/),
  },
  {
    name: 'API token (no ids from the provider): AWSPREVIOUS with the replaced key\'s id and a key that never worked, naming another as the one it replaced',
    arrange: async (c) => {
      const { arn, value } = await c.datadogSecret();
      await rotate(apiTokenKind, arn);
      const replaced = await suite.player.value<{ previousTokenId: string }>(arn);
      const victim = c.keep(c.datadogKey());
      await c.previous(arn, { ...value, token: c.plant(randomBytes(16).toString('hex')), tokenId: replaced.previousTokenId, previousTokenId: victim.tokenId });
      return { arn };
    },
    expect: refused(
      'UnsafeRotationError',
      /: AWSPREVIOUS names token [0-9a-f-]{36} as the one it replaced, but its own token is already refused, so nothing proves that it is the value AWSCURRENT replaced; refusing to revoke token [0-9a-f-]{36} by id/,
    ),
  },
  {
    name: "API token: AWSPREVIOUS holding the current token's id, naming another token as the one it replaced",
    arrange: async (c) => {
      const { arn, value } = await c.acmeSecret();
      await rotate(apiTokenKind, arn);
      const now = await suite.player.value<Token>(arn);
      c.keep(now);
      const victim = c.keep(c.acmeToken());
      const attacker = c.keep(c.acmeToken());
      await c.previous(arn, { ...value, token: attacker.token, tokenId: now.tokenId, previousTokenId: victim.tokenId });
      return { arn };
    },
    expect: refused('UnsafeRotationError', /: AWSPREVIOUS names token tok_\w+ as the one it replaced, but it is not the value AWSCURRENT replaced; refusing to revoke token tok_\w+ by id/),
  },
  // --- API tokens: the normal retirement -----------------------------------------------------
  {
    name: 'API token: after two rotations, the previous token and the one it replaced are revoked (provider confirms ids)',
    arrange: async (c) => {
      // No graceperiod (24 hours): the second rotation leaves the first token live for the retire run.
      const { arn, app } = await c.acmeSecret(null);
      await rotate(apiTokenKind, arn);
      const first = await suite.player.value<Token>(arn);
      await rotate(apiTokenKind, arn);
      const second = await suite.player.value<Token>(arn);
      expect([provider.accepts(app.token), provider.accepts(first.token)], "both old tokens live before the run").toEqual([true, true]);
      return {
        arn,
        after: async () => {
          expect([provider.accepts(app.token), provider.accepts(first.token), provider.accepts(second.token)]).toEqual([false, false, true]);
        },
      };
    },
    expect: 'retired',
  },
  {
    name: 'API token (no ids from the provider): after two rotations, the previous key and the one it replaced are revoked',
    arrange: async (c) => {
      const { arn, app } = await c.datadogSecret(null);
      await rotate(apiTokenKind, arn);
      const first = await suite.player.value<Token>(arn);
      await rotate(apiTokenKind, arn);
      const second = await suite.player.value<Token>(arn);
      expect([provider.accepts(app.token), provider.accepts(first.token)], "both old tokens live before the run").toEqual([true, true]);
      return {
        arn,
        after: async () => {
          expect([provider.accepts(app.token), provider.accepts(first.token), provider.accepts(second.token)]).toEqual([false, false, true]);
        },
      };
    },
    expect: 'retired',
  },
];

/** The retire run as deployed (the registry's dual-active kinds), 25 hours from now: past every grace window. */
async function retireRun(): Promise<{ report: RetireReport; error?: RetireError }> {
  const handler = createRetireHandler(retireKinds, { client: smClient(suite.moto.endpoint), now: () => new Date(Date.now() + 25 * HOUR), env: {} });
  try {
    return { report: await handler({}, lambdaContext('rotor-retire')) };
  } catch (err) {
    suite.logs.note(errorText(err));
    expect(err, 'the run fails as a whole when a secret failed').toBeInstanceOf(RetireError);
    return { report: (err as RetireError & { report: RetireReport }).report, error: err as RetireError };
  }
}

const resultFor = (report: RetireReport, arn: string): RetireResult | undefined =>
  [...report.retired, ...report.skipped, ...report.failed].find((r) => r.secretArn === arn);

/** A failed result as the error it reports (`Name: message`), for the shared refusal check. */
function asError(result: RetireResult | undefined): Error {
  const reason = result?.reason ?? '';
  const colon = reason.indexOf(': ');
  return Object.assign(new Error(reason.slice(colon + 2)), { name: reason.slice(0, colon) });
}

badInputMatrix('retire', rows, 16, async (row) => {
  // Prepare: the row's secret, and a healthy one beside it whose previous key is due.
  const c = new Case();
  const arranged = await row.arrange(c);
  const healthy = await c.iamSecret();
  await c.current(healthy.arn, { username: healthy.user.username, ...(await c.iamKey(healthy.user.username)) });
  const healthyCurrent = await suite.player.value<IamUser>(healthy.arn);
  const secretsBefore = await Promise.all(c.arns.map((arn) => secretState(suite.player.client, arn)));
  const iamBefore = Object.fromEntries(await Promise.all(c.iamUsers.map(async (u) => [u, await keysOf(u)] as const)));

  // Act
  const { report, error } = await retireRun();

  // Assess: the healthy secret is retired in the same run.
  expect(resultFor(report, healthy.arn)).toMatchObject({ outcome: 'retired' });
  expect(await keysOf(healthy.user.username)).toEqual({ [healthy.user.accessKeyId]: 'Inactive', [healthyCurrent.accessKeyId]: 'Active' });
  for (const t of c.tokens) expect(provider.accepts(t), 'every token the case keeps is still live').toBe(true);
  const result = resultFor(report, arranged.arn);
  if (row.expect === 'retired') {
    expect(error, error?.message).toBeUndefined();
    expect(result).toMatchObject({ outcome: 'retired' });
    await arranged.after?.();
    return;
  }
  expect(result).toMatchObject({ outcome: 'failed' });
  expect(report.failed.map((r) => r.secretArn)).toEqual([arranged.arn]);
  await refusal(Promise.reject(asError(result)), row.expect);
  expect(error!.message).toContain(`${arranged.arn} (${row.expect.name}: `);
  // Nothing of the case changed but the healthy secret's retirement.
  expect(await Promise.all(c.arns.map((arn) => secretState(suite.player.client, arn)))).toEqual(secretsBefore);
  for (const u of c.iamUsers) if (u !== healthy.user.username) expect(await keysOf(u), `${u}'s keys`).toEqual(iamBefore[u]);
  // Alarmed as other failures are: the error log line names the secret, the RetireFailed metric counts it.
  expect(suite.logs.records().find((r) => r.message === 'could not retire the previous value')).toMatchObject({ secretArn: arranged.arn, level: 'ERROR' });
  expect(suite.logs.records().find((r) => RotorMetrics.RETIRE_FAILED in r)).toMatchObject({ [RotorMetrics.RETIRE_FAILED]: 1 });
  await expectNoSecretValues(error!, suite.logs, suite.player.client, c.arns, c.planted);
});
