import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { ApiTokenRotation, type ApiTokenRotationProps } from '../lib/api-token-rotation.js';
import { EmergencyRotation } from '../lib/emergency-rotation.js';
import { FingerprintKey } from '../lib/fingerprint-key.js';
import { RetireSchedule } from '../lib/retire-schedule.js';
import { ALLOW_LOOPBACK_FOR_TESTS } from '../lambdas/contract/testing.js';
import { RotorSchedule } from '../lib/rotation-schedule.js';
import { actionsOf as actions, policyStatements as statementsOf, testStack } from './support/cdk.js';

const ref = (stack: ReturnType<typeof testStack>, secret: secretsmanager.ISecret) => ({
  Ref: stack.getLogicalId(secret.node.defaultChild as secretsmanager.CfnSecret),
});

function arrange() {
  const stack = testStack();
  const secret = new secretsmanager.Secret(stack, 'Token');
  const management = new secretsmanager.Secret(stack, 'Management');
  return { stack, secret, management };
}

describe('ApiTokenRotation', () => {
  it('may read the management secret, never write it, and change only the secret it rotates', () => {
    // Prepare
    const { stack, secret, management } = arrange();
    const unrelated = new secretsmanager.Secret(stack, 'Unrelated');
    // Act
    new ApiTokenRotation(stack, 'Rotation', { secret, managementSecret: management });
    // Assess
    const statements = statementsOf(Template.fromStack(stack), 'RotationRole');
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Resource: ref(stack, management),
    });
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: [
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'secretsmanager:PutSecretValue',
        'secretsmanager:UpdateSecretVersionStage',
        'secretsmanager:ListSecretVersionIds',
      ],
      Resource: ref(stack, secret),
    });
    const onManagement = statements.filter((s) => JSON.stringify(s.Resource) === JSON.stringify(ref(stack, management)));
    expect(onManagement.flatMap(actions).sort()).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
    expect(JSON.stringify(statements)).not.toContain(JSON.stringify(ref(stack, unrelated)));
    const wildcard = statements.filter((s) => s.Resource === '*');
    // Tokens come from the provider: no GetRandomPassword, so no wildcard resource at all.
    expect(wildcard.flatMap(actions)).toEqual([]);
  });

  it('may tag its secret with the token fingerprints and the last failure only', () => {
    const { stack, secret, management } = arrange();
    new ApiTokenRotation(stack, 'Rotation', { secret, managementSecret: management });
    const statements = statementsOf(Template.fromStack(stack), 'RotationRole');
    const tagging = statements.filter((s) => actions(s).includes('secretsmanager:TagResource'));
    expect(tagging).toEqual([
      {
        Effect: 'Allow',
        Action: ['secretsmanager:TagResource', 'secretsmanager:UntagResource'],
        Resource: ref(stack, secret),
        Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['rotor:fp-current', 'rotor:fp-previous', 'rotor:last-failure'] } },
      },
    ]);
  });

  it('decrypts a management secret under a customer key only through Secrets Manager', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'Cmk');
    const secret = new secretsmanager.Secret(stack, 'Token');
    const management = new secretsmanager.Secret(stack, 'Management', { encryptionKey: key });
    new ApiTokenRotation(stack, 'Rotation', { secret, managementSecret: management });
    const statements = statementsOf(Template.fromStack(stack), 'RotationRole');
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as kms.CfnKey), 'Arn'] },
      Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
    });
  });

  it('runs the api-token entry with a 2-minute timeout and tags the secret (kind, strategy, grace hours)', () => {
    const { stack, secret, management } = arrange();
    new ApiTokenRotation(stack, 'Rotation', { secret, managementSecret: management, gracePeriod: Duration.hours(6) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Rotor api-token rotation',
      Timeout: 120,
      Environment: { Variables: Match.objectLike({ ROTATION_STRATEGY: 'single-user' }) },
    });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Tags: Match.arrayWith([
        { Key: 'rotor:grace-hours', Value: '6' },
        { Key: 'rotor:kind', Value: 'api-token' },
        { Key: 'rotor:strategy', Value: 'single-user' },
      ]),
    });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: ref(stack, secret),
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'secretsmanager.amazonaws.com',
      SourceAccount: '123456789012',
    });
  });

  it('defaults to a 24-hour grace window', () => {
    const { stack, secret, management } = arrange();
    new ApiTokenRotation(stack, 'Rotation', { secret, managementSecret: management });
    Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::Secret', {
      Tags: Match.arrayWith([{ Key: 'rotor:grace-hours', Value: '24' }]),
    });
  });

  it("with selfRotation reads no other secret (but Rotor's fingerprint key, GetSecretValue only)", () => {
    const { stack, secret, management } = arrange();
    new ApiTokenRotation(stack, 'Rotation', { secret, selfRotation: true });
    const statements = statementsOf(Template.fromStack(stack), 'RotationRole');
    expect(JSON.stringify(statements)).not.toContain(JSON.stringify(ref(stack, management)));
    const key = JSON.stringify(ref(stack, FingerprintKey.of(stack).secret));
    const secretStatements = statements.filter((s) => actions(s).some((a) => a.startsWith('secretsmanager:')) && s.Resource !== '*');
    const onKey = secretStatements.filter((s) => JSON.stringify(s.Resource) === key);
    expect(onKey.map((s) => actions(s))).toEqual([['secretsmanager:GetSecretValue']]);
    const others = secretStatements.filter((s) => JSON.stringify(s.Resource) !== key).map((s) => s.Resource);
    expect(others.length).toBeGreaterThan(0);
    expect(others.every((r) => JSON.stringify(r) === JSON.stringify(ref(stack, secret)))).toBe(true);
  });

  it('adds its secret to a retire schedule, whose function may read the management secret and nothing more', () => {
    const { stack, secret, management } = arrange();
    const retire = new RetireSchedule(stack, 'Retire');
    new ApiTokenRotation(stack, 'Rotation', { secret, managementSecret: management, retireSchedule: retire });
    const statements = statementsOf(Template.fromStack(stack), 'RetireRole');
    expect(statements).toContainEqual({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: ref(stack, secret) });
    expect(statements).toContainEqual({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: ref(stack, management) });
    const onManagement = statements.filter((s) => JSON.stringify(s.Resource) === JSON.stringify(ref(stack, management)));
    expect(onManagement.flatMap(actions)).toEqual(['secretsmanager:GetSecretValue']);
    expect(statements.flatMap(actions)).not.toContain('secretsmanager:PutSecretValue');
  });

  it('grants a retire schedule one read of a management secret however many rotations share it', () => {
    const { stack, secret, management } = arrange();
    const second = new secretsmanager.Secret(stack, 'SecondToken');
    const retire = new RetireSchedule(stack, 'Retire');
    new ApiTokenRotation(stack, 'Rotation', { secret, managementSecret: management, retireSchedule: retire });
    new ApiTokenRotation(stack, 'Second', { secret: second, managementSecret: management, retireSchedule: retire });
    const statements = statementsOf(Template.fromStack(stack), 'RetireRole');
    const onManagement = statements.filter((s) => JSON.stringify(s.Resource) === JSON.stringify(ref(stack, management)));
    expect(onManagement).toHaveLength(1);
    expect(statements).toContainEqual({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: ref(stack, second) });
  });

  it('validates its props at synth time, naming the prop and the value', () => {
    const make = (props: Record<string, unknown>) => {
      const { stack, secret, management } = arrange();
      return () =>
        new ApiTokenRotation(stack, 'Rotation', {
          secret,
          ...(props.noManagement ? {} : { managementSecret: props.self ? secret : management }),
          ...props,
        } as unknown as ApiTokenRotationProps);
    };
    expect(make({ noManagement: true })).toThrow(
      'Rotation: managementSecret is required (or selfRotation: true for a token that may only roll itself)',
    );
    expect(make({ selfRotation: true })).toThrow('Rotation: managementSecret and selfRotation exclude each other; pass one');
    expect(make({ self: true })).toThrow(/managementSecret must be another secret than the rotated one/);
    expect(make({ gracePeriod: Duration.days(400) })).toThrow(/gracePeriod must be at most 365 days, got 400 days/);
    expect(make({ gracePeriod: Duration.days(2), automaticallyAfter: Duration.days(1) })).toThrow(
      'Rotation: gracePeriod must be shorter than automaticallyAfter (the next rotation would cut it short), got gracePeriod 2 days and automaticallyAfter 1 day',
    );
    expect(make({ gracePeriod: Duration.days(2), schedule: RotorSchedule.cron('cron(0 4 ? * SUN *)') })).not.toThrow();
  });

  it('checks the grace window against the schedule it is given, a rate or a cron (issue 10)', () => {
    const make = (props: Partial<ApiTokenRotationProps>) => {
      const { stack, secret, management } = arrange();
      return () => new ApiTokenRotation(stack, 'Rotation', { secret, managementSecret: management, ...props } as ApiTokenRotationProps);
    };
    expect(make({ gracePeriod: Duration.hours(720), schedule: RotorSchedule.expression('rate(7 days)') })).toThrow(
      "Rotation: gracePeriod must be shorter than the interval between rotations of schedule (the next rotation would cut it short), got gracePeriod 30 days and schedule 'rate(7 days)', whose rotations can be 7 days apart",
    );
    expect(make({ gracePeriod: Duration.days(20), schedule: RotorSchedule.cron('cron(0 4 1,15 * ? *)') })).toThrow(
      /got gracePeriod 20 days and schedule 'cron\(0 4 1,15 \* \? \*\)', whose rotations can be 14 days apart/,
    );
    expect(make({ gracePeriod: Duration.days(13), schedule: RotorSchedule.cron('cron(0 4 1,15 * ? *)') })).not.toThrow();
  });

  it('refuses a grace window shorter than a declared consumer cache TTL, naming the prop and both values (issue 11)', () => {
    const make = (props: Partial<ApiTokenRotationProps>) => {
      const { stack, secret, management } = arrange();
      return () => new ApiTokenRotation(stack, 'Rotation', { secret, managementSecret: management, ...props } as ApiTokenRotationProps);
    };
    expect(make({ gracePeriod: Duration.minutes(30), consumerCacheTtl: Duration.hours(1) })).toThrow(
      'Rotation: gracePeriod must not be shorter than consumerCacheTtl (consumers may use the previous value from their cache that long after a rotation), got gracePeriod 30 minutes and consumerCacheTtl 1 hour',
    );
    expect(make({ consumerCacheTtl: Duration.days(3) })).toThrow(/got gracePeriod 1 day and consumerCacheTtl 3 days/);
    expect(make({ gracePeriod: Duration.hours(1), consumerCacheTtl: Duration.hours(1) })).not.toThrow();
    expect(make({ consumerCacheTtl: Duration.seconds(300) })).not.toThrow();
    const { stack, secret } = arrange();
    expect(
      () => new ApiTokenRotation(stack, 'Self', { secret, selfRotation: true, gracePeriod: Duration.minutes(1), consumerCacheTtl: Duration.minutes(5) }),
    ).toThrow(/Self: gracePeriod must not be shorter than consumerCacheTtl .* got gracePeriod 1 minute and consumerCacheTtl 5 minutes/);
  });

  it('never synthesizes a Rotor function with the loopback test opt-in, however it was added', () => {
    // Prepare: one function of each Rotor builder, each given the variable after construction.
    const synthWith = (add: (stack: ReturnType<typeof testStack>) => { addEnvironment(k: string, v: string): unknown }) => {
      const stack = testStack();
      add(stack).addEnvironment(ALLOW_LOOPBACK_FOR_TESTS, '1');
      return () => Template.fromStack(stack);
    };
    const rotation = synthWith((stack) => {
      const { secret, management } = { secret: new secretsmanager.Secret(stack, 'Token'), management: new secretsmanager.Secret(stack, 'Management') };
      return new ApiTokenRotation(stack, 'Rotation', { secret, managementSecret: management }).rotationFunction;
    });
    const selfRotation = synthWith(
      (stack) => new ApiTokenRotation(stack, 'Rotation', { secret: new secretsmanager.Secret(stack, 'Token'), selfRotation: true }).rotationFunction,
    );
    const retire = synthWith((stack) => new RetireSchedule(stack, 'Retire').function);
    const emergency = synthWith((stack) => new EmergencyRotation(stack, 'Emergency').handler);
    // Act / Assess
    const message = new RegExp(
      `environment variable ${ALLOW_LOOPBACK_FOR_TESTS} is for local tests and the sandbox only .*remove it from this Rotor function`,
    );
    for (const synth of [rotation, selfRotation, retire, emergency]) expect(synth).toThrow(message);
    expect(rotation).toThrow(/TestStack\/Rotation\/Function/);
  });

  it('sets no test opt-in of its own', () => {
    const { stack, secret, management } = arrange();
    new ApiTokenRotation(stack, 'Rotation', { secret, managementSecret: management });
    const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    expect(Object.keys(functions).length).toBeGreaterThan(0);
    for (const fn of Object.values(functions)) {
      expect(Object.keys(fn.Properties.Environment?.Variables ?? {})).not.toContain(ALLOW_LOOPBACK_FOR_TESTS);
    }
  });
});
