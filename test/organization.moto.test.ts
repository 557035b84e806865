/**
 * The Organizations shape against moto's server: the publisher uploads what the synthesized member
 * template names to moto's S3, and the central account's routing patterns, taken from the
 * synthesized templates, route sample events through moto's EventBridge. moto cannot run the
 * cross-account targets themselves (a member account's bus, an IAM role): each member's bus is
 * stood in for by an SQS queue, the target moto delivers to. moto's TestEventPattern is a stub
 * (moto 5.2.1 answers it with no Result for any pattern), so real delivery is the evidence here.
 */
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { CreateEventBusCommand, EventBridgeClient, PutEventsCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { App } from 'aws-cdk-lib';
import { unzipSync } from 'fflate';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { publishAssets, PublishAssetsError } from '../bin/cli/publishAssets.js';
import { fakeAccessKeyId } from '../bin/local/awsAdmin.js';
import { startMoto, type MotoServer } from '../bin/local/moto.js';
import { member as exampleMember, organization as exampleOrganization } from '../examples/organization/organization.config.js';
import { AwsEvents, Organization, RotorEvents } from '../lambdas/contract/index.js';
import { parseLeakEvent } from '../lambdas/emergency/events.js';
import { LambdaAssets, MEMBER_ASSETS_MANIFEST_SUFFIX, OrganizationShape, type MemberAssetsManifest, type OrganizationConfig } from '../lib/index.js';

const REGION = 'eu-west-1';
const MEMBERS = ['222222222222', '333333333333'];
/** moto puts every event as its default account: here, the central account (the leak reporter). */
const MOTO_ACCOUNT = '123456789012';
const organization: OrganizationConfig = { ...exampleOrganization, centralAccount: MOTO_ACCOUNT, region: REGION, memberAccounts: MEMBERS };
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

let moto: MotoServer;
const dirs: string[] = [];
let assembly: string;
let manifest: MemberAssetsManifest;
let memberTemplate: { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };
type Templates = Array<{ Resources: Record<string, { Type: string; Properties: Record<string, any> }> }>;
let centralTemplates: Templates;

/** The central account's synthesized templates (central stack, Health routers) of a shape. */
function synthCentral(org: OrganizationConfig, outdir: string): Templates {
  const app = new App({ outdir });
  const shape = new OrganizationShape(app, { organization: org, member: exampleMember });
  app.synth();
  return [shape.central, ...shape.healthRouters].map((s) => JSON.parse(readFileSync(join(outdir, s.templateFile), 'utf8')));
}

const s3For = (region: string) => new S3Client({ region, endpoint: moto.endpoint, forcePathStyle: true, credentials, maxAttempts: 2 });

beforeAll(async () => {
  moto = await startMoto();
  assembly = mkdtempSync(join(tmpdir(), 'rotor-org-publish-'));
  dirs.push(assembly);
  const app = new App({ outdir: assembly });
  const shape = new OrganizationShape(app, { organization, member: exampleMember });
  app.synth();
  manifest = JSON.parse(readFileSync(join(assembly, `${shape.central.memberStack.artifactId}${MEMBER_ASSETS_MANIFEST_SUFFIX}`), 'utf8')) as MemberAssetsManifest;
  memberTemplate = JSON.parse(readFileSync(join(assembly, shape.central.memberStack.templateFile), 'utf8'));
  centralTemplates = [shape.central, ...shape.healthRouters].map((s) => JSON.parse(readFileSync(join(assembly, s.templateFile), 'utf8')));
});

afterAll(async () => {
  await moto?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await moto.reset();
});

async function createBucket(name: string): Promise<S3Client> {
  const s3 = s3For(REGION);
  await s3.send(new CreateBucketCommand({ Bucket: name, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  return s3;
}

describe('publish-assets (bin/cli/publishAssets.ts) against moto S3', () => {
  it('uploads every object the member template names, under its keys, and the template the StackSet reads', async () => {
    // Prepare
    const s3 = await createBucket('example-rotor-assets-eu-west-1');
    // Act
    const results = await publishAssets({ assemblyDir: assembly, s3For });
    // Assess: every Lambda's S3Key is in the bucket, as a zip of the bundle the package ships.
    expect(results.map((r) => r.action)).toEqual(results.map(() => 'uploaded'));
    const functions = Object.values(memberTemplate.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(functions).toHaveLength(5);
    const byDescription = new Map(functions.map((f) => [String(f.Properties.Description), f.Properties.Code.S3Key as string]));
    for (const [description, bundle] of [
      ['Rotor postgres rotation', 'postgres'],
      ['Rotor iam rotation', 'iam'],
      ['Rotor emergency rotation and revocation', 'emergency'],
      ['Rotor: retire previous values of dual-active secrets after their grace window', 'retire'],
    ] as const) {
      const key = byDescription.get(description);
      expect(key, description).toBeDefined();
      const zip = unzipSync(new Uint8Array(await (await s3.send(new GetObjectCommand({ Bucket: 'example-rotor-assets-eu-west-1', Key: key! }))).Body!.transformToByteArray()));
      expect(Buffer.from(zip['index.js']!).equals(readFileSync(join(LambdaAssets.directory(bundle), 'index.js'))), `${bundle} index.js`).toBe(true);
    }
    for (const fn of functions) {
      await expect(s3.send(new HeadObjectCommand({ Bucket: 'example-rotor-assets-eu-west-1', Key: fn.Properties.Code.S3Key }))).resolves.toBeDefined();
    }
    const template = await s3.send(new GetObjectCommand({ Bucket: 'example-rotor-assets-eu-west-1', Key: manifest.template.key }));
    expect(JSON.parse(await template.Body!.transformToString())).toEqual(memberTemplate);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'example-rotor-assets-eu-west-1' }));
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual([...manifest.files.map((f) => f.key), manifest.template.key].sort());
  });

  it('leaves objects already published alone (content-addressed keys): a second run uploads nothing', async () => {
    await createBucket('example-rotor-assets-eu-west-1');
    await publishAssets({ assemblyDir: assembly, s3For });
    const again = await publishAssets({ assemblyDir: assembly, s3For });
    expect(again).toHaveLength(manifest.files.length + 1);
    expect(new Set(again.map((r) => r.action))).toEqual(new Set(['present']));
  });

  it("refuses a missing bucket, naming it and what to deploy, and uploads nothing", async () => {
    await createBucket('some-other-bucket');
    const err = await publishAssets({ assemblyDir: assembly, s3For }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishAssetsError);
    expect((err as Error).message).toMatch(/^bucket example-rotor-assets-eu-west-1 \(region eu-west-1\) is missing or not yours: deploy the OrganizationShape's assets stack first/);
  });

  it('refuses an assembly whose asset changed after synthesis, before any upload', async () => {
    const s3 = await createBucket('example-rotor-assets-eu-west-1');
    const copy = mkdtempSync(join(tmpdir(), 'rotor-org-stale-'));
    dirs.push(copy);
    cpSync(assembly, copy, { recursive: true });
    const zipped = manifest.files.find((f) => f.packaging === 'zip')!;
    appendFileSync(join(copy, zipped.path, 'index.js'), '\n// changed after synthesis\n');
    await expect(publishAssets({ assemblyDir: copy, s3For })).rejects.toThrow(`${zipped.path}: its content changed since synthesis`);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'example-rotor-assets-eu-west-1' }));
    expect(listed.Contents ?? []).toEqual([]);
  });

  it('refuses a folder with no member manifest', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'rotor-org-empty-'));
    dirs.push(empty);
    await expect(publishAssets({ assemblyDir: empty, s3For })).rejects.toThrow(/no member stack manifest/);
  });
});

