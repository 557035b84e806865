import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { PostgresRotation } from '../lib/postgres-rotation.js';
import { RotorSchedule } from '../lib/rotation-schedule.js';
import { policyStatements, testStack } from './support/cdk.js';

function secretsIn(stack: ReturnType<typeof testStack>) {
  const app = new secretsmanager.Secret(stack, 'App');
  const master = new secretsmanager.Secret(stack, 'Master');
  return { app, master };
}

describe('PostgresRotation', () => {
  it('attaches a 30-day rotation schedule to the secret by default', () => {
    const stack = testStack();
    const { app } = secretsIn(stack);
    new PostgresRotation(stack, 'Rotation', { secret: app });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: { Ref: Match.stringLikeRegexp('App') },
      RotationLambdaARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('RotationFunction'), 'Arn'] },
      RotateImmediatelyOnUpdate: true,
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
  });

  it('sets the function environment the handler reads', () => {
    const stack = testStack();
    const { app, master } = secretsIn(stack);
    new PostgresRotation(stack, 'Rotation', { secret: app, masterSecret: master, passwordLength: 40, excludeCharacters: '/@' });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Environment: {
        Variables: Match.objectLike({
          ROTATION_STRATEGY: 'alternating-users',
          PASSWORD_LENGTH: '40',
          EXCLUDE_CHARACTERS: '/@',
        }),
      },
    });
  });

  it('writes REASSIGN_CLONE_OBJECTS only when asked, and refuses it without alternating users', () => {
    const stack = testStack();
    const { app, master } = secretsIn(stack);
    new PostgresRotation(stack, 'Rotation', { secret: app, masterSecret: master, reassignCloneObjects: true });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ROTATION_STRATEGY: 'alternating-users', REASSIGN_CLONE_OBJECTS: 'true' }) },
    });
    const plain = testStack();
    const other = secretsIn(plain);
    new PostgresRotation(plain, 'Rotation', { secret: other.app, masterSecret: other.master });
    const env = Object.values(Template.fromStack(plain).findResources('AWS::Lambda::Function'))
      .map((f) => f.Properties.Environment?.Variables ?? {})
      .find((v) => v.ROTATION_STRATEGY);
    expect(env).toBeDefined();
    expect(env).not.toHaveProperty('REASSIGN_CLONE_OBJECTS');
    const single = testStack();
    const s = secretsIn(single);
    expect(() => new PostgresRotation(single, 'Rotation', { secret: s.app, strategy: 'single-user', reassignCloneObjects: true })).toThrow(
      /Rotation: reassignCloneObjects applies to the alternating-users strategy only, got strategy single-user/,
    );
  });

  it('grants the function only its own secret (and the master read-only), GetRandomPassword on *', () => {
    const stack = testStack();
    const { app, master } = secretsIn(stack);
    const other = new secretsmanager.Secret(stack, 'Unrelated');
    new PostgresRotation(stack, 'Rotation', { secret: app, masterSecret: master });
    const template = Template.fromStack(stack);
    const statements = policyStatements(template);
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: [
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'secretsmanager:PutSecretValue',
        'secretsmanager:UpdateSecretVersionStage',
        'secretsmanager:ListSecretVersionIds',
      ],
      Resource: { Ref: stack.getLogicalId(app.node.defaultChild as secretsmanager.CfnSecret) },
    });
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Resource: { Ref: stack.getLogicalId(master.node.defaultChild as secretsmanager.CfnSecret) },
    });
    expect(statements).toContainEqual({ Effect: 'Allow', Action: 'secretsmanager:GetRandomPassword', Resource: '*' });
    const text = JSON.stringify(statements);
    expect(text).not.toContain(stack.getLogicalId(other.node.defaultChild as secretsmanager.CfnSecret));
    // The only wildcard resource is GetRandomPassword's (logs go through the log group's own grant).
    const wildcard = statements.filter((s) => s.Resource === '*');
    expect(wildcard.map((s) => s.Action)).toEqual(['secretsmanager:GetRandomPassword']);
  });

  it('uses the -?????? suffix for a secret imported by partial ARN', () => {
    const stack = testStack();
    const imported = secretsmanager.Secret.fromSecretPartialArn(
      stack,
      'Imported',
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db',
    );
    new PostgresRotation(stack, 'Rotation', { secret: imported });
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Resource: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-??????' }),
        ]),
      },
    });
  });

  it('lets Secrets Manager invoke the function only for this account', () => {
    const stack = testStack();
    new PostgresRotation(stack, 'Rotation', { secret: secretsIn(stack).app });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'secretsmanager.amazonaws.com',
      SourceAccount: '123456789012',
    });
  });

  it('uses a customer key only through Secrets Manager (kms:ViaService)', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'Key');
    const secret = new secretsmanager.Secret(stack, 'Encrypted', { encryptionKey: key });
    new PostgresRotation(stack, 'Rotation', { secret });
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
            Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
          }),
        ]),
      },
    });
  });

  it('takes a cron schedule with a window', () => {
    const stack = testStack();
    new PostgresRotation(stack, 'Rotation', {
      secret: secretsIn(stack).app,
      schedule: RotorSchedule.cron('cron(0 4 ? * SUN *)'),
      window: Duration.hours(3),
    });
    Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'cron(0 4 ? * SUN *)', Duration: '3h' },
    });
  });

  it('runs in a VPC and opens the database security group to the function', () => {
    const stack = testStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    const dbSg = new ec2.SecurityGroup(stack, 'DbSg', { vpc });
    new PostgresRotation(stack, 'Rotation', { secret: secretsIn(stack).app, vpc, database: dbSg });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: Match.objectLike({ SubnetIds: Match.anyValue(), SecurityGroupIds: Match.anyValue() }),
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { FromPort: 5432, ToPort: 5432, IpProtocol: 'tcp' });
  });

  it('tags the secret as Rotor-managed', () => {
    const stack = testStack();
    const { app, master } = secretsIn(stack);
    new PostgresRotation(stack, 'Rotation', { secret: app, masterSecret: master });
    Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::Secret', {
      Tags: Match.arrayWith([
        { Key: 'rotor:kind', Value: 'postgres' },
        { Key: 'rotor:strategy', Value: 'alternating-users' },
      ]),
    });
  });

  it('denies deletion of the rotated secret by default, and not when told', () => {
    const stack = testStack();
    const { app } = secretsIn(stack);
    new PostgresRotation(stack, 'Rotation', { secret: app });
    Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::ResourcePolicy', {
      ResourcePolicy: {
        Statement: [
          { Sid: 'RotorDenyDeletion', Effect: 'Deny', Action: 'secretsmanager:DeleteSecret', Principal: { AWS: '*' }, Resource: '*' },
        ],
      },
    });
    const other = testStack('Other');
    new PostgresRotation(other, 'Rotation', { secret: secretsIn(other).app, denyDeletion: false });
    Template.fromStack(other).resourceCountIs('AWS::SecretsManager::ResourcePolicy', 0);
  });

  it('alarms on the first function error and notifies the alarm topic', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'Alarms');
    new PostgresRotation(stack, 'Rotation', { secret: secretsIn(stack).app, alarmTopic: topic });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('Alarms') }],
    });
  });

  describe('refuses bad props at synth time, naming the prop and value', () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['rate under 4 hours', { automaticallyAfter: Duration.hours(2) }, /rate must be at least 4 hours, got 2 hours/],
      ['alternating without master', { strategy: 'alternating-users' }, /masterSecret is required/],
      ['password too short', { passwordLength: 4 }, /passwordLength must be an integer between 8 and 4096, got 4/],
      ['window over the interval', { automaticallyAfter: Duration.hours(6), window: Duration.hours(6) }, /window must be shorter than the interval between rotations \(6 hours\), got 6 hours/],
      ['schedule and rate together', { schedule: RotorSchedule.rate(Duration.days(1)), automaticallyAfter: Duration.days(2) }, /mutually exclusive/],
    ];
    for (const [name, extra, message] of cases) {
      it(name, () => {
        const stack = testStack();
        expect(() => new PostgresRotation(stack, 'Rotation', { secret: secretsIn(stack).app, ...extra })).toThrow(message);
      });
    }
    it('cron minutes not 0', () => {
      expect(() => RotorSchedule.cron('cron(30 4 ? * SUN *)')).toThrow(/cron minutes must be 0.*got '30'/);
    });
    it('cron window into the next day', () => {
      expect(() => RotorSchedule.cron('cron(0 22 * * ? *)').windowDuration(Duration.hours(4))).toThrow(
        /must not extend into the next UTC day: it opens at 22:00, got 4 hours/,
      );
    });
  });
});

describe('PostgresRotation with an imported secret', () => {
  it('tags the imported secret at deploy time, allowed only on that secret', () => {
    const stack = testStack();
    const imported = secretsmanager.Secret.fromSecretCompleteArn(
      stack,
      'Imported',
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf',
    );
    new PostgresRotation(stack, 'Rotation', { secret: imported });
    const template = Template.fromStack(stack);
    const custom = Object.values(template.findResources('Custom::AWS'))[0]!;
    expect(JSON.stringify(custom.Properties.Create)).toContain('tagResource');
    expect(JSON.stringify(custom.Properties.Create)).toContain('rotor:kind');
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Action: 'secretsmanager:TagResource',
            Effect: 'Allow',
            Resource: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf',
          },
        ],
      },
    });
  });
});
