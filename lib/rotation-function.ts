import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, Resource, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { RotorMetrics } from '../lambdas/contract';
import { RotorSchedule } from './rotation-schedule';
import { addRotorFunction, rotorFunctionDefaults, type RotorFunctionOptions } from './rotor-function';

const here = dirname(fileURLToPath(import.meta.url));

/** Path of a Lambda entry in lambdas/ (`postgres` → lambdas/postgres/index.ts). */
export function lambdaEntry(folder: string, file = 'index.ts'): string {
  return join(here, '..', 'lambdas', folder, file);
}

/** Strategies a rotation construct may be given (ROTATION_STRATEGY of the function). */
export const RotationStrategy = {
  SINGLE_USER: 'single-user',
  ALTERNATING_USERS: 'alternating-users',
} as const;
export type RotationStrategy = (typeof RotationStrategy)[keyof typeof RotationStrategy];

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
}

/** What the shared base needs from a kind's construct. */
export interface RotationFunctionSpec {
  /** Kind name (`postgres`, `mysql`, `iam`, `api-token`): tags and function description. */
  readonly kind: string;
  /** Lambda entry file. */
  readonly entry: string;
  readonly strategy?: RotationStrategy;
  /** Environment of the function besides ROTATION_STRATEGY. */
  readonly environment?: Record<string, string>;
  /** Other secrets the function may read (a master secret, a management credential), never write. */
  readonly readOnlySecrets?: secretsmanager.ISecret[];
  /** Extra tags for the rotated secret (e.g. `rotor:grace-hours`). */
  readonly tags?: Record<string, string>;
  /**
   * The kind makes passwords with GetRandomPassword (the database kinds). Without it the
   * function gets no `*` permission at all.
   * @default true
   */
  readonly randomPasswords?: boolean;
  /**
   * The kind has a leak identity: finishSecret writes the `rotor:fp-current` / `rotor:fp-previous`
   * tags (and only those) on the secret.
   * @default false
   */
  readonly fingerprintTags?: boolean;
  /**
   * createSecret issues a credential outside Secrets Manager (an IAM key, an API token): the
   * construct adds an alarm on the PendingStoreFailed metric (issued, but not stored).
   * @default false
   */
  readonly issuesCredentials?: boolean;
}

export interface RotationConstructProps extends RotationOptions {
  /** The secret to rotate. */
  readonly secret: secretsmanager.ISecret;
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

/** ARN pattern that matches a secret's versions of ARN: the partial ARN needs the `-??????` suffix. */
export function secretArnPattern(secret: secretsmanager.ISecret): string {
  return secret.secretFullArn ?? `${secret.secretArn}-??????`;
}

/**
 * The part every Rotor rotation construct shares: the function (bundled by local esbuild,
 * never Docker), its least-privilege grants on exactly the secret it rotates, the invoke
 * permission for Secrets Manager scoped to this account and secret, and the schedule.
 */
export abstract class RotationFunctionBase extends Construct {
  /** The rotation function. */
  public readonly rotationFunction: nodejs.NodejsFunction;
  /** The Secrets Manager rotation schedule. */
  public readonly rotationSchedule: secretsmanager.CfnRotationSchedule;
  /** The secret being rotated. */
  public readonly secret: secretsmanager.ISecret;
  /** Alarm on the function's errors (a failed rotation step). */
  public readonly errorAlarm: cloudwatch.Alarm;
  /**
   * Kinds that issue credentials: alarm on PendingStoreFailed (a credential issued but not
   * stored; the function's log names its id). Undefined for the database kinds.
   */
  public readonly pendingStoreAlarm?: cloudwatch.Alarm;
  /** The kind (`rotor:kind` tag). */
  public readonly kind: string;
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
    const schedule = props.schedule ?? RotorSchedule.rate(props.automaticallyAfter ?? rotationDefaults.automaticallyAfter);
    const duration = schedule.windowDuration(props.window);
    this.secret = props.secret;
    this.kind = spec.kind;
    this.readOnlySecrets = spec.readOnlySecrets ?? [];
    const stack = Stack.of(this);

