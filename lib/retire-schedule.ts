import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ServiceNames, TagsWrittenBy } from '../lambdas/contract';
import { LambdaEntries } from './lambda-entries';
import { addRotorFunction } from './rotor-function';
import { keyViaSecretsManager, secretArnPattern } from './secret-access';

/** Defaults of the retire schedule, in one place. */
export const retireScheduleDefaults = {
  interval: Duration.hours(1),
  timeout: Duration.minutes(5),
  logRetention: logs.RetentionDays.ONE_YEAR,
  memorySize: 256,
} as const;

export interface RetireScheduleProps {
  /**
   * How often the retire function runs; a previous value is retired at most this long after its
   * grace window ends.
   * @default Duration.hours(1)
   */
  readonly interval?: Duration;
  /**
   * Function timeout.
   * @default Duration.minutes(5)
   */
  readonly timeout?: Duration;
  /**
   * How long the function's logs are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Topic the function's error alarm notifies (a run that could not retire a secret fails).
   * @default - the alarm is created without an action
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * The scheduled "retire" function of dual-active kinds: hourly (by default) it finds the
 * Rotor-managed secrets whose previous value is past its grace window and retires that value
 * (deactivates the old IAM access key). It may read and tag only the secrets added to it, and
 * manage the keys of only the IAM users added with them.
 */
export class RetireSchedule extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly rule: events.Rule;
  public readonly errorAlarm: cloudwatch.Alarm;
  private readonly secrets: secretsmanager.ISecret[] = [];
  private readonly users = new Set<string>();

  public constructor(scope: Construct, id: string, props: RetireScheduleProps = {}) {
    super(scope, id);
    const interval = props.interval ?? retireScheduleDefaults.interval;
    const minutes = interval.toMinutes({ integral: false });
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 24 * 60) {
      throw new Error(`${id}: interval must be whole minutes between 1 minute and 24 hours, got ${interval.toHumanString()}`);
    }
    const parts = addRotorFunction(this, {
      entry: LambdaEntries.retire,
      description: 'Rotor: retire previous values of dual-active secrets after their grace window',
      roleDescription: 'Rotor retire function',
      serviceName: ServiceNames.RETIRE,
      timeout: props.timeout ?? retireScheduleDefaults.timeout,
      // It calls Secrets Manager and IAM only, no database.
      trustRdsCertificates: false,
      // ListSecrets has no resource type: it returns names and tags, never values.
      statements: [new iam.PolicyStatement({ actions: ['secretsmanager:ListSecrets'], resources: ['*'] })],
      wildcardReason: 'secretsmanager:ListSecrets has no resource type; it returns no values',
      logRetention: props.logRetention ?? retireScheduleDefaults.logRetention,
      // One run at a time: runs are idempotent, but two at once would do the same work twice.
      reservedConcurrentExecutions: 1,
      memorySize: retireScheduleDefaults.memorySize,
      alarmDescription: 'Rotor retire function failed (a previous value past its grace window could not be retired)',
      alarmPeriod: interval,
      alarmTopic: props.alarmTopic,
    });
    this.function = parts.function;
    this.errorAlarm = parts.errorAlarm;
    // A failed run is retried by the next scheduled one, not by Lambda's async retries.
    this.function.configureAsyncInvoke({ retryAttempts: 0 });

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'Rotor: run the retire function',
      schedule: events.Schedule.rate(interval),
      targets: [new targets.LambdaFunction(this.function)],
    });

    this.node.addValidation({
      validate: () => (this.secrets.length === 0 ? [`${id}: no secret was added (use addIamAccessKey or addSecret)`] : []),
    });
  }

  /**
   * Lets the function read a Rotor-managed secret and record in its tags which previous version
   * it retired. Only the `rotor:retired-version` tag: it cannot change the tags that mark a
   * secret as Rotor's.
   */
  public addSecret(secret: secretsmanager.ISecret): void {
    if (this.secrets.includes(secret)) return;
    this.secrets.push(secret);
    const resource = secretArnPattern(secret);
    this.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [resource] }),
    );
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:TagResource'],
        resources: [resource],
        conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': [...TagsWrittenBy.retire] } },
      }),
    );
    const key = keyViaSecretsManager(this, secret, ['kms:Decrypt']);
    if (key) this.function.addToRolePolicy(key);
  }

  /** Adds an IAM access key secret: the function may deactivate keys of `user` only. */
  public addIamAccessKey(secret: secretsmanager.ISecret, user: iam.IUser): void {
    this.addSecret(secret);
    const arn = user.userArn;
    if (this.users.has(arn)) return;
    this.users.add(arn);
    this.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['iam:ListAccessKeys', 'iam:UpdateAccessKey'], resources: [arn] }),
    );
  }
}
