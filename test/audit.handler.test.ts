/**
 * The scheduled audit function (lambdas/audit) run locally against moto with a seeded account:
 * secrets in each state (rotation off and never rotated, a Rotor function, someone else's, a
 * missing one, a recorded failure, an AWSPENDING left behind), IAM keys a secret holds or not. It
 * publishes one AuditFindings count per condition (EMF captured from its output) with the
 * dimensions and name the stack's alarms and dashboard read (the templates of AuditSchedule and
 * RotorStack), logs names only, and prints no secret value. The built bundle
 * (dist/lambdas/audit/index.js, what the construct deploys) runs too, with its stand-ins.
 */
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, IAMClient, TagUserCommand } from '@aws-sdk/client-iam';
import { keyMarker } from '../lambdas/iam/accessKeys.js';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateSecretCommand, RotateSecretCommand, SecretsManagerClient, TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config as exampleConfig } from '../examples/app/rotor.config.js';
import { AUDIT_CONDITIONS, MetricDimensions, RotorMetrics, RotorTags, ServiceNames, settings, type AuditCondition } from '../lambdas/contract/index.js';
import { plainFingerprint } from '../lambdas/core/fingerprint.js';
import { createScheduledAuditHandler, type ScheduledAuditResult } from '../lambdas/audit/scheduledAudit.js';
import { ConfigurationError } from '../lambdas/core/errors.js';
import { RotorStack } from '../lib/rotor-stack.js';
import { fakeAccessKeyId } from '../bin/local/awsAdmin.js';
import { lambdaContext } from '../bin/local/harness.js';
import { awsEnvFor, startMoto, type MotoServer } from '../bin/local/moto.js';
import { testPassword, uniqueName } from '../bin/local/postgres.js';
import { builtHandler } from './support/builtBundle.js';
import { LogCapture } from './support/logCapture.js';

let moto: MotoServer;
const values: string[] = [];
const names: Record<string, string> = {};
let strayKey = '';
let heldKey = '';
let orphanKey = '';
const savedEnv = { ...process.env };

async function createFunction(name: string, environment?: Record<string, string>): Promise<string> {
  const role = (await new IAMClient({}).send(new CreateRoleCommand({ RoleName: `${name}-role`, AssumeRolePolicyDocument: '{}' }))).Role!;
  const fn = await new LambdaClient({}).send(
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
  names[key] = uniqueName(`sched-audit/${key}`);
  const out = await sm.send(
    new CreateSecretCommand({ Name: names[key], SecretString: JSON.stringify(value), Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }),
  );
  return out.ARN!;
}

/** RotateSecret as the service does: rotation on, LastRotatedDate set, an AWSPENDING version left for the function. */
async function rotateWith(sm: SecretsManagerClient, secretId: string, functionArn: string) {
  try {
    await sm.send(new RotateSecretCommand({ SecretId: secretId, RotationLambdaARN: functionArn, RotationRules: { AutomaticallyAfterDays: 30 } }));
  } catch (err) {
    if ((err as Error).name !== 'ResourceNotFoundException') throw err;
  }
}

beforeAll(async () => {
  moto = await startMoto();
  // The handler builds its SDK clients from the environment, as on Lambda.
  Object.assign(process.env, awsEnvFor(moto.endpoint), { AWS_EC2_METADATA_DISABLED: 'true' });
  delete process.env.AWS_PROFILE;
  await fetch(`${moto.endpoint}/moto-api/config`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lambda: { use_docker: false } }) });
  const sm = new SecretsManagerClient({});
  const rotorFn = await createFunction('rotor-rotation', { [settings.serviceName.name]: ServiceNames.ROTATION });
  const otherFn = await createFunction('legacy-rotation', { SOMETHING: 'else' });
  await seed(sm, 'plain');
  await rotateWith(sm, await seed(sm, 'rotor', { [RotorTags.KIND]: 'postgres' }), rotorFn);
  await rotateWith(sm, await seed(sm, 'other'), otherFn);
  await rotateWith(sm, await seed(sm, 'missing'), 'arn:aws:lambda:us-east-1:123456789012:function:deleted-long-ago');
  const failed = await seed(sm, 'failed', { [RotorTags.KIND]: 'mysql' });
  await rotateWith(sm, failed, rotorFn);
  await sm.send(new TagResourceCommand({ SecretId: failed, Tags: [{ Key: RotorTags.LAST_FAILURE, Value: 'setSecret 2026-11-30T03:00:00Z DatabaseUnreachable' }] }));

  const iam = new IAMClient({});
  const user = uniqueName('deployer');
  await iam.send(new CreateUserCommand({ UserName: user }));
  for (const which of ['held', 'stray'] as const) {
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
    values.push(key.SecretAccessKey!);
    if (which === 'held') heldKey = key.AccessKeyId!;
    else strayKey = key.AccessKeyId!;
  }
  await seed(sm, 'iamkey', { [RotorTags.KIND]: 'iam', [RotorTags.FINGERPRINT_CURRENT]: plainFingerprint(heldKey) });

  // Keys the IAM kind made: marked on their user for their secret, whose fingerprint tag is keyed
  // (unreadable without Rotor's key). One marked for this secret (held), one for a secret that is gone.
  const rotated = uniqueName('rotated');
  await iam.send(new CreateUserCommand({ UserName: rotated }));
  const keyedArn = await seed(sm, 'iamkeyed', { [RotorTags.KIND]: 'iam', [RotorTags.FINGERPRINT_CURRENT]: `k1:${'0'.repeat(32)}` });
  for (const [which, secretArn] of [['marked', keyedArn], ['orphan', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf']] as const) {
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: rotated }))).AccessKey!;
    values.push(key.SecretAccessKey!);
    await iam.send(new TagUserCommand({ UserName: rotated, Tags: [{ Key: key.AccessKeyId!, Value: keyMarker(secretArn) }] }));
    if (which === 'orphan') orphanKey = key.AccessKeyId!;
  }
}, 120_000);

