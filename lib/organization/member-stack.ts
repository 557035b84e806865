import { Aws, Duration, Fn, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { Organization, RotorEvents } from '../../lambdas/contract/index.js';
import { guardDutyCredentialPattern, leakReportedPattern } from '../emergency-rotation.js';
import { healthExposurePattern } from '../health-event-forwarder.js';
import { RotorStack } from '../rotor-stack.js';
import { OrganizationMemberSynthesizer } from './member-synthesizer.js';
import { organizationDefaults, OrganizationNames, type OrganizationConfig, type OrganizationMemberConfig } from './organization-config.js';

export interface OrganizationMemberStackProps {
  readonly organization: OrganizationConfig;
  /** What each member account deploys (secrets by name, network through SSM dynamic references: see README, "Many accounts"). */
  readonly config: OrganizationMemberConfig;
}

/**
 * What read-only tooling (`rotor status|audit --accounts|--org`, bin/cli/status.ts, lambdas/audit)
 * may do in a member account: list and describe secrets and their versions (names, tags, rotation
 * state, dates; never a value: no GetSecretValue), list the enabled regions, list IAM users, their
 * tags and access keys, and read rotation functions' configuration.
 */
export const MEMBER_READ_ACTIONS = {
  /**
   * No resource type: ListSecrets (names, tags, rotation state), DescribeRegions (`rotor audit
   * --all-regions`), iam:ListUsers (IAM's list actions take no resource ARN, as AuditSchedule's grant says).
   */
  unscoped: ['secretsmanager:ListSecrets', 'ec2:DescribeRegions', 'iam:ListUsers'],
  /** Metadata of a secret: its replicas, its versions' dates (`rotor status`, `rotor audit`). */
  secrets: ['secretsmanager:DescribeSecret', 'secretsmanager:ListSecretVersionIds'],
  /** IAM keys no secret holds (`rotor audit`). */
  iam: ['iam:ListAccessKeys', 'iam:ListUserTags'],
  lambda: ['lambda:GetFunctionConfiguration'],
} as const;

/**
 * The per-account part of the Organizations shape, the StackSet's template: RotorStack itself (the
 * rotation functions of the config, the retire schedule, the emergency handler with its rules on the
 * account's default bus, the alarms and the dashboard), synthesized without lookups and without
 * bootstrap assets (OrganizationMemberSynthesizer), plus:
 * - the member event bus (Organization.MEMBER_BUS_NAME), on which only the central account's routing
 *   role for this account may put events, with the emergency handler's three rules (the same patterns);
 * - a rule on the default bus forwarding Rotor's "Secret Rotated" / "Secret Revoked" events to the
 *   central bus (the Organization's audit trail);
 * - the read-only role (Organization.READ_ROLE_NAME) the reader account assumes.
 */
export class OrganizationMemberStack extends RotorStack {
  public readonly memberBus: events.EventBus;
  public readonly readRole: iam.Role;
  public readonly auditForwardRule: events.Rule;
  public readonly memberSynthesizer: OrganizationMemberSynthesizer;

  public constructor(scope: Construct, id: string, props: OrganizationMemberStackProps) {
    const { organization } = props;
    const synthesizer = new OrganizationMemberSynthesizer({ bucketPrefix: organization.assetBucketPrefix, regions: [organization.region] });
    validateMemberConfig(props.config);
    if (props.config.emergency?.enabled === false) {
      throw new Error('organization member config: emergency.enabled must not be false (the member bus routes leak events to the emergency handler)');
    }
    super(scope, id, {
      config: { ...props.config, env: undefined },
      synthesizer,
      description: 'Rotor member stack (deployed to every account of the Organization by the Rotor StackSet)',
    });
    this.memberSynthesizer = synthesizer;
    const partition = organization.partition ?? organizationDefaults.partition;
    const central = organization.centralAccount;
    const source = props.config.emergency?.eventSource ?? organizationDefaults.eventSource;
    const handler = this.emergency!.handler;

    this.memberBus = new events.EventBus(this, 'MemberBus', { eventBusName: Organization.MEMBER_BUS_NAME, description: 'Rotor: leak events routed from the central account' });
    // Only the central account's routing role for this account and region (OrganizationNames.routeRole).
    this.memberBus.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'RotorCentralRouting',
        principals: [new iam.AccountPrincipal(central)],
        actions: ['events:PutEvents'],
        resources: [this.memberBus.eventBusArn],
        conditions: {
          ArnEquals: {
            'aws:PrincipalArn': Fn.join('', [`arn:${partition}:iam::${central}:role/`, OrganizationNames.routeRole(Aws.REGION, Aws.ACCOUNT_ID)]),
          },
        },
      }),
    );
    const target = new targets.LambdaFunction(handler, { retryAttempts: 2, maxEventAge: Duration.hours(1) });
    const routed = [
      ['RoutedLeakReported', 'Rotor leak reports routed from the central bus', leakReportedPattern(source)],
      ['RoutedHealthExposure', 'AWS Health (organizational view) credential exposures routed from the central account', healthExposurePattern()],
      ['RoutedGuardDutyFinding', 'GuardDuty (administrator account) IAM credential findings routed from the central account', guardDutyCredentialPattern()],
    ] as const;
    for (const [ruleId, description, eventPattern] of routed) {
      new events.Rule(this, ruleId, { eventBus: this.memberBus, description, eventPattern, targets: [target] });
    }

    // The audit trail: Rotor's outcome events go to the central bus. Leak reports are not
    // forwarded: this account handles its own, and EventBridge would not route them a second hop.
    const dlq = new sqs.Queue(this, 'AuditForwardDlq', { enforceSSL: true, retentionPeriod: Duration.days(14), encryption: sqs.QueueEncryption.SQS_MANAGED });
    acknowledgeDlq(dlq);
    const centralBus = events.EventBus.fromEventBusArn(this, 'CentralBus', OrganizationNames.centralBusArn(partition, organization.region, central));
    this.auditForwardRule = new events.Rule(this, 'ForwardAuditEvents', {
      description: "Rotor: send this account's Secret Rotated / Secret Revoked events to the Organization's central bus",
      eventPattern: { source: [source], detailType: [RotorEvents.ROTATED, RotorEvents.REVOKED] },
      targets: [new targets.EventBus(centralBus, { deadLetterQueue: dlq })],
    });

    this.readRole = new iam.Role(this, 'ReadRole', {
      roleName: Organization.READ_ROLE_NAME,
      assumedBy: new iam.AccountPrincipal(organization.readerAccount ?? central),
      description: 'Rotor: read-only view of secrets, IAM keys and rotation functions (rotor status|audit --accounts|--org); never a secret value',
      maxSessionDuration: Duration.hours(1),
    });
    const arn = (service: string, resource: string, region: string = Aws.REGION) => `arn:${partition}:${service}:${region}:${Aws.ACCOUNT_ID}:${resource}`;
    this.readRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...MEMBER_READ_ACTIONS.unscoped], resources: ['*'] }));
    this.readRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...MEMBER_READ_ACTIONS.secrets], resources: [arn('secretsmanager', 'secret:*')] }));
    this.readRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...MEMBER_READ_ACTIONS.iam], resources: [arn('iam', 'user/*', '')] }));
    this.readRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...MEMBER_READ_ACTIONS.lambda], resources: [arn('lambda', 'function:*')] }));
    const reason =
      "a read-only view of the whole account is the role's purpose (secretsmanager:ListSecrets, ec2:DescribeRegions and iam:ListUsers have no resource type; " +
      'DescribeSecret/ListSecretVersionIds, iam:ListAccessKeys/ListUserTags and lambda:GetFunctionConfiguration on every secret, ' +
      'user and function of this account); no secret value is readable';
    Validations.of(this.readRole).acknowledge(
      ...['*', `arn:${partition}:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:*`, `arn:${partition}:iam::<AWS::AccountId>:user/*`, `arn:${partition}:lambda:<AWS::Region>:<AWS::AccountId>:function:*`].map(
        (resource) => ({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason }),
      ),
    );
  }
}

/**
 * A member config deploys to many accounts: a secret is named by `secretName` (the same name in
 * every account), never by an ARN, which names one account's secret.
 */
export function validateMemberConfig(config: OrganizationMemberConfig): void {
  for (const s of config.secrets) {
    for (const field of ['secretArn', 'masterSecretArn', 'managementSecretArn'] as const) {
      if (field in s && (s as unknown as Record<string, unknown>)[field] !== undefined) {
        throw new Error(
          `organization member config: secrets[${s.id}].${field} names one account's secret, and the member stack deploys to every account ` +
            (field === 'secretArn' ? 'of the Organization: name it by secretName (the same name in every account)' : 'of the Organization: kinds that read a second secret are not supported in the member stack yet'),
        );
      }
    }
  }
}

/** An SQS queue that is itself a dead-letter queue: cdk-nag's SQS3 (a queue without its own DLQ) does not apply. */
export function acknowledgeDlq(queue: sqs.Queue): void {
  Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'this queue is the dead-letter queue of EventBridge targets' });
}
