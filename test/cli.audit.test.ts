/**
 * `rotor audit` against moto with a seeded account: secrets in each state (rotation off, never
 * rotated, a Rotor function, someone else's function, a missing function, a recorded failure,
 * a stuck AWSPENDING, overdue), two regions, and IAM users whose keys a secret holds or not.
 * Replica status is the one branch moto cannot seed (its replicas are always InSync): that is
 * tested with a stand-in for DescribeSecret only.
 */
import { CreateSecretCommand, DescribeSecretCommand, ListSecretsCommand, RotateSecretCommand, SecretsManagerClient, TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateRoleCommand } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RotorTags } from '../lambdas/contract/index.js';
import { plainFingerprint } from '../lambdas/core/fingerprint.js';
import { collectAudit, type AuditReport } from '../bin/cli/audit.js';
import { startMoto, type MotoServer } from '../bin/local/moto.js';
import { testPassword, uniqueName } from '../bin/local/postgres.js';
import { cliEnv, runCli, runCliOnTerminal, scriptCommand } from './support/cli.js';

let moto: MotoServer;
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const aws = (region = 'us-east-1') => ({ endpoint: moto.endpoint, region, credentials });
const names: Record<string, string> = {};
const values: string[] = [];
let heldKey = '';
let strayKey = '';
let startedAt = 0;

async function createFunction(name: string, environment?: Record<string, string>): Promise<string> {
  const iam = new IAMClient(aws());
  const role = (await iam.send(new CreateRoleCommand({ RoleName: `${name}-role`, AssumeRolePolicyDocument: '{}' }))).Role!;
  const fn = await new LambdaClient(aws()).send(
    new CreateFunctionCommand({
      FunctionName: name,
      Runtime: 'nodejs20.x',
      Role: role.Arn!,
      Handler: 'index.handler',
      Code: { ZipFile: Buffer.from('UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==', 'base64') },
      Environment: environment ? { Variables: environment } : undefined,
    }),
  );
  return fn.FunctionArn!;
}

async function seed(sm: SecretsManagerClient, key: string, tags: Record<string, string> = {}): Promise<string> {
  const value = { username: uniqueName('app'), password: testPassword() };
  values.push(value.password);
  names[key] = uniqueName(`audit/${key}`);
  const out = await sm.send(
    new CreateSecretCommand({ Name: names[key], SecretString: JSON.stringify(value), Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }),
  );
  return out.ARN!;
}

/** RotateSecret as the service does: moto leaves rotation on, LastRotatedDate set and an AWSPENDING version. */
async function rotateWith(sm: SecretsManagerClient, secretId: string, functionArn: string) {
  try {
    await sm.send(new RotateSecretCommand({ SecretId: secretId, RotationLambdaARN: functionArn, RotationRules: { AutomaticallyAfterDays: 30 } }));
  } catch (err) {
    if ((err as Error).name !== 'ResourceNotFoundException') throw err;
  }
}

beforeAll(async () => {
  moto = await startMoto();
  await fetch(`${moto.endpoint}/moto-api/config`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lambda: { use_docker: false } }) });
  startedAt = Date.now();
  const sm = new SecretsManagerClient(aws());
  const rotorFn = await createFunction('rotor-rotation', { POWERTOOLS_SERVICE_NAME: 'rotor' });
  const otherFn = await createFunction('legacy-rotation', { SOMETHING: 'else' });

  await seed(sm, 'plain');
  await rotateWith(sm, await seed(sm, 'rotor', { [RotorTags.KIND]: 'postgres' }), rotorFn);
  await rotateWith(sm, await seed(sm, 'other'), otherFn);
  await rotateWith(sm, await seed(sm, 'missing'), 'arn:aws:lambda:us-east-1:123456789012:function:deleted-long-ago');
  const failed = await seed(sm, 'failed', { [RotorTags.KIND]: 'mysql' });
  await rotateWith(sm, failed, rotorFn);
  await sm.send(new TagResourceCommand({ SecretId: failed, Tags: [{ Key: RotorTags.LAST_FAILURE, Value: 'setSecret 2026-11-30T03:00:00Z DatabaseUnreachable' }] }));
  await seed(new SecretsManagerClient(aws('eu-west-1')), 'ireland');

  // IAM: two keys of one user; a Rotor IAM secret holds one of them (by its fingerprint tag).
  const iam = new IAMClient(aws());
  const user = uniqueName('deployer');
  await iam.send(new CreateUserCommand({ UserName: user }));
  for (const which of ['held', 'stray'] as const) {
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
    values.push(key.SecretAccessKey!);
    if (which === 'held') heldKey = key.AccessKeyId!;
    else strayKey = key.AccessKeyId!;
  }
  await seed(sm, 'iamkey', { [RotorTags.KIND]: 'iam', [RotorTags.FINGERPRINT_CURRENT]: plainFingerprint(heldKey) });
}, 60_000);

afterAll(async () => {
  await moto?.stop();
});

const env = () => cliEnv(moto.endpoint, { AWS_REGION: 'us-east-1' });
const findings = (report: AuditReport, key: string) =>
  report.secrets.find((s) => s.name === names[key])?.findings.map((f) => f.condition).sort() ?? ['(not listed)'];