afterAll(async () => {
  await moto?.stop();
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
});

interface Emitted {
  readonly namespace: string;
  readonly name: string;
  readonly value: unknown;
  /** Dimension name → value, as the EMF record carries them. */
  readonly dimensions: Record<string, string>;
}

/** Every metric of the EMF records in what the handler printed. */
function emitted(records: Array<Record<string, unknown>>): Emitted[] {
  const out: Emitted[] = [];
  for (const record of records) {
    const aws = record._aws as { CloudWatchMetrics?: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> } | undefined;
    for (const directive of aws?.CloudWatchMetrics ?? []) {
      for (const dims of directive.Dimensions) {
        for (const m of directive.Metrics) {
          out.push({ namespace: directive.Namespace, name: m.Name, value: record[m.Name], dimensions: Object.fromEntries(dims.map((d) => [d, String(record[d])])) });
        }
      }
    }
  }
  return out;
}

/** The count of one condition in the EMF output (exactly one record per condition). */
function countOf(metrics: Emitted[], condition: AuditCondition): unknown {
  const found = metrics.filter((m) => m.name === RotorMetrics.AUDIT_FINDINGS && m.dimensions.condition === condition);
  expect(found, condition).toHaveLength(1);
  return found[0]!.value;
}

async function runCaptured(handler: (event: unknown, context: never) => Promise<unknown>) {
  const logs = new LogCapture().start();
  let result: ScheduledAuditResult;
  try {
    result = (await handler({}, lambdaContext('rotor-audit') as never)) as ScheduledAuditResult;
  } finally {
    logs.stop();
  }
  return { result, logs, metrics: emitted(logs.records()) };
}

const HUNDRED_DAYS = 100 * 86_400_000;

