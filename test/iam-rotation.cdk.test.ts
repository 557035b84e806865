import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { IamAccessKeyRotation } from '../lib/iam-access-key-rotation.js';
import { RetireSchedule } from '../lib/retire-schedule.js';
import { RotorSchedule } from '../lib/rotation-schedule.js';
import { actionsOf as actions, policyStatements as statementsOf, testStack } from './support/cdk.js';

const logicalId = (stack: ReturnType<typeof testStack>, c: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(c.node.defaultChild as secretsmanager.CfnSecret);

function arrange() {
  const stack = testStack();
  const secret = new secretsmanager.Secret(stack, 'Key');
  const user = new iam.User(stack, 'Deployer');
  return { stack, secret, user };
}

describe('IamAccessKeyRotation', () => {
  it('grants IAM key actions on the named user only, and user tags only keyed by an access key id', () => {
    const { stack, secret, user } = arrange();
    const other = new iam.User(stack, 'Other');
    new IamAccessKeyRotation(stack, 'Rotation', { secret, user });
    const statements = statementsOf(Template.fromStack(stack), 'RotationRole');
    const userArn = { 'Fn::GetAtt': [logicalId(stack, user), 'Arn'] };
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: ['iam:ListAccessKeys', 'iam:CreateAccessKey', 'iam:UpdateAccessKey', 'iam:DeleteAccessKey', 'iam:ListUserTags'],
      Resource: userArn,
    });
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: ['iam:TagUser', 'iam:UntagUser'],
      Resource: userArn,
      Condition: { 'ForAllValues:StringLike': { 'aws:TagKeys': ['AKIA*'] } },
    });
    const iamStatements = statements.filter((s) => actions(s).some((a) => a.startsWith('iam:')));
    expect(iamStatements.map((s) => s.Resource)).toEqual([userArn, userArn]);
    expect(JSON.stringify(statements)).not.toContain(logicalId(stack, other));
    // Secrets Manager: this secret only.
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: [
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'secretsmanager:PutSecretValue',
        'secretsmanager:UpdateSecretVersionStage',
        'secretsmanager:ListSecretVersionIds',
      ],
      Resource: { Ref: logicalId(stack, secret) },
    });
  });

  it('may write only its own tags on its secret (fingerprints, last failure), and has no wildcard resource', () => {
    const { stack, secret, user } = arrange();
    new IamAccessKeyRotation(stack, 'Rotation', { secret, user });
    const statements = statementsOf(Template.fromStack(stack), 'RotationRole');
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: ['secretsmanager:TagResource', 'secretsmanager:UntagResource'],
      Resource: { Ref: logicalId(stack, secret) },
      Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['rotor:fp-current', 'rotor:fp-previous', 'rotor:last-failure'] } },
    });
    expect(statements.filter((s) => s.Resource === '*')).toEqual([]);
  });

  it('alarms on PendingStoreFailed (a key issued but not stored) with the dimensions the engine emits', () => {
    const { stack, secret, user } = arrange();
    const topic = new sns.Topic(stack, 'Alarms');
    new IamAccessKeyRotation(stack, 'Rotation', { secret, user, alarmTopic: topic });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Rotor',
      MetricName: 'PendingStoreFailed',
      Dimensions: [
        { Name: 'kind', Value: 'iam' },
        { Name: 'service', Value: 'rotor' },
      ],
      Threshold: 1,
      AlarmActions: [{ Ref: Match.stringLikeRegexp('Alarms') }],
    });
  });

  it('scopes an imported user by name to arn:aws:iam::ACCOUNT:user/NAME', () => {
    const { stack, secret } = arrange();
    new IamAccessKeyRotation(stack, 'Rotation', { secret, user: iam.User.fromUserName(stack, 'Ci', 'ci-deployer') });
    const statements = statementsOf(Template.fromStack(stack), 'RotationRole');
    const resources = statements.filter((s) => actions(s).includes('iam:CreateAccessKey')).map((s) => s.Resource);
    expect(resources).toEqual([
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:user/ci-deployer']] },
    ]);
  });

  it('runs the iam entry as single-user with the STS bound, a timeout above it, and tags the secret', () => {
    const { stack, secret, user } = arrange();
    new IamAccessKeyRotation(stack, 'Rotation', { secret, user, gracePeriod: Duration.hours(6), stsTestTimeout: Duration.seconds(90) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Rotor iam rotation',
      Timeout: 120,
      Environment: { Variables: Match.objectLike({ ROTATION_STRATEGY: 'single-user', IAM_TEST_TIMEOUT_MS: '90000' }) },
    });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Tags: Match.arrayWith([
        { Key: 'rotor:grace-hours', Value: '6' },
        { Key: 'rotor:kind', Value: 'iam' },
        { Key: 'rotor:strategy', Value: 'single-user' },
      ]),
    });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
  });

  it('defaults: 24-hour grace window, 60-second STS bound, 2-minute timeout', () => {
    const { stack, secret, user } = arrange();
    new IamAccessKeyRotation(stack, 'Rotation', { secret, user });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 120,
      Environment: { Variables: Match.objectLike({ IAM_TEST_TIMEOUT_MS: '60000' }) },
    });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Tags: Match.arrayWith([{ Key: 'rotor:grace-hours', Value: '24' }]),
    });
  });

  it('validates its props at synth time, naming the prop and the value', () => {
    const make = (props: Partial<ConstructorParameters<typeof IamAccessKeyRotation>[2]>) => {
      const { stack, secret, user } = arrange();
      return () => new IamAccessKeyRotation(stack, 'Rotation', { secret, user, ...props });
    };
    expect(make({ gracePeriod: Duration.days(2), automaticallyAfter: Duration.days(1) })).toThrow(
      'Rotation: gracePeriod must be shorter than automaticallyAfter (the next rotation would cut it short), got gracePeriod 2 days and automaticallyAfter 1 day',
    );
    expect(make({ gracePeriod: Duration.days(400) })).toThrow(/gracePeriod must be at most 365 days, got 400 days/);
    expect(make({ stsTestTimeout: Duration.seconds(60), timeout: Duration.seconds(60) })).toThrow(
      /timeout must exceed stsTestTimeout by at least 30 seconds, got timeout 1 minute and stsTestTimeout 1 minute/,
    );
    expect(make({ stsTestTimeout: Duration.millis(10) })).toThrow(/stsTestTimeout must be at least 1 second/);
    // A weekly cron: 2 days is shorter than its 7-day interval.
    expect(make({ gracePeriod: Duration.days(2), schedule: RotorSchedule.cron('cron(0 4 ? * SUN *)') })).not.toThrow();
  });

  it('checks the grace window against the schedule it is given, a rate or a cron (issue 10)', () => {
    const make = (props: Partial<ConstructorParameters<typeof IamAccessKeyRotation>[2]>) => {
      const { stack, secret, user } = arrange();
      return () => new IamAccessKeyRotation(stack, 'Rotation', { secret, user, ...props });
    };
    expect(make({ gracePeriod: Duration.hours(720), schedule: RotorSchedule.expression('rate(7 days)') })).toThrow(
      "Rotation: gracePeriod must be shorter than the interval between rotations of schedule (the next rotation would cut it short), got gracePeriod 30 days and schedule 'rate(7 days)', whose rotations can be 7 days apart",
    );
    expect(make({ gracePeriod: Duration.days(7), schedule: RotorSchedule.cron('cron(0 4 ? * SUN *)') })).toThrow(
      /got gracePeriod 7 days and schedule 'cron\(0 4 \? \* SUN \*\)', whose rotations can be 7 days apart/,
    );
    expect(make({ gracePeriod: Duration.hours(12), schedule: RotorSchedule.cron('cron(0 */6 * * ? *)') })).toThrow(
      /got gracePeriod 12 hours and schedule 'cron\(0 \*\/6 \* \* \? \*\)', whose rotations can be 6 hours apart/,
    );
    // The default grace window (24 hours) against a schedule: checked too.
    expect(make({ schedule: RotorSchedule.expression('rate(12 hours)') })).toThrow(/got gracePeriod 1 day and schedule 'rate\(12 hours\)'/);
    expect(make({ gracePeriod: Duration.days(6), schedule: RotorSchedule.expression('rate(7 days)') })).not.toThrow();
    // A cron that fires once: no later rotation cuts the window short.
    expect(make({ gracePeriod: Duration.days(300), schedule: RotorSchedule.cron('cron(0 4 1 1 ? 2030)') })).not.toThrow();
  });

  it('adds its secret and user to a retire schedule', () => {
    const { stack, secret, user } = arrange();
    const retire = new RetireSchedule(stack, 'Retire');
    new IamAccessKeyRotation(stack, 'Rotation', { secret, user, retireSchedule: retire });
    const statements = statementsOf(Template.fromStack(stack), 'RetireRole');
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: ['iam:ListAccessKeys', 'iam:UpdateAccessKey'],
      Resource: { 'Fn::GetAtt': [logicalId(stack, user), 'Arn'] },
    });
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: { Ref: logicalId(stack, secret) },
    });
  });
});

