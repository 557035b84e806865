#!/usr/bin/env -S npx tsx
/**
 * `npm run sandbox [-- name...]`: Rotor's main job, locally. Starts moto's server (Secrets
 * Manager, IAM, STS, EventBridge emulation, with signatures checked) and throwaway services,
 * rotates sample secrets of every kind the way Secrets Manager would (RotateSecret, then the
 * four steps), and prints what happened: versions, labels, which credentials log in, timings.
 * Never a secret value: it checks its own output for every value it stored before it ends.
 * Everything it starts or creates, it stops or drops (also on Ctrl-C).
 */
import './sandbox/quiet.js';
import { createFingerprintKey } from './local/fingerprintKey.js';
import { IAMClient } from '@aws-sdk/client-iam';
import { ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { allSecretStrings, SecretsManagerPlayer, sensitiveValues, smClient } from './local/harness.js';
import { awsEnvFor, startMoto } from './local/moto.js';
import { startPostgresCluster, type PostgresCluster } from './local/postgres.js';
import { apiTokenSandbox } from './sandbox/api-token.js';
import { BOOTSTRAP_CALLS, bootstrapAdmin, region } from './sandbox/aws.js';
import { seconds, type SandboxContext } from './sandbox/common.js';
import { emergencySandbox } from './sandbox/emergency.js';
import { iamSandbox } from './sandbox/iam.js';
import { mysqlSandbox } from './sandbox/mysql.js';
import { postgresSandbox } from './sandbox/postgres.js';

const scenarios: Array<{ name: string; what: string; run: (ctx: SandboxContext) => Promise<void> }> = [
  { name: 'postgres', what: 'PostgreSQL, single-user and alternating-users, 3 rotations each', run: postgresSandbox },
  { name: 'mysql', what: 'MariaDB, single-user and alternating-users, 3 rotations each', run: mysqlSandbox },
  { name: 'iam', what: 'IAM access keys: dual-active rotations, a retire run, the next rotation', run: iamSandbox },
  { name: 'api-token', what: 'API tokens: a dual-active and a roll-only provider, a retire run', run: apiTokenSandbox },
  { name: 'emergency', what: 'leak events: PostgreSQL by secret id, IAM by access key id', run: emergencySandbox },
];

const printed: string[] = [];
const print = (line: string) => {
  printed.push(line);
  console.log(line);
};
const printError = (line: string) => {
  printed.push(line);
  console.error(line);
};

let stopping = false;

/** Clean-ups, run last registered first; each runs once, whatever the others do. */
const cleanups: Array<{ what: string; run: () => unknown }> = [];
async function cleanUp(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c.run();
    } catch (err) {
      printError(`  clean-up of ${c.what} failed: ${(err as Error).message}`);
    }
  }
}

