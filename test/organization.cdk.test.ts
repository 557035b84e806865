import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { member as exampleMember, organization as exampleOrganization } from '../examples/organization/organization.config.js';
import { AwsEvents, Organization, RotorEvents } from '../lambdas/contract/index.js';
import {
  MEMBER_ASSETS_MANIFEST_SUFFIX,
  OrganizationShape,
  RotorStack,
  type MemberAssetsManifest,
  type OrganizationConfig,
  type OrganizationMemberConfig,
} from '../lib/index.js';

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

const CENTRAL = '111111111111';
const MEMBERS = ['222222222222', '333333333333'];
const organization: OrganizationConfig = { ...exampleOrganization, region: 'eu-west-1', centralAccount: CENTRAL, memberAccounts: MEMBERS };

/** Synthesizes the shape into its own folder; returns the templates as CloudFormation will see them. */
function synth(org: OrganizationConfig = organization, member: OrganizationMemberConfig = exampleMember, nag = false) {
  const outdir = mkdtempSync(join(tmpdir(), 'rotor-org-'));
  outdirs.push(outdir);
  const app = new App({ outdir });
  const shape = new OrganizationShape(app, { organization: org, member });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  const memberFile = join(outdir, shape.central.memberStack.templateFile);
  const memberJson = JSON.parse(readFileSync(memberFile, 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, any> }>; Parameters?: unknown; Rules?: unknown };
  const manifest = JSON.parse(
    readFileSync(join(outdir, `${shape.central.memberStack.artifactId}${MEMBER_ASSETS_MANIFEST_SUFFIX}`), 'utf8'),
  ) as MemberAssetsManifest;
  return {
    app,
    shape,
    assembly,
    outdir,
    manifest,
    memberFile,
    memberJson,
    member: Template.fromJSON(memberJson),
    central: Template.fromStack(shape.central),
    assets: Template.fromStack(shape.assets),
  };
}

const resourcesOf = (json: { Resources: Record<string, { Type: string; Properties: Record<string, any> }> }, type: string) =>
  Object.entries(json.Resources).filter(([, r]) => r.Type === type);

const HEALTH = {
  source: [AwsEvents.HEALTH_SOURCE],
  'detail-type': [AwsEvents.HEALTH_DETAIL_TYPE],
  detail: { eventTypeCode: [...AwsEvents.HEALTH_EXPOSURE_CODES] },
};
const GUARDDUTY_TYPES = AwsEvents.GUARDDUTY_CREDENTIAL_FINDING_PREFIXES.map((prefix) => ({ prefix }));

