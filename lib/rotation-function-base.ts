import { Duration, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  KIND_TRAITS,
  resolveStrategy,
  RotorTags,
  ServiceNames,
  settings,
  TagsWrittenBy,
  type KindName,
  type Strategy,
} from '../lambdas/contract/index.js';
import { FingerprintKey, grantFingerprintKey } from './fingerprint-key.js';
import { writeSetting } from './function-settings.js';
import { gracePeriodDefaults, validateGracePeriod } from './grace-period.js';
import { tagRotorSecret } from './imported-secret-tags.js';
import { PendingStoreAlarm } from './pending-store-alarm.js';
import { grantRevoke } from './revoke-grants.js';
import { RotorSchedule } from './rotation-schedule.js';
import { addRotorFunction, rotorFunctionDefaults, type RotorFunctionOptions } from './rotor-function.js';
import { keyViaSecretsManager, secretArnPattern } from './secret-access.js';

/** Options every Rotor rotation construct takes (what a caller passes to a shortcut). */
export interface RotationOptions extends RotorFunctionOptions {
  /**
   * When to rotate. Mutually exclusive with `automaticallyAfter`.
   * @default - RotorSchedule.rate(automaticallyAfter)
   */
  readonly schedule?: RotorSchedule;
  /**
   * Interval between rotations, as a `rate()`.
   * @default Duration.days(30)
   */
  readonly automaticallyAfter?: Duration;
  /**
   * Length of the rotation window (whole hours, 1 to 24).
   * @default - Secrets Manager's default: one hour for schedules in hours, the rest of the UTC day for schedules in days
   */
  readonly window?: Duration;
  /**
   * Rotate as soon as the schedule is created or changed.
   * @default true
   */
  readonly rotateImmediatelyOnUpdate?: boolean;
  /**
   * Function timeout.
   * @default Duration.seconds(60)
   */
  readonly timeout?: Duration;
  /**
   * Reserved concurrency, which protects a database from many rotations at once.
   * @default - no reservation
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Topic the function's error alarm notifies.
   * @default - the alarm is created without an action
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Deny deletion of the rotated secret in its resource policy (secrets defined in this app only).
   * @default true
   */
  readonly denyDeletion?: boolean;
  /**
   * Rotor's fingerprint key secret, for kinds whose finishSecret writes fingerprint tags (every
   * kind has a leak identity: the password, the access key id, the token).
   * @default - the stack's FingerprintKey (FingerprintKey.of(stack)), shared with the emergency handler
   */
  readonly fingerprintKey?: secretsmanager.ISecret;
}

export interface RotationConstructProps extends RotationOptions {
  /** The secret to rotate. */
  readonly secret: secretsmanager.ISecret;
}

/** What the shared base needs from a kind's construct; what a kind is besides this comes from KIND_TRAITS. */
export interface RotationFunctionSpec {
  /** The kind (`rotor:kind` tag, function description, entry, traits). */
  readonly kind: KindName;
  /**
   * The strategy the caller stated; the base resolves the default with `resolveStrategy`.
   * @default - resolveStrategy(kind, { masterSecret }): alternating users for a database kind with a master secret, else single-user
   */
  readonly strategy?: Strategy;
  /**
   * The master secret (database kinds, alternating users): read only.
   * @default - none
   */
  readonly masterSecret?: secretsmanager.ISecret;
  /**
   * Environment of the function besides ROTATION_STRATEGY (written through the contract's settings).
   * @default - none
   */
  readonly environment?: Record<string, string>;
  /**
   * Other secrets the function may read (a management credential), never write.
   * @default - none
   */
  readonly readOnlySecrets?: secretsmanager.ISecret[];
  /**
   * Dual-active kinds (KIND_TRAITS `dualActive`): how long the previous value stays valid,
   * checked against the schedule and written to the `rotor:grace-hours` tag.
   * @default Duration.hours(DEFAULT_GRACE_HOURS)
   */
  readonly gracePeriod?: Duration;
  /**
   * The kind has a leak identity: finishSecret writes the `rotor:fp-current` / `rotor:fp-previous`
   * tags (and only those) on the secret, keyed with Rotor's fingerprint key (`fingerprintKey`),
   * which the function may read.
   * @default false
   */
  readonly fingerprintTags?: boolean;
}

/** Defaults of every rotation construct, in one place. */
export const rotationDefaults = {
  automaticallyAfter: Duration.days(30),
  rotateImmediatelyOnUpdate: true,
  logRetention: logs.RetentionDays.ONE_YEAR,
  timeout: Duration.seconds(60),
  memorySize: rotorFunctionDefaults.memorySize,
  runtime: rotorFunctionDefaults.runtime,
  denyDeletion: true,
  /** The error alarm fires on the first failed invocation in this period. */
  alarmPeriod: rotorFunctionDefaults.alarmPeriod,
} as const;

