/**
 * `rotor status|audit --accounts|--org` (the real CLI) against moto's Organizations, STS and
 * per-account resources. moto partitions state by the account of the credentials, and its
 * AssumeRole answers credentials in the role's account: the test seeds each member account by
 * assuming into it (OrganizationAccountAccessRole, as AWS names the role CreateAccount makes),
 * creates Rotor's read role there (Organization.READ_ROLE_NAME, trusting the management account)
 * and secrets. moto's AssumeRole also answers for a role that does not exist; the CLI's STS calls
 * go through a stand-in (bin/local/assumeRoleCheck.ts, AWS_ENDPOINT_URL_STS) that refuses those,
 * as AWS does, so an account without the role is really one the CLI cannot enter.
 */
import { CloseAccountCommand, CreateAccountCommand, CreateOrganizationCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateSecretCommand, RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Organization, RotorTags } from '../lambdas/contract/index.js';
import { startAssumeRoleCheck, type AssumeRoleCheck } from '../bin/local/assumeRoleCheck.js';
import { startMoto, type MotoServer } from '../bin/local/moto.js';
import { testPassword, uniqueName } from '../bin/local/postgres.js';
import { cliEnv, runCli, runCliOnTerminal, scriptCommand } from './support/cli.js';

const MANAGEMENT = '123456789012';
let moto: MotoServer;
let stsCheck: AssumeRoleCheck;
const values: string[] = [];
/** Account ids by the test's name for them. */
const accounts: Record<'a' | 'b' | 'norole' | 'closed', string> = { a: '', b: '', norole: '', closed: '' };
/** Secret names by account name. */
const secretsOf: Record<string, string[]> = {};

const base = () => ({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });

/** Credentials in `account`, as moto hands them out for any role there. */
async function inAccount(account: string): Promise<AwsCredentialIdentity> {
  const c = (await new STSClient(base()).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/OrganizationAccountAccessRole`, RoleSessionName: 'seed' }))).Credentials!;
  return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken };
}

async function readRole(credentials: AwsCredentialIdentity | undefined, roleName: string = Organization.READ_ROLE_NAME) {
  await new IAMClient({ ...base(), ...(credentials ? { credentials } : {}) }).send(
    new CreateRoleCommand({
      RoleName: roleName,
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${MANAGEMENT}:root` }, Action: 'sts:AssumeRole' }],
      }),
    }),
  );
}

async function seedSecret(who: string, credentials: AwsCredentialIdentity | undefined, key: string, tags: Record<string, string>, rotate = false): Promise<string> {
  const sm = new SecretsManagerClient({ ...base(), ...(credentials ? { credentials } : {}) });
  const name = uniqueName(`org/${who}/${key}`);
  const password = testPassword();
  values.push(password);
  const out = await sm.send(
    new CreateSecretCommand({ Name: name, SecretString: JSON.stringify({ username: 'app', password }), Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }),
  );
  if (rotate) {
    // A function moto does not know: RotateSecret still turns rotation on and leaves AWSPENDING.
    await sm
      .send(new RotateSecretCommand({ SecretId: out.ARN!, RotationLambdaARN: `arn:aws:lambda:us-east-1:${MANAGEMENT}:function:gone`, RotationRules: { AutomaticallyAfterDays: 30 } }))
      .catch((err: Error) => {
        if (err.name !== 'ResourceNotFoundException') throw err;
      });
  }
  (secretsOf[who] ??= []).push(name);
  return name;
}

beforeAll(async () => {
  moto = await startMoto();
  stsCheck = await startAssumeRoleCheck(moto.endpoint);
  const org = new OrganizationsClient(base());
  await org.send(new CreateOrganizationCommand({ FeatureSet: 'ALL' }));
  for (const who of Object.keys(accounts) as Array<keyof typeof accounts>) {
    const made = await org.send(new CreateAccountCommand({ AccountName: `rotor-${who}`, Email: `${who}@example.com` }));
    accounts[who] = made.CreateAccountStatus!.AccountId!;
  }
  await org.send(new CloseAccountCommand({ AccountId: accounts.closed }));

  const a = await inAccount(accounts.a);
  await readRole(a);
  await seedSecret('a', a, 'db', { [RotorTags.KIND]: 'postgres' }, true);
  await seedSecret('a', a, 'untagged', {});
  const b = await inAccount(accounts.b);
  await readRole(b);
  await readRole(b, 'AuditorRole');
  await seedSecret('b', b, 'deployer', { [RotorTags.KIND]: 'iam' });
  // No read role: the CLI must report this account and go on.
  await seedSecret('norole', await inAccount(accounts.norole), 'hidden', { [RotorTags.KIND]: 'mysql' });
  // The management account: read with the CLI's own credentials.
  await seedSecret('management', undefined, 'central', { [RotorTags.KIND]: 'api-token' });
}, 120_000);