describe('OrganizationMemberStack (the StackSet template)', () => {
  it('needs no CDK bootstrap in the member accounts and makes no lookups', () => {
    const { memberJson, assembly, shape } = synth();
    const text = JSON.stringify(memberJson);
    expect(text).not.toMatch(/hnb659fds|cdk-bootstrap|BootstrapVersion/);
    expect(memberJson.Parameters).toBeUndefined();
    expect(memberJson.Rules).toBeUndefined();
    // No context lookup was asked for (Vpc.fromLookup and friends record missing context).
    expect(assembly.manifest.missing ?? []).toEqual([]);
    // Not a deployable artifact of the central account: the StackSet deploys it.
    expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual([
      'RotorOrganization',
      'RotorOrganization-assets',
      'RotorOrganization-health-us-east-1',
      'RotorOrganization-health-us-west-2',
    ]);
    expect(assembly.tryGetArtifact(shape.central.memberStack.artifactId)).toBeUndefined();
    // Environment-agnostic: no account of its own, only the central account it trusts.
    const accounts = new Set(text.match(/\b\d{12}\b/g));
    expect([...accounts]).toEqual([CENTRAL]);
  });

  it("takes every function's code from the bucket <prefix>-<region> of the stack's own region, under the manifest's keys", () => {
    const { memberJson, manifest } = synth();
    const functions = resourcesOf(memberJson, 'AWS::Lambda::Function');
    expect(functions.length).toBe(5); // postgres, iam, retire, emergency, aws-cdk-lib's AwsCustomResource provider
    const keys = manifest.files.map((f) => f.key);
    for (const [, fn] of functions) {
      expect(fn.Properties.Code.S3Bucket).toEqual({ 'Fn::Join': ['-', ['example-rotor-assets', { Ref: 'AWS::Region' }]] });
      expect(fn.Properties.Code.S3Key).toMatch(/^rotor\/assets\/[0-9a-f]{64}\.zip$/);
      expect(keys).toContain(fn.Properties.Code.S3Key);
    }
    expect(JSON.stringify(memberJson)).not.toMatch(/"Fn::GetAtt":\["[^"]*Staging|AssetParameters|cdk-assets/);
    expect(manifest.bucketPrefix).toBe('example-rotor-assets');
    expect(manifest.regions).toEqual(['eu-west-1']);
  });

  it('creates the member bus, on which only the central routing role for this account may put events', () => {
    const { member } = synth();
    member.hasResourceProperties('AWS::Events::EventBus', { Name: Organization.MEMBER_BUS_NAME });
    const policies = member.findResources('AWS::Events::EventBusPolicy');
    expect(Object.values(policies)).toHaveLength(1);
    const policy = Object.values(policies)[0]!.Properties;
    expect(policy.Statement).toEqual({
      Sid: 'cdk-RotorCentralRouting',
      Effect: 'Allow',
      Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${CENTRAL}:root`]] } },
      Action: 'events:PutEvents',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^MemberBus/), 'Arn'] },
      Condition: {
        ArnEquals: {
          'aws:PrincipalArn': {
            'Fn::Join': ['', [`arn:aws:iam::${CENTRAL}:role/rotor-route-`, { Ref: 'AWS::Region' }, '-', { Ref: 'AWS::AccountId' }]],
          },
        },
      },
    });
  });

  it("routes the member bus's events to the emergency handler with the same patterns as the default bus's rules", () => {
    const { member, memberJson } = synth();
    const rules = resourcesOf(memberJson, 'AWS::Events::Rule');
    const onMemberBus = rules.filter(([, r]) => JSON.stringify(r.Properties.EventBusName ?? '').includes('MemberBus'));
    const onDefault = rules.filter(([, r]) => r.Properties.EventBusName === undefined && r.Properties.EventPattern);
    expect(onMemberBus).toHaveLength(3);
    const patterns = (list: typeof rules) => list.map(([, r]) => JSON.stringify(r.Properties.EventPattern)).sort();
    const emergencyDefault = onDefault.filter(([, r]) => JSON.stringify(r.Properties.Targets).includes('EmergencyFunction'));
    expect(patterns(onMemberBus)).toEqual(patterns(emergencyDefault));
    expect(patterns(onMemberBus)).toEqual(
      [
        { source: ['rotor'], 'detail-type': [RotorEvents.LEAK_DETECTED] },
        HEALTH,
        { source: [AwsEvents.GUARDDUTY_SOURCE], 'detail-type': [AwsEvents.GUARDDUTY_DETAIL_TYPE], detail: { type: GUARDDUTY_TYPES } },
      ]
        .map((p) => JSON.stringify(p))
        .sort(),
    );
    for (const [, rule] of onMemberBus) {
      expect(rule.Properties.Targets).toEqual([
        expect.objectContaining({ Arn: { 'Fn::GetAtt': [expect.stringMatching(/^EmergencyFunction/), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 } }),
      ]);
    }
    member.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RoutedLeakReported'), 'Arn'] },
    });
  });

  it("forwards only Rotor's outcome events to the central bus, with a role and a DLQ", () => {
    const { member, memberJson } = synth();
    const forward = resourcesOf(memberJson, 'AWS::Events::Rule').filter(([id]) => id.startsWith('ForwardAuditEvents'));
    expect(forward).toHaveLength(1);
    const props = forward[0]![1].Properties;
    expect(props.EventPattern).toEqual({ source: ['rotor'], 'detail-type': [RotorEvents.ROTATED, RotorEvents.REVOKED] });
    expect(props.Targets).toEqual([
      {
        Id: 'Target0',
        Arn: `arn:aws:events:eu-west-1:${CENTRAL}:event-bus/${Organization.CENTRAL_BUS_NAME}`,
        RoleArn: { 'Fn::GetAtt': [expect.stringMatching(/^ForwardAuditEventsEventsRole/), 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [expect.stringMatching(/^AuditForwardDlq/), 'Arn'] } },
      },
    ]);
    member.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'events:PutEvents', Resource: `arn:aws:events:eu-west-1:${CENTRAL}:event-bus/${Organization.CENTRAL_BUS_NAME}` }] },
      Roles: [{ Ref: Match.stringLikeRegexp('^ForwardAuditEventsEventsRole') }],
    });
  });

  it('gives the reader account a read-only role that can read no secret value', () => {
    const { memberJson } = synth({ ...organization, readerAccount: '444444444444' });
    const roles = resourcesOf(memberJson, 'AWS::IAM::Role').filter(([, r]) => r.Properties.RoleName === Organization.READ_ROLE_NAME);
    expect(roles).toHaveLength(1);
    const [roleId, role] = roles[0]!;
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::444444444444:root']] } },
      },
    ]);
    const policies = resourcesOf(memberJson, 'AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]));
    expect(policies).toHaveLength(1);
    const sub = (s: string) => ({ 'Fn::Join': ['', s.split(/(REGION|ACCOUNT)/).map((p) => (p === 'REGION' ? { Ref: 'AWS::Region' } : p === 'ACCOUNT' ? { Ref: 'AWS::AccountId' } : p))] });
    expect(policies[0]![1].Properties.PolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Action: ['secretsmanager:ListSecrets', 'ec2:DescribeRegions', 'iam:ListUsers'], Resource: '*' },
      { Effect: 'Allow', Action: ['secretsmanager:DescribeSecret', 'secretsmanager:ListSecretVersionIds'], Resource: sub('arn:aws:secretsmanager:REGION:ACCOUNT:secret:*') },
      { Effect: 'Allow', Action: ['iam:ListAccessKeys', 'iam:ListUserTags'], Resource: sub('arn:aws:iam::ACCOUNT:user/*') },
      { Effect: 'Allow', Action: 'lambda:GetFunctionConfiguration', Resource: sub('arn:aws:lambda:REGION:ACCOUNT:function:*') },
    ]);
  });

  it('rotates secrets named in every account (by name, -?????? grants) with the network from SSM dynamic references', () => {
    const { member } = synth();
    member.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':secret:prod/app/db']] },
    });
    member.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Rotor postgres rotation',
      VpcConfig: { SubnetIds: ['{{resolve:ssm:/org/network/private-subnet-a}}', '{{resolve:ssm:/org/network/private-subnet-b}}'] },
    });
    member.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { GroupId: '{{resolve:ssm:/org/app/db-security-group}}', FromPort: 5432 });
    const text = JSON.stringify(member.toJSON());
    expect(text).toContain(':secret:prod/app/db-??????');
  });

  it('refuses a member config that names one account\'s secret by ARN, or turns the emergency handler off', () => {
    const withSecret = (s: object) => () => synth(organization, { ...exampleMember, secrets: [s as OrganizationMemberConfig['secrets'][number]] });
    expect(withSecret({ id: 'A', kind: 'iam', userNames: ['u'], secretArn: 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:a-AbCdEf' })).toThrow(
      "organization member config: secrets[A].secretArn names one account's secret, and the member stack deploys to every account of the Organization: name it by secretName (the same name in every account)",
    );
    expect(withSecret({ id: 'A', kind: 'postgres', secretName: 'db', masterSecretArn: 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:m-AbCdEf' })).toThrow(
      /secrets\[A\]\.masterSecretArn names one account's secret/,
    );
    expect(withSecret({ id: 'A', kind: 'postgres', secretName: 'prod/db-AbCdEf' })).toThrow(/secrets\[A\]\.secretName must .* not end in a hyphen and 6 characters, got 'prod\/db-AbCdEf'/);
    expect(() => synth(organization, { ...exampleMember, emergency: { enabled: false } })).toThrow(/emergency.enabled must not be false/);
    // RotorStack itself: a secret is named one way.
    const both = { id: 'A', kind: 'iam', userNames: ['u'], secretName: 'a', secretArn: 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:a-AbCdEf' } as const;
    expect(() => new RotorStack(new App(), 'R', { config: { secrets: [both] }, env: { account: '222222222222', region: 'eu-west-1' } })).toThrow(
      'secrets[A]: give secretArn or secretName, not both',
    );
  });
});

describe('OrganizationCentralStack', () => {
  it('creates the central bus, on which only principals of the Organization may put events', () => {
    const { central } = synth();
    central.hasResourceProperties('AWS::Events::EventBus', { Name: Organization.CENTRAL_BUS_NAME });
    const policies = Object.values(central.findResources('AWS::Events::EventBusPolicy'));
    expect(policies).toHaveLength(1);
    expect(policies[0]!.Properties.Statement).toEqual({
      Sid: 'cdk-RotorOrganizationPutEvents',
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: 'events:PutEvents',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^CentralBus/), 'Arn'] },
      Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } },
    });
    central.hasResourceProperties('AWS::Events::Archive', { EventPattern: { source: ['rotor'] }, RetentionDays: 365 });
  });

  it("routes each member's leak reports and GuardDuty findings to that member's bus only, through its own role and a DLQ", () => {
    const { central } = synth();
    const json = central.toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };
    const rules = resourcesOf(json, 'AWS::Events::Rule');
    expect(rules).toHaveLength(MEMBERS.length * 3);
    for (const account of MEMBERS) {
      const busArn = `arn:aws:events:eu-west-1:${account}:event-bus/${Organization.MEMBER_BUS_NAME}`;
      const target = {
        Id: 'Target0',
        Arn: busArn,
        RoleArn: { 'Fn::GetAtt': [expect.stringMatching(new RegExp(`^Route${account}`)), 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [expect.stringMatching(/^RoutingDlq/), 'Arn'] } },
      };
      const byId = (prefix: string) => rules.filter(([id]) => id.startsWith(`${prefix}${account}`)).map(([, r]) => r.Properties);
      expect(byId('Leak')[0]).toEqual(
        expect.objectContaining({
          EventBusName: { Ref: expect.stringMatching(/^CentralBus/) },
          EventPattern: { source: ['rotor'], 'detail-type': [RotorEvents.LEAK_DETECTED], account: [CENTRAL, account], detail: { account: [account] } },
          Targets: [target],
        }),
      );
      expect(byId('LeakArn')[0]).toEqual(
        expect.objectContaining({
          EventBusName: { Ref: expect.stringMatching(/^CentralBus/) },
          EventPattern: {
            source: ['rotor'],
            'detail-type': [RotorEvents.LEAK_DETECTED],
            account: [CENTRAL, account],
            detail: { secretId: [{ prefix: `arn:aws:secretsmanager:eu-west-1:${account}:secret:` }], account: [{ exists: false }] },
          },
          Targets: [target],
        }),
      );
      expect(byId('GuardDuty')[0]).toEqual(
        expect.objectContaining({
          EventBusName: 'default',
          EventPattern: { source: [AwsEvents.GUARDDUTY_SOURCE], 'detail-type': [AwsEvents.GUARDDUTY_DETAIL_TYPE], detail: { type: GUARDDUTY_TYPES, accountId: [account] } },
          Targets: [target],
        }),
      );
      // The role: events.amazonaws.com for this account's rules, PutEvents on this member's bus and nothing else.
      const [roleId, role] = resourcesOf(json, 'AWS::IAM::Role').find(([id]) => id.startsWith(`Route${account}`))!;
      expect(role.Properties.RoleName).toBe(`rotor-route-eu-west-1-${account}`);
      expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': CENTRAL } } },
      ]);
      const policies = resourcesOf(json, 'AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]));
      expect(policies.map(([, p]) => p.Properties.PolicyDocument.Statement)).toEqual([[{ Effect: 'Allow', Action: 'events:PutEvents', Resource: busArn }]]);
    }
    // EventBridge may send undeliverable events to the DLQ, for these rules only.
    central.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'sqs:SendMessage', Principal: { Service: 'events.amazonaws.com' }, Condition: { ArnEquals: { 'aws:SourceArn': Match.anyValue() } } }),
        ]),
      },
    });
  });

  it('deploys the member template through a service-managed StackSet with auto-deployment to the OUs, from the asset bucket', () => {
    const { central, manifest, memberFile } = synth();
    const digest = createHash('sha256').update('file\0').update(readFileSync(memberFile)).digest('hex');
    expect(manifest.template.key).toBe(`rotor/templates/${digest}.json`);
    central.hasResourceProperties('AWS::CloudFormation::StackSet', {
      StackSetName: 'Rotor',
      PermissionModel: 'SERVICE_MANAGED',
      CallAs: 'DELEGATED_ADMIN',
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
      Capabilities: ['CAPABILITY_NAMED_IAM'],
      ManagedExecution: { Active: true },
      OperationPreferences: { MaxConcurrentPercentage: 25, FailureTolerancePercentage: 0, RegionConcurrencyType: 'PARALLEL' },
      StackInstancesGroup: [{ DeploymentTargets: { OrganizationalUnitIds: ['ou-ab12-cdefgh34'] }, Regions: ['eu-west-1'] }],
      TemplateURL: `https://example-rotor-assets-eu-west-1.s3.eu-west-1.amazonaws.com/${manifest.template.key}`,
    });
    expect(JSON.stringify(central.toJSON())).not.toContain('pending-synthesis');
  });

  it('routes leak reports from the named reporter accounts and the member itself only', () => {
    const { central } = synth({ ...organization, leakReporterAccounts: ['444444444444', '222222222222'] });
    const leakRules = Object.values(central.findResources('AWS::Events::Rule')).filter((r) => r.Properties.EventPattern['detail-type'][0] === RotorEvents.LEAK_DETECTED);
    expect(leakRules).toHaveLength(4);
    const senders = leakRules.map((r) => [r.Properties.EventPattern.detail.account?.[0] ?? r.Properties.EventPattern.detail.secretId[0].prefix, r.Properties.EventPattern.account]);
    expect(senders).toContainEqual(['222222222222', ['444444444444', '222222222222']]);
    expect(senders).toContainEqual(['333333333333', ['444444444444', '222222222222', '333333333333']]);
  });

  it('routes organizational-view Health events from us-east-1 and us-west-2 by detail.affectedAccount', () => {
    const { shape } = synth();
    expect(shape.healthRouters.map((s) => s.region).sort()).toEqual(['us-east-1', 'us-west-2']);
    for (const stack of shape.healthRouters) {
      const t = Template.fromStack(stack);
      t.resourceCountIs('AWS::Events::Rule', MEMBERS.length);
      for (const account of MEMBERS) {
        t.hasResourceProperties('AWS::Events::Rule', {
          EventBusName: 'default',
          EventPattern: { ...HEALTH, detail: { ...HEALTH.detail, affectedAccount: [account] } },
          Targets: [
            {
              Id: 'Target0',
              Arn: `arn:aws:events:eu-west-1:${account}:event-bus/${Organization.MEMBER_BUS_NAME}`,
              RoleArn: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${CENTRAL}:role/rotor-route-eu-west-1-${account}`]] },
              DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RoutingDlq'), 'Arn'] } },
            },
          ],
        });
      }
      t.resourceCountIs('AWS::IAM::Role', 0);
    }
  });

  it('routes Health in the central stack itself when Rotor runs in us-east-1', () => {
    const { shape, central } = synth({ ...organization, region: 'us-east-1' });
    expect(shape.healthRouters.map((s) => s.region)).toEqual(['us-west-2']);
    central.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: 'default',
      EventPattern: { ...HEALTH, detail: { ...HEALTH.detail, affectedAccount: ['222222222222'] } },
    });
  });

  it('keeps the assets bucket private to the Organization', () => {
    const { assets } = synth();
    assets.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: 'example-rotor-assets-eu-west-1',
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    const policy = Object.values(assets.findResources('AWS::S3::BucketPolicy')).find((p) => JSON.stringify(p).includes('RotorOrganizationRead'))!;
    const read = (policy.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>).filter((s) => s.Effect === 'Allow');
    expect(read).toEqual([
      {
        Sid: 'RotorOrganizationRead',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: 's3:GetObject',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^Bucket/), 'Arn'] }, '/rotor/*']] },
        Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } },
      },
    ]);
  });

  it('refuses a bad Organization config, naming the field and the value', () => {
    const bad = (patch: Partial<OrganizationConfig>) => () => synth({ ...organization, ...patch });
    expect(bad({ organizationId: 'org-1' })).toThrow("organization.organizationId must be 'o-' and 10 to 32 lowercase letters or digits, got 'org-1'");
    expect(bad({ centralAccount: '1234' })).toThrow("organization.centralAccount must be a 12-digit account id, got '1234'");
    expect(bad({ memberAccounts: ['22222222222a'] })).toThrow("organization.memberAccounts must hold 12-digit account ids, got '22222222222a'");
    expect(bad({ memberAccounts: ['222222222222', '222222222222'] })).toThrow("organization.memberAccounts lists '222222222222' twice");
    expect(bad({ organizationalUnitIds: ['ou-x'] })).toThrow("organization.organizationalUnitIds must hold OU ids (ou-…) or the root id (r-…), got 'ou-x'");
    expect(bad({ organizationalUnitIds: [] })).toThrow('organization.organizationalUnitIds is empty');
    expect(bad({ region: 'Ireland' })).toThrow("organization.region must be a region name such as eu-west-1, got 'Ireland'");
    expect(bad({ assetBucketPrefix: 'Rotor_Assets' })).toThrow(/organization.assetBucketPrefix must be .* got 'Rotor_Assets'/);
    expect(bad({ leakReporterAccounts: ['4444'] })).toThrow("organization.leakReporterAccounts must hold 12-digit account ids, got '4444'");
    expect(bad({ archiveDays: -1 })).toThrow('organization.archiveDays must be a whole number from 0 to 3650, got -1');
  });
});

describe('OrganizationShape and cdk-nag', () => {
  it('finds nothing unacknowledged in the example organization app (every stack, the member template included)', () => {
    expect(() => synth(organization, exampleMember, true)).not.toThrow();
  });

  it('catches a deliberately wide grant on the member read role', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'rotor-org-'));
    outdirs.push(outdir);
    const app = new App({ outdir });
    const shape = new OrganizationShape(app, { organization, member: exampleMember });
    shape.central.memberStack.readRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:*'], resources: ['*'] }));
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5\[Action::secretsmanager:\*\]/);
  });
});
