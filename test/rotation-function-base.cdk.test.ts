import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { KIND_NAMES, KIND_TRAITS, resolveStrategy, RotorTags, settings, Strategies, type KindName } from '../lambdas/contract/index.js';
import { ApiTokenRotation } from '../lib/api-token-rotation.js';
import { IamAccessKeyRotation } from '../lib/iam-access-key-rotation.js';
import { KIND_CONSTRUCTS, type KindRegistry } from '../lib/kind-registry.js';
import { MysqlRotation } from '../lib/mysql-rotation.js';
import { PostgresRotation } from '../lib/postgres-rotation.js';
import type { RotationFunctionBase } from '../lib/rotation-function-base.js';
import { actionsOf, policyStatements, testStack } from './support/cdk.js';

/** One rotation of `kind` in a fresh stack, with a master secret or not (database kinds). */
function rotationOf(kind: KindName, withMaster: boolean) {
  const stack = testStack();
  const secret = new secretsmanager.Secret(stack, 'Secret');
  const master = withMaster ? new secretsmanager.Secret(stack, 'Master') : undefined;
  const build: Record<KindName, () => RotationFunctionBase> = {
    postgres: () => new PostgresRotation(stack, 'Rotation', { secret, masterSecret: master }),
    mysql: () => new MysqlRotation(stack, 'Rotation', { secret, masterSecret: master }),
    iam: () => new IamAccessKeyRotation(stack, 'Rotation', { secret, user: new iam.User(stack, 'User') }),
    'api-token': () =>
      new ApiTokenRotation(stack, 'Rotation', { secret, managementSecret: new secretsmanager.Secret(stack, 'Management') }),
  };
  const rotation = build[kind]();
  return { stack, rotation, template: Template.fromStack(stack) };
}

describe('RotationFunctionBase', () => {
  it('writes ROTATION_STRATEGY and the rotor:strategy tag from resolveStrategy for every kind, stated or not', () => {
    for (const kind of KIND_NAMES) {
      for (const withMaster of [false, true]) {
        if (withMaster && !KIND_TRAITS[kind].database) continue;
        const { rotation, template } = rotationOf(kind, withMaster);
        const strategy = resolveStrategy(kind, { masterSecret: withMaster });
        expect(rotation.strategy, `${kind} with master ${withMaster}`).toBe(strategy);
        const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0]!;
        expect(fn.Properties.Environment.Variables[settings.strategy.name], kind).toBe(strategy);
        const secret = Object.values(template.findResources('AWS::SecretsManager::Secret')).find((r) =>
          JSON.stringify(r.Properties.Tags ?? []).includes(RotorTags.KIND),
        )!;
        expect(secret.Properties.Tags).toContainEqual({ Key: RotorTags.STRATEGY, Value: strategy });
      }
    }
    // A stated strategy wins.
    const stack = testStack();
    const db = new PostgresRotation(stack, 'Db', {
      secret: new secretsmanager.Secret(stack, 'S'),
      masterSecret: new secretsmanager.Secret(stack, 'M'),
      strategy: Strategies.SINGLE_USER,
    });
    expect(db.strategy).toBe(Strategies.SINGLE_USER);
  });

  it('refuses a strategy the kind does not support, naming the prop and the value', () => {
    const stack = testStack();
    expect(
      () => new PostgresRotation(stack, 'Db', { secret: new secretsmanager.Secret(stack, 'S'), strategy: 'round-robin' as never }),
    ).toThrow("Db: strategy must be one of single-user, alternating-users, got 'round-robin'");
  });

  it('gives each kind what KIND_TRAITS says: GetRandomPassword for database kinds, a grace tag for dual-active ones, a PendingStoreFailed alarm for issuing ones', () => {
    for (const kind of KIND_NAMES) {
      const traits = KIND_TRAITS[kind];
      const { rotation, template } = rotationOf(kind, false);
      const wildcard = policyStatements(template, 'RotationRole')
        .filter((s) => s.Resource === '*')
        .flatMap(actionsOf);
      expect(wildcard.includes('secretsmanager:GetRandomPassword'), kind).toBe(traits.database);
      expect(rotation.pendingStoreAlarm !== undefined, kind).toBe(traits.issuesCredentials);
      template.resourceCountIs('AWS::CloudWatch::Alarm', traits.issuesCredentials ? 2 : 1);
      const tags = JSON.stringify(template.findResources('AWS::SecretsManager::Secret'));
      expect(tags.includes(RotorTags.GRACE_HOURS), kind).toBe(traits.dualActive);
    }
  });
});

describe('KIND_CONSTRUCTS', () => {
  it('has one construct per kind of the contract', () => {
    expect(Object.keys(KIND_CONSTRUCTS).sort()).toEqual([...KIND_NAMES].sort());
  });

  it('does not compile without a construct for every kind', () => {
    const { postgres, mysql, iam: iamKey } = KIND_CONSTRUCTS;
    // @ts-expect-error a kind of the contract (api-token) has no construct
    const missing: KindRegistry = { postgres, mysql, iam: iamKey };
    // @ts-expect-error a construct under another kind's name
    const swapped: KindRegistry = { postgres: mysql, mysql: postgres, iam: iamKey, 'api-token': KIND_CONSTRUCTS['api-token'] };
    expect([missing, swapped]).toHaveLength(2);
  });
});
