import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { PreflightChecks, preflightReportSchema, type PreflightReport } from '../lambdas/contract/index.js';
import { lambdaContext, smClient } from '../bin/local/harness.js';
import { builtHandler } from './support/builtBundle.js';
import { DatabaseChecks } from '../lambdas/database/preflight.js';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { withPostgresPreflight } from '../lambdas/postgres/preflight.js';
import { freePort } from '../bin/local/ports.js';
import { testPassword, uniqueName, type PostgresCluster } from '../bin/local/postgres.js';
import { usePostgresAdmin } from './support/pgAdmin.js';
import { check, enableRotation, problems, runPreflight, secretState } from './support/preflight.js';
import { useRotationSuite } from './support/rotationSuite.js';

/**
 * `rotor preflight` for PostgreSQL, by calling the rotation handler locally with the preflight
 * event: moto for Secrets Manager, the run's PostgreSQL cluster with password authentication.
 * Every case checks that nothing changed: versions, labels, tags, the login's password verifier,
 * and that no alternate login was created.
 */
const cluster = inject('postgres') as unknown as PostgresCluster;

describe('PostgresRotation preflight', () => {
  const figures: string[] = [];
  // Printed after the last case's log capture has stopped.
  afterAll(() => void (figures.length && process.stderr.write(`${figures.join('\n')}\n`)));
  const suite = useRotationSuite();
  const { admin } = usePostgresAdmin();
  const ident = (s: string) => admin.escapeIdentifier(s);
  const lit = (s: string) => admin.escapeLiteral(s);
  let after: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await after?.();
    after = undefined;
  });

  /** The login's stored verifier and whether its clone exists: what a preflight must not change. */
  async function dbState(username: string) {
    const { rows } = await admin.query<{ rolname: string; rolpassword: string | null }>(
      'SELECT rolname, rolpassword FROM pg_authid WHERE rolname = $1 OR rolname = $2 ORDER BY rolname',
      [username, `${username}_clone`],
    );
    return rows;
  }

  async function arrange(opts: { master?: 'createrole' | 'plain' | 'other-port'; secret?: Record<string, unknown>; env?: Record<string, string> } = {}) {
    const username = uniqueName('pf');
    const password = testPassword();
    await admin.query(`CREATE ROLE ${ident(username)} LOGIN PASSWORD ${lit(password)}`);
    const value: Record<string, unknown> = { engine: 'postgres', host: cluster.host, port: cluster.port, username, password, dbname: 'postgres' };
    let masterName: string | undefined;
    if (opts.master) {
      masterName = uniqueName('pfmaster');
      const masterPassword = testPassword();
      const attributes = opts.master === 'plain' ? 'NOCREATEROLE' : 'CREATEROLE';
      await admin.query(`CREATE ROLE ${ident(masterName)} LOGIN ${attributes} PASSWORD ${lit(masterPassword)}`);
      const port = opts.master === 'other-port' ? await freePort() : cluster.port;
      value.masterarn = await suite.secret(uniqueName('pf-master'), { engine: 'postgres', host: cluster.host, port, username: masterName, password: masterPassword });
    }
    const arn = await suite.secret(uniqueName('pf-secret'), { ...value, ...opts.secret });
    await enableRotation(suite.moto.endpoint, suite.player.client, arn);
    const before = { secret: await secretState(suite.player.client, arn), db: await dbState(username) };
    // Whatever the case asserts, the preflight changed nothing.
    after = async () => {
      expect(await secretState(suite.player.client, arn)).toEqual(before.secret);
      expect(await dbState(username)).toEqual(before.db);
      for (const role of [username, `${username}_clone`, masterName]) if (role) await admin.query(`DROP ROLE IF EXISTS ${ident(role)}`);
    };
    const env = { ROTATION_STRATEGY: opts.master ? 'alternating-users' : 'single-user', ...opts.env };
    return { arn, username, preflight: (functionName?: string) => runPreflight(suite.moto.endpoint, withPostgresPreflight(postgresKind), arn, { env, functionName, note: (t) => suite.logs.note(t) }) };
  }

  it('reports every check ok for a healthy single-user secret', async () => {
    const { preflight } = await arrange();
    const report = await preflight();
    expect(report.ok, JSON.stringify(report.checks)).toBe(true);
    expect(report.checks.every((c) => c.status === 'ok')).toBe(true);
    figures.push(`[figure] preflight postgres healthy case 1: ${report.durationMs} ms in the handler, ${report.secretsManagerCalls} Secrets Manager calls, ${report.logins} logins`);
    expect(report.checks.map((c) => c.check)).toEqual([
      PreflightChecks.SECRET_DESCRIBED,
      PreflightChecks.ROTATION_FUNCTION,
      PreflightChecks.ROTATION_ENABLED,
      PreflightChecks.NO_ROTATION_IN_PROGRESS,
      PreflightChecks.SETTINGS,
      PreflightChecks.SECRET_READABLE,
      PreflightChecks.SECRET_FORMAT,
      PreflightChecks.PASSWORD_POLICY,
      PreflightChecks.RANDOM_PASSWORD,
      DatabaseChecks.REACHABLE,
      DatabaseChecks.CURRENT_LOGIN,
      DatabaseChecks.STRATEGY,
    ]);
    expect(report.strategy).toBe('single-user');
    expect(report.logins).toBe(1);
    // DescribeSecret, GetSecretValue, GetRandomPassword: no write.
    expect(report.secretsManagerCalls).toBe(3);
  });

  it('reports every check ok for a healthy alternating-users secret with a CREATEROLE (not superuser) master', async () => {
    const { preflight } = await arrange({ master: 'createrole' });
    const report = await preflight();
    expect(problems(report)).toEqual([]);
    expect(report.checks.every((c) => c.status === 'ok')).toBe(true);
    figures.push(`[figure] preflight postgres healthy case 2: ${report.durationMs} ms in the handler, ${report.secretsManagerCalls} Secrets Manager calls, ${report.logins} logins`);
    expect(check(report, DatabaseChecks.MASTER_PRIVILEGES).detail).toMatch(/CREATEROLE/);
    expect(check(report, DatabaseChecks.CLONE_PAIRING).detail).toMatch(/the first rotation creates/);
    expect(report.logins).toBe(2);
    // DescribeSecret, GetSecretValue of AWSCURRENT and of the master, GetRandomPassword.
    expect(report.secretsManagerCalls).toBe(4);
  });

  it('finds a target that does not answer (a closed loopback port) and tries no login', async () => {
    const { preflight } = await arrange({ secret: { port: await freePort() } });
    const report = await preflight();
    expect(problems(report)).toEqual([DatabaseChecks.REACHABLE]);
    expect(check(report, DatabaseChecks.REACHABLE).detail).toMatch(/ECONNREFUSED/);
    expect(check(report, DatabaseChecks.REACHABLE).fix).toMatch(/security group/);
    expect(check(report, DatabaseChecks.CURRENT_LOGIN).status).toBe('skipped');
    expect(report.logins).toBe(0);
  });

  it('finds a current password the database refuses', async () => {
    const wrong = testPassword();
    suite.sensitive(wrong);
    const { preflight } = await arrange({ secret: { password: wrong } });
    const report = await preflight();
    expect(problems(report)).toEqual([DatabaseChecks.CURRENT_LOGIN]);
    expect(check(report, DatabaseChecks.CURRENT_LOGIN).fix).toMatch(/AWSCURRENT/);
  });

  it('finds a master without CREATEROLE, with the statement that fixes it', async () => {
    const { preflight } = await arrange({ master: 'plain' });
    const report = await preflight();
    expect(problems(report)).toEqual([DatabaseChecks.MASTER_PRIVILEGES]);
    expect(check(report, DatabaseChecks.MASTER_PRIVILEGES).detail).toMatch(/neither SUPERUSER nor CREATEROLE/);
    expect(check(report, DatabaseChecks.MASTER_PRIVILEGES).fix).toMatch(/^as a superuser: ALTER ROLE "pfmaster_[0-9a-f]+" CREATEROLE/);
  });

  it('never sends the master credential to another server than the secret\'s', async () => {
    const { preflight } = await arrange({ master: 'other-port' });
    const report = await preflight();
    expect(problems(report)).toEqual([DatabaseChecks.MASTER_SECRET]);
    expect(check(report, DatabaseChecks.MASTER_SECRET).detail).toMatch(/different host or port/);
    expect(check(report, DatabaseChecks.MASTER_LOGIN).status).toBe('skipped');
    // Only the current credential logged in.
    expect(report.logins).toBe(1);
  });

  it('finds an alternate login that Rotor did not pair with this secret', async () => {
    const { preflight, username } = await arrange({ master: 'createrole' });
    const squatter = testPassword();
    await admin.query(`CREATE ROLE ${ident(`${username}_clone`)} LOGIN PASSWORD ${lit(squatter)}`);
    const report = await preflight();
    expect(problems(report)).toEqual([DatabaseChecks.CLONE_PAIRING]);
    expect(check(report, DatabaseChecks.CLONE_PAIRING).detail).toMatch(/has no Rotor pairing marker/);
    await admin.query(`DROP ROLE ${ident(`${username}_clone`)}`);
  });

  it('finds password settings the consumers would not accept: excluded characters let through, a length out of bounds', async () => {
    const open = await arrange({ env: { EXCLUDE_CHARACTERS: '"' } });
    const report = await open.preflight();
    expect(problems(report)).toContain(PreflightChecks.PASSWORD_POLICY);
    expect(check(report, PreflightChecks.PASSWORD_POLICY).detail).toContain(JSON.stringify(':/@\'\\'));
    expect(check(report, PreflightChecks.PASSWORD_POLICY).fix).toMatch(/EXCLUDE_CHARACTERS must contain/);
    await after?.();

    const short = await arrange({ env: { PASSWORD_LENGTH: '4' } });
    const shortReport = await short.preflight();
    expect(problems(shortReport)).toEqual([PreflightChecks.SETTINGS]);
    expect(check(shortReport, PreflightChecks.SETTINGS).detail).toMatch(/PASSWORD_LENGTH is invalid/);
    expect(check(shortReport, PreflightChecks.KIND).status).toBe('skipped');
  });

  it('is answered by the deployed bundle (dist/lambdas/postgres), whose entry attaches the preflight', async () => {
    const { arn } = await arrange();
    const report = (await builtHandler('postgres')({ rotor: 'preflight', secretId: arn }, lambdaContext('rotor-rotation'))) as unknown as PreflightReport;
    suite.logs.note(JSON.stringify(report));
    expect(preflightReportSchema.parse(report).ok, JSON.stringify(report.checks)).toBe(true);
    expect(check(report, DatabaseChecks.CURRENT_LOGIN).status).toBe('ok');
    // The kind as the emergency and retire functions hold it has no preflight of its own: the engine's checks only.
    const bare = await runPreflight(suite.moto.endpoint, postgresKind, arn, { env: { ROTATION_STRATEGY: 'single-user' } });
    expect(check(bare, PreflightChecks.KIND)).toMatchObject({ status: 'skipped', detail: 'kind postgres has no checks of its own' });
  });

  it("finds a value Secrets Manager cannot decrypt (KMS), with the grant that fixes it", async () => {
    const { arn } = await arrange();
    // moto does not model KMS for Secrets Manager (a disabled key still decrypts there): the one
    // GetSecretValue is answered as AWS answers when the function may not use the secret's key;
    // every other call goes to moto.
    const client = smClient(suite.moto.endpoint);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'GetSecretValueCommand') {
          throw Object.assign(new Error("Secrets Manager can't decrypt the protected secret text using the provided KMS key."), {
            name: 'DecryptionFailure',
            $fault: 'client',
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'decryptionFailure' },
    );
    const report = await runPreflight(suite.moto.endpoint, withPostgresPreflight(postgresKind), arn, {
      client,
      env: { ROTATION_STRATEGY: 'single-user' },
      note: (t) => suite.logs.note(t),
    });
    expect(problems(report)).toEqual([PreflightChecks.SECRET_READABLE]);
    expect(check(report, PreflightChecks.SECRET_READABLE).detail).toMatch(/^decrypting the AWSCURRENT value failed: DecryptionFailure/);
    expect(check(report, PreflightChecks.SECRET_READABLE).fix).toMatch(/kms:Decrypt .*kms:ViaService/);
    expect(check(report, PreflightChecks.SECRET_FORMAT).status).toBe('skipped');
    expect(check(report, PreflightChecks.KIND).status).toBe('skipped');
    expect(report.logins).toBe(0);
  });

  it('refuses a secret whose rotation function is not this function, before reading its value', async () => {
    const { preflight } = await arrange();
    const report = await preflight('another-function');
    expect(problems(report)).toEqual([PreflightChecks.ROTATION_FUNCTION]);
    expect(check(report, PreflightChecks.ROTATION_FUNCTION).detail).toMatch(/not by this function .*refused/);
    expect(report.checks.filter((c) => c.status === 'skipped').length).toBeGreaterThan(5);
    expect(report.secretsManagerCalls).toBe(1);
    expect(report.logins).toBe(0);
  });
});