    const parts = addRotorFunction(this, {
      entry: spec.entry,
      description: `Rotor ${spec.kind} rotation`,
      roleDescription: `Rotor ${spec.kind} rotation function`,
      serviceName: 'rotor',
      timeout: props.timeout ?? rotationDefaults.timeout,
      environment: { ...(spec.strategy ? { ROTATION_STRATEGY: spec.strategy } : {}), ...spec.environment },
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
    this.errorAlarm = parts.errorAlarm;
    if (spec.issuesCredentials) {
      this.pendingStoreAlarm = new cloudwatch.Alarm(this, 'PendingStoreFailedAlarm', {
        alarmDescription:
          `Rotor ${spec.kind}: a new credential was issued for ${props.secret.secretName} but could not be stored; ` +
          "its id is in the rotation function's log (see the README, \"When a pending value cannot be stored\")",
        metric: new cloudwatch.Metric({
          namespace: RotorMetrics.NAMESPACE,
          metricName: RotorMetrics.PENDING_STORE_FAILED,
          dimensionsMap: { service: 'rotor', kind: spec.kind },
          statistic: 'Sum',
          period: rotationDefaults.alarmPeriod,
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      if (props.alarmTopic) this.pendingStoreAlarm.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));
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
    if (spec.randomPasswords ?? true) {
      this.rotationFunction.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['secretsmanager:GetRandomPassword'], resources: ['*'] }),
      );
    }
    if (spec.fingerprintTags) {
      // Only the two fingerprint tags: the function cannot change the tags that mark a secret as Rotor's.
      this.rotationFunction.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['secretsmanager:TagResource'],
          resources: [secretArnPattern(props.secret)],
          conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['rotor:fp-current', 'rotor:fp-previous'] } },
        }),
      );
    }
    for (const other of spec.readOnlySecrets ?? []) {
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

    this.tagSecret(props.secret, {
      'rotor:kind': spec.kind,
      ...(spec.strategy ? { 'rotor:strategy': spec.strategy } : {}),
      ...spec.tags,
    });
  }

  /**
   * What the emergency handler needs to rotate this secret now and revoke a leaked value:
   * describe, read, rotate (restating this function, hence InvokeFunction on it), unlabel and
   * tag the secret (only the emergency tags), read the read-only secrets, random passwords.
   * Kinds whose revoke touches another service add to it (IAM keys).
   */
  public grantRevoke(grantee: iam.IGrantable): void {
    const add = (statement: iam.PolicyStatement) => grantee.grantPrincipal.addToPrincipalPolicy(statement);
    add(
      new iam.PolicyStatement({
        actions: [
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:RotateSecret',
          'secretsmanager:UpdateSecretVersionStage',
          // Claims only (lambdas/core/claim.ts): one delivery of a leak rotates and announces.
          // PutSecretValue has no condition key for the label; the handler writes claim versions
          // labelled ROTOR_CLAIM and nothing else.
          'secretsmanager:PutSecretValue',
        ],
        resources: [secretArnPattern(this.secret)],
      }),
    );
    add(
      new iam.PolicyStatement({
        actions: ['secretsmanager:TagResource'],
        resources: [secretArnPattern(this.secret)],
        conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['rotor:revoked-version', 'rotor:leak-event'] } },
      }),
    );
    add(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.rotationFunction.functionArn] }));
    for (const other of this.readOnlySecrets) {
      add(
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          resources: [secretArnPattern(other)],
        }),
      );
    }
    const keys = [
      // Writing a claim version encrypts with the rotated secret's key.
      { key: this.secret.encryptionKey, actions: ['kms:Decrypt', 'kms:GenerateDataKey'] },
      ...this.readOnlySecrets.map((r) => ({ key: r.encryptionKey, actions: ['kms:Decrypt'] })),
    ];
    for (const { key, actions } of keys) {
      if (!key) continue;
      add(
        new iam.PolicyStatement({
          actions,
          resources: [key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
        }),
      );
    }
  }

  /**
   * Marks the secret as Rotor-managed (the retire handler, the emergency handler and
   * `rotor status` find secrets by these tags). A secret defined in this app is tagged in its
   * template; an imported one through a TagResource call at deploy time.
   */
  private tagSecret(secret: secretsmanager.ISecret, tags: Record<string, string>): void {
    if (Resource.isOwnedResource(secret)) {
      for (const [key, value] of Object.entries(tags)) Tags.of(secret).add(key, value);
      return;
    }
    const call: cr.AwsSdkCall = {
      service: 'SecretsManager',
      action: 'tagResource',
      parameters: { SecretId: secret.secretArn, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
      physicalResourceId: cr.PhysicalResourceId.of(`rotor-tags-${secret.secretArn}`),
    };
    new cr.AwsCustomResource(this, 'TagSecret', {
      onCreate: call,
      onUpdate: call,
      installLatestAwsSdk: false,
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ['secretsmanager:TagResource'], resources: [secretArnPattern(secret)] }),
      ]),
    });
    // The SDK-call provider is a singleton aws-cdk-lib creates with the basic execution role.
    const provider = Stack.of(this).node.tryFindChild(cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '').replace(/^/, 'AWS'));
    if (provider) {
      Validations.of(provider).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: "aws-cdk-lib's AwsCustomResource provider (it tags imported secrets once per deploy) uses the basic execution role for its logs only",
      });
    }
  }

  /** Lets the function use a customer-managed key, only through Secrets Manager. */
  private grantKey(secret: secretsmanager.ISecret, actions: string[]): void {
    if (!secret.encryptionKey) return;
    const stack = Stack.of(this);
    this.rotationFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions,
        resources: [secret.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com` } },
      }),
    );
  }

  /** Lets the function reach a database on its port (when the function runs in a VPC). */
  public allowTo(target: ec2.IConnectable, port: ec2.Port): void {
    if (this.rotationFunction.connections.securityGroups.length === 0) {
      throw new Error(`${this.node.id}: allowTo needs the function to run in a VPC (set vpc)`);
    }
    this.rotationFunction.connections.allowTo(target, port, `Rotor rotation ${this.node.id}`);
  }
}