describe('rotor audit (the real CLI against a seeded moto account)', () => {
  it('judges every secret of the region, not only Rotor\'s, and reads no value', async () => {
    const r = await runCli(['audit', '--output', 'json'], env());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as AuditReport;
    expect(report.regions).toEqual(['us-east-1']);
    expect(findings(report, 'plain')).toEqual(['never-rotated', 'rotation-off']);
    expect(findings(report, 'rotor')).toEqual([]);
    expect(findings(report, 'other')).toEqual(['function-not-rotor']);
    expect(findings(report, 'missing')).toEqual(['function-missing', 'never-rotated']); // RotateSecret never reached a function
    expect(findings(report, 'failed')).toEqual(['last-rotation-failed']);
    expect(report.secrets.find((s) => s.name === names.failed)?.findings[0]?.detail).toBe('last rotation failed: setSecret 2026-11-30T03:00:00Z DatabaseUnreachable');
    expect(findings(report, 'ireland')).toEqual(['(not listed)']); // another region
    // The keys are new: none is older than 90 days.
    expect(report.accessKeys).toEqual([]);
    expect(report.checked.accessKeys).toBeGreaterThanOrEqual(2);
    for (const v of values) expect(r.stdout + r.stderr).not.toContain(v);
  });

  it('--at later: AWSPENDING stuck, rotations overdue against their own schedule, old keys no secret holds', async () => {
    const later = new Date(startedAt + 100 * 86_400_000).toISOString();
    const r = await runCli(['audit', '--json', '--at', later, '--regions', 'us-east-1,eu-west-1'], env());
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as AuditReport;
    expect(report.regions).toEqual(['us-east-1', 'eu-west-1']);
    expect(findings(report, 'rotor')).toEqual(['overdue', 'stuck']);
    expect(findings(report, 'ireland')).toEqual(['never-rotated', 'rotation-off']);
    expect(report.accessKeys.map((k) => k.accessKeyId)).toEqual([strayKey]); // the held one is Rotor's
    expect(report.accessKeys[0]).toMatchObject({ condition: 'old-unmanaged-key', ageDays: expect.any(Number) });
    expect(report.counts).toMatchObject({ stuck: 4, 'old-unmanaged-key': 1, 'function-missing': 1, 'function-not-rotor': 1, 'last-rotation-failed': 1 });
  });

  it('prints a table for people, and exits 4 on --fail-on naming the counts', async () => {
    const r = await runCli(['audit', '--fail-on', 'function-missing,replica-out-of-sync', '--no-iam'], env());
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/Audited \d+ secret\(s\) in us-east-1 and 0 IAM access key\(s\); no secret value was read\./);
    expect(r.stdout).toContain(names.missing);
    expect(r.stdout).toMatch(/rotation function arn:aws:lambda:us-east-1:123456789012:function:deleted-long-ago does not exist/);
    expect(r.stderr).toContain('rotor: --fail-on function-missing,replica-out-of-sync: 1 function-missing');
    const usage = await runCli(['audit', '--fail-on', 'everything'], env());
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--fail-on: unknown condition 'everything' (choose from rotation-off, never-rotated, overdue");
  });

  it('--all-regions audits every enabled region, with progress on a terminal and none in JSON', async () => {
    const json = await runCli(['audit', '--all-regions', '--json', '--no-iam'], env());
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as AuditReport;
    expect(report.regions.length).toBeGreaterThan(10);
    expect(report.regions).toContain('eu-west-1');
    expect(findings(report, 'ireland')).toEqual(['never-rotated', 'rotation-off']);
    expect(json.stderr).toBe('');
    if (!scriptCommand) return;
    const tty = await runCliOnTerminal(['audit', '--all-regions', '--no-iam'], env(), '', 60_000);
    expect(tty.code).toBe(0);
    expect(tty.stdout).toMatch(new RegExp(`rotor audit: region 1/${report.regions.length} \\(`));
  });
});

describe('collectAudit: replicas (moto reports every replica InSync; DescribeSecret answered by a stand-in)', () => {
  it('reports a replica that is not in sync, naming its region and the service\'s message', async () => {
    const client = new SecretsManagerClient({ region: 'us-east-1', credentials });
    const sm = mockClient(client);
    sm.on(ListSecretsCommand).resolves({ SecretList: [{ ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf', Name: 'app', RotationEnabled: true, LastRotatedDate: new Date(), RotationLambdaARN: 'arn:fn' }] });
    sm.on(DescribeSecretCommand).resolves({
      ReplicationStatus: [
        { Region: 'eu-west-1', Status: 'InSync' },
        { Region: 'ap-south-1', Status: 'Failed', StatusMessage: 'the KMS key does not exist in ap-south-1' },
      ],
    });
    const report = await collectAudit({ secretsFor: () => client, functionKind: async () => 'rotor' }, { regions: ['us-east-1'], now: new Date() });
    expect(report.secrets[0]?.findings).toEqual([
      { condition: 'replica-out-of-sync', detail: 'replica in ap-south-1 is Failed: the KMS key does not exist in ap-south-1' },
    ]);
    expect(report.counts['replica-out-of-sync']).toBe(1);
    sm.restore();
  });
});
