import { Duration, Stack, Stage, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { DEFAULT_GRACE_HOURS, isKindName, KIND_NAMES, KIND_TRAITS } from '../lambdas/contract/index.js';
import { databaseConfigDefaults } from './database-rotation.js';
import { AuditSchedule } from './audit-schedule.js';
import { EmergencyRotation } from './emergency-rotation.js';
import { FingerprintKey } from './fingerprint-key.js';
import { HEALTH_EVENT_REGIONS, HealthEventForwarder } from './health-event-forwarder.js';
import { rotationFromConfig, type KindContext } from './kind-registry.js';
import { RetireSchedule } from './retire-schedule.js';
import { RotorDashboard } from './rotor-dashboard.js';
import { RotationFailureAlarms } from './rotation-alarms.js';
import type { RotationFunctionBase } from './rotation-function-base.js';
import { RotorSchedule } from './rotation-schedule.js';
import type { RotorConfig, RotorSecretConfig } from './rotor-config.js';

export const rotorStackDefaults = {
  stackName: 'Rotor',
  schedule: 'rate(30 days)',
  /** One rotation at a time per database function: a rotation storm cannot crowd a database. */
  reservedConcurrency: databaseConfigDefaults.reservedConcurrency,
} as const;

export interface RotorStackProps extends StackProps {
  readonly config: RotorConfig;
}

/**
 * Everything an infra team deploys, from one typed config: a rotation construct per secret,
 * the retire schedule for dual-active kinds, failure alarms to one topic, and the emergency
 * handler with its EventBridge rules.
 */
export class RotorStack extends Stack {
  public readonly alarmTopic: sns.ITopic;
  public readonly rotations: Record<string, RotationFunctionBase> = {};
  public readonly retireSchedule?: RetireSchedule;
  public readonly emergency?: EmergencyRotation;
  /** The rotation-health dashboard (config `dashboard`, on by default). */
  public readonly dashboard?: RotorDashboard;
  /** The scheduled audit (config `audit`, off by default). */
  public readonly audit?: AuditSchedule;
  /** Rotor's fingerprint key (the HMAC key of the rotor:fp-* tags), shared by every function of this stack. */
  public readonly fingerprintKey: FingerprintKey;

  public constructor(scope: Construct, id: string, props: RotorStackProps) {
    super(scope, id, props);
    const { config } = props;
    validateConfig(config);

    this.alarmTopic = config.alarms?.topicArn
      ? sns.Topic.fromTopicArn(this, 'AlarmTopic', config.alarms.topicArn)
      : new sns.Topic(this, 'AlarmTopic', { displayName: 'Rotor alarms', enforceSSL: true });
    for (const email of config.alarms?.emails ?? []) {
      if (this.alarmTopic instanceof sns.Topic) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(email));
    }
    new RotationFailureAlarms(this, 'RotationFailures', { topic: this.alarmTopic });
    // Created once here; the rotations and the emergency handler below take it as their default.
    this.fingerprintKey = FingerprintKey.of(this);

    const vpc = config.network
      ? ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
          vpcId: config.network.vpcId,
          vpcCidrBlock: config.network.vpcCidrBlock,
          availabilityZones: [...config.network.availabilityZones],
          privateSubnetIds: [...config.network.privateSubnetIds],
        })
      : undefined;
    if (vpc && config.network?.secretsManagerEndpoint) {
      vpc.addInterfaceEndpoint('SecretsManagerEndpoint', {
        service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        subnets: { subnets: vpc.privateSubnets },
        privateDnsEnabled: true,
      });
    }

    const dualActive = config.secrets.some((s) => KIND_TRAITS[s.kind].dualActive);
    if (dualActive) this.retireSchedule = new RetireSchedule(this, 'Retire', { alarmTopic: this.alarmTopic });

    for (const secretConfig of config.secrets) {
      this.rotations[secretConfig.id] = this.addSecret(secretConfig, config, vpc);
    }

    if (config.audit && (config.audit.enabled ?? true)) {
      this.audit = new AuditSchedule(this, 'Audit', {
        interval: config.audit.intervalHours === undefined ? undefined : Duration.hours(config.audit.intervalHours),
        keyMaxAgeDays: config.audit.keyMaxAgeDays,
        regions: config.audit.regions,
        alarmTopic: this.alarmTopic,
      });
    }

    if (config.dashboard?.enabled ?? true) {
      this.dashboard = new RotorDashboard(this, 'Dashboard', { dashboardName: config.dashboard?.name, audit: this.audit });
    }

    if (config.emergency?.enabled ?? true) {
      this.emergency = new EmergencyRotation(this, 'Emergency', {
        rotations: Object.values(this.rotations),
        alarmTopic: this.alarmTopic,
        guardDuty: config.emergency?.guardDuty,
        eventSource: config.emergency?.eventSource,
        vpc,
      });
      this.forwardHealthEvents();
    }
  }

  private addSecret(c: RotorSecretConfig, config: RotorConfig, vpc: ec2.IVpc | undefined): RotationFunctionBase {
    const secret = c.secretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, `${c.id}Secret`, c.secretArn)
      : c.secretName
        ? secretsmanager.Secret.fromSecretNameV2(this, `${c.id}Secret`, c.secretName)
        : new secretsmanager.Secret(this, `${c.id}Secret`, { description: `Rotor-managed ${c.kind} secret ${c.id}` });
    const windowHours = c.windowHours ?? config.defaults?.windowHours;
    const context: KindContext = {
      common: {
        secret,
        schedule: withId(c.id, 'schedule', () => RotorSchedule.expression(effectiveSchedule(c, config).text)),
        window: windowHours !== undefined ? Duration.hours(windowHours) : undefined,
        alarmTopic: this.alarmTopic,
      },
      vpc,
      retireSchedule: this.retireSchedule,
      imported: (name, arn) => (arn ? secretsmanager.Secret.fromSecretCompleteArn(this, `${c.id}${name}`, arn) : undefined),
    };
    return rotationFromConfig(this, c, context);
  }

  /**
   * AWS Health sends credential-exposure events only in us-east-1 (us-west-2 as backup). Outside
   * those regions, a small stack in each forwards them to this region's default bus.
   */
  private forwardHealthEvents(): void {
    const region = this.region;
    if (!region || region.startsWith('$') || (HEALTH_EVENT_REGIONS as readonly string[]).includes(region)) return;
    // Beside this stack in its App, or in its Stage (CDK Pipelines): the forwarders deploy with it.
    const stage = Stage.of(this);
    if (!stage) {
      throw new Error(
        `${this.node.path}: RotorStack needs an App or a Stage above it to add the Health event forwarders ` +
          `(stacks in ${HEALTH_EVENT_REGIONS.join(' and ')}); or set emergency.enabled to false`,
      );
    }
    const targetBus = `arn:aws:events:${region}:${this.account}:event-bus/default`;
    for (const healthRegion of HEALTH_EVENT_REGIONS) {
      const forwarder = new Stack(stage, `${this.node.id}-health-${healthRegion}`, {
        stackName: `${this.stackName}-health-${healthRegion}`,
        env: { account: this.account, region: healthRegion },
        description: `Forwards AWS Health credential-exposure events to Rotor in ${region}`,
      });
      new HealthEventForwarder(forwarder, 'Forwarder', {
        targetBus: events.EventBus.fromEventBusArn(forwarder, 'RotorBus', targetBus),
      });
    }
  }
}