function usage(): string {
  return [
    'usage: npm run sandbox [-- scenario...]',
    ...scenarios.map((s) => `  ${s.name.padEnd(10)} ${s.what}`),
    'Named scenarios run in this order; with none named, all of them run.',
  ].join('\n');
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('-h') || args.includes('--help')) {
    console.log(usage());
    return 0;
  }
  const unknown = args.filter((a) => !scenarios.some((s) => s.name === a));
  if (unknown.length > 0) {
    console.error(`unknown scenario${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}\n${usage()}`);
    return 2;
  }
  const selected = scenarios.filter((s) => args.length === 0 || args.includes(s.name));
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const started = Date.now();

  const moto = await startMoto({ initialNoAuthActionCount: BOOTSTRAP_CALLS });
  cleanups.push({ what: "moto's server", run: () => moto.stop() });
  const admin = await bootstrapAdmin(moto.endpoint);
  // Code that builds its own clients (the kinds' defaults, STS checks) signs as the administrator.
  Object.assign(process.env, awsEnvFor(moto.endpoint), {
    AWS_ACCESS_KEY_ID: admin.accessKeyId,
    AWS_SECRET_ACCESS_KEY: admin.secretAccessKey,
  });
  const client = smClient(moto.endpoint);
  (client.config as { credentials: unknown }).credentials = async () => ({ ...admin });
  const iam = new IAMClient({ endpoint: moto.endpoint, region, credentials: admin });
  // Rotor's fingerprint key, as a deployed stack has it (the functions read ROTOR_FINGERPRINT_KEY_ARN).
  Object.assign(process.env, (await createFingerprintKey(client)).env);
  let cluster: Promise<PostgresCluster> | undefined;
  const ctx: SandboxContext = {
    endpoint: moto.endpoint,
    admin,
    client,
    iam,
    player: new SecretsManagerPlayer(client),
    print,
    defer: (what, run) => cleanups.push({ what, run }),
    postgres: () =>
      (cluster ??= startPostgresCluster().then((c) => {
        cleanups.push({ what: 'the PostgreSQL cluster', run: () => c.stop() });
        return c;
      })),
  };
  print(`Rotor sandbox: moto's server at ${moto.endpoint} (signatures checked), administrator ${admin.accessKeyId}`);

  const results: string[] = [];
  let failed = false;
  try {
    for (const scenario of selected) {
      if (stopping) break;
      const t0 = Date.now();
      print('');
      try {
        await scenario.run(ctx);
        results.push(`${scenario.name} ok ${seconds(Date.now() - t0)}`);
      } catch (err) {
        if (stopping) break; // its services were taken away under it
        failed = true;
        results.push(`${scenario.name} FAILED`);
        printError(`  ${scenario.name}: FAILED: ${(err as Error).message}`);
      }
    }
    if (stopping) return 130;
    // The promise of the first line: no secret value in anything printed.
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await client.send(new ListSecretsCommand({ MaxResults: 100, NextToken: nextToken }));
      arns.push(...(page.SecretList ?? []).map((s) => s.ARN!));
      nextToken = page.NextToken || undefined;
    } while (nextToken);
    const values = [...secretValues(await allSecretStrings(client, arns)), admin.secretAccessKey];
    const text = printed.join('\n');
    const leaked = values.filter((v) => text.includes(v));
    print('');
    if (leaked.length > 0) {
      failed = true;
      printError(`LEAK: ${leaked.length === 1 ? 'a secret value appears' : `${leaked.length} secret values appear`} in this output`);
    } else {
      print(`Checked: none of the ${values.length} secret values stored in ${arns.length} secret${arns.length === 1 ? '' : 's'} appears above.`);
    }
  } finally {
    await cleanUp();
    iam.destroy();
    client.destroy();
  }
  console.log(`${results.join(' | ')}; total ${seconds(Date.now() - started)}`);
  console.log(failed ? 'Sandbox finished with failures.' : 'Sandbox finished: every scenario succeeded.');
  return failed ? 1 : 0;
}

/** The credentials in stored secret strings: the harness's list, and management secrets' keys. */
function secretValues(secretStrings: string[]): string[] {
  const out = new Set(sensitiveValues(secretStrings));
  for (const s of secretStrings) {
    try {
      const value = JSON.parse(s) as Record<string, unknown>;
      for (const key of ['apiKey', 'appKey', 'adminToken']) if (typeof value[key] === 'string') out.add(value[key]);
    } catch {
      // not JSON: sensitiveValues took the whole string
    }
  }
  return [...out].filter((v) => v.length >= 8);
}

/** Cleans up and exits: on Ctrl-C, on SIGTERM, when the reader of the output goes away (`| head`). */
function stop(why: string, code: number): void {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`\n${why}: cleaning up before exiting\n`);
  void cleanUp().finally(() => process.exit(code));
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(signal, 130));
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') stop('output closed', 1);
});

try {
  process.exitCode = await main();
} catch (err) {
  console.error(`Sandbox could not run: ${(err as Error).stack ?? err}`);
  await cleanUp();
  process.exitCode = 1;
}
