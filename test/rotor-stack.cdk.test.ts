import { App, Duration, Stack, Stage, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { config as exampleConfig } from '../examples/app/rotor.config.js';
import { resolveStrategy, RotorTags, settings } from '../lambdas/contract/index.js';
import { EmergencyRotation } from '../lib/emergency-rotation.js';
import { HealthEventForwarder } from '../lib/health-event-forwarder.js';
import { PostgresRotation } from '../lib/postgres-rotation.js';
import type { RotorConfig } from '../lib/rotor-config.js';
import { RotorStack } from '../lib/rotor-stack.js';
import { RotorDashboard } from '../lib/rotor-dashboard.js';
import { policyStatements, testStack } from './support/cdk.js';

const newApp = () => new App();

function exampleStack(config: RotorConfig = exampleConfig) {
  const app = newApp();
  const stack = new RotorStack(app, 'Rotor', { config, env: { account: '123456789012', region: 'eu-west-1' } });
  return { app, stack, template: Template.fromStack(stack) };
}


describe('RotorStack (the example config)', () => {
  it('deploys one rotation per configured secret with its schedule and window', () => {
    const { template } = exampleStack();
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 4);
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/orders/app-AbCdEf',
      RotationRules: { ScheduleExpression: 'cron(0 3 ? * SUN *)', Duration: '3h' },
    });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/billing/app-MnOpQr',
      RotationRules: { ScheduleExpression: 'rate(30 days)', Duration: '4h' },
    });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(7 days)', Duration: '4h' },
    });
  });

  it('runs database functions in the VPC with reserved concurrency 1, opening the database security groups', () => {
    const { template } = exampleStack();
    const fns = Object.values(template.findResources('AWS::Lambda::Function')).filter((f) =>
      String(f.Properties.Description).match(/Rotor (postgres|mysql) rotation/),
    );
    expect(fns).toHaveLength(2);
    for (const f of fns) {
      expect(f.Properties.ReservedConcurrentExecutions).toBe(1);
      expect(f.Properties.VpcConfig.SubnetIds).toEqual(['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002']);
      expect(f.Properties.Runtime).toBe('nodejs24.x');
      expect(f.Properties.Architectures).toEqual(['arm64']);
    }
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { GroupId: 'sg-0a1b2c3d4e5f60718', FromPort: 5432, ToPort: 5432 });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { GroupId: 'sg-0a1b2c3d4e5f60719', FromPort: 3306, ToPort: 3306 });
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: 'com.amazonaws.eu-west-1.secretsmanager',
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
    });
  });

  it('sends rotation failures and function errors to one alarm topic with the configured e-mail', () => {
    const { template } = exampleStack();
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'infra-oncall@example.com' });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: { eventSource: ['secretsmanager.amazonaws.com'], eventName: ['RotationFailed', 'RotationAbandoned'] } }),
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThanOrEqual(6); // 4 rotations, retire, emergency
    for (const a of alarms) expect(JSON.stringify(a.Properties.AlarmActions)).toContain('AlarmTopic');
  });

  it('lets the IAM rotation touch only the configured user', () => {
    const { template } = exampleStack();
    const statements = policyStatements(template, 'DeployerKeyRole');
    const iamActions = statements.filter((s) => JSON.stringify(s.Action).includes('iam:'));
    expect(iamActions.length).toBeGreaterThan(0);
    for (const s of iamActions) {
      expect(JSON.stringify(s.Resource)).toContain(':user/ci-deployer');
    }
  });

  it('wires the emergency handler to Health, GuardDuty and Rotor leak events, and forwards Health events from us-east-1 and us-west-2', () => {
    const { app, template } = exampleStack();
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.health'],
        'detail-type': ['AWS Health Event'],
        detail: { eventTypeCode: ['AWS_RISK_CREDENTIALS_EXPOSED', 'AWS_RISK_CREDENTIALS_COMPROMISED', 'AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED', 'AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED'] },
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', { EventPattern: { source: ['rotor'], 'detail-type': ['Secret Leak Detected'] } });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.guardduty'], 'detail-type': ['GuardDuty Finding'], detail: { type: Match.arrayWith([{ prefix: 'CredentialAccess:IAMUser/' }]) } },
    });
    const forwarders = app.node.children.filter((c) => c instanceof Stack && c.node.id.startsWith('Rotor-health-')) as Stack[];
    expect(forwarders.map((s) => s.region).sort()).toEqual(['us-east-1', 'us-west-2']);
    Template.fromStack(forwarders[0]!).hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ source: ['aws.health'] }),
      Targets: [Match.objectLike({ Arn: 'arn:aws:events:eu-west-1:123456789012:event-bus/default' })],
    });
  });

  it('needs no Health forwarder when deployed in us-east-1', () => {
    const app = newApp();
    new RotorStack(app, 'Rotor', { config: exampleConfig, env: { account: '123456789012', region: 'us-east-1' } });
    expect(app.node.children.map((c) => c.node.id)).toEqual(['Rotor']);
  });

  it('refuses a bad config, naming the entry and field', () => {
    const bad = (secrets: unknown[], extra: Partial<RotorConfig> = {}) => () =>
      exampleStack({ ...exampleConfig, ...extra, secrets: secrets as RotorConfig['secrets'] });
    expect(bad([])).toThrow(/config.secrets is empty/);
    expect(bad([{ id: 'A', kind: 'postgres', schedule: 'rate(2 hours)' }])).toThrow(/secrets\[A\]\.schedule: schedule: rate must be at least 4 hours, got 2 hours/);
    expect(bad([{ id: 'A', kind: 'postgres', schedule: 'cron(15 3 * * ? *)' }])).toThrow(/secrets\[A\]\.schedule: .*cron minutes must be 0/);
    expect(bad([{ id: 'A', kind: 'postgres' }, { id: 'A', kind: 'mysql' }])).toThrow(/'A' is used twice/);
    expect(bad([{ id: 'A', kind: 'postgres', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db' }])).toThrow(/complete secret ARN/);
    expect(bad([{ id: 'A', kind: 'iam', userNames: [] }])).toThrow(/secrets\[A\]\.userNames must name exactly one IAM user, got 0/);
    expect(bad([{ id: 'A', kind: 'postgres', windowHours: 30 }])).toThrow(/secrets\[A\]: .*window must be a whole number of hours between 1 and 24, got 1 day 6 hours|window must be a whole number of hours between 1 and 24, got 1 day 6 hours/);
    expect(bad([{ id: 'A', kind: 'postgres', databaseSecurityGroupId: 'sg-1' }], { network: undefined })).toThrow(/needs config.network/);
  });
});

describe('RotorStack (issue 10)', () => {
  const iamKey = { id: 'DeployerKey', kind: 'iam', userNames: ['ci-deployer'] } as const;
  const token = {
    id: 'DatadogKey',
    kind: 'api-token',
    managementSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/datadog/management-YzAbCd',
  } as const;
  const withSecrets = (secrets: RotorConfig['secrets'], extra: Partial<RotorConfig> = {}) => () =>
    exampleStack({ ...exampleConfig, ...extra, secrets });

  it('refuses a grace window as long as the interval of the schedule the secret rotates on', () => {
    expect(withSecrets([{ ...iamKey, graceHours: 720, schedule: 'rate(7 days)' }])).toThrow(
      "secrets[DeployerKey].graceHours must be shorter than the interval between rotations (the next rotation would cut the grace window short), got graceHours 720 and secrets[DeployerKey].schedule 'rate(7 days)', whose rotations can be 7 days apart",
    );
    expect(withSecrets([{ ...token, graceHours: 200, schedule: 'cron(0 4 ? * SUN *)' }])).toThrow(
      /secrets\[DatadogKey\]\.graceHours .* got graceHours 200 and secrets\[DatadogKey\]\.schedule 'cron\(0 4 \? \* SUN \*\)', whose rotations can be 7 days apart/,
    );
    // defaults.schedule, and the default grace window.
    expect(withSecrets([{ ...token, graceHours: 200 }], { defaults: { schedule: 'rate(7 days)' } })).toThrow(
      /secrets\[DatadogKey\]\.graceHours .* got graceHours 200 and defaults\.schedule 'rate\(7 days\)'/,
    );
    expect(withSecrets([iamKey], { defaults: { schedule: 'rate(12 hours)' } })).toThrow(
      /secrets\[DeployerKey\]\.graceHours .* got graceHours 24 \(the default\) and defaults\.schedule 'rate\(12 hours\)', whose rotations can be 12 hours apart/,
    );
    // The stack's own default schedule (30 days).
    expect(withSecrets([{ ...iamKey, graceHours: 800 }], { defaults: undefined })).toThrow(
      /got graceHours 800 and the default schedule 'rate\(30 days\)'/,
    );
    expect(withSecrets([{ ...iamKey, graceHours: 167, schedule: 'rate(7 days)' }])).not.toThrow();
  });

  it('refuses a grace window shorter than a declared consumer cache TTL, naming the fields and both values (issue 11)', () => {
    expect(withSecrets([{ ...iamKey, graceHours: 1, consumerCacheTtlSeconds: 7200 }])).toThrow(
      'secrets[DeployerKey].graceHours must not be shorter than secrets[DeployerKey].consumerCacheTtlSeconds (consumers may use the previous value from their cache that long after a rotation), got graceHours 1 (3600 s) and consumerCacheTtlSeconds 7200',
    );
    expect(withSecrets([{ ...token, consumerCacheTtlSeconds: 2 * 86_400 }])).toThrow(
      /secrets\[DatadogKey\]\.graceHours must not be shorter .* got graceHours 24 \(the default\) \(86400 s\) and consumerCacheTtlSeconds 172800/,
    );
    expect(withSecrets([{ ...iamKey, consumerCacheTtlSeconds: 0 }])).toThrow(
      'secrets[DeployerKey].consumerCacheTtlSeconds must be a number of seconds above 0, got 0',
    );
    expect(withSecrets([{ ...iamKey, graceHours: 1, consumerCacheTtlSeconds: 3600 }, { ...token, consumerCacheTtlSeconds: 300 }])).not.toThrow();
  });

  it('lets the retire function announce a previous credential still in use on the alarm topic, and ask IAM for the last use of the configured user only (issue 11)', () => {
    const { stack, template } = exampleStack();
    const topic = { Ref: stack.getLogicalId(stack.alarmTopic.node.defaultChild as never) };
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('retire previous values'),
      Environment: { Variables: Match.objectLike({ ALARM_TOPIC_ARN: topic, RETIRE_IN_USE_ACTION: 'deactivate' }) },
    });
    const statements = policyStatements(template, 'RetireRole');
    expect(statements).toContainEqual({ Effect: 'Allow', Action: 'sns:Publish', Resource: topic });
    const lastUsed = statements.filter((s) => JSON.stringify(s.Action).includes('iam:GetAccessKeyLastUsed'));
    expect(lastUsed).toHaveLength(1);
    expect(JSON.stringify(lastUsed[0]!.Resource)).toContain(':user/ci-deployer');
  });

  it('creates the Health forwarders in the enclosing Stage (CDK Pipelines), as in an App', () => {
    const app = newApp();
    const stage = new Stage(app, 'Prod', { env: { account: '123456789012', region: 'eu-west-1' } });
    const stack = new RotorStack(stage, 'Rotor', { config: exampleConfig });
    const forwarders = stage.node.children.filter((c) => c instanceof Stack && c !== stack) as Stack[];
    expect(forwarders.map((f) => [f.region, f.stackName]).sort()).toEqual([
      ['us-east-1', 'Prod-Rotor-health-us-east-1'],
      ['us-west-2', 'Prod-Rotor-health-us-west-2'],
    ]);
    for (const forwarder of forwarders) {
      Template.fromStack(forwarder).hasResourceProperties('AWS::Events::Rule', {
        EventPattern: Match.objectLike({ source: ['aws.health'], 'detail-type': ['AWS Health Event'] }),
        Targets: [Match.objectLike({ Arn: 'arn:aws:events:eu-west-1:123456789012:event-bus/default' })],
      });
    }
    // Nothing lands beside the Stage in the App.
    expect(app.node.children.map((c) => c.node.id)).toEqual(['Prod']);
    const assembly = app.synth().getNestedAssembly(stage.artifactId);
    expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual(['Prod-Rotor', 'Prod-Rotor-health-us-east-1', 'Prod-Rotor-health-us-west-2']);
  });

  it('creates the Health forwarders in the App when RotorStack sits directly in it', () => {
    const { app, stack } = exampleStack();
    const forwarders = app.node.children.filter((c) => c instanceof Stack && c !== stack) as Stack[];
    expect(forwarders.map((f) => [f.region, f.stackName]).sort()).toEqual([
      ['us-east-1', 'Rotor-health-us-east-1'],
      ['us-west-2', 'Rotor-health-us-west-2'],
    ]);
  });

  it('resolves a database strategy nobody stated with the contract rule, and writes it to the function and the tag', () => {
    const master = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/orders/master-GhIjKl';
    const { stack, template } = exampleStack({
      ...exampleConfig,
      secrets: [
        { id: 'WithMaster', kind: 'postgres', masterSecretArn: master },
        { id: 'NoMaster', kind: 'mysql' },
        { id: 'Stated', kind: 'postgres', masterSecretArn: master, strategy: 'single-user' },
        iamKey,
        token,
      ],
    });
    const expected = {
      WithMaster: resolveStrategy('postgres', { masterSecret: true }),
      NoMaster: resolveStrategy('mysql', { masterSecret: false }),
      Stated: 'single-user',
      DeployerKey: resolveStrategy('iam'),
      DatadogKey: resolveStrategy('api-token'),
    };
    expect(expected).toMatchObject({ WithMaster: 'alternating-users', NoMaster: 'single-user' });
    for (const [id, strategy] of Object.entries(expected)) {
      const rotation = stack.rotations[id]!;
      expect(rotation.strategy).toBe(strategy);
      const fn = template.findResources('AWS::Lambda::Function')[stack.getLogicalId(rotation.rotationFunction.node.defaultChild as never)]!;
      expect(fn.Properties.Environment.Variables[settings.strategy.name]).toBe(strategy);
      const secret = template.findResources('AWS::SecretsManager::Secret')[stack.getLogicalId(rotation.secret.node.defaultChild as never)]!;
      expect(secret.Properties.Tags).toContainEqual({ Key: RotorTags.STRATEGY, Value: strategy });
    }
  });

  it('refuses a strategy the kind does not support, naming the entry and the value', () => {
    expect(withSecrets([{ id: 'A', kind: 'postgres', strategy: 'round-robin' as never }])).toThrow(
      "secrets[A].strategy must be one of single-user, alternating-users, got 'round-robin'",
    );
  });
});