describe('IamAccessKeyRotation: consumer caches (issue 11)', () => {
  const make = (props: Partial<ConstructorParameters<typeof IamAccessKeyRotation>[2]>) => {
    const { stack, secret, user } = arrange();
    return () => new IamAccessKeyRotation(stack, 'Rotation', { secret, user, ...props });
  };

  it('refuses a grace window shorter than a declared consumer cache TTL, naming the prop and both values', () => {
    expect(make({ gracePeriod: Duration.minutes(30), consumerCacheTtl: Duration.hours(1) })).toThrow(
      'Rotation: gracePeriod must not be shorter than consumerCacheTtl (consumers may use the previous value from their cache that long after a rotation), got gracePeriod 30 minutes and consumerCacheTtl 1 hour',
    );
    expect(make({ gracePeriod: Duration.minutes(4), consumerCacheTtl: Duration.seconds(300) })).toThrow(
      /got gracePeriod 4 minutes and consumerCacheTtl 5 minutes/,
    );
    expect(make({ consumerCacheTtl: Duration.days(2) })).toThrow(/got gracePeriod 1 day and consumerCacheTtl 2 days/);
    expect(make({ consumerCacheTtl: Duration.seconds(0) })).toThrow('Rotation: consumerCacheTtl must be longer than 0, got 0 seconds');
  });

  it('accepts a grace window as long as the cache TTL or longer, and the default against the caches AWS documents', () => {
    expect(make({ gracePeriod: Duration.hours(1), consumerCacheTtl: Duration.hours(1) })).not.toThrow();
    expect(make({ consumerCacheTtl: Duration.seconds(300) })).not.toThrow(); // Lambda extension / Agent
    expect(make({ consumerCacheTtl: Duration.hours(1) })).not.toThrow(); // SDK caching clients
    expect(make({ gracePeriod: Duration.minutes(10) })).not.toThrow(); // nothing declared: not checked
  });
});

