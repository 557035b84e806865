import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { DetailTypes, emergencyDefaults, GUARDDUTY_CREDENTIAL_FINDING_PREFIXES, HEALTH_EXPOSURE_CODES } from '../lambdas/emergency/events';
import { lambdaEntry, rotationDefaults, type RotationFunctionBase } from './rotation-function';
import { addRotorFunction, type RotorFunctionOptions } from './rotor-function';

/** Regions where AWS Health publishes the account's credential-exposure events. */
export const HEALTH_EVENT_REGIONS = ['us-east-1', 'us-west-2'] as const;

/** AWS Health's credential-exposure events (what the handler acts on and the forwarders forward). */
function healthExposurePattern(): events.EventPattern {
  return { source: ['aws.health'], detailType: [DetailTypes.HEALTH], detail: { eventTypeCode: [...HEALTH_EXPOSURE_CODES] } };
}

/** Props of EmergencyRotation; give it a `vpc` when it must log in to databases (with their master secrets) to lock leaked logins. */
export interface EmergencyRotationProps extends RotorFunctionOptions {
  /**
   * The rotations this handler may rotate and revoke (more can be added with `addRotation`).
   * @default - none
   */
  readonly rotations?: readonly RotationFunctionBase[];
  /**
   * Topic for the audit summary of every leak handled, and the function's error alarm.
   * @default - no summary, alarm without action
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * `source` of Rotor's own events (leak reports in, "Secret Rotated"/"Secret Revoked" out).
   * @default 'rotor'
   */
  readonly eventSource?: string;
  /**
   * Bus the Rotor events travel on.
   * @default - the account's default event bus
   */
  readonly eventBus?: events.IEventBus;
  /**
   * Also act on GuardDuty findings of IAM credential misuse.
   * @default true
   */
  readonly guardDuty?: boolean;
  /**
   * How long the handler waits for the rotation it started.
   * @default Duration.minutes(4)
   */
  readonly waitTimeout?: Duration;
}

export const emergencyRotationDefaults = {
  waitTimeout: Duration.minutes(4),
  guardDuty: true,
  /** Time the function has beyond its wait, to revoke and report. */
  headroom: Duration.minutes(1),
} as const;

/**
 * The "rotate now and revoke" wiring: EventBridge rules for AWS Health credential exposures,
 * GuardDuty IAM credential findings and Rotor's "Secret Leak Detected" events feed one handler
 * that may rotate and revoke exactly the secrets of the rotations added to it.
 *
 * AWS Health publishes credential-exposure events in us-east-1 (us-west-2 as backup). In any
 * other region this stack's Health rule only sees them if they are forwarded: deploy a
 * `HealthEventForwarder` in each of HEALTH_EVENT_REGIONS (RotorStack does it for you).
 */
export class EmergencyRotation extends Construct {
  public readonly handler: nodejs.NodejsFunction;
  public readonly healthRule: events.Rule;
  public readonly leakRule: events.Rule;
  public readonly guardDutyRule?: events.Rule;
  public readonly errorAlarm: cloudwatch.Alarm;

  public constructor(scope: Construct, id: string, props: EmergencyRotationProps = {}) {
    super(scope, id);
    const wait = props.waitTimeout ?? emergencyRotationDefaults.waitTimeout;
    if (wait.toSeconds() < 30 || wait.toSeconds() > 14 * 60) {
      throw new Error(`${id}: waitTimeout must be between 30 seconds and 14 minutes, got ${wait.toHumanString()}`);
    }
    if (props.securityGroups && !props.vpc) throw new Error(`${id}: securityGroups needs vpc`);
    const source = props.eventSource ?? emergencyDefaults.source;
    if (!/^[A-Za-z0-9._-]{1,256}$/.test(source) || source.startsWith('aws.')) {
      throw new Error(`${id}: eventSource must be a custom source (not aws.*), got '${source}'`);
    }
    const bus = props.eventBus ?? events.EventBus.fromEventBusName(this, 'DefaultBus', 'default');

    const parts = addRotorFunction(this, {
      entry: lambdaEntry('emergency'),
      description: 'Rotor emergency rotation and revocation',
      serviceName: 'rotor-emergency',
      timeout: wait.plus(emergencyRotationDefaults.headroom),
      environment: {
        ROTOR_EVENT_SOURCE: source,
        ROTOR_EVENT_BUS: bus.eventBusName,
        WAIT_TIMEOUT_MS: String(wait.toMilliseconds()),
        ...(props.alarmTopic ? { ALARM_TOPIC_ARN: props.alarmTopic.topicArn } : {}),
      },
      statements: [
        // ListSecrets (finding a secret by fingerprint tag) and GetRandomPassword have no resource type.
        new iam.PolicyStatement({ actions: ['secretsmanager:ListSecrets', 'secretsmanager:GetRandomPassword'], resources: ['*'] }),
        new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [bus.eventBusArn] }),
      ],
      wildcardReason:
        'secretsmanager:ListSecrets and GetRandomPassword have no resource type, nor do the Lambda VPC ' +
        'network-interface actions; every other action names its resource',
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      logRetention: props.logRetention ?? rotationDefaults.logRetention,
      // One leak at a time per secret is enough; a small cap keeps a flood of events from
      // starting many database sessions.
      reservedConcurrentExecutions: 5,
      memorySize: rotationDefaults.memorySize,
      alarmDescription: 'Rotor emergency handler failed: a leaked secret may not be revoked',
      alarmPeriod: rotationDefaults.alarmPeriod,
      alarmTopic: props.alarmTopic,
    });
    this.handler = parts.function;
    this.errorAlarm = parts.errorAlarm;
    props.alarmTopic?.grantPublish(this.handler);

    const target = new targets.LambdaFunction(this.handler, { retryAttempts: 2, maxEventAge: Duration.hours(1) });
    this.healthRule = new events.Rule(this, 'HealthExposure', {
      description: 'AWS Health: an access key of this account is exposed or compromised',
      eventPattern: healthExposurePattern(),
      targets: [target],
    });
    this.leakRule = new events.Rule(this, 'LeakReported', {
      description: 'Rotor: a secret, access key or token fingerprint was reported leaked',
      eventBus: props.eventBus,
      eventPattern: { source: [source], detailType: [DetailTypes.LEAK] },
      targets: [target],
    });
    if (props.guardDuty ?? emergencyRotationDefaults.guardDuty) {
      this.guardDutyRule = new events.Rule(this, 'GuardDutyCredentialFinding', {
        description: 'GuardDuty: IAM user credentials misused',
        eventPattern: {
          source: ['aws.guardduty'],
          detailType: [DetailTypes.GUARDDUTY],
          detail: { type: GUARDDUTY_CREDENTIAL_FINDING_PREFIXES.map((prefix) => ({ prefix })) },
        },
        targets: [target],
      });
    }

    for (const rotation of props.rotations ?? []) this.addRotation(rotation);
  }

  /** Lets the handler rotate and revoke this rotation's secret. */
  public addRotation(rotation: RotationFunctionBase): void {
    rotation.grantRevoke(this.handler);
  }
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
