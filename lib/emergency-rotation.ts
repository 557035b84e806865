import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { AwsEvents, RotorEvents, ServiceNames, settings } from '../lambdas/contract/index.js';
import { FingerprintKey, grantFingerprintKey } from './fingerprint-key.js';
import { writeSetting } from './function-settings.js';
import { healthExposurePattern } from './health-event-forwarder.js';
import { rotationDefaults, type RotationFunctionBase } from './rotation-function-base.js';
import { addRotorFunction, type RotorFunctionOptions } from './rotor-function.js';

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
  /**
   * Reserved concurrency of the handler: how many leaks are handled at once. Each one waits for
   * its rotation, so this, not Secrets Manager, would cap a mass leak's fan-out if it were small
   * (`npm run bench`, BENCH_ONLY=fanout: 5 handled ≈ 30 % of what the service's quotas allow,
   * 50 ≈ 97 %); the handler absorbs the service's throttling itself. Lower it to bound the
   * database sessions a flood of events can open.
   * @default 50
   */
  readonly reservedConcurrency?: number;
  /**
   * Rotor's fingerprint key secret: the handler fingerprints a leaked access key id with it, as
   * the rotation functions tag their secrets. Give the same secret as the rotations' `fingerprintKey`.
   * @default - the stack's FingerprintKey (FingerprintKey.of(stack)), the rotations' default too
   */
  readonly fingerprintKey?: secretsmanager.ISecret;
}

export const emergencyRotationDefaults = {
  waitTimeout: Duration.minutes(4),
  guardDuty: true,
  /** Time the function has beyond its wait, to revoke and report. */
  headroom: Duration.minutes(1),
  reservedConcurrency: 50,
} as const;

/** Rotor's "Secret Leak Detected" events of `source` (what the emergency handler acts on; the Organizations shape routes them too). */
export function leakReportedPattern(source: string = RotorEvents.SOURCE): events.EventPattern {
  return { source: [source], detailType: [RotorEvents.LEAK_DETECTED] };
}

/** GuardDuty findings of IAM credential misuse (what the emergency handler acts on; the Organizations shape routes them too). */
export function guardDutyCredentialPattern(): events.EventPattern {
  return {
    source: [AwsEvents.GUARDDUTY_SOURCE],
    detailType: [AwsEvents.GUARDDUTY_DETAIL_TYPE],
    detail: { type: AwsEvents.GUARDDUTY_CREDENTIAL_FINDING_PREFIXES.map((prefix) => ({ prefix })) },
  };
}

/**
 * The "rotate now and revoke" wiring: EventBridge rules for AWS Health credential exposures,
 * GuardDuty IAM credential findings and Rotor's "Secret Leak Detected" events feed one handler
 * that may rotate and revoke exactly the secrets of the rotations added to it.
 *
 * AWS Health publishes credential-exposure events in us-east-1 (us-west-2 as backup). In any
 * other region this stack's Health rule only sees them if they are forwarded: deploy a
 * `HealthEventForwarder` (health-event-forwarder.ts) in each of HEALTH_EVENT_REGIONS (RotorStack does it for you).
 */
export class EmergencyRotation extends Construct {
  public readonly handler: lambda.Function;
  /** The handler's own role (a permissions boundary or extra grants go here). */
  public readonly role: iam.Role;
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
    const concurrency = props.reservedConcurrency ?? emergencyRotationDefaults.reservedConcurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000) {
      throw new Error(`${id}: reservedConcurrency must be a whole number from 1 to 1000, got ${concurrency}`);
    }
    const source = props.eventSource ?? RotorEvents.SOURCE;
    if (!/^[A-Za-z0-9._-]{1,256}$/.test(source) || source.startsWith('aws.')) {
      throw new Error(`${id}: eventSource must be a custom source (not aws.*), got '${source}'`);
    }
    const bus = props.eventBus ?? events.EventBus.fromEventBusName(this, 'DefaultBus', RotorEvents.BUS);

    const parts = addRotorFunction(this, {
      bundle: 'emergency',
      description: 'Rotor emergency rotation and revocation',
      serviceName: ServiceNames.EMERGENCY,
      timeout: wait.plus(emergencyRotationDefaults.headroom),
      environment: {
        ...writeSetting(settings.eventSource, source),
        ...writeSetting(settings.eventBus, bus.eventBusName),
        ...writeSetting(settings.waitTimeoutMs, wait.toMilliseconds()),
        ...writeSetting(settings.alarmTopicArn, props.alarmTopic?.topicArn),
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
      reservedConcurrentExecutions: concurrency,
      memorySize: rotationDefaults.memorySize,
      alarmDescription: 'Rotor emergency handler failed: a leaked secret may not be revoked',
      alarmPeriod: rotationDefaults.alarmPeriod,
      alarmTopic: props.alarmTopic,
    });
    this.handler = parts.function;
    this.role = parts.role;
    grantFingerprintKey(this.handler, props.fingerprintKey ?? FingerprintKey.of(this).secret);
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
      eventPattern: leakReportedPattern(source),
      targets: [target],
    });
    if (props.guardDuty ?? emergencyRotationDefaults.guardDuty) {
      this.guardDutyRule = new events.Rule(this, 'GuardDutyCredentialFinding', {
        description: 'GuardDuty: IAM user credentials misused',
        eventPattern: guardDutyCredentialPattern(),
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
