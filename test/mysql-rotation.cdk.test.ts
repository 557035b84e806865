import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { MysqlRotation } from '../lib/mysql-rotation.js';
import { RotorSchedule } from '../lib/rotation-schedule.js';
import { policyStatements as statementsOf, testStack } from './support/cdk.js';

function secretsIn(stack: ReturnType<typeof testStack>) {
  const app = new secretsmanager.Secret(stack, 'App');
  const master = new secretsmanager.Secret(stack, 'Master');
  return { app, master };
}

describe('MysqlRotation', () => {
  it('attaches a 30-day rotation schedule to the secret by default', () => {
    const stack = testStack();
    const { app } = secretsIn(stack);
    new MysqlRotation(stack, 'Rotation', { secret: app });
    Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: { Ref: Match.stringLikeRegexp('App') },
      RotationLambdaARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('RotationFunction'), 'Arn'] },
      RotateImmediatelyOnUpdate: true,
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
  });

  it('sets the function environment the handler reads, only what was given', () => {
    const stack = testStack();
    const { app, master } = secretsIn(stack);
    new MysqlRotation(stack, 'Rotation', {
      secret: app,
      masterSecret: master,
      passwordLength: 40,
      excludeCharacters: '/@',
      maxUsernameLength: 16,
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Rotor mysql rotation',
      Environment: {
        Variables: Match.objectLike({
          ROTATION_STRATEGY: 'alternating-users',
          PASSWORD_LENGTH: '40',
          EXCLUDE_CHARACTERS: '/@',
          MAX_USERNAME_LENGTH: '16',
        }),
      },
    });
    const vars = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((f) => (f as { Properties: { Environment?: { Variables?: Record<string, string> } } }).Properties.Environment?.Variables)
      .find((v) => v?.ROTATION_STRATEGY);
    expect(vars).not.toHaveProperty('DUAL_PASSWORD');
  });

  it('defaults to single-user without a master secret; dualPassword sets DUAL_PASSWORD', () => {
    const stack = testStack();
    new MysqlRotation(stack, 'Rotation', { secret: secretsIn(stack).app, dualPassword: true });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ROTATION_STRATEGY: 'single-user', DUAL_PASSWORD: 'true' }) },
    });
  });

  it('grants the function only its own secret (and the master read-only), GetRandomPassword on *', () => {
    const stack = testStack();
    const { app, master } = secretsIn(stack);
    const other = new secretsmanager.Secret(stack, 'Unrelated');
    new MysqlRotation(stack, 'Rotation', { secret: app, masterSecret: master });
    const statements = statementsOf(Template.fromStack(stack));
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
    expect(JSON.stringify(statements)).not.toContain(stack.getLogicalId(other.node.defaultChild as secretsmanager.CfnSecret));
    // The master is read only: no statement lets the function write it.
    const writes = statements.filter((s) => [s.Action].flat().some((a) => /PutSecretValue|UpdateSecretVersionStage/.test(a)));
    expect(writes.map((s) => s.Resource)).toEqual([{ Ref: stack.getLogicalId(app.node.defaultChild as secretsmanager.CfnSecret) }]);
    // No Secrets Manager action but GetRandomPassword on '*'.
    const wildcard = statements.filter((s) => s.Resource === '*' && [s.Action].flat().some((a) => a.startsWith('secretsmanager:')));
    expect(wildcard.map((s) => s.Action)).toEqual(['secretsmanager:GetRandomPassword']);
  });

  it('uses the -?????? suffix for a secret imported by partial ARN', () => {
    const stack = testStack();
    const imported = secretsmanager.Secret.fromSecretPartialArn(
      stack,
      'Imported',
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/mysql',
    );
    new MysqlRotation(stack, 'Rotation', { secret: imported });
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Resource: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/mysql-??????' }),
        ]),
      },
    });
  });

  it('lets Secrets Manager invoke the function only for this account', () => {
    const stack = testStack();
    new MysqlRotation(stack, 'Rotation', { secret: secretsIn(stack).app });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'secretsmanager.amazonaws.com',
      SourceAccount: '123456789012',
    });
  });

  it('uses customer keys only through Secrets Manager (kms:ViaService), the master key to decrypt only', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'Key');
    const masterKey = new kms.Key(stack, 'MasterKey');
    const secret = new secretsmanager.Secret(stack, 'Encrypted', { encryptionKey: key });
    const master = new secretsmanager.Secret(stack, 'EncryptedMaster', { encryptionKey: masterKey });
    new MysqlRotation(stack, 'Rotation', { secret, masterSecret: master });
    const statements = statementsOf(Template.fromStack(stack));
    const via = { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } };
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], Condition: via }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: 'kms:Decrypt',
        Resource: { 'Fn::GetAtt': [stack.getLogicalId(masterKey.node.defaultChild as kms.CfnKey), 'Arn'] },
        Condition: via,
      }),
    );
  });

  it('takes a cron schedule with a window', () => {
    const stack = testStack();
    new MysqlRotation(stack, 'Rotation', {
      secret: secretsIn(stack).app,
      schedule: RotorSchedule.cron('cron(0 4 ? * SUN *)'),
      window: Duration.hours(3),
    });
    Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'cron(0 4 ? * SUN *)', Duration: '3h' },
    });
  });

  it('runs in a VPC and opens the database security group to the function on 3306', () => {
    const stack = testStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    const dbSg = new ec2.SecurityGroup(stack, 'DbSg', { vpc });
    new MysqlRotation(stack, 'Rotation', { secret: secretsIn(stack).app, vpc, database: dbSg });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: Match.objectLike({ SubnetIds: Match.anyValue(), SecurityGroupIds: Match.anyValue() }),
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { FromPort: 3306, ToPort: 3306, IpProtocol: 'tcp' });
  });

  it('tags the secret as Rotor-managed', () => {
    const stack = testStack();
    const { app, master } = secretsIn(stack);
    new MysqlRotation(stack, 'Rotation', { secret: app, masterSecret: master });
    Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::Secret', {
      Tags: Match.arrayWith([
        { Key: 'rotor:kind', Value: 'mysql' },
        { Key: 'rotor:strategy', Value: 'alternating-users' },
      ]),
    });
  });

  it('denies deletion of the rotated secret by default', () => {
    const stack = testStack();
    new MysqlRotation(stack, 'Rotation', { secret: secretsIn(stack).app });
    Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::ResourcePolicy', {
      ResourcePolicy: {
        Statement: [
          { Sid: 'RotorDenyDeletion', Effect: 'Deny', Action: 'secretsmanager:DeleteSecret', Principal: { AWS: '*' }, Resource: '*' },
        ],
      },
    });
  });

  describe('refuses bad props at synth time, naming the prop and value', () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['alternating without master', { strategy: 'alternating-users' }, /Rotation: masterSecret is required/],
      ['password too short', { passwordLength: 4 }, /passwordLength must be an integer between 8 and 4096, got 4/],
      ['user name limit zero', { maxUsernameLength: 0 }, /maxUsernameLength must be an integer between 1 and 128, got 0/],
      ['user name limit not whole', { maxUsernameLength: 16.5 }, /maxUsernameLength must be an integer between 1 and 128, got 16.5/],
      ['rate under 4 hours', { automaticallyAfter: Duration.hours(2) }, /rate must be at least 4 hours, got 2 hours/],
    ];
    for (const [name, extra, message] of cases) {
      it(name, () => {
        const stack = testStack();
        expect(() => new MysqlRotation(stack, 'Rotation', { secret: secretsIn(stack).app, ...extra })).toThrow(message);
      });
    }
    it('dual passwords with alternating users', () => {
      const stack = testStack();
      const { app, master } = secretsIn(stack);
      expect(() => new MysqlRotation(stack, 'Rotation', { secret: app, masterSecret: master, dualPassword: true })).toThrow(
        /dualPassword applies to the single-user strategy only, got strategy alternating-users/,
      );
    });
  });
});