describe('the scheduled audit function (against a seeded moto account)', () => {
  it('publishes one AuditFindings count per condition (zeros too) and SecretsChecked, and logs names only', async () => {
    const handler = createScheduledAuditHandler({ env: { ...process.env, [settings.auditRegions.name]: 'us-east-1' } });
    const { result, logs, metrics } = await runCaptured(handler);
    const audit = metrics.filter((m) => m.name === RotorMetrics.AUDIT_FINDINGS);
    expect(audit.map((m) => m.dimensions.condition).sort()).toEqual([...AUDIT_CONDITIONS].sort());
    for (const m of audit) {
      expect(m.namespace).toBe(RotorMetrics.NAMESPACE);
      expect(Object.keys(m.dimensions).sort()).toEqual([...MetricDimensions.AUDIT].sort());
      expect(m.dimensions.service).toBe(ServiceNames.AUDIT);
    }
    // Seeded: plain (off, never), other (not Rotor's), missing (never rotated, no such function), failed.
    expect(countOf(metrics, 'rotation-off')).toBeGreaterThanOrEqual(1);
    expect(countOf(metrics, 'function-not-rotor')).toBe(1);
    expect(countOf(metrics, 'function-missing')).toBe(1);
    expect(countOf(metrics, 'last-rotation-failed')).toBe(1);
    expect(countOf(metrics, 'overdue')).toBe(0);
    expect(countOf(metrics, 'old-unmanaged-key')).toBe(0);
    expect(countOf(metrics, 'replica-out-of-sync')).toBe(0);
    expect(result.counts).toMatchObject({ 'function-not-rotor': 1, 'function-missing': 1, 'last-rotation-failed': 1, overdue: 0 });
    const checked = metrics.find((m) => m.name === RotorMetrics.SECRETS_CHECKED);
    expect(checked).toMatchObject({ namespace: RotorMetrics.NAMESPACE, dimensions: { service: ServiceNames.AUDIT } });
    expect(checked!.value).toBe(result.checked.secrets);
    expect(result.checked.secrets).toBeGreaterThanOrEqual(7);

    const finished = logs.records().find((r) => r.message === 'audit finished')!;
    expect(finished).toMatchObject({ level: 'INFO', service: ServiceNames.AUDIT, regions: ['us-east-1'] });
    const flagged = finished.secrets as Array<{ name: string; conditions: string[] }>;
    expect(flagged.find((s) => s.name === names.failed)?.conditions).toEqual(['last-rotation-failed']);
    expect(flagged.find((s) => s.name === names.other)?.conditions).toEqual(['function-not-rotor']);
    expect(flagged.find((s) => s.name === names.rotor)).toBeUndefined(); // a Rotor function, rotated, not yet stuck
    expect(logs.leaks(values)).toEqual([]);
  });

  it('judges at its clock: later, rotations are overdue, AWSPENDING stuck, and the key no secret holds is old', async () => {
    const later = new Date(Date.now() + HUNDRED_DAYS);
    const handler = createScheduledAuditHandler({ now: () => later, env: { ...process.env, [settings.auditKeyMaxAgeDays.name]: '30' } });
    const { result, logs, metrics } = await runCaptured(handler);
    expect(countOf(metrics, 'overdue')).toBe(result.counts.overdue);
    expect(result.counts.overdue).toBeGreaterThanOrEqual(3); // rotor, other, failed: rotated once, every 30 days
    expect(countOf(metrics, 'stuck')).toBe(result.counts.stuck);
    expect(result.counts.stuck).toBeGreaterThanOrEqual(4);
    expect(countOf(metrics, 'old-unmanaged-key')).toBe(2);
    const finished = logs.records().find((r) => r.message === 'audit finished')!;
    // Held: one by a legacy fingerprint tag, one by the IAM kind's marker for a listed secret. Not: one
    // no secret names, one marked for a secret that no longer exists.
    expect((finished.accessKeys as Array<{ accessKeyId: string }>).map((k) => k.accessKeyId).sort()).toEqual([strayKey, orphanKey].sort());
    expect(logs.leaks(values)).toEqual([]);
  });

  it("the alarms and the dashboard read exactly the series the function emitted (namespace, name, dimension names and values)", async () => {
    const handler = createScheduledAuditHandler({ env: { ...process.env } });
    const { metrics } = await runCaptured(handler);
    const key = (namespace: string, name: string, dims: Record<string, string>) =>
      `${namespace}|${name}|${Object.entries(dims).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(',')}`;
    const seen = new Set(metrics.map((m) => key(m.namespace, m.name, m.dimensions)));

    const stack = new RotorStack(new App(), 'Rotor', { config: { ...exampleConfig, audit: {} }, env: { account: '123456789012', region: 'eu-west-1' } });
    const template = Template.fromStack(stack);
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: RotorMetrics.AUDIT_FINDINGS } }));
    expect(alarms).toHaveLength(2);
    for (const a of alarms) {
      const dims = Object.fromEntries((a.Properties.Dimensions as Array<{ Name: string; Value: string }>).map((d) => [d.Name, d.Value]));
      expect(seen, JSON.stringify(dims)).toContain(key(a.Properties.Namespace, a.Properties.MetricName, dims));
    }
    const body = template.findResources('AWS::CloudWatch::Dashboard');
    const raw = Object.values(body)[0]!.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] } | string;
    const text = typeof raw === 'string' ? raw : raw['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : 'eu-west-1')).join('');
    const rows = (JSON.parse(text) as { widgets: Array<{ properties: { metrics?: unknown[][] } }> }).widgets
      .flatMap((w) => w.properties.metrics ?? [])
      .map((row) => row.filter((x): x is string => typeof x === 'string'))
      .filter((row) => row[1] === RotorMetrics.AUDIT_FINDINGS);
    expect(rows.length).toBe(2 * AUDIT_CONDITIONS.length);
    for (const [namespace, name, ...pairs] of rows) {
      const dims: Record<string, string> = {};
      for (let i = 0; i + 1 < pairs.length; i += 2) dims[pairs[i]!] = pairs[i + 1]!;
      expect(seen, JSON.stringify(dims)).toContain(key(namespace!, name!, dims));
    }
  });

  it('the built bundle (dist/lambdas/audit, as deployed) runs the same audit with its own stand-ins', async () => {
    // The bundle reads its settings when it loads, as on Lambda.
    process.env[settings.auditRegions.name] = 'us-east-1';
    const handler = builtHandler('audit');
    const { result, logs, metrics } = await runCaptured(handler as never);
    expect(countOf(metrics, 'function-missing')).toBe(1);
    expect(countOf(metrics, 'function-not-rotor')).toBe(1);
    expect(countOf(metrics, 'last-rotation-failed')).toBe(1);
    for (const c of AUDIT_CONDITIONS) expect(countOf(metrics, c), c).toBe(result.counts[c]);
    expect(result.checked).toEqual({ secrets: 7, accessKeys: 4 });
    expect(logs.leaks(values)).toEqual([]);
  });

  it('a run that cannot list fails (the error alarm) and publishes no count (no zero that would look like a clean account)', async () => {
    // A second moto that checks signatures from the first call: the dummy credentials are refused.
    const strict = await startMoto({ initialNoAuthActionCount: 0 });
    try {
      const refused = new SecretsManagerClient({ endpoint: strict.endpoint, region: 'us-east-1', credentials: { accessKeyId: fakeAccessKeyId(), secretAccessKey: testPassword() }, maxAttempts: 1 });
      const handler = createScheduledAuditHandler({ env: { AWS_REGION: 'us-east-1' }, clients: { secretsFor: () => refused, functionKind: async () => 'unknown' } });
      const logs = new LogCapture().start();
      let error: unknown;
      try {
        await handler({}, lambdaContext('rotor-audit') as never);
      } catch (err) {
        error = err;
      } finally {
        logs.stop();
      }
      expect(error).toBeInstanceOf(Error);
      expect((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(403); // moto refused ListSecrets
      expect(emitted(logs.records()).filter((m) => m.name === RotorMetrics.AUDIT_FINDINGS)).toEqual([]);
      refused.destroy();
    } finally {
      await strict.stop();
    }
  });

  it('a bad setting is a ConfigurationError naming the variable, never its value', () => {
    expect(() => createScheduledAuditHandler({ env: { [settings.auditRegions.name]: 'mars' } })).toThrow(ConfigurationError);
    expect(() => createScheduledAuditHandler({ env: { [settings.auditRegions.name]: 'mars' } })).toThrow(/scheduled audit: environment variable AUDIT_REGIONS is invalid/);
    expect(() => createScheduledAuditHandler({ env: { AWS_REGION: 'us-east-1', [settings.auditKeyMaxAgeDays.name]: '-3' } })).toThrow(/AUDIT_KEY_MAX_AGE_DAYS is invalid/);
    expect(() => createScheduledAuditHandler({ env: {} })).toThrow(/neither AUDIT_REGIONS nor AWS_REGION is set/);
  });
});