describe('EmergencyRotation', () => {
  it('may rotate, unlabel and tag (emergency tags only) exactly the secrets added to it', () => {
    const stack = testStack();
    const mine = new secretsmanager.Secret(stack, 'Mine');
    const master = new secretsmanager.Secret(stack, 'Master');
    const other = new secretsmanager.Secret(stack, 'Other');
    const rotation = new PostgresRotation(stack, 'Db', { secret: mine, masterSecret: master });
    new EmergencyRotation(stack, 'Emergency', { rotations: [rotation] });
    const template = Template.fromStack(stack);
    const statements = policyStatements(template, 'EmergencyRole');
    const ref = (s: secretsmanager.Secret) => ({ Ref: stack.getLogicalId(s.node.defaultChild as secretsmanager.CfnSecret) });
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: [
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'secretsmanager:RotateSecret',
        'secretsmanager:UpdateSecretVersionStage',
        'secretsmanager:PutSecretValue',
      ],
      Resource: ref(mine),
    });
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: 'secretsmanager:TagResource',
      Resource: ref(mine),
      Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['rotor:revoked-version', 'rotor:leak-event'] } },
    });
    expect(statements).toContainEqual({ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: ref(master) });
    expect(JSON.stringify(statements)).not.toContain(JSON.stringify(ref(other)));
    const wildcard = statements.filter((s) => s.Resource === '*').flatMap((s) => s.Action);
    expect(wildcard).toEqual(['secretsmanager:ListSecrets', 'secretsmanager:GetRandomPassword']);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Rotor emergency rotation and revocation',
      Timeout: 300,
      Environment: { Variables: Match.objectLike({ ROTOR_EVENT_SOURCE: 'rotor', WAIT_TIMEOUT_MS: '240000' }) },
    });
  });

  it('refuses a bad wait and an aws.* event source, and a forwarder outside the Health regions', () => {
    const stack = testStack();
    expect(() => new EmergencyRotation(stack, 'A', { waitTimeout: Duration.seconds(5) })).toThrow(/waitTimeout must be between 30 seconds and 14 minutes, got 5 seconds/);
    expect(() => new EmergencyRotation(stack, 'B', { eventSource: 'aws.health' })).toThrow(/eventSource must be a custom source/);
    expect(() => new HealthEventForwarder(stack, 'F', { targetBus: { eventBusArn: 'x', eventBusName: 'default' } as never })).toThrow(
      /must be deployed in us-east-1 or us-west-2, got eu-west-1/,
    );
  });
});