function withId<T>(id: string, field: string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    throw new Error(`secrets[${id}].${field}: ${(err as Error).message}`);
  }
}

/** The schedule a config entry rotates on, and where it was written. */
function effectiveSchedule(s: RotorSecretConfig, config: RotorConfig): { text: string; from: string } {
  if (s.schedule !== undefined) return { text: s.schedule, from: `secrets[${s.id}].schedule` };
  if (config.defaults?.schedule !== undefined) return { text: config.defaults.schedule, from: 'defaults.schedule' };
  return { text: rotorStackDefaults.schedule, from: 'the default schedule' };
}

/** Config-level checks, with messages naming the entry and the field. */
export function validateConfig(config: RotorConfig): void {
  if (config.secrets.length === 0) throw new Error('config.secrets is empty: nothing to rotate');
  const seen = new Set<string>();
  for (const s of config.secrets) {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(s.id)) {
      throw new Error(`secrets[].id must be alphanumeric and start with a letter, got '${s.id}'`);
    }
    if (seen.has(s.id)) throw new Error(`secrets[].id '${s.id}' is used twice`);
    seen.add(s.id);
    if (!isKindName(s.kind)) {
      throw new Error(`secrets[${s.id}].kind must be one of ${KIND_NAMES.join(', ')}, got '${String(s.kind)}'`);
    }
    const traits = KIND_TRAITS[s.kind];
    if (s.secretArn && !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/.test(s.secretArn)) {
      throw new Error(`secrets[${s.id}].secretArn must be a complete secret ARN (with the 6-character suffix), got '${s.secretArn}'`);
    }
    if (s.secretArn && s.secretName) throw new Error(`secrets[${s.id}]: give secretArn or secretName, not both`);
    // Secrets Manager's name rule; a name ending in a hyphen and 6 characters reads as an ARN suffix.
    if (s.secretName !== undefined && (!/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(s.secretName) || /-[A-Za-z0-9]{6}$/.test(s.secretName))) {
      throw new Error(
        `secrets[${s.id}].secretName must be 1 to 512 letters, digits and /_+=.@- and not end in a hyphen and 6 characters, got '${s.secretName}'`,
      );
    }
    if ('strategy' in s && s.strategy !== undefined && !traits.strategies.includes(s.strategy)) {
      throw new Error(`secrets[${s.id}].strategy must be one of ${traits.strategies.join(', ')}, got '${String(s.strategy)}'`);
    }
    if (traits.database && 'databaseSecurityGroupId' in s && s.databaseSecurityGroupId && !config.network) {
      throw new Error(`secrets[${s.id}].databaseSecurityGroupId needs config.network (the function must run in the VPC)`);
    }
    if (traits.dualActive) validateGraceHours(s, config);
  }
  if (config.network?.secretsManagerEndpoint && config.network.privateSubnetIds.length === 0) {
    throw new Error('network.privateSubnetIds is empty: the Secrets Manager endpoint needs subnets');
  }
}