afterAll(async () => {
  await stsCheck?.close();
  await moto?.stop();
});

const env = () => cliEnv(moto.endpoint, { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_STS: stsCheck.endpoint });
const noValues = (text: string) => {
  for (const v of values) expect(text).not.toContain(v);
};

interface StatusJson {
  roleName: string;
  accounts: Array<{ account: string; name?: string; via?: string; secrets?: number; error?: string }>;
  secrets: Array<{ account: string; name: string; kind: string }>;
  failOn?: { matched: Record<string, string[]>; exitCode: number };
}

describe('rotor status --org / --accounts (the real CLI against moto)', () => {
  it("--org: every ACTIVE account, each secret under its own account, an account without the role reported while the others go on", async () => {
    const r = await runCli(['status', '--org', '--json'], env());
    expect(r.stderr).toBe(''); // JSON mode: no progress
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as StatusJson;
    expect(out.roleName).toBe(Organization.READ_ROLE_NAME);
    const byId = Object.fromEntries(out.accounts.map((x) => [x.account, x]));
    expect(Object.keys(byId).sort()).toEqual([MANAGEMENT, accounts.a, accounts.b, accounts.norole].sort()); // not the closed one
    expect(byId[MANAGEMENT]).toMatchObject({ via: 'caller', secrets: 1 });
    expect(byId[accounts.a]).toMatchObject({ name: 'rotor-a', via: 'role', secrets: 1 });
    expect(byId[accounts.b]).toMatchObject({ via: 'role', secrets: 1 });
    expect(byId[accounts.norole]!.error).toContain(`cannot assume arn:aws:iam::${accounts.norole}:role/${Organization.READ_ROLE_NAME} (AccessDenied`);
    expect(byId[accounts.norole]!.secrets).toBeUndefined();
    const accountOf = (name: string) => out.secrets.find((s) => s.name === name)?.account;
    expect(accountOf(secretsOf.a![0]!)).toBe(accounts.a);
    expect(accountOf(secretsOf.b![0]!)).toBe(accounts.b);
    expect(accountOf(secretsOf.management![0]!)).toBe(MANAGEMENT);
    expect(out.secrets.map((s) => s.name)).not.toContain(secretsOf.norole![0]); // never seen: its role is missing
    expect(out.secrets.map((s) => s.name)).not.toContain(secretsOf.a![1]); // untagged: not Rotor's
    expect(stsCheck.refused).toContain(`arn:aws:iam::${accounts.norole}:role/${Organization.READ_ROLE_NAME}`);
    noValues(r.stdout + r.stderr);
  });

  it('--accounts: the table gains an ACCOUNT column; an unreadable account counts for --fail-on (exit 4)', async () => {
    const r = await runCli(['status', '--accounts', `${accounts.a},${accounts.norole}`, '--fail-on', 'overdue'], env());
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/^ACCOUNT\s+NAME\s+KIND/m);
    expect(r.stdout).toMatch(new RegExp(`^${accounts.a}\\s+${secretsOf.a![0]!.replace(/[/]/g, '\\/')}\\s+postgres`, 'm'));
    expect(r.stdout).toContain('in us-east-1, 1 of 2 account(s)');
    expect(r.stdout).toContain(`! account ${accounts.norole} not read: cannot assume arn:aws:iam::${accounts.norole}:role/${Organization.READ_ROLE_NAME}`);
    expect(r.stderr).toContain(`rotor: --fail-on overdue: 1 account-unreadable (${accounts.norole})`);
    noValues(r.stdout + r.stderr);
  });

  it('--role-name: another role; an account where it is missing is reported', async () => {
    const r = await runCli(['status', '--accounts', `${accounts.a},${accounts.b}`, '--role-name', 'AuditorRole', '--json'], env());
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as StatusJson;
    expect(out.roleName).toBe('AuditorRole');
    expect(out.accounts.find((x) => x.account === accounts.b)).toMatchObject({ via: 'role', secrets: 1 });
    expect(out.accounts.find((x) => x.account === accounts.a)?.error).toContain(`cannot assume arn:aws:iam::${accounts.a}:role/AuditorRole`);
  });

  it('shows progress per account on a terminal (stderr), none in a pipe', async () => {
    const piped = await runCli(['status', '--accounts', accounts.a], env());
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
    if (!scriptCommand) return;
    const tty = await runCliOnTerminal(['status', '--accounts', `${accounts.a},${accounts.b}`], env(), '', 60_000);
    expect(tty.code).toBe(0);
    expect(tty.stdout).toContain(`rotor status: account 1/2 (${accounts.a})`);
    expect(tty.stdout).toContain(`rotor status: account 2/2 (${accounts.b})`);
  });

  it('fails (exit 1) when no account can be read, naming each and why', async () => {
    const r = await runCli(['status', '--accounts', accounts.norole], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`rotor: no account could be read: ${accounts.norole}: cannot assume arn:aws:iam::${accounts.norole}:role/${Organization.READ_ROLE_NAME}`);
  });

  it.each([
    [['status', '--accounts', '12345'], "--accounts: '12345' is not a 12-digit account id"],
    [['status', '--accounts', `${MANAGEMENT}`, '--org'], '--accounts and --org: pass one of them'],
    [['status', '--role-name', 'RotorReadOnly'], '--role-name applies only with --accounts or --org'],
    [['audit', '--org', '--role-name', 'arn:aws:iam::1:role/x'], "--role-name: 'arn:aws:iam::1:role/x' is not an IAM role name"],
  ])('usage: %j', async (args, message) => {
    const r = await runCli(args, env());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});

interface AuditJson {
  roleName: string;
  accounts: Array<{ account: string; via?: string; error?: string; counts?: Record<string, number>; checked?: { secrets: number } }>;
  secrets: Array<{ account: string; name: string; findings: Array<{ condition: string }> }>;
  counts: Record<string, number>;
  checked: { accounts: number; unreadable: number; secrets: number };
  failOn?: { matched: Record<string, number>; exitCode: number };
}

describe('rotor audit --org / --accounts (the real CLI against moto)', () => {
  it("--org: every account's findings under its account, the counts summed, the account without the role reported", async () => {
    const r = await runCli(['audit', '--org', '--json', '--no-iam'], env());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as AuditJson;
    expect(out.checked).toMatchObject({ accounts: 4, unreadable: 1 });
    const of = (name: string) => out.secrets.find((s) => s.name === name);
    expect(of(secretsOf.a![0]!)).toMatchObject({ account: accounts.a });
    expect(of(secretsOf.a![0]!)!.findings.map((f) => f.condition)).toContain('function-missing');
    expect(of(secretsOf.a![1]!)).toMatchObject({ account: accounts.a }); // the audit sees every secret, not only Rotor's
    expect(of(secretsOf.b![0]!)).toMatchObject({ account: accounts.b });
    expect(of(secretsOf.management![0]!)).toMatchObject({ account: MANAGEMENT });
    expect(of(secretsOf.norole![0]!)).toBeUndefined();
    const a = out.accounts.find((x) => x.account === accounts.a)!;
    expect(a.checked?.secrets).toBe(2);
    expect(out.accounts.find((x) => x.account === accounts.norole)?.error).toContain('cannot assume');
    for (const c of Object.keys(out.counts)) {
      expect(out.counts[c], c).toBe(out.accounts.reduce((n, x) => n + (x.counts?.[c] ?? 0), 0));
    }
    expect(out.counts['rotation-off']).toBeGreaterThanOrEqual(3);
    noValues(r.stdout + r.stderr);
  });

  it('the table names the account of each finding and the account not audited; --fail-on counts it (exit 4)', async () => {
    const r = await runCli(['audit', '--accounts', `${accounts.b},${accounts.norole}`, '--no-iam', '--fail-on', 'function-missing'], env());
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/^account\s+region\s+secret\s+rotor\s+findings/m);
    expect(r.stdout).toMatch(new RegExp(`^${accounts.b}\\s+us-east-1\\s+${secretsOf.b![0]!.replace(/[/]/g, '\\/')}\\s+iam`, 'm'));
    expect(r.stdout).toContain('in 1 of 2 account(s) (role RotorReadOnly); no secret value was read.');
    expect(r.stdout).toContain(`! account ${accounts.norole} not audited: cannot assume`);
    expect(r.stderr).toBe('rotor: --fail-on function-missing: 1 account-unreadable\n');
    noValues(r.stdout + r.stderr);
  });

  it('IAM keys too: each account audits its own users (no user anywhere here: none checked, none failed)', async () => {
    const r = await runCli(['audit', '--accounts', accounts.a, '--json'], env());
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as AuditJson & { accessKeys: unknown[] };
    expect(out.accounts).toEqual([expect.objectContaining({ account: accounts.a, via: 'role', checked: { secrets: 2, accessKeys: 0 } })]);
    expect(out.accessKeys).toEqual([]);
  });
});
