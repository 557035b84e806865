import { Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import { AwsEvents } from '../lambdas/contract/index.js';

/** Regions where AWS Health publishes the account's credential-exposure events. */
export const HEALTH_EVENT_REGIONS = AwsEvents.HEALTH_EVENT_REGIONS;

/** AWS Health's credential-exposure events (what the emergency handler acts on and the forwarders forward). */
export function healthExposurePattern(): events.EventPattern {
  return {
    source: [AwsEvents.HEALTH_SOURCE],
    detailType: [AwsEvents.HEALTH_DETAIL_TYPE],
    detail: { eventTypeCode: [...AwsEvents.HEALTH_EXPOSURE_CODES] },
  };
}

export interface HealthEventForwarderProps {
  /** The event bus (in the region Rotor runs in) that receives the Health events. */
  readonly targetBus: events.IEventBus;
}

/**
 * Deployed in us-east-1 (and us-west-2): forwards AWS Health credential-exposure events to the
 * event bus of the region where Rotor's emergency handler runs.
 */
export class HealthEventForwarder extends Construct {
  public readonly rule: events.Rule;

  public constructor(scope: Construct, id: string, props: HealthEventForwarderProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    if (!Stack.of(this).resolve(region) || (!region.startsWith('$') && !HEALTH_EVENT_REGIONS.includes(region as never))) {
      throw new Error(`${id}: must be deployed in ${HEALTH_EVENT_REGIONS.join(' or ')}, got ${region}`);
    }
    this.rule = new events.Rule(this, 'ForwardHealthExposure', {
      description: 'Forward AWS Health credential-exposure events to Rotor',
      eventPattern: healthExposurePattern(),
      targets: [new targets.EventBus(props.targetBus)],
    });
  }
}
