import { createServer, type Server, type Socket } from 'node:net';
import {
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, describe, expect, it } from 'vitest';
import { CLAIM_STAGE } from '../../lambdas/core/claim.js';
import { allSecretStrings, sensitiveValues } from '../../bin/local/harness.js';
import { errorText, type LogCapture } from './logCapture.js';

/**
 * The bad-input matrix (issue 14): one table per kind and one for the emergency handler. Each
 * row arranges its own resources, feeds one bad input to one step, and expects a refusal whose
 * error names the problem; afterwards the credential in use is untouched. This module holds what
 * the tables share: the table runner (which also prints how many rows ran), the refusal check,
 * the "no secret value in the error or the logs" check, a snapshot of a secret's versions, and a
 * TCP trap that counts connections to a place nothing may reach.
 */

/** What a row expects the refused call to throw: the error's name and a pattern naming the problem. */
export interface Refusal {
  readonly name: string;
  readonly message: RegExp;
}

/** Signs of a crash rather than a refusal: a bad input must be named, never stumbled over. */
const CRASH = /TypeError|ReferenceError|Cannot read propert|is not a function|is not iterable|\[object Object\]/;

/**
 * Registers one `it` per row of `rows` under `label`. The table must hold exactly `intended`
 * rows with distinct names (checked when the file is collected, so a row lost in an edit fails
 * the file), and after the file every row must have run: a skipped row is a failure, not a
 * silence. Prints `[bad-input] <label>: <n> of <m> cases ran and passed` for the lead's sum.
 */
export function badInputMatrix<R extends { readonly name: string }>(
  label: string,
  rows: readonly R[],
  intended: number,
  run: (row: R) => Promise<void>,
): void {
  if (rows.length !== intended) {
    throw new Error(`bad-input matrix ${label}: the table has ${rows.length} rows, ${intended} intended`);
  }
  const names = rows.map((r) => r.name);
  const repeated = names.filter((n, i) => names.indexOf(n) !== i);
  if (repeated.length > 0) throw new Error(`bad-input matrix ${label}: rows named twice: ${repeated.join(', ')}`);
  let started = 0;
  let passed = 0;
  describe(`bad input: ${label}`, () => {
    for (const row of rows) {
      it(row.name, async () => {
        started++;
        await run(row);
        passed++;
      });
    }
  });
  afterAll(() => {
    console.log(`[bad-input] ${label}: ${passed} of ${rows.length} cases ran and passed`);
    expect(started, `bad-input matrix ${label}: every row of the table runs (none skipped)`).toBe(rows.length);
  });
}

/** Awaits `call`, which must be refused as `expected`; returns the error. */
export async function refusal(call: Promise<unknown>, expected: Refusal): Promise<Error> {
  const outcome = await call.then(
    (value) => ({ ok: true as const, value }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  if (outcome.ok) {
    throw new Error(`expected ${expected.name} matching ${expected.message}, but the call succeeded: ${JSON.stringify(outcome.value)}`);
  }
  const err = outcome.err;
  expect(err).toBeInstanceOf(Error);
  const e = err as Error;
  expect({ name: e.name, message: e.message }).toMatchObject({ name: expected.name, message: expect.stringMatching(expected.message) });
  expect(e.message).not.toMatch(CRASH);
  return e;
}

/**
 * No secret value of the case (every password, key or token of every version of its secrets,
 * and the values it planted) in the error, its stack and causes, nor in anything captured.
 */
export async function expectNoSecretValues(
  err: Error,
  logs: LogCapture,
  client: SecretsManagerClient,
  secretIds: Iterable<string>,
  planted: Iterable<string>,
): Promise<void> {
  const values = [...new Set([...sensitiveValues(await allSecretStrings(client, secretIds)), ...planted])].filter(
    (v) => v.length >= 8,
  );
  expect(values.length, 'the case holds secret values to look for').toBeGreaterThan(0);
  const text = errorText(err);
  expect(
    values.filter((v) => text.includes(v)).map((v) => `${v.length} chars`),
    'secret values in the error (message, stack, causes)',
  ).toEqual([]);
  expect(
    logs.leaks(values).map((v) => `${v.length} chars`),
    'secret values in the captured logs',
  ).toEqual([]);
}

/** A secret's versions (Rotor's claim versions left out): labels and value of each. */
export type SecretState = Record<string, { stages: string[]; value: string | undefined }>;

export async function secretState(client: SecretsManagerClient, secretId: string): Promise<SecretState> {
  const list = await client.send(new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true, MaxResults: 100 }));
  const out: SecretState = {};
  for (const v of list.Versions ?? []) {
    const stages = [...(v.VersionStages ?? [])].sort();
    if (stages.includes(CLAIM_STAGE)) continue;
    const value = await client
      .send(new GetSecretValueCommand({ SecretId: secretId, VersionId: v.VersionId }))
      .then((o) => o.SecretString, () => undefined);
    if (value?.startsWith('{"rotorClaim"')) continue;
    out[v.VersionId!] = { stages, value: value === '' ? undefined : value };
  }
  return out;
}

/** The value AWSCURRENT holds in a snapshot. */
export function currentValue(state: SecretState): string | undefined {
  return Object.values(state).find((v) => v.stages.includes('AWSCURRENT'))?.value;
}

/** Plants a value for `token`, staged AWSPENDING, as somebody with PutSecretValue could. */
export async function plantPending(client: SecretsManagerClient, secretId: string, token: string, value: unknown): Promise<void> {
  await client.send(
    new PutSecretValueCommand({
      SecretId: secretId,
      ClientRequestToken: token,
      SecretString: typeof value === 'string' ? value : JSON.stringify(value),
      VersionStages: ['AWSPENDING'],
    }),
  );
}

/** A JSON object with some keys dropped (`undefined` in `changes` removes a key). */
export function edit<T extends Record<string, unknown>>(value: T, changes: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...value };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/**
 * A TCP listener on a loopback address that nothing may reach: it counts every connection and
 * closes it at once (a client that got here fails fast, and the count shows it got here).
 */
export class TcpTrap {
  public connections = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    public readonly host: string,
    public readonly port: number,
  ) {}

  public static async start(host = '127.0.0.1'): Promise<TcpTrap> {
    let trap: TcpTrap | undefined;
    const server = createServer((socket) => {
      trap!.connections++;
      trap!.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, resolve);
    });
    const address = server.address();
    trap = new TcpTrap(server, host, typeof address === 'object' && address ? address.port : 0);
    return trap;
  }

  public async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
