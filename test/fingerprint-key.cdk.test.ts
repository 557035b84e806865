import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { config as exampleConfig } from '../examples/app/rotor.config.js';
import { Fingerprints, settings } from '../lambdas/contract/index.js';
import { ApiTokenRotation } from '../lib/api-token-rotation.js';
import { EmergencyRotation } from '../lib/emergency-rotation.js';
import { FingerprintKey } from '../lib/fingerprint-key.js';
import { IamAccessKeyRotation } from '../lib/iam-access-key-rotation.js';
import { MysqlRotation } from '../lib/mysql-rotation.js';
import { PostgresRotation } from '../lib/postgres-rotation.js';
import { RotorStack } from '../lib/rotor-stack.js';
import { actionsOf, policyStatements, testStack, type Statement } from './support/cdk.js';

const KEY_VAR = settings.fingerprintKeyArn.name;
const refOf = (stack: ReturnType<typeof testStack>, secret: secretsmanager.ISecret) => ({
  Ref: stack.getLogicalId(secret.node.defaultChild as secretsmanager.CfnSecret),
});

/** Every construct with a leak identity, and the emergency handler, in one stack. */
function everyKind(stack: ReturnType<typeof testStack>, fingerprintKey?: secretsmanager.ISecret) {
  const master = new secretsmanager.Secret(stack, 'Master');
  const pg = new PostgresRotation(stack, 'Pg', { secret: new secretsmanager.Secret(stack, 'PgSecret'), masterSecret: master, fingerprintKey });
  const my = new MysqlRotation(stack, 'My', { secret: new secretsmanager.Secret(stack, 'MySecret'), strategy: 'single-user', fingerprintKey });
  const iamKey = new IamAccessKeyRotation(stack, 'Iam', { secret: new secretsmanager.Secret(stack, 'IamSecret'), user: new iam.User(stack, 'Deployer'), fingerprintKey });
  const token = new ApiTokenRotation(stack, 'Token', { secret: new secretsmanager.Secret(stack, 'TokenSecret'), selfRotation: true, fingerprintKey });
  const emergency = new EmergencyRotation(stack, 'Emergency', { rotations: [pg, my, iamKey, token], fingerprintKey });
  return { functions: [pg.rotationFunction, my.rotationFunction, iamKey.rotationFunction, token.rotationFunction, emergency.handler] };
}

/** The statements of one function's role. */
function roleStatements(template: Template, stack: ReturnType<typeof testStack>, fn: { role?: unknown }): Statement[] {
  const role = (fn as { role: { node: { defaultChild: unknown } } }).role;
  const id = stack.getLogicalId(role.node.defaultChild as never);
  return policyStatements(template, id);
}

