import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { RotorMetrics, ServiceNames, type KindName } from '../lambdas/contract/index.js';

export interface PendingStoreAlarmProps {
  /** The kind whose rotation function emits the metric (its `kind` dimension). */
  readonly kind: KindName;
  /** Name of the rotated secret, for the description. */
  readonly secretName: string;
  /** Period of the alarm. */
  readonly period: Duration;
  /**
   * Topic the alarm notifies.
   * @default - the alarm is created without an action
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * Alarms on PendingStoreFailed: a kind that issues credentials outside Secrets Manager (KIND_TRAITS
 * `issuesCredentials`) issued one but could not store it as AWSPENDING; the rotation function's
 * log names its id. Matches the dimensions the engine's EMF record carries (service, kind).
 */
export class PendingStoreAlarm extends cloudwatch.Alarm {
  public constructor(scope: Construct, id: string, props: PendingStoreAlarmProps) {
    super(scope, id, {
      alarmDescription:
        `Rotor ${props.kind}: a new credential was issued for ${props.secretName} but could not be stored; ` +
        "its id is in the rotation function's log (see the README, \"When a pending value cannot be stored\")",
      metric: new cloudwatch.Metric({
        namespace: RotorMetrics.NAMESPACE,
        metricName: RotorMetrics.PENDING_STORE_FAILED,
        dimensionsMap: { service: ServiceNames.ROTATION, kind: props.kind },
        statistic: 'Sum',
        period: props.period,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmTopic) this.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));
  }
}