describe("the central account's routing patterns against moto's EventBridge", () => {
  type Rule = { Type: string; Properties: Record<string, any> };
  const events = () => new EventBridgeClient({ region: REGION, endpoint: moto.endpoint, credentials, maxAttempts: 2 });
  const sqs = () => new SQSClient({ region: REGION, endpoint: moto.endpoint, credentials, maxAttempts: 2 });

  /**
   * Puts every routing rule of the synthesized central templates on moto's buses (the central bus,
   * the default bus), each target replaced by the queue that stands in for that member's bus.
   */
  async function deployRouting(templates: Templates = centralTemplates): Promise<Map<string, string>> {
    const eb = events();
    const q = sqs();
    await eb.send(new CreateEventBusCommand({ Name: Organization.CENTRAL_BUS_NAME }));
    const queues = new Map<string, string>();
    for (const account of MEMBERS) {
      const { QueueUrl } = await q.send(new CreateQueueCommand({ QueueName: `member-${account}` }));
      queues.set(account, QueueUrl!);
    }
    let n = 0;
    for (const template of templates) {
      for (const rule of Object.values(template.Resources).filter((r): r is Rule => r.Type === 'AWS::Events::Rule')) {
        const targetArn = rule.Properties.Targets[0].Arn as string;
        const account = /^arn:aws:events:[a-z0-9-]+:(\d{12}):event-bus\//.exec(targetArn)![1]!;
        const bus = typeof rule.Properties.EventBusName === 'string' ? rule.Properties.EventBusName : Organization.CENTRAL_BUS_NAME;
        const name = `route-${n++}`;
        await eb.send(new PutRuleCommand({ Name: name, EventBusName: bus, EventPattern: JSON.stringify(rule.Properties.EventPattern) }));
        const { Attributes } = await q.send(new GetQueueAttributesCommand({ QueueUrl: queues.get(account)!, AttributeNames: ['QueueArn'] }));
        await eb.send(new PutTargetsCommand({ Rule: name, EventBusName: bus, Targets: [{ Id: 'member', Arn: Attributes!.QueueArn! }] }));
      }
    }
    return queues;
  }

  /** The events each member's stand-in received, as EventBridge delivered them. */
  async function received(queues: Map<string, string>): Promise<Record<string, Array<{ detail: { note?: string } }>>> {
    const q = sqs();
    const out: Record<string, Array<{ detail: { note?: string } }>> = {};
    for (const [account, url] of queues) {
      const got = await q.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      out[account] = (got.Messages ?? []).map((m) => JSON.parse(m.Body!) as { detail: { note?: string } });
    }
    return out;
  }

  async function delivered(queues: Map<string, string>): Promise<Record<string, string[]>> {
    const got = await received(queues);
    return Object.fromEntries(Object.entries(got).map(([account, list]) => [account, list.map((e) => e.detail.note ?? '?')]));
  }

  // An access key id made at run time (no key-shaped literal is committed); the events name it.
  const keyId = fakeAccessKeyId();
  const leak = (note: string, detail: Record<string, unknown>) => ({
    EventBusName: Organization.CENTRAL_BUS_NAME,
    Source: RotorEvents.SOURCE,
    DetailType: RotorEvents.LEAK_DETECTED,
    Detail: JSON.stringify({ ...detail, note, reason: 'routing test' }),
  });
  const guardDuty = (note: string, accountId: string, type: string) => ({
    Source: AwsEvents.GUARDDUTY_SOURCE,
    DetailType: AwsEvents.GUARDDUTY_DETAIL_TYPE,
    Detail: JSON.stringify({ note, accountId, type, resource: { accessKeyDetails: { accessKeyId: keyId } } }),
  });
  // The organizational view's shape (AWS Health's EventBridge schema): `account` is the receiving
  // (central) account, `detail.affectedAccount` the member whose key is exposed.
  const health = (note: string, affectedAccount: string, eventTypeCode: string) => ({
    Source: AwsEvents.HEALTH_SOURCE,
    DetailType: AwsEvents.HEALTH_DETAIL_TYPE,
    Detail: JSON.stringify({
      note,
      eventTypeCode,
      service: 'RISK',
      eventScopeCode: 'ACCOUNT_SPECIFIC',
      affectedAccount,
      affectedEntities: [{ entityValue: keyId }],
    }),
  });

  it("delivers each leak report, GuardDuty finding and Health event to the named member's bus, and only there", async () => {
    // Prepare
    const queues = await deployRouting();
    const eb = events();
    // Act
    const sent = [
      leak('leak-account-222', { account: '222222222222', accessKeyId: keyId }),
      leak('leak-arn-333', { secretId: 'arn:aws:secretsmanager:eu-west-1:333333333333:secret:prod/app/db-AbCdEf' }),
      // Both the account and an ARN of that account: one delivery, not two.
      leak('leak-both-222', { account: '222222222222', secretId: 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:prod/app/db-AbCdEf' }),
      // The account named wins over the ARN's (a bridge that knows better).
      leak('leak-account-333-arn-222', { account: '333333333333', secretId: 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:x-AbCdEf' }),
      leak('leak-unlisted', { account: '999999999999', secretId: 'prod/app/db' }),
      leak('leak-other-region', { secretId: 'arn:aws:secretsmanager:us-east-1:333333333333:secret:prod/app/db-AbCdEf' }),
      guardDuty('gd-333', '333333333333', 'CredentialAccess:IAMUser/AnomalousBehavior'),
      guardDuty('gd-222-exfil', '222222222222', 'UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS'),
      guardDuty('gd-not-credentials', '222222222222', 'Recon:EC2/PortProbeUnprotectedPort'),
      health('health-222', '222222222222', 'AWS_RISK_CREDENTIALS_EXPOSED'),
      health('health-not-exposure', '333333333333', 'AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED'),
    ];
    for (const entry of sent) {
      const out = await eb.send(new PutEventsCommand({ Entries: [entry] }));
      expect(out.FailedEntryCount ?? 0).toBe(0);
    }
    // Assess: the Health rules exist twice (us-east-1 and us-west-2 routers), as on AWS where the
    // backup region's copy also arrives; moto runs both on one default bus.
    const routed = await received(queues);
    const got = Object.fromEntries(Object.entries(routed).map(([account, list]) => [account, list.map((e) => e.detail.note)]));
    expect(got['222222222222']!.sort()).toEqual(['gd-222-exfil', 'health-222', 'health-222', 'leak-account-222', 'leak-both-222'].sort());
    expect(got['333333333333']!.sort()).toEqual(['gd-333', 'leak-account-333-arn-222', 'leak-arn-333'].sort());
    // The member's emergency handler understands every routed event as delivered (extra fields such
    // as detail.account and detail.affectedAccount are ignored), before it calls anything.
    for (const event of Object.values(routed).flat()) {
      const reports = parseLeakEvent(event);
      expect(reports).toHaveLength(1);
      expect(reports[0]!.accessKeyId ?? reports[0]!.secretId).toMatch(new RegExp(`^(${keyId}|arn:aws:secretsmanager:eu-west-1:\\d{12}:secret:)`));
    }
  });

  it('does not route a leak report put by an account that is neither a reporter nor the member', async () => {
    // Prepare: reporters other than the account moto puts events as.
    const outdir = mkdtempSync(join(tmpdir(), 'rotor-org-reporters-'));
    dirs.push(outdir);
    const queues = await deployRouting(synthCentral({ ...organization, leakReporterAccounts: ['444444444444'] }, outdir));
    // Act
    const eb = events();
    for (const entry of [
      leak('leak-account-222', { account: '222222222222', accessKeyId: keyId }),
      leak('leak-arn-333', { secretId: 'arn:aws:secretsmanager:eu-west-1:333333333333:secret:prod/app/db-AbCdEf' }),
      guardDuty('gd-333', '333333333333', 'CredentialAccess:IAMUser/AnomalousBehavior'),
    ]) {
      expect((await eb.send(new PutEventsCommand({ Entries: [entry] }))).FailedEntryCount ?? 0).toBe(0);
    }
    // Assess: GuardDuty's routing does not depend on the reporters; the leak reports were dropped.
    expect(await delivered(queues)).toEqual({ '222222222222': [], '333333333333': ['gd-333'] });
  });
});