describe('the rotation-health dashboard', () => {
  it('is part of RotorStack by default, and can be turned off', () => {
    const on = new RotorStack(newApp(), 'Rotor', { config: exampleConfig, env: { account: '123456789012', region: 'eu-west-1' } });
    expect(on.dashboard).toBeInstanceOf(RotorDashboard);
    Template.fromStack(on).resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const off = new RotorStack(newApp(), 'Rotor', { config: { ...exampleConfig, dashboard: { enabled: false } }, env: { account: '123456789012', region: 'eu-west-1' } });
    Template.fromStack(off).resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });

});

describe('a permissions boundary applied the CDK way', () => {
  it('reaches every role of every Rotor stack (rotation, emergency, retire, custom resources, Health forwarders)', () => {
    const app = newApp();
    const stack = new RotorStack(app, 'Rotor', { config: exampleConfig, env: { account: '123456789012', region: 'eu-west-1' } });
    const boundaryArn = 'arn:aws:iam::123456789012:policy/org-boundary';
    iam.PermissionsBoundary.of(app).apply(iam.ManagedPolicy.fromManagedPolicyArn(stack, 'Boundary', boundaryArn));
    const stacks = app.node.findAll().filter((c): c is Stack => Stack.isStack(c));
    expect(stacks.length).toBeGreaterThan(1);
    let roles = 0;
    for (const s of stacks) {
      for (const [id, role] of Object.entries(Template.fromStack(s).findResources('AWS::IAM::Role'))) {
        roles++;
        expect({ id, boundary: role.Properties.PermissionsBoundary }).toEqual({ id, boundary: boundaryArn });
      }
    }
    // Each construct exposes its function's role: the rotations, the emergency and the retire handler.
    const exposed = [...Object.values(stack.rotations).map((r) => r.role), stack.emergency!.role, stack.retireSchedule!.role];
    expect(roles).toBeGreaterThanOrEqual(exposed.length);
    for (const role of exposed) expect(role).toBeInstanceOf(iam.Role);
  });
});

describe('cdk-nag (AwsSolutions) on every synth', () => {
  it('finds nothing unacknowledged in the example app', () => {
    const app = newApp();
    new RotorStack(app, 'Rotor', { config: exampleConfig, env: { account: '123456789012', region: 'eu-west-1' } });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  it('catches a deliberately wide policy added to a rotation function', () => {
    const app = newApp();
    const stack = new RotorStack(app, 'Rotor', { config: exampleConfig, env: { account: '123456789012', region: 'eu-west-1' } });
    stack.rotations.OrdersDb!.rotationFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['secretsmanager:*'], resources: ['*'] }),
    );
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5\[Action::secretsmanager:\*\]/);
  });
});
