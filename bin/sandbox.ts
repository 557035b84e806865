#!/usr/bin/env -S npx tsx
/**
 * `npm run sandbox`: Rotor's main job, locally. Starts moto's server (Secrets Manager
 * emulation) and throwaway database servers, rotates sample secrets of every kind the way
 * Secrets Manager would (RotateSecret, then the four steps), and prints what happened:
 * versions, labels, which credentials log in, timings. Everything it starts, it stops.
 */
import { awsEnvFor, startMoto } from '../test/support/moto';
import { SecretsManagerPlayer, smClient } from '../test/support/harness';
import type { SandboxContext } from './sandbox/common';
import { postgresSandbox } from './sandbox/postgres';

const scenarios: Array<[string, (ctx: SandboxContext) => Promise<void>]> = [['postgres', postgresSandbox]];

async function main(): Promise<void> {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const only = process.argv.slice(2);
  const moto = await startMoto();
  Object.assign(process.env, awsEnvFor(moto.endpoint));
  const client = smClient(moto.endpoint);
  const ctx: SandboxContext = { client, player: new SecretsManagerPlayer(client), print: (l) => console.log(l) };
  console.log(`Rotor sandbox: moto's server at ${moto.endpoint}`);
  let failed = false;
  try {
    for (const [name, run] of scenarios) {
      if (only.length > 0 && !only.includes(name)) continue;
      try {
        await run(ctx);
      } catch (err) {
        failed = true;
        console.error(`  ${name}: FAILED: ${(err as Error).message}`);
      }
    }
  } finally {
    await moto.stop();
  }
  console.log(failed ? 'Sandbox finished with failures.' : 'Sandbox finished: every rotation succeeded.');
  process.exitCode = failed ? 1 : 0;
}

await main();