describe('FingerprintKey', () => {
  it('is one generated secret per stack, tagged for the CLI, retained, and shared by every rotation and the emergency handler', () => {
    const stack = testStack();
    const { functions } = everyKind(stack);
    const template = Template.fromStack(stack);
    const keys = template.findResources('AWS::SecretsManager::Secret', {
      Properties: { Tags: Match.arrayWith([{ Key: Fingerprints.KEY_TAG, Value: Fingerprints.KEY_TAG_VALUE }]) },
    });
    expect(Object.keys(keys)).toHaveLength(1);
    const [keyId] = Object.keys(keys);
    const key = keys[keyId!]!;
    expect(key.DeletionPolicy).toBe('Retain');
    expect(key.UpdateReplacePolicy).toBe('Retain');
    expect(key.Properties.Description).toMatch(/Rotor's fingerprint key/);
    expect(key.Properties.GenerateSecretString).toMatchObject({ PasswordLength: Fingerprints.KEY_LENGTH, ExcludePunctuation: true, IncludeSpace: false });
    // No value in the template: CloudFormation generates it.
    expect(key.Properties.SecretString).toBeUndefined();
    expect(FingerprintKey.of(stack)).toBe(FingerprintKey.of(stack));

    for (const fn of functions) {
      const cfn = template.toJSON().Resources[stack.getLogicalId(fn.node.defaultChild as never)];
      expect(cfn.Properties.Environment.Variables[KEY_VAR], fn.node.path).toEqual({ Ref: keyId });
      // GetSecretValue on the key, nothing else on it, and no statement on the key with other actions.
      const onKey = roleStatements(template, stack, fn).filter((s) => JSON.stringify(s.Resource) === JSON.stringify({ Ref: keyId }));
      expect(onKey.map(actionsOf), fn.node.path).toEqual([['secretsmanager:GetSecretValue']]);
      const anyOnKey = roleStatements(template, stack, fn).filter((s) => JSON.stringify(s.Resource).includes(keyId!));
      expect(anyOnKey, fn.node.path).toHaveLength(1);
    }
  });

  it('database constructs may write the fingerprint tags now (their passwords are fingerprinted)', () => {
    const stack = testStack();
    everyKind(stack);
    const template = Template.fromStack(stack);
    for (const prefix of ['PgRole', 'MyRole']) {
      const tagging = policyStatements(template, prefix).find((s) => actionsOf(s).includes('secretsmanager:TagResource'));
      expect(tagging?.Condition, prefix).toEqual({
        'ForAllValues:StringEquals': { 'aws:TagKeys': ['rotor:fp-current', 'rotor:fp-previous', 'rotor:last-failure'] },
      });
    }
  });

  it('uses the key secret given as fingerprintKey instead (and then makes none), with kms:Decrypt through Secrets Manager for its key', () => {
    const stack = testStack();
    const cmk = new kms.Key(stack, 'Cmk', { enableKeyRotation: true });
    const own = new FingerprintKey(stack, 'OwnKey', { encryptionKey: cmk });
    const { functions } = everyKind(stack, own.secret);
    const template = Template.fromStack(stack);
    expect(Object.keys(template.findResources('AWS::SecretsManager::Secret', { Properties: { Tags: Match.arrayWith([{ Key: Fingerprints.KEY_TAG, Value: Fingerprints.KEY_TAG_VALUE }]) } }))).toEqual([
      stack.getLogicalId(own.secret.node.defaultChild as secretsmanager.CfnSecret),
    ]);
    const cmkArn = { 'Fn::GetAtt': [stack.getLogicalId(cmk.node.defaultChild as kms.CfnKey), 'Arn'] };
    for (const fn of functions) {
      const cfn = template.toJSON().Resources[stack.getLogicalId(fn.node.defaultChild as never)];
      expect(cfn.Properties.Environment.Variables[KEY_VAR]).toEqual(refOf(stack, own.secret));
      const decrypt = roleStatements(template, stack, fn).filter((s) => JSON.stringify(s.Resource) === JSON.stringify(cmkArn));
      expect(decrypt.map(actionsOf), fn.node.path).toEqual([['kms:Decrypt']]);
      expect(decrypt[0]!.Condition).toEqual({ StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } });
    }
  });

  it('RotorStack makes it once, exposes it, and cdk-nag finds nothing unacknowledged', () => {
    const app = new App();
    const stack = new RotorStack(app, 'Rotor', { config: exampleConfig, env: { account: '123456789012', region: 'eu-west-1' } });
    const template = Template.fromStack(stack);
    const keys = template.findResources('AWS::SecretsManager::Secret', { Properties: { Tags: Match.arrayWith([{ Key: Fingerprints.KEY_TAG, Value: Fingerprints.KEY_TAG_VALUE }]) } });
    expect(Object.keys(keys)).toEqual([stack.getLogicalId(stack.fingerprintKey.secret.node.defaultChild as secretsmanager.CfnSecret)]);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  it('cdk-nag still flags an unrotated secret that is not the fingerprint key (the acknowledgement is the key secret\'s own)', () => {
    const app = new App();
    const stack = new RotorStack(app, 'Rotor', { config: exampleConfig, env: { account: '123456789012', region: 'eu-west-1' } });
    new secretsmanager.Secret(stack, 'Unrotated');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SMG4/);
  });
});
