import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import {
  addApiTokenRotation,
  addIamAccessKeyRotation,
  addMysqlRotation,
  addPostgresRotation,
} from '../lib/rotation-shortcuts.js';
import { testStack } from './support/cdk.js';

describe('addXxxRotation shortcuts', () => {
  it('create each kind beside its secret, with the options passed', () => {
    const stack = testStack();
    const master = new secretsmanager.Secret(stack, 'Master');
    const pg = addPostgresRotation(new secretsmanager.Secret(stack, 'Pg'), { masterSecret: master });
    const my = addMysqlRotation(new secretsmanager.Secret(stack, 'My'));
    const key = addIamAccessKeyRotation(new secretsmanager.Secret(stack, 'Key'), { user: new iam.User(stack, 'U') });
    const tok = addApiTokenRotation(new secretsmanager.Secret(stack, 'Tok'), { managementSecret: master });
    expect([pg, my, key, tok].map((r) => r.node.path)).toEqual([
      'TestStack/Pg/Rotation',
      'TestStack/My/Rotation',
      'TestStack/Key/Rotation',
      'TestStack/Tok/Rotation',
    ]);
    expect([pg, my, key, tok].map((r) => r.kind)).toEqual(['postgres', 'mysql', 'iam', 'api-token']);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 4);
    const strategies = Object.values(template.findResources('AWS::Lambda::Function')).map(
      (f) => f.Properties.Environment?.Variables?.ROTATION_STRATEGY,
    );
    expect(strategies).toContain('alternating-users');
  });
});
