import { App, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { ApiTokenRotation } from './api-token-rotation';
import { EmergencyRotation, HEALTH_EVENT_REGIONS, HealthEventForwarder } from './emergency-rotation';
import { IamAccessKeyRotation } from './iam-access-key-rotation';
import { MysqlRotation } from './mysql-rotation';
import { PostgresRotation } from './postgres-rotation';
import { RetireSchedule } from './retire-schedule';
import { RotationFailureAlarms } from './rotation-alarms';
import type { RotationFunctionBase, RotationOptions } from './rotation-function';
import { RotorSchedule } from './rotation-schedule';
import type { RotorConfig, RotorSecretConfig } from './rotor-config';

export const rotorStackDefaults = {
  stackName: 'Rotor',
  schedule: 'rate(30 days)',
  /** One rotation at a time per database function: a rotation storm cannot crowd a database. */
  reservedConcurrency: 1,
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

    const dualActive = config.secrets.some((s) => s.kind === 'iam' || s.kind === 'api-token');
    if (dualActive) this.retireSchedule = new RetireSchedule(this, 'Retire', { alarmTopic: this.alarmTopic });

    for (const secretConfig of config.secrets) {
      this.rotations[secretConfig.id] = this.addSecret(secretConfig, config, vpc);
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
      : new secretsmanager.Secret(this, `${c.id}Secret`, { description: `Rotor-managed ${c.kind} secret ${c.id}` });
    const scheduleText = c.schedule ?? config.defaults?.schedule ?? rotorStackDefaults.schedule;
    const windowHours = c.windowHours ?? config.defaults?.windowHours;
    const common: RotationOptions & { secret: secretsmanager.ISecret } = {
      secret,
      schedule: withId(c.id, 'schedule', () => RotorSchedule.expression(scheduleText)),
      window: windowHours !== undefined ? Duration.hours(windowHours) : undefined,
      alarmTopic: this.alarmTopic,
    };
    const imported = (name: string, arn: string | undefined) =>
      arn ? secretsmanager.Secret.fromSecretCompleteArn(this, `${c.id}${name}`, arn) : undefined;
    switch (c.kind) {
      case 'postgres':
      case 'mysql': {
        const database = c.databaseSecurityGroupId
          ? ec2.SecurityGroup.fromSecurityGroupId(this, `${c.id}DatabaseSg`, c.databaseSecurityGroupId)
          : undefined;
        const props = {
          ...common,
          strategy: c.strategy,
          masterSecret: imported('Master', c.masterSecretArn),
          vpc,
          database,
          reservedConcurrentExecutions: c.reservedConcurrency ?? rotorStackDefaults.reservedConcurrency,
        };
        return c.kind === 'postgres' ? new PostgresRotation(this, c.id, props) : new MysqlRotation(this, c.id, props);
      }
      case 'iam': {
        if (c.userNames.length !== 1) {
          throw new Error(`secrets[${c.id}].userNames must name exactly one IAM user, got ${c.userNames.length}`);
        }
        const user = iam.User.fromUserName(this, `${c.id}User`, c.userNames[0]!);
        return new IamAccessKeyRotation(this, c.id, {
          ...common,
          user,
          gracePeriod: c.graceHours !== undefined ? Duration.hours(c.graceHours) : undefined,
          retireSchedule: this.retireSchedule,
        });
      }
      case 'api-token': {
        const managementSecret = imported('Management', c.managementSecretArn);
        const grace = c.graceHours !== undefined ? Duration.hours(c.graceHours) : undefined;
        return managementSecret
          ? new ApiTokenRotation(this, c.id, { ...common, managementSecret, gracePeriod: grace, retireSchedule: this.retireSchedule })
          : new ApiTokenRotation(this, c.id, { ...common, selfRotation: true, gracePeriod: grace, retireSchedule: this.retireSchedule });
      }
    }
  }

  /**
   * AWS Health sends credential-exposure events only in us-east-1 (us-west-2 as backup). Outside
   * those regions, a small stack in each forwards them to this region's default bus.
   */
  private forwardHealthEvents(): void {
    const region = this.region;
    if (!region || region.startsWith('$') || (HEALTH_EVENT_REGIONS as readonly string[]).includes(region)) return;
    const app = this.node.scope;
    if (!App.isApp(app)) return;
    const targetBus = `arn:aws:events:${region}:${this.account}:event-bus/default`;
    for (const healthRegion of HEALTH_EVENT_REGIONS) {
      const forwarder = new Stack(app, `${this.stackName}-health-${healthRegion}`, {
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
    if (s.secretArn && !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/.test(s.secretArn)) {
      throw new Error(`secrets[${s.id}].secretArn must be a complete secret ARN (with the 6-character suffix), got '${s.secretArn}'`);
    }
    if ((s.kind === 'postgres' || s.kind === 'mysql') && s.databaseSecurityGroupId && !config.network) {
      throw new Error(`secrets[${s.id}].databaseSecurityGroupId needs config.network (the function must run in the VPC)`);
    }
  }
  if (config.network?.secretsManagerEndpoint && config.network.privateSubnetIds.length === 0) {
    throw new Error('network.privateSubnetIds is empty: the Secrets Manager endpoint needs subnets');
  }
}