/**
 * The part every Rotor rotation construct shares: the function (bundled by local esbuild,
 * never Docker), its least-privilege grants on exactly the secret it rotates, the invoke
 * permission for Secrets Manager scoped to this account and secret, the schedule, the tags that
 * mark the secret as Rotor's, and what KIND_TRAITS says of the kind (random passwords for
 * database kinds, a grace window for dual-active ones, the PendingStoreFailed alarm for kinds
 * that issue credentials).
 */
export abstract class RotationFunctionBase extends Construct {
  /** The rotation function. */
  public readonly rotationFunction: lambda.Function;
  /** The rotation function's own role (a permissions boundary or extra grants go here). */
  public readonly role: iam.Role;
  /** The Secrets Manager rotation schedule. */
  public readonly rotationSchedule: secretsmanager.CfnRotationSchedule;
  /** The secret being rotated. */
  public readonly secret: secretsmanager.ISecret;
  /** Alarm on the function's errors (a failed rotation step). */
  public readonly errorAlarm: cloudwatch.Alarm;
  /**
   * Kinds that issue credentials (KIND_TRAITS `issuesCredentials`): alarm on PendingStoreFailed
   * (a credential issued but not stored; the function's log names its id). Undefined otherwise.
   */
  public readonly pendingStoreAlarm?: cloudwatch.Alarm;
  /** The kind (`rotor:kind` tag). */
  public readonly kind: KindName;
  /** The resolved strategy (ROTATION_STRATEGY of the function, `rotor:strategy` tag). */
  public readonly strategy: Strategy;
  /** Secrets the function reads but never writes (master secret, management credential). */
  public readonly readOnlySecrets: readonly secretsmanager.ISecret[];

