import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { preflightReportSchema } from '../lambdas/contract/index.js';
import { createRotationHandler } from '../lambdas/core/handler.js';
import { DatabaseChecks } from '../lambdas/database/preflight.js';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { withPostgresPreflight } from '../lambdas/postgres/preflight.js';
import { smClient } from '../bin/local/harness.js';
import { LambdaInvokeStandIn } from '../bin/local/lambdaInvoke.js';
import { testPassword, uniqueName, type PostgresCluster } from '../bin/local/postgres.js';
import { cliEnv, runCli, type CliResult } from './support/cli.js';
import { usePostgresAdmin } from './support/pgAdmin.js';
import { enableRotation, secretState } from './support/preflight.js';
import { useRotationSuite } from './support/rotationSuite.js';

/**
 * `rotor preflight` as a user runs it: the real binary against moto (DescribeSecret) and a
 * stand-in for Lambda's Invoke API only (moto cannot run functions), which runs the real
 * rotation handler in this process; the handler checks the real PostgreSQL cluster.
 */
const cluster = inject('postgres') as unknown as PostgresCluster;

describe('rotor preflight (the real binary against moto, Lambda Invoke stood in)', () => {
  const suite = useRotationSuite();
  const { admin } = usePostgresAdmin();
  let lambda: LambdaInvokeStandIn;

  beforeAll(async () => {
    lambda = await LambdaInvokeStandIn.start();
  });
  afterAll(async () => {
    await lambda?.close();
  });

  async function rotor(args: string[]): Promise<CliResult> {
    const result = await runCli(args, cliEnv(suite.moto.endpoint, { AWS_ENDPOINT_URL_LAMBDA: lambda.url }), 120_000);
    suite.logs.note(result.stdout + result.stderr);
    return result;
  }

  /** A PostgreSQL login and its secret, rotated by the function the stand-in runs (the real handler). */
  async function arrange(opts: { password?: string; rotation?: boolean; functionName?: string } = {}) {
    const username = uniqueName('clipf');
    const password = testPassword();
    await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
    const arn = await suite.secret(uniqueName('cli-pf'), {
      engine: 'postgres',
      host: cluster.host,
      port: cluster.port,
      username,
      password: opts.password ?? password,
    });
    if (opts.rotation === false) return { arn, username };
    const functionArn = await enableRotation(suite.moto.endpoint, suite.player.client, arn, { functionName: opts.functionName });
    const handler = createRotationHandler(withPostgresPreflight(postgresKind), { client: smClient(suite.moto.endpoint), env: { ROTATION_STRATEGY: 'single-user' } });
    lambda.register(functionArn, handler);
    return { arn, username, functionArn };
  }

  it('prints the report as a table and exits 0 when every check is ok; nothing changed', async () => {
    const { arn, functionArn } = await arrange();
    const before = await secretState(suite.player.client, arn);
    const result = await rotor(['preflight', arn]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`run by ${functionArn}`);
    expect(result.stdout).toMatch(/^current-login\s+ok\s+the AWSCURRENT credential logs in/m);
    expect(result.stdout).toMatch(/^No problem found: 12 check\(s\) ok\. Nothing was changed\.$/m);
    expect(await secretState(suite.player.client, arn)).toEqual(before);
    expect(lambda.invocations.at(-1)).toEqual({ name: 'rotor-rotation', status: 200 });
  });

  it('exits 4 with the problem and its fix, as JSON with --output json', async () => {
    const wrong = testPassword();
    suite.sensitive(wrong);
    const { arn } = await arrange({ password: wrong });
    const result = await rotor(['--output', 'json', 'preflight', arn]);
    expect(result.code, result.stderr).toBe(4);
    const report = preflightReportSchema.parse(JSON.parse(result.stdout));
    expect(report.ok).toBe(false);
    const problem = report.checks.find((c) => c.status === 'problem');
    expect(problem?.check).toBe(DatabaseChecks.CURRENT_LOGIN);
    expect(problem?.fix).toMatch(/AWSCURRENT/);

    const table = await rotor(['preflight', arn]);
    expect(table.code).toBe(4);
    expect(table.stdout).toMatch(/^1 problem\(s\)\. To fix:$/m);
    expect(table.stdout).toMatch(/^ {2}current-login: store the password/m);
  });

  it('says clearly when the secret has no rotation function, and when the caller may not invoke it (naming the permission)', async () => {
    const plain = await arrange({ rotation: false });
    const none = await rotor(['preflight', plain.arn]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/has no rotation function: rotor preflight runs its checks inside the secret's rotation function/);

    const denied = await arrange({ functionName: 'rotor-rotation-denied' });
    lambda.deny(denied.functionArn!);
    const refused = await rotor(['preflight', denied.arn]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`your credentials need lambda:InvokeFunction on that function`);
    expect(refused.stderr).toContain(denied.functionArn);

    const unknown = await rotor(['preflight', 'no/such/secret']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/secret 'no\/such\/secret' not found/);
    const usage = await rotor(['preflight']);
    expect(usage.code).toBe(2);
  });
});
