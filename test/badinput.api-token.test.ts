import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { createApiTokenKind } from '../lambdas/api-token/apiTokenKind.js';
import { ALLOW_LOOPBACK_FOR_TESTS } from '../lambdas/contract/testing.js';
import type { Step } from '../lambdas/core/types.js';
import { lambdaContext } from '../bin/local/harness.js';
import { HugeAnswer, ListeningTrap } from '../bin/local/hostile.js';
import { Routes, TokenProviderServer } from '../bin/local/tokenProvider.js';
import { useRotationSuite } from './support/rotationSuite.js';
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
 * Bad-input matrix of the API token kind (issue 14), against the local provider emulator
 * (bin/local/tokenProvider.ts): malformed secrets, each field missing or mistyped, unknown
 * providers, hostile values (user info and odd schemes in URLs, control characters in values sent
 * as HTTP headers, names and templates), management secrets that are malformed, missing or the
 * secret itself, oversized answers (streamed and declared), planted AWSPENDING values pointing
 * elsewhere, and malformed events. Every row is refused with an error naming the problem (never a
 * value); afterwards the secret's versions are as they were, the provider still accepts the
 * current token and every management credential, no token was issued or rolled, and nothing
 * reached the trap on another loopback address.
 */
process.env[ALLOW_LOOPBACK_FOR_TESTS] = '1';

const suite = useRotationSuite();
let provider: TokenProviderServer;
let otherHost: ListeningTrap;
let huge: HugeAnswer;
/** Declares a 64 MiB body in Content-Length and sends a few bytes of it. */
let declared: Server;
let declaredUrl: string;

