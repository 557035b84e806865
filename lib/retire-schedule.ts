import { Duration, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { RetireEvidence, ServiceNames, settings, TagsWrittenBy, type RetireInUseAction } from '../lambdas/contract/index.js';
import { writeSetting } from './function-settings.js';
import { addRotorFunction } from './rotor-function.js';
import { keyViaSecretsManager, secretArnPattern } from './secret-access.js';

/** Defaults of the retire schedule, in one place. */
export const retireScheduleDefaults = {
  interval: Duration.hours(1),
  timeout: Duration.minutes(5),
  logRetention: logs.RetentionDays.ONE_YEAR,
  memorySize: 256,
  /** A use of the previous credential up to this long after the new one took over does not hold it. */
  inUseMargin: Duration.seconds(RetireEvidence.marginSeconds.default),
  /** A previous credential unused this long is no longer in use. */
  quietPeriod: Duration.hours(RetireEvidence.quietHours.default),
  /** How long past its grace window a previous credential still in use is kept. */
  inUseLimit: Duration.hours(RetireEvidence.limitHours.default),
  /** What happens to it then. */
  inUseAction: RetireEvidence.ACTIONS.DEACTIVATE as RetireInUseAction,
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
   * Topic the function's error alarm notifies (a run that could not retire a secret fails). The
   * function also publishes to it (ALARM_TOPIC_ARN, `sns:Publish` on this topic only) when a
   * previous credential is still in use, naming the service and region that used it.
   * @default - the alarm is created without an action, and in-use findings are only logged and counted
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Retiring on evidence (kinds that report a last use: IAM keys, through GetAccessKeyLastUsed): a
   * use of the previous credential at most this long after the new one took over is the tail of
   * the switch-over (consumer caches refreshing, clock skew) and does not keep it. Whole seconds,
   * 0 to 24 hours (RETIRE_IN_USE_MARGIN_SECONDS).
   * @default Duration.hours(1) (the SDK caching clients' TTL; the Lambda extension and Agent cache 300 s)
   */
  readonly inUseMargin?: Duration;
  /**
   * A previous credential whose last use is older than this is no longer in use (a consumer that
   * stopped using it lets it go). Longer than the gap between two uses of your least frequent
   * consumer (a daily job: more than a day) and IAM's delay in reporting a use. Whole hours, 1
   * hour to 365 days (RETIRE_QUIET_HOURS).
   * @default Duration.hours(24)
   */
  readonly quietPeriod?: Duration;
  /**
   * How long past its grace window a previous credential still in use is kept before
   * `inUseAction` applies. Whole hours, 0 to 365 days (RETIRE_IN_USE_LIMIT_HOURS).
   * @default Duration.days(7)
   */
  readonly inUseLimit?: Duration;
  /**
   * Past `inUseLimit`, a previous credential still in use is `'deactivate'`d anyway (logged as an
   * error, counted and announced), or `'keep'`: kept, and the run fails for that secret (the
   * function's error alarm) until someone acts (RETIRE_IN_USE_ACTION).
   * @default 'deactivate'
   */
  readonly inUseAction?: RetireInUseAction;
}

/**
 * The scheduled "retire" function of dual-active kinds: hourly (by default) it finds the
 * Rotor-managed secrets whose previous value is past its grace window and retires that value
 * (deactivates the old IAM access key). It may read and tag only the secrets added to it, and
 * manage the keys of only the IAM users added with them.
 */
export class RetireSchedule extends Construct {
  public readonly function: lambda.Function;
  /** The function's own role (a permissions boundary or extra grants go here). */
  public readonly role: iam.Role;
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
    const evidence = validateEvidence(id, props);
    const parts = addRotorFunction(this, {
      bundle: 'retire',
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
      environment: {
        ...writeSetting(settings.retireInUseMarginSeconds, evidence.marginSeconds),
        ...writeSetting(settings.retireQuietHours, evidence.quietHours),
        ...writeSetting(settings.retireInUseLimitHours, evidence.limitHours),
        ...writeSetting(settings.retireInUseAction, evidence.action),
        ...writeSetting(settings.alarmTopicArn, props.alarmTopic?.topicArn),
      },
      alarmDescription: 'Rotor retire function failed (a previous value past its grace window could not be retired)',
      alarmPeriod: interval,
      alarmTopic: props.alarmTopic,
    });
    this.function = parts.function;
    this.role = parts.role;
    this.errorAlarm = parts.errorAlarm;
    // In-use findings are announced on the alarm topic: publish there, nowhere else.
    props.alarmTopic?.grantPublish(this.function);
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
    // The evidence: when the previous key was last used (a use after the rotation keeps it).
    this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['iam:GetAccessKeyLastUsed'], resources: [arn] }));
  }
}

/** Checks the evidence props at synth time (messages name the prop and the value) and returns them in the settings' units. */
function validateEvidence(
  id: string,
  props: RetireScheduleProps,
): { marginSeconds: number; quietHours: number; limitHours: number; action: RetireInUseAction } {
  const whole = (name: string, d: Duration, unit: 'seconds' | 'hours', b: { min: number; max: number }): number => {
    if (Token.isUnresolved(d.toMilliseconds())) throw new Error(`${id}: ${name} must be a concrete duration, not a token`);
    const value = unit === 'seconds' ? d.toSeconds({ integral: false }) : d.toHours({ integral: false });
    if (!Number.isInteger(value) || value < b.min || value > b.max) {
      const of = (n: number) => (unit === 'seconds' ? Duration.seconds(n) : Duration.hours(n)).toHumanString();
      const range = `${of(b.min)} and ${of(b.max)}`;
      throw new Error(`${id}: ${name} must be whole ${unit} between ${range}, got ${d.toHumanString()}`);
    }
    return value;
  };
  const action = props.inUseAction ?? retireScheduleDefaults.inUseAction;
  if (!Object.values(RetireEvidence.ACTIONS).includes(action)) {
    throw new Error(`${id}: inUseAction must be one of ${Object.values(RetireEvidence.ACTIONS).join(', ')}, got '${String(action)}'`);
  }
  return {
    marginSeconds: whole('inUseMargin', props.inUseMargin ?? retireScheduleDefaults.inUseMargin, 'seconds', RetireEvidence.marginSeconds),
    quietHours: whole('quietPeriod', props.quietPeriod ?? retireScheduleDefaults.quietPeriod, 'hours', RetireEvidence.quietHours),
    limitHours: whole('inUseLimit', props.inUseLimit ?? retireScheduleDefaults.inUseLimit, 'hours', RetireEvidence.limitHours),
    action,
  };
}