describe('RetireSchedule: retiring on evidence (issue 11)', () => {
  it('writes the evidence settings with their defaults, may ask IAM when the user\'s keys were last used, and publishes to the alarm topic only', () => {
    const { stack, secret, user } = arrange();
    const topic = new sns.Topic(stack, 'Alarms');
    const other = new sns.Topic(stack, 'Other');
    new RetireSchedule(stack, 'Retire', { alarmTopic: topic }).addIamAccessKey(secret, user);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('retire previous values'),
      Environment: {
        Variables: Match.objectLike({
          RETIRE_IN_USE_MARGIN_SECONDS: '3600',
          RETIRE_QUIET_HOURS: '24',
          RETIRE_IN_USE_LIMIT_HOURS: '168',
          RETIRE_IN_USE_ACTION: 'deactivate',
          ALARM_TOPIC_ARN: { Ref: stack.getLogicalId(topic.node.defaultChild as sns.CfnTopic) },
        }),
      },
    });
    const statements = statementsOf(template, 'RetireRole');
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: 'iam:GetAccessKeyLastUsed',
      Resource: { 'Fn::GetAtt': [logicalId(stack, user), 'Arn'] },
    });
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: 'sns:Publish',
      Resource: { Ref: stack.getLogicalId(topic.node.defaultChild as sns.CfnTopic) },
    });
    expect(JSON.stringify(statements)).not.toContain(stack.getLogicalId(other.node.defaultChild as sns.CfnTopic));
    expect(statements.filter((s) => actions(s).includes('sns:Publish'))).toHaveLength(1);
  });

  it('without an alarm topic: no ALARM_TOPIC_ARN and no sns:Publish; the settings as given', () => {
    const { stack, secret, user } = arrange();
    new RetireSchedule(stack, 'Retire', {
      inUseMargin: Duration.minutes(5),
      quietPeriod: Duration.days(2),
      inUseLimit: Duration.hours(0),
      inUseAction: 'keep',
    }).addIamAccessKey(secret, user);
    const template = Template.fromStack(stack);
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    expect(fn.Properties.Environment.Variables).toMatchObject({
      RETIRE_IN_USE_MARGIN_SECONDS: '300',
      RETIRE_QUIET_HOURS: '48',
      RETIRE_IN_USE_LIMIT_HOURS: '0',
      RETIRE_IN_USE_ACTION: 'keep',
    });
    expect(fn.Properties.Environment.Variables).not.toHaveProperty('ALARM_TOPIC_ARN');
    expect(statementsOf(template, 'RetireRole').flatMap(actions)).not.toContain('sns:Publish');
  });

  it('refuses bad evidence props at synth time, naming the prop and the value', () => {
    const make = (props: ConstructorParameters<typeof RetireSchedule>[2]) => () => new RetireSchedule(testStack(), 'Retire', props);
    expect(make({ inUseMargin: Duration.millis(1500) })).toThrow(
      'Retire: inUseMargin must be whole seconds between 0 seconds and 1 day, got 1 second 500 millis',
    );
    expect(make({ inUseMargin: Duration.hours(25) })).toThrow(/inUseMargin must be whole seconds .* got 1 day 1 hour/);
    expect(make({ quietPeriod: Duration.minutes(30) })).toThrow(
      'Retire: quietPeriod must be whole hours between 1 hour and 365 days, got 30 minutes',
    );
    expect(make({ quietPeriod: Duration.days(400) })).toThrow(/quietPeriod .* got 400 days/);
    expect(make({ inUseLimit: Duration.minutes(90) })).toThrow(
      'Retire: inUseLimit must be whole hours between 0 hours and 365 days, got 1 hour 30 minutes',
    );
    expect(make({ inUseAction: 'ignore' as never })).toThrow("Retire: inUseAction must be one of deactivate, keep, got 'ignore'");
  });
});

