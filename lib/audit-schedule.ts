import { Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { Audit, AUDIT_CONDITIONS, RotorMetrics, ServiceNames, settings, type AuditCondition } from '../lambdas/contract/index.js';
import { writeSetting } from './function-settings.js';
import { addRotorFunction } from './rotor-function.js';

/** Defaults of the scheduled audit, in one place (the audit's own defaults are the contract's `Audit`). */
export const auditScheduleDefaults = {
  interval: Duration.days(1),
  timeout: Duration.minutes(5),
  logRetention: logs.RetentionDays.ONE_YEAR,
  memorySize: 256,
  keyMaxAgeDays: Audit.keyMaxAgeDays.default,
  stuckAfter: Duration.minutes(Audit.stuckAfterMinutes.default),
  /** The conditions alarmed on (a count above 0). */
  alarmConditions: Audit.ALARM_CONDITIONS,
} as const;

export interface AuditScheduleProps {
  /**
   * How often the audit runs. Whole hours, 1 hour to 1 day (the alarms read one run's counts per
   * period, and a CloudWatch alarm period is at most a day).
   * @default Duration.days(1)
   */
  readonly interval?: Duration;
  /**
   * The regions whose secrets are audited (AUDIT_REGIONS).
   * @default - the stack's region
   */
  readonly regions?: readonly string[];
  /**
   * IAM access keys older than this many days that no secret holds are counted (`old-unmanaged-key`).
   * @default 90
   */
  readonly keyMaxAgeDays?: number;
  /**
   * An AWSPENDING version older than this, not yet AWSCURRENT, counts as stuck. Whole minutes.
   * @default Duration.minutes(60)
   */
  readonly stuckAfter?: Duration;
  /**
   * The topic the alarms notify: the function's errors, and a count above 0 of each of
   * `alarmConditions`.
   * @default - the alarms are created without an action
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * The conditions that raise an alarm when the audit counts any.
   * @default ['overdue', 'last-rotation-failed']
   */
  readonly alarmConditions?: readonly AuditCondition[];
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
}

/**
 * The scheduled audit: `rotor audit` as a function (lambdas/audit), run on a schedule (daily by
 * default), counting each condition as the metric AuditFindings (dimensions `condition` and
 * `service`), with alarms on overdue and failed rotations. It reads metadata only: it may list
 * and describe secrets (and their versions), read rotation functions' configuration and list IAM
 * users' keys; it may not read any secret value.
 */
export class AuditSchedule extends Construct {
  public readonly function: lambda.Function;
  public readonly role: iam.Role;
  public readonly rule: events.Rule;
  public readonly errorAlarm: cloudwatch.Alarm;
  /** An alarm per alarmed condition: its count above 0 in the last run. */
  public readonly conditionAlarms: Readonly<Partial<Record<AuditCondition, cloudwatch.Alarm>>>;
  /** The period the alarms and the dashboard read the counts with: the interval between runs. */
  public readonly period: Duration;

  public constructor(scope: Construct, id: string, props: AuditScheduleProps = {}) {
    super(scope, id);
    const interval = props.interval ?? auditScheduleDefaults.interval;
    if (Token.isUnresolved(interval.toSeconds())) throw new Error(`${id}: interval must be a concrete duration, not a token`);
    const hours = interval.toHours({ integral: false });
    if (!Number.isInteger(hours) || hours < 1 || hours > 24) {
      throw new Error(`${id}: interval must be whole hours between 1 hour and 1 day, got ${interval.toHumanString()}`);
    }
    this.period = interval;
    const keyMaxAgeDays = props.keyMaxAgeDays ?? auditScheduleDefaults.keyMaxAgeDays;
    if (!Number.isInteger(keyMaxAgeDays) || keyMaxAgeDays < Audit.keyMaxAgeDays.min || keyMaxAgeDays > Audit.keyMaxAgeDays.max) {
      throw new Error(`${id}: keyMaxAgeDays must be a whole number of days between ${Audit.keyMaxAgeDays.min} and ${Audit.keyMaxAgeDays.max}, got ${keyMaxAgeDays}`);
    }
    const stuckAfter = props.stuckAfter ?? auditScheduleDefaults.stuckAfter;
    const stuckMinutes = stuckAfter.toMinutes({ integral: false });
    if (!Number.isInteger(stuckMinutes) || stuckMinutes < Audit.stuckAfterMinutes.min || stuckMinutes > Audit.stuckAfterMinutes.max) {
      throw new Error(`${id}: stuckAfter must be whole minutes between 0 and 365 days, got ${stuckAfter.toHumanString()}`);
    }
    const regions = props.regions === undefined ? undefined : [...new Set(props.regions)];
    if (regions !== undefined && regions.length === 0) throw new Error(`${id}: regions is empty: name at least one region, or leave it out for the stack's`);
    const alarmConditions = [...new Set(props.alarmConditions ?? auditScheduleDefaults.alarmConditions)];
    for (const c of alarmConditions) {
      if (!(AUDIT_CONDITIONS as readonly string[]).includes(c)) {
        throw new Error(`${id}: alarmConditions: unknown condition '${String(c)}' (choose from ${AUDIT_CONDITIONS.join(', ')})`);
      }
    }

    const stack = Stack.of(this);
    const secretRegions = regions ?? [stack.region];
    const parts = addRotorFunction(this, {
      bundle: 'audit',
      description: 'Rotor: audit every secret and IAM access key of the account (scheduled rotor audit); reads no secret value',
      roleDescription: 'Rotor scheduled audit function (metadata only, no secret value)',
      serviceName: ServiceNames.AUDIT,
      timeout: props.timeout ?? auditScheduleDefaults.timeout,
      trustRdsCertificates: false,
      statements: [
        // ListSecrets and iam:ListUsers have no resource type; they return names, tags and dates, never values.
        new iam.PolicyStatement({ actions: ['secretsmanager:ListSecrets', 'iam:ListUsers'], resources: ['*'] }),
        // Replica states and version dates: metadata only. No GetSecretValue anywhere.
        new iam.PolicyStatement({
          actions: ['secretsmanager:DescribeSecret', 'secretsmanager:ListSecretVersionIds'],
          resources: secretRegions.map((r) => `arn:${stack.partition}:secretsmanager:${r}:${stack.account}:secret:*`),
        }),
        // "Is the rotation function Rotor's?": its environment names Rotor's rotation service.
        new iam.PolicyStatement({
          actions: ['lambda:GetFunctionConfiguration'],
          resources: secretRegions.map((r) => `arn:${stack.partition}:lambda:${r}:${stack.account}:function:*`),
        }),
        // Keys and the IAM kind's marker tags on their users (which secret a key is for).
        new iam.PolicyStatement({ actions: ['iam:ListAccessKeys', 'iam:ListUserTags'], resources: [`arn:${stack.partition}:iam::${stack.account}:user/*`] }),
      ],
      wildcardReason: 'secretsmanager:ListSecrets and iam:ListUsers have no resource type; they return names and dates, no values',
      logRetention: props.logRetention ?? auditScheduleDefaults.logRetention,
      // One run at a time: two at once would publish the same counts twice.
      reservedConcurrentExecutions: 1,
      memorySize: auditScheduleDefaults.memorySize,
      environment: {
        ...writeSetting(settings.auditRegions, regions),
        ...writeSetting(settings.auditKeyMaxAgeDays, keyMaxAgeDays),
        ...writeSetting(settings.auditStuckAfterMinutes, stuckMinutes),
      },
      alarmDescription: 'Rotor scheduled audit failed (it could not list the secrets or the IAM keys)',
      alarmPeriod: interval,
      alarmTopic: props.alarmTopic,
    });
    this.function = parts.function;
    this.role = parts.role;
    this.errorAlarm = parts.errorAlarm;
    this.function.configureAsyncInvoke({ retryAttempts: 0 });
    // The audit reads no secret value, whatever is added to its role later: checked at synth.
    this.node.addValidation({
      validate: () => {
        const policy = this.role.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
        const doc = policy ? (stack.resolve(policy.document.toJSON()) as { Statement?: Array<{ Effect?: string; Action?: string | string[] }> }) : undefined;
        const reading = (doc?.Statement ?? [])
          .filter((st) => st.Effect !== 'Deny')
          .flatMap((st) => (Array.isArray(st.Action) ? st.Action : st.Action ? [st.Action] : []))
          .filter((a) => /^(\*|secretsmanager:(\*|Get\*|GetSecretValue|BatchGetSecretValue|BatchGet\*))$/i.test(a));
        return reading.length
          ? [`${this.node.path}: the audit function must not read secret values, but its role allows ${[...new Set(reading)].join(', ')}; remove the grant`]
          : [];
      },
    });
    // cdk-nag names a wildcard resource as it renders it: pseudo parameters as <AWS::...>.
    const shown = (v: string, pseudo: string) => (Token.isUnresolved(v) ? `<AWS::${pseudo}>` : v);
    const account = shown(stack.account, 'AccountId');
    Validations.of(this.role).acknowledge(
      ...secretRegions.map((r) => ({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:${shown(r, 'Region')}:${account}:secret:*]`,
        reason: 'the audit judges every secret of the account (DescribeSecret, ListSecretVersionIds: metadata only)',
      })),
      ...secretRegions.map((r) => ({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:lambda:${shown(r, 'Region')}:${account}:function:*]`,
        reason: "the rotation function of any secret may be anyone's: the audit reads its configuration to tell Rotor's",
      })),
      { id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::${account}:user/*]`, reason: 'the audit lists the access keys of every IAM user and their marker tags (metadata)' },
    );

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'Rotor: run the scheduled audit',
      schedule: events.Schedule.rate(interval),
      targets: [new targets.LambdaFunction(this.function)],
    });

    const alarms: Partial<Record<AuditCondition, cloudwatch.Alarm>> = {};
    for (const condition of alarmConditions) {
      const alarm = new cloudwatch.Alarm(this, `Alarm-${condition}`, {
        alarmDescription: `Rotor scheduled audit: secrets in condition '${condition}' (run 'rotor audit' to see which)`,
        metric: this.metricFindings(condition),
        threshold: 0,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        // No count in a period means no run: the error alarm and the schedule cover that.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      if (props.alarmTopic) alarm.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));
      alarms[condition] = alarm;
    }
    this.conditionAlarms = alarms;
  }

  /** The audit's count of one condition, as the function publishes it (namespace, name and dimensions of the contract). */
  public metricFindings(condition: AuditCondition, props: { statistic?: string; period?: Duration } = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: RotorMetrics.NAMESPACE,
      metricName: RotorMetrics.AUDIT_FINDINGS,
      dimensionsMap: { condition, service: ServiceNames.AUDIT },
      statistic: props.statistic ?? 'Maximum',
      period: props.period ?? this.period,
    });
  }
}
