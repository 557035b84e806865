import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

/** Secrets Manager's rotation failure events, as EventBridge receives them. */
export const ROTATION_FAILURE_EVENT_NAMES = ['RotationFailed', 'RotationAbandoned'] as const;
/**
 * Secrets Manager sends these events through CloudTrail with either detail-type: service events
 * (RotationFailed, RotationAbandoned) arrive as "AWS Service Event via CloudTrail", and some
 * accounts see them as "AWS API Call via CloudTrail"; matching both misses none.
 */
export const ROTATION_FAILURE_DETAIL_TYPES = ['AWS Service Event via CloudTrail', 'AWS API Call via CloudTrail'] as const;

export interface RotationFailureAlarmsProps {
  /**
   * Topic that receives the alarms.
   * @default - a new topic (with TLS-only publishing) is created
   */
  readonly topic?: sns.ITopic;
}

/**
 * Notifies a topic when Secrets Manager reports a failed or abandoned rotation of any secret in
 * the account and region. The message carries the secret's id and the event name, never a value
 * (these events hold none).
 */
export class RotationFailureAlarms extends Construct {
  public readonly topic: sns.ITopic;
  public readonly rule: events.Rule;

  public constructor(scope: Construct, id: string, props: RotationFailureAlarmsProps = {}) {
    super(scope, id);
    this.topic = props.topic ?? new sns.Topic(this, 'Topic', { displayName: 'Rotor rotation alarms', enforceSSL: true });
    this.rule = new events.Rule(this, 'RotationFailed', {
      description: 'Secrets Manager rotation failed or was abandoned',
      eventPattern: {
        source: ['aws.secretsmanager'],
        detailType: [...ROTATION_FAILURE_DETAIL_TYPES],
        detail: {
          eventSource: ['secretsmanager.amazonaws.com'],
          eventName: [...ROTATION_FAILURE_EVENT_NAMES],
        },
      },
    });
    this.rule.addTarget(
      new targets.SnsTopic(this.topic, {
        message: events.RuleTargetInput.fromObject({
          alarm: 'Rotor: secret rotation failed',
          event: events.EventField.fromPath('$.detail.eventName'),
          secret: events.EventField.fromPath('$.detail.additionalEventData.SecretId'),
          account: events.EventField.account,
          region: events.EventField.region,
          time: events.EventField.time,
        }),
      }),
    );
  }
}