describe('RetireSchedule', () => {
  it('runs the retire entry hourly from an EventBridge schedule, one run at a time, no async retries', () => {
    const { stack, secret, user } = arrange();
    new RetireSchedule(stack, 'Retire').addIamAccessKey(secret, user);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RetireFunction'), 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('retire previous values'),
      ReservedConcurrentExecutions: 1,
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 0 });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RetireSchedule'), 'Arn'] },
    });
  });

  it('may read and tag only the secrets added to it, and only with rotor:retired-version', () => {
    const { stack, secret, user } = arrange();
    const unrelated = new secretsmanager.Secret(stack, 'Unrelated');
    const key = new kms.Key(stack, 'Cmk');
    const encrypted = new secretsmanager.Secret(stack, 'Encrypted', { encryptionKey: key });
    const retire = new RetireSchedule(stack, 'Retire', { interval: Duration.minutes(30) });
    retire.addIamAccessKey(secret, user);
    retire.addIamAccessKey(encrypted, user);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(30 minutes)' });
    const statements = statementsOf(template, 'RetireRole');
    for (const s of [secret, encrypted]) {
      expect(statements).toContainEqual({
        Effect: 'Allow',
        Action: 'secretsmanager:TagResource',
        Resource: { Ref: logicalId(stack, s) },
        Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['rotor:retired-version'] } },
      });
    }
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as kms.CfnKey), 'Arn'] },
      Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
    });
    expect(JSON.stringify(statements)).not.toContain(logicalId(stack, unrelated));
    const wildcard = statements.filter((s) => s.Resource === '*');
    expect(wildcard.map((s) => s.Action)).toEqual(['secretsmanager:ListSecrets']);
    // The user's statement is added once, however many of its secrets are added.
    expect(statements.filter((s) => actions(s).includes('iam:UpdateAccessKey'))).toHaveLength(1);
    const all = statements.flatMap(actions);
    expect(all).not.toContain('secretsmanager:PutSecretValue');
    expect(all).not.toContain('iam:DeleteAccessKey');
  });

  it('refuses a bad interval and a schedule with no secret', () => {
    const { stack } = arrange();
    expect(() => new RetireSchedule(stack, 'Fast', { interval: Duration.seconds(30) })).toThrow(
      'Fast: interval must be whole minutes between 1 minute and 24 hours, got 30 seconds',
    );
    expect(() => new RetireSchedule(stack, 'Slow', { interval: Duration.days(2) })).toThrow(/got 2 days/);
    new RetireSchedule(stack, 'Empty');
    expect(() => Template.fromStack(stack)).toThrow(/Empty: no secret was added/);
  });
});