beforeAll(async () => {
  provider = await TokenProviderServer.start();
  otherHost = await ListeningTrap.start('127.0.0.2');
  huge = await HugeAnswer.start(8 * 1024 * 1024);
  declared = createServer((req, res) => {
    req.resume();
    res.writeHead(201, { 'content-type': 'application/json', 'content-length': String(64 * 1024 * 1024) });
    res.write('{"data":{"attributes":{"key":"');
  });
  await new Promise<void>((resolve) => declared.listen(0, '127.0.0.1', resolve));
  declaredUrl = `http://127.0.0.1:${(declared.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await provider?.close();
  await otherHost?.close();
  await huge?.close();
  declared?.closeAllConnections();
  await new Promise<void>((resolve) => (declared ? declared.close(() => resolve()) : resolve()));
});
beforeEach(() => {
  provider.resetFaults();
});

/** Short waits so that refusals stay fast; the limits themselves are the defaults. */
const kindOptions = { verifyAttempts: 2, verifyDelayMs: 20, http: { backoffMs: 10, maxAttempts: 2, timeoutMs: 3_000 } } as const;
const testKind = createApiTokenKind(kindOptions);
/** As deployed: no loopback opt-in in the function's environment. */
const productionKind = createApiTokenKind({ ...kindOptions, env: {} });

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

interface Credential {
  readonly token: string;
}

class Case {
  public readonly prefix = unique('bi');
  public readonly arns: string[] = [];
  public readonly planted: string[] = [];
  /** Tokens the provider must still accept afterwards (the current one, management credentials). */
  public readonly live: string[] = [];
  private n = 0;

  public async secret(value: unknown, name = `${this.prefix}-s${this.n++}`): Promise<string> {
    const arn = await suite.secret(name, value);
    this.arns.push(arn);
    await suite.player.client.send(new TagResourceCommand({ SecretId: arn, Tags: [{ Key: 'rotor:kind', Value: 'api-token' }] }));
    return arn;
  }

  public plant(value: string): string {
    this.planted.push(value);
    suite.sensitive(value);
    return value;
  }

  /** A provider token that must still work afterwards. */
  public keep<T extends Credential>(t: T): T {
    this.live.push(t.token);
    this.plant(t.token);
    return t;
  }

  /** A Datadog management secret (API and application key), listing the emulator's host. */
  public async datadogManagement(changes: Record<string, unknown> = {}, name?: string): Promise<string> {
    const m = provider.datadogManagement();
    this.keep({ token: m.apiKey });
    this.keep({ token: m.appKey });
    return this.secret(edit({ ...m, allowedHosts: [provider.host] }, changes), name ?? `${this.prefix}-management`);
  }

  /** A Datadog API key secret's value (its key is live), with a management secret unless given. */
  public async datadog(changes: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const key = this.keep(provider.datadogApiKey());
    const managementSecretArn = 'managementSecretArn' in changes ? undefined : await this.datadogManagement();
    return edit(
      { provider: 'datadog', token: key.token, tokenId: key.tokenId, managementSecretArn, baseUrl: provider.datadogBaseUrl, graceperiod: 0 },
      changes,
    );
  }

  /** A Cloudflare token secret's value, rolling itself (selfRotation) unless `changes` says otherwise. */
  public cloudflare(changes: Record<string, unknown> = {}): Record<string, unknown> {
    const app = this.keep(provider.cloudflareToken(true));
    return edit(
      { provider: 'cloudflare', token: app.token, tokenId: app.tokenId, selfRotation: true, allowedHosts: [provider.host], baseUrl: provider.cloudflareBaseUrl },
      changes,
    );
  }

  /** A generic-HTTP (Acme) secret's value, dual-active with a management secret. */
  public async acme(changes: Record<string, unknown> = {}, templates: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const admin = this.keep(provider.acmeToken(true));
    const managementSecretArn = await this.secret({ adminToken: admin.token, allowedHosts: [provider.host] }, `${this.prefix}-management`);
    const app = this.keep(provider.acmeToken());
    return edit(
      { provider: 'http', token: app.token, tokenId: app.tokenId, managementSecretArn, graceperiod: 0, http: edit(acmeTemplates(), templates) },
      changes,
    );
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
  /** Run as deployed (no loopback opt-in). */
  readonly production?: boolean;
  readonly expect: Refusal;
}

const refused = (name: string, message: RegExp): Refusal => ({ name, message });

const secretOf = (value: (c: Case) => unknown | Promise<unknown>) => async (c: Case): Promise<Arranged> => ({ arn: await c.secret(await value(c)) });

const atCreate = (name: string, value: (c: Case) => unknown | Promise<unknown>, expected: Refusal): Row => ({
  name,
  arrange: secretOf(value),
  step: 'createSecret',
  expect: expected,
});
const format = (name: string, value: (c: Case) => unknown | Promise<unknown>, message: RegExp) =>
  atCreate(name, value, refused('SecretFormatError', message));

const planted = (name: string, plant: (c: Case, now: Record<string, unknown>) => unknown | Promise<unknown>, step: Step, expected: Refusal): Row => ({
  name,
  arrange: secretOf((c) => c.datadog()),
  plant: async (c, a) => plant(c, JSON.parse(currentValue(await secretState(suite.player.client, a.arn))!) as Record<string, unknown>),
  before: step === 'createSecret' ? [] : ['createSecret'],
  step,
  expect: expected,
});

const eventOf = (arn: string, token: string, changes: Record<string, unknown>) =>
  edit({ SecretId: arn, ClientRequestToken: token, Step: 'createSecret' }, changes);

const fresh = (c: Case) => c.plant(randomBytes(16).toString('hex'));

const rows: readonly Row[] = [
  // --- the secret's JSON -------------------------------------------------------------------
  format('a value that is not JSON (a bare token)', (c) => c.keep(provider.datadogApiKey()).token, /\(AWSCURRENT\): value is not valid JSON/),
  format('a JSON array holding the token', (c) => [c.keep(provider.datadogApiKey()).token], /\(AWSCURRENT\): value must be a JSON object/),
  format('JSON null (the token kept elsewhere)', (c) => (c.keep(provider.datadogApiKey()), 'null'), /value must be a JSON object/),
  format('an empty object (the token kept elsewhere)', (c) => (c.keep(provider.datadogApiKey()), {}), /field 'provider' is missing; field 'token' is missing/),
  // --- each required field missing --------------------------------------------------------
  format("no 'provider'", (c) => c.datadog({ provider: undefined }), /field 'provider' is missing/),
  format("no 'token'", (c) => c.datadog({ token: undefined }), /field 'token' is missing/),
  format("datadog: no 'tokenId'", (c) => c.datadog({ tokenId: undefined }), /field 'tokenId' is missing \(the API key's id, required by provider 'datadog'\)/),
  format("datadog: no 'managementSecretArn'", (c) => c.datadog({ managementSecretArn: undefined }), /field 'managementSecretArn' is missing/),
  format("cloudflare: no 'tokenId'", (c) => c.cloudflare({ tokenId: undefined }), /field 'tokenId' is missing/),
  format("http: no 'http' templates", (c) => c.acme({ http: undefined }), /field 'http' is missing/),
  format("http: no 'http.verify' template", (c) => c.acme({}, { verify: undefined }), /field 'http.verify' is missing/),
  // --- each field of the wrong type -------------------------------------------------------
  format("'provider' a number", (c) => c.datadog({ provider: 42 }), /field 'provider' is invalid/),
  format("'token' a number", (c) => c.datadog({ token: 1234567890 }), /field 'token' is invalid/),
  format("'token' empty", (c) => c.datadog({ token: '' }), /field 'token' is invalid/),
  format("'tokenId' an object", (c) => c.datadog({ tokenId: { id: 1 } }), /field 'tokenId' is invalid/),
  format("'selfRotation' a word", (c) => c.cloudflare({ selfRotation: 'yes' }), /field 'selfRotation' is invalid/),
  format("'graceperiod' a word", (c) => c.datadog({ graceperiod: 'soon' }), /field 'graceperiod' is invalid/),
  format("'allowedHosts' a string", (c) => c.cloudflare({ allowedHosts: provider.host }), /field 'allowedHosts' is invalid/),
  format("'revokeQueue' of 51 ids", (c) => c.datadog({ revokeQueue: Array.from({ length: 51 }, (_, i) => `id-${i}`) }), /field 'revokeQueue' is invalid/),
  format("'issuedAt' not a date", (c) => c.datadog({ issuedAt: 'yesterday' }), /field 'issuedAt' is invalid/),
  format("'http.issue.method' TRACE", (c) => c.acme({}, { issue: { ...(acmeTemplates().issue as object), method: 'TRACE' } }), /field 'http.issue.method' is invalid/),
  // --- unknown provider -------------------------------------------------------------------
  format("provider 'nope'", (c) => c.datadog({ provider: 'nope' }), /field 'provider' is invalid: unknown provider 'nope' \(known: datadog, cloudflare, http\)/),
  format("provider '__proto__'", (c) => c.datadog({ provider: '__proto__' }), /field 'provider' is invalid: unknown provider '__proto__'/),
  format("provider 'constructor'", (c) => c.datadog({ provider: 'constructor' }), /field 'provider' is invalid: unknown provider 'constructor'/),
  format("provider 'Datadog' (wrong case)", (c) => c.datadog({ provider: 'Datadog' }), /field 'provider' is invalid: unknown provider 'Datadog'/),
  // --- hostile values ---------------------------------------------------------------------
  format('a base URL with user info', (c) => c.datadog({ baseUrl: `http://admin:${c.plant(randomBytes(12).toString('hex'))}@127.0.0.1:1/datadog` }), /field 'baseUrl' may not hold user info/),
  format("a base URL with the 'javascript:' scheme", (c) => c.datadog({ baseUrl: 'javascript:alert(1)' }), /field 'baseUrl' must use https, got scheme 'javascript'/),
  format('a base URL that is no URL', (c) => c.datadog({ baseUrl: 'api.datadoghq.com/api' }), /field 'baseUrl' is not a valid absolute URL/),
  format('a base URL over plain http to a public host', (c) => c.datadog({ baseUrl: 'http://api.datadoghq.com' }), /field 'baseUrl' must use https/),
  {
    name: 'a loopback base URL without the test opt-in (as deployed)',
    arrange: secretOf((c) => c.datadog()),
    step: 'createSecret',
    production: true,
    expect: refused('SecretFormatError', /field 'baseUrl' may not name loopback host 127\.0\.0\.1/),
  },
  format("a key name with quotes and a semicolon", (c) => c.datadog({ keyName: `rotor'; DROP TABLE keys; --` }), /field 'keyName' is invalid/),
  format('a key name with a newline', (c) => c.datadog({ keyName: 'rotor\nX-Injected: 1' }), /field 'keyName' is invalid/),
  format('a key name of 101 characters', (c) => c.datadog({ keyName: 'k'.repeat(101) }), /field 'keyName' is invalid/),
  format('a token with CR LF (a header injection)', (c) => c.cloudflare({ token: c.plant(`${randomBytes(16).toString('hex')}\r\nX-Injected: 1`) }), /field 'token' is invalid: must be printable ASCII/),
  format('a token with NUL', (c) => c.datadog({ token: c.plant(`${randomBytes(16).toString('hex')}\u0000`) }), /field 'token' is invalid: must be printable ASCII/),
  format('a non-ASCII token', (c) => c.datadog({ token: c.plant(`tökén-${randomBytes(16).toString('hex')}`) }), /field 'token' is invalid: must be printable ASCII/),
  format('a template with a placeholder in its host', (c) => c.acme({}, { issue: { ...(acmeTemplates().issue as object), url: 'https://{{management.adminToken}}.example.com/v1/tokens' } }), /field 'http.issue.url' may not have a placeholder in its scheme or host/),
  format('a template with an unknown placeholder', (c) => c.acme({}, { verify: { ...(acmeTemplates().verify as object), headers: { 'x-acme-token': '{{token}}', 'x-env': '{{env.AWS_SECRET_ACCESS_KEY}}' } } }), /field 'http.verify' uses unknown placeholder \{\{env\.AWS_SECRET_ACCESS_KEY\}\}/),
  format('a verify template that does not send the token', (c) => c.acme({}, { verify: { method: 'GET', url: `${provider.acmeBaseUrl}/v1/whoami` } }), /field 'http.verify' must send \{\{token\}\}/),
  format('a template header value with CR LF', (c) => c.acme({}, { issue: { ...(acmeTemplates().issue as object), headers: { authorization: 'Bearer {{management.adminToken}}\r\nX-Injected: 1' } } }), /field 'http.issue.headers.authorization' is invalid/),
  format("'managementSecretArn' and 'selfRotation' both", (c) => c.cloudflare({ managementSecretArn: `${c.prefix}-management` }), /fields 'managementSecretArn' and 'selfRotation' exclude each other/),
  format("'allowedHosts' without 'selfRotation'", async (c) => c.datadog({ allowedHosts: [provider.host] }), /field 'allowedHosts' is for 'selfRotation' only/),
  // --- the management secret --------------------------------------------------------------
  atCreate('a management secret that is not JSON', async (c) => c.datadog({ managementSecretArn: await c.secret(`DD_API_KEY=${c.plant(randomBytes(16).toString('hex'))}`, `${c.prefix}-management`) }),
    refused('SecretFormatError', /management secret \S+-management-\w{6}: value is not valid JSON/)),
  atCreate('a management secret that is a JSON array', async (c) => c.datadog({ managementSecretArn: await c.secret([c.plant(randomBytes(16).toString('hex'))], `${c.prefix}-management`) }),
    refused('SecretFormatError', /management secret \S+-management-\w{6}: value must be a JSON object/)),
  atCreate('a management secret without a field the provider needs', async (c) => c.datadog({ managementSecretArn: await c.datadogManagement({ appKey: undefined }) }),
    refused('SecretFormatError', /management secret \S+: field 'appKey' is missing \(required by provider 'datadog'\)/)),
  atCreate("a management secret whose 'allowedHosts' is a string", async (c) => c.datadog({ managementSecretArn: await c.datadogManagement({ allowedHosts: provider.host }) }),
    refused('SecretFormatError', /field 'allowedHosts' is invalid: must be a list of host names/)),
  atCreate('a management secret with CR LF in a key (a header injection)', async (c) => c.datadog({ managementSecretArn: await c.datadogManagement({ apiKey: c.plant(`${randomBytes(16).toString('hex')}\r\nX-Injected: 1`) }) }),
    refused('SecretFormatError', /management secret \S+: field 'apiKey' is invalid: must be printable ASCII/)),
  atCreate('a management secret that does not exist', async (c) => c.datadog({ managementSecretArn: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${c.prefix}-gone-AbCdEf` }),
    refused('RotationStateError', /management secret arn:\S+-gone-AbCdEf: no AWSCURRENT value/)),
  {
    name: 'a management secret that is the rotated secret itself',
    arrange: async (c) => {
      const name = `${c.prefix}-self`;
      return { arn: await c.secret(await c.datadog({ managementSecretArn: name }), name) };
    },
    step: 'createSecret',
    expect: refused('UnsafeRotationError', /field 'managementSecretArn' names the secret being rotated/),
  },
  atCreate('a management secret that holds the rotated token itself', async (c) => {
    const app = c.keep(provider.cloudflareToken(true));
    const managementSecretArn = await c.secret({ token: app.token, allowedHosts: [provider.host] }, `${c.prefix}-management`);
    return { provider: 'cloudflare', token: app.token, tokenId: app.tokenId, managementSecretArn, baseUrl: provider.cloudflareBaseUrl };
  }, refused('UnsafeRotationError', /the management secret holds the token being rotated; that is self-rotation/)),
  // --- oversized answers ------------------------------------------------------------------
  atCreate('an issue answered with an 8 MiB streamed body', (c) => c.datadog({ baseUrl: `${huge.url}/datadog` }),
    refused('ProviderError', /datadog issue: POST http:\/\/127\.0\.0\.1:\d+\/datadog\/api\/v2\/api_keys: the response exceeded 1048576 bytes; Rotor stopped reading it/)),
  atCreate('an issue answered with a declared 64 MiB body', (c) => c.datadog({ baseUrl: `${declaredUrl}/datadog` }),
    refused('ProviderError', /datadog issue: POST http:\/\/127\.0\.0\.1:\d+\/datadog\/api\/v2\/api_keys: the response exceeded 1048576 bytes/)),
  planted('testSecret: the verify answered with an 8 MiB body (AWSPENDING points there)', (c, now) => ({ ...now, token: fresh(c), baseUrl: `${huge.url}/datadog` }), 'testSecret',
    refused('ProviderError', /datadog verify: GET http:\/\/127\.0\.0\.1:\d+\/datadog\/api\/v1\/validate: the response exceeded 1048576 bytes/)),
  // --- planted AWSPENDING values pointing elsewhere ---------------------------------------
  planted('AWSPENDING with the base URL of another host', (c, now) => ({ ...now, token: fresh(c), baseUrl: `${otherHost.url}/datadog` }), 'setSecret',
    refused('UnsafeRotationError', /provider settings \(provider, baseUrl, managementSecretArn, selfRotation, http\) differ between AWSCURRENT and AWSPENDING/)),
  planted('AWSPENDING with another management secret', async (c, now) => ({ ...now, token: fresh(c), managementSecretArn: await c.datadogManagement({}, `${c.prefix}-management2`) }), 'setSecret',
    refused('UnsafeRotationError', /provider settings .* differ between AWSCURRENT and AWSPENDING/)),
  planted('AWSPENDING for another provider', (c, now) => ({ ...now, token: fresh(c), provider: 'cloudflare' }), 'setSecret',
    refused('UnsafeRotationError', /provider settings .* differ between AWSCURRENT and AWSPENDING/)),
  planted('testSecret: AWSPENDING sending the token to a host not allowed', (c, now) => ({ ...now, token: fresh(c), baseUrl: `${otherHost.url}/datadog` }), 'testSecret',
    refused('ProviderError', /datadog configuration: host 127\.0\.0\.2:\d+ is not in the management secret's allowedHosts/)),
  planted('an AWSPENDING value that is not JSON', (c) => c.plant(`{"token":"${randomBytes(16).toString('hex')}"`), 'createSecret',
    refused('SecretFormatError', /\(AWSPENDING\): value is not valid JSON/)),
  planted('an AWSPENDING value of an unknown provider', (c, now) => ({ ...now, token: fresh(c), provider: 'evil' }), 'createSecret',
    refused('SecretFormatError', /\(AWSPENDING\): field 'provider' is invalid: unknown provider 'evil'/)),
  // --- malformed events -------------------------------------------------------------------
  { name: 'an event whose Step is an array', arrange: secretOf((c) => c.datadog()), step: 'createSecret', event: (arn, token) => eventOf(arn, token, { Step: ['createSecret'] }), expect: refused('InvalidEventError', /field 'Step' must be a string, got an array/) },
  { name: 'an event whose SecretId is a boolean', arrange: secretOf((c) => c.datadog()), step: 'createSecret', event: (arn, token) => eventOf(arn, token, { SecretId: true }), expect: refused('InvalidEventError', /field 'SecretId' must be a string, got a boolean/) },
];

/** Requests that issue or roll a credential. */
const issuing = () => provider.count(Routes.DATADOG_CREATE) + provider.count(Routes.CLOUDFLARE_ROLL) + provider.count(Routes.ACME_ISSUE) + provider.count(Routes.ACME_ROLL);

badInputMatrix('api-token', rows, 61, async (row) => {
  // Prepare
  const c = new Case();
  const arranged = await row.arrange(c);
  const { arn } = arranged;
  const handler = () => suite.handler(row.production ? productionKind : testKind);
  const token = await suite.player.startRotation(arn);
  if (row.plant) await plantPending(suite.player.client, arn, token, await row.plant(c, arranged));
  const warm = handler();
  for (const step of row.before ?? []) await warm(suite.player.event(arn, token, step), lambdaContext());
  const secretBefore = await secretState(suite.player.client, arn);
  const issuedBefore = issuing();
  const reached = { trap: otherHost.connections, huge: huge.requests };

  // Act
  const sent = row.event ? row.event(arn, token) : suite.player.event(arn, token, row.step);
  const err = await refusal(handler()(sent, lambdaContext()), row.expect);

  // Assess
  expect(await secretState(suite.player.client, arn)).toEqual(secretBefore);
  expect(issuing(), 'no token was issued or rolled').toBe(issuedBefore);
  expect(otherHost.connections, 'nothing reached another host').toBe(reached.trap);
  expect(huge.requests - reached.huge, 'at most the one request the row is about').toBeLessThanOrEqual(1);
  for (const live of c.live) expect(provider.accepts(live), 'the provider still accepts every token of the case').toBe(true);
  await expectNoSecretValues(err, suite.logs, suite.player.client, c.arns, c.planted);
});
