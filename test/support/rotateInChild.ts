/**
 * Runs the rotation steps of one token with createRotationHandler(postgresKind) against moto,
 * in a process of its own: Node reads NODE_EXTRA_CA_CERTS (how Lambda trusts the RDS CAs) only
 * at start-up, so a test that needs the handler to trust a test CA starts this script with it.
 *
 *   node --import tsx test/support/rotateInChild.ts '{"endpoint":…,"secretId":…,"token":…}'
 *
 * The handler's logs go to stdout as in Lambda; an error thrown to the runtime goes to stderr.
 * The last stdout line is `RESULT <json>`: the steps' outcomes, or the failed step and error.
 */
import { postgresKind } from '../../lambdas/postgres/postgresKind.js';
import { createRotationHandler } from '../../lambdas/core/handler.js';
import type { StepOutcome } from '../../lambdas/core/engine.js';
import { lambdaContext, SecretsManagerPlayer, smClient, STEPS } from '../../bin/local/harness.js';
import { errorText } from './logCapture.js';

export interface ChildRequest {
  endpoint: string;
  secretId: string;
  token: string;
  env?: Record<string, string>;
}

export type ChildResult =
  | { ok: true; outcomes: StepOutcome[] }
  | { ok: false; step: string; outcomes: StepOutcome[]; error: { name: string; message: string; code?: string } };

/** Marks the result line (tests import only this file's types: importing it would run it). */
const RESULT_PREFIX = 'RESULT ';

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '') as ChildRequest;
  const player = new SecretsManagerPlayer(smClient(request.endpoint));
  const handler = createRotationHandler(postgresKind, { client: smClient(request.endpoint), env: request.env ?? {} });
  const outcomes: StepOutcome[] = [];
  let result: ChildResult = { ok: true, outcomes };
  for (const step of STEPS) {
    try {
      outcomes.push(await handler(player.event(request.secretId, request.token, step), lambdaContext()));
    } catch (err) {
      process.stderr.write(`${errorText(err)}\n`);
      const e = err as Error & { code?: string };
      result = { ok: false, step, outcomes, error: { name: e.name, message: e.message, code: e.code } };
      break;
    }
  }
  process.stdout.write(`\n${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

await main();