/**
 * A dual-active kind's grace window must be shorter than the interval between two rotations of
 * the schedule it actually rotates on (its own, `defaults.schedule`, or the default): the next
 * rotation would cut it short.
 */
function validateGraceHours(s: RotorSecretConfig, config: RotorConfig): void {
  const stated = 'graceHours' in s ? s.graceHours : undefined;
  const graceHours = stated ?? DEFAULT_GRACE_HOURS;
  const ttl = 'consumerCacheTtlSeconds' in s ? s.consumerCacheTtlSeconds : undefined;
  if (ttl !== undefined && (!Number.isFinite(ttl) || ttl <= 0 || graceHours * 3600 < ttl)) {
    throw new Error(
      !Number.isFinite(ttl) || ttl <= 0
        ? `secrets[${s.id}].consumerCacheTtlSeconds must be a number of seconds above 0, got ${ttl}`
        : `secrets[${s.id}].graceHours must not be shorter than secrets[${s.id}].consumerCacheTtlSeconds (consumers may use the ` +
            `previous value from their cache that long after a rotation), got graceHours ${graceHours}${stated === undefined ? ' (the default)' : ''} ` +
            `(${graceHours * 3600} s) and consumerCacheTtlSeconds ${ttl}`,
    );
  }
  const schedule = effectiveSchedule(s, config);
  const interval = withId(s.id, 'schedule', () => RotorSchedule.expression(schedule.text)).shortestInterval;
  if (interval && graceHours >= interval.toHours({ integral: false })) {
    throw new Error(
      `secrets[${s.id}].graceHours must be shorter than the interval between rotations (the next rotation would cut the grace window short), ` +
        `got graceHours ${graceHours}${stated === undefined ? ' (the default)' : ''} and ${schedule.from} '${schedule.text}', ` +
        `whose rotations can be ${interval.toHumanString()} apart`,
    );
  }
}