  protected constructor(scope: Construct, id: string, props: RotationConstructProps, spec: RotationFunctionSpec) {
    super(scope, id);
    if (props.schedule && props.automaticallyAfter) {
      throw new Error(`${id}: schedule and automaticallyAfter are mutually exclusive; pass one`);
    }
    if (props.securityGroups && !props.vpc) {
      throw new Error(`${id}: securityGroups needs vpc`);
    }
    if (props.reservedConcurrentExecutions !== undefined && props.reservedConcurrentExecutions < 1) {
      throw new Error(
        `${id}: reservedConcurrentExecutions must be at least 1, got ${props.reservedConcurrentExecutions}`,
      );
    }
    const traits = KIND_TRAITS[spec.kind];
    const strategy = resolveStrategy(spec.kind, { stated: spec.strategy, masterSecret: spec.masterSecret !== undefined });
    if (!traits.strategies.includes(strategy)) {
      throw new Error(`${id}: strategy must be one of ${traits.strategies.join(', ')} for kind ${spec.kind}, got ${strategy}`);
    }
    const automaticallyAfter = props.automaticallyAfter ?? rotationDefaults.automaticallyAfter;
    const grace = traits.dualActive ? (spec.gracePeriod ?? gracePeriodDefaults.gracePeriod) : undefined;
    if (grace) validateGracePeriod(id, grace, props.schedule ? { schedule: props.schedule } : { automaticallyAfter });
    const schedule = props.schedule ?? RotorSchedule.rate(automaticallyAfter);
    const duration = schedule.windowDuration(props.window);
    this.secret = props.secret;
    this.kind = spec.kind;
    this.strategy = strategy;
    this.readOnlySecrets = [...(spec.masterSecret ? [spec.masterSecret] : []), ...(spec.readOnlySecrets ?? [])];
    const stack = Stack.of(this);

    const parts = addRotorFunction(this, {
      bundle: spec.kind,
      description: `Rotor ${spec.kind} rotation`,
      roleDescription: `Rotor ${spec.kind} rotation function`,
      serviceName: ServiceNames.ROTATION,
      timeout: props.timeout ?? rotationDefaults.timeout,
      environment: { ...writeSetting(settings.strategy, strategy), ...spec.environment },
      wildcardReason:
        'secretsmanager:GetRandomPassword has no resource type and the Lambda VPC network-interface actions ' +
        'do not support resource-level permissions; every other action names its resource',
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: props.securityGroups,
      logRetention: props.logRetention ?? rotationDefaults.logRetention,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      memorySize: rotationDefaults.memorySize,
      alarmDescription: `Rotor ${spec.kind} rotation function failed (a rotation step of ${props.secret.secretName} errored)`,
      alarmPeriod: rotationDefaults.alarmPeriod,
      alarmTopic: props.alarmTopic,
    });
    this.rotationFunction = parts.function;
    this.role = parts.role;
    this.errorAlarm = parts.errorAlarm;
    if (traits.issuesCredentials) {
      this.pendingStoreAlarm = new PendingStoreAlarm(this, 'PendingStoreFailedAlarm', {
        kind: spec.kind,
        secretName: props.secret.secretName,
        period: rotationDefaults.alarmPeriod,
        alarmTopic: props.alarmTopic,
      });
    }

    // Least privilege: this secret only (its versions' ARN pattern), GetRandomPassword on *
    // because the API has no resource.
    this.rotationFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
          // Single-user setSecret's last resort after a cancelled rotation (versions without a label).
          'secretsmanager:ListSecretVersionIds',
        ],
        resources: [secretArnPattern(props.secret)],
      }),
    );
    if (traits.database) {
      // Database kinds make passwords with GetRandomPassword; other kinds get no `*` permission at all.
      this.rotationFunction.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['secretsmanager:GetRandomPassword'], resources: ['*'] }),
      );
    }
    // Only its own tags (the last failure; the fingerprints for kinds with a leak identity): the
    // function cannot change the tags that mark a secret as Rotor's.
    const ownTags = spec.fingerprintTags ? [...TagsWrittenBy.rotation] : [RotorTags.LAST_FAILURE];
    this.rotationFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:TagResource', 'secretsmanager:UntagResource'],
        resources: [secretArnPattern(props.secret)],
        conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ownTags } },
      }),
    );
    if (spec.fingerprintTags) grantFingerprintKey(this.rotationFunction, props.fingerprintKey ?? FingerprintKey.of(this).secret);
    for (const other of this.readOnlySecrets) {
      this.rotationFunction.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          resources: [secretArnPattern(other)],
        }),
      );
      this.grantKey(other, ['kms:Decrypt']);
    }
    this.grantKey(props.secret, ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']);

    // Secrets Manager may invoke the function, for this account's secret only.
    const permission = new lambda.CfnPermission(this, 'SecretsManagerInvoke', {
      action: 'lambda:InvokeFunction',
      functionName: this.rotationFunction.functionArn,
      principal: 'secretsmanager.amazonaws.com',
      sourceAccount: stack.account,
    });

    this.rotationSchedule = new secretsmanager.CfnRotationSchedule(this, 'Schedule', {
      secretId: props.secret.secretArn,
      rotationLambdaArn: this.rotationFunction.functionArn,
      rotateImmediatelyOnUpdate: props.rotateImmediatelyOnUpdate ?? rotationDefaults.rotateImmediatelyOnUpdate,
      rotationRules: { scheduleExpression: schedule.expression, duration },
    });
    this.rotationSchedule.node.addDependency(permission);
    this.rotationSchedule.node.addDependency(this.rotationFunction);

    if (props.denyDeletion ?? rotationDefaults.denyDeletion) {
      // A no-op for imported secrets, whose resource policy this app does not own.
      props.secret.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'RotorDenyDeletion',
          effect: iam.Effect.DENY,
          actions: ['secretsmanager:DeleteSecret'],
          principals: [new iam.AnyPrincipal()],
          resources: ['*'],
        }),
      );
    }

    tagRotorSecret(this, props.secret, {
      [RotorTags.KIND]: spec.kind,
      [RotorTags.STRATEGY]: strategy,
      ...(grace ? { [RotorTags.GRACE_HOURS]: String(grace.toHours({ integral: false })) } : {}),
    });
  }

  /**
   * What the emergency handler needs to rotate this secret now and revoke a leaked value (see
   * `grantRevoke` in revoke-grants.ts). Kinds whose revoke touches another service add to it.
   */
  public grantRevoke(grantee: iam.IGrantable): void {
    grantRevoke(grantee, {
      scope: this,
      secret: this.secret,
      rotationFunction: this.rotationFunction,
      readOnlySecrets: this.readOnlySecrets,
    });
  }

  /** Lets the function use a customer-managed key, only through Secrets Manager. */
  private grantKey(secret: secretsmanager.ISecret, actions: string[]): void {
    const statement = keyViaSecretsManager(this, secret, actions);
    if (statement) this.rotationFunction.addToRolePolicy(statement);
  }

  /** Lets the function reach a database on its port (when the function runs in a VPC). */
  public allowTo(target: ec2.IConnectable, port: ec2.Port): void {
    if (this.rotationFunction.connections.securityGroups.length === 0) {
      throw new Error(`${this.node.id}: allowTo needs the function to run in a VPC (set vpc)`);
    }
    this.rotationFunction.connections.allowTo(target, port, `Rotor rotation ${this.node.id}`);
  }
}
