import { Duration, Lazy, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as cloudformation from 'aws-cdk-lib/aws-cloudformation';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { Organization } from '../../lambdas/contract/index.js';
import { guardDutyCredentialPattern, leakReportedPattern } from '../emergency-rotation.js';
import { HEALTH_EVENT_REGIONS, healthExposurePattern } from '../health-event-forwarder.js';
import { acknowledgeDlq, OrganizationMemberStack } from './member-stack.js';
import {
  organizationDefaults,
  OrganizationNames,
  validateOrganizationConfig,
  type OrganizationConfig,
  type OrganizationMemberConfig,
} from './organization-config.js';

export interface OrganizationShapeProps {
  readonly organization: OrganizationConfig;
  /** What every member account deploys (a RotorConfig without env). */
  readonly member: OrganizationMemberConfig;
  /**
   * Prefix of the stacks' ids and names.
   * @default 'RotorOrganization'
   */
  readonly stackName?: string;
}

/**
 * The Organizations deployment shape, in the central account: three kinds of stack in one App.
 * - `<name>-assets`: the bucket `<prefix>-<region>` the member stack's Lambda code and template
 *   are published to (`npm run publish-assets`), readable by the Organization's principals only.
 * - `<name>`: the central event bus, the routing rules, and the StackSet that deploys the member
 *   stack (OrganizationMemberStack, synthesized inside it) to the OUs, new accounts included.
 * - `<name>-health-<region>` in us-east-1 and us-west-2 (unless `region` is one of them): AWS
 *   Health delivers organizational-view events to the central account's default bus there.
 */
export class OrganizationShape {
  public readonly assets: OrganizationAssetsStack;
  public readonly central: OrganizationCentralStack;
  public readonly healthRouters: Stack[];

  public constructor(scope: Construct, props: OrganizationShapeProps) {
    const name = props.stackName ?? 'RotorOrganization';
    const { organization } = props;
    validateOrganizationConfig(organization);
    const env = { account: organization.centralAccount, region: organization.region };
    this.assets = new OrganizationAssetsStack(scope, `${name}-assets`, { organization, env, stackName: `${name}-assets` });
    this.central = new OrganizationCentralStack(scope, name, { organization, member: props.member, env, stackName: name });
    this.central.addStackDependency(this.assets, 'the StackSet reads the member template and code from the asset bucket');
    this.healthRouters = [];
    for (const healthRegion of HEALTH_EVENT_REGIONS) {
      if (healthRegion === organization.region) continue;
      const stack = new Stack(scope, `${name}-health-${healthRegion}`, {
        stackName: `${name}-health-${healthRegion}`,
        env: { account: organization.centralAccount, region: healthRegion },
        description: `Rotor: routes AWS Health credential-exposure events (organizational view) from ${healthRegion} to the member accounts in ${organization.region}`,
      });
      new HealthRouting(stack, 'HealthRouting', { organization });
      stack.addStackDependency(this.central, 'the routing roles are in the central stack');
      this.healthRouters.push(stack);
    }
  }
}

export interface OrganizationStackProps extends StackProps {
  readonly organization: OrganizationConfig;
}

/** The asset bucket of the member stack in `region`: the Organization's principals may read it, nobody else. */
export class OrganizationAssetsStack extends Stack {
  public readonly bucket: s3.Bucket;

  public constructor(scope: Construct, id: string, props: OrganizationStackProps) {
    super(scope, id, { description: 'Rotor: Lambda code and template of the Organization member stack', ...props });
    const { organization } = props;
    const bucketName = OrganizationNames.assetBucket(organization.assetBucketPrefix, organization.region);
    const logs = new s3.Bucket(this, 'AccessLogs', {
      bucketName: `${bucketName}-logs`,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(logs).acknowledge({ id: 'AwsSolutions-S1', reason: 'this bucket receives the asset bucket\'s server access logs' });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      bucketName,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: logs,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Lambda (creating the member's functions) and CloudFormation read with the member account's credentials.
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'RotorOrganizationRead',
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects('rotor/*')],
        conditions: { StringEquals: { 'aws:PrincipalOrgID': organization.organizationId } },
      }),
    );
  }
}

export interface OrganizationCentralStackProps extends OrganizationStackProps {
  readonly member: OrganizationMemberConfig;
}

/**
 * The central account's part in `region`: the central bus (Organization.CENTRAL_BUS_NAME), on which
 * only the Organization's principals may put events; the routing of leak reports (central bus) and
 * GuardDuty findings (this account's default bus, where GuardDuty's administrator account receives
 * its members' findings) to each member account's bus, each target with its own role and a DLQ; an
 * archive of Rotor's events; and the StackSet of the member stack.
 */
export class OrganizationCentralStack extends Stack {
  public readonly centralBus: events.EventBus;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly routeRoles: Record<string, iam.Role> = {};
  public readonly memberStack: OrganizationMemberStack;
  public readonly stackSet: cloudformation.CfnStackSet;

  public constructor(scope: Construct, id: string, props: OrganizationCentralStackProps) {
    super(scope, id, { description: 'Rotor: the Organization\'s central event bus, routing and StackSet', ...props });
    const { organization } = props;
    validateOrganizationConfig(organization);
    const partition = organization.partition ?? organizationDefaults.partition;
    const region = organization.region;
    const source = props.member.emergency?.eventSource ?? organizationDefaults.eventSource;

    this.centralBus = new events.EventBus(this, 'CentralBus', { eventBusName: Organization.CENTRAL_BUS_NAME, description: 'Rotor: leak reports and audit events of the Organization' });
    this.centralBus.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'RotorOrganizationPutEvents',
        principals: [new iam.AnyPrincipal()],
        actions: ['events:PutEvents'],
        resources: [this.centralBus.eventBusArn],
        conditions: { StringEquals: { 'aws:PrincipalOrgID': organization.organizationId } },
      }),
    );
    const archiveDays = organization.archiveDays ?? organizationDefaults.archiveDays;
    if (archiveDays > 0) {
      this.centralBus.archive('Audit', { description: "Rotor's events of the Organization", eventPattern: { source: [source] }, retention: Duration.days(archiveDays) });
    }
    this.deadLetterQueue = routingDlq(this);

    const defaultBus = events.EventBus.fromEventBusName(this, 'DefaultBus', 'default');
    const reporters = organization.leakReporterAccounts ?? [organization.centralAccount];
    const guardDuty = guardDutyCredentialPattern();
    for (const account of organization.memberAccounts) {
      const memberBus = events.EventBus.fromEventBusArn(this, `MemberBus${account}`, OrganizationNames.memberBusArn(partition, region, account));
      const role = new iam.Role(this, `Route${account}`, {
        roleName: OrganizationNames.routeRole(region, account),
        assumedBy: new iam.ServicePrincipal('events.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': organization.centralAccount } } }),
        description: `Rotor: EventBridge puts routed events on account ${account}'s member bus, and nowhere else`,
      });
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [memberBus.eventBusArn] }));
      this.routeRoles[account] = role;
      const target = new targets.EventBus(memberBus, { role, deadLetterQueue: this.deadLetterQueue });
      // A scanner or bridge names the account (detail.account); `rotor leak --secret <ARN>` names it in
      // the ARN. Only from the reporter accounts or the member itself (`account`: who put the event).
      new events.Rule(this, `Leak${account}`, {
        eventBus: this.centralBus,
        description: `Rotor leak reports naming account ${account} (detail.account)`,
        eventPattern: { ...leakReportedPattern(source), account: senders(reporters, account), detail: { account: [account] } },
        targets: [target],
      });
      new events.Rule(this, `LeakArn${account}`, {
        eventBus: this.centralBus,
        description: `Rotor leak reports naming a secret ARN of account ${account} (and no detail.account)`,
        eventPattern: {
          ...leakReportedPattern(source),
          account: senders(reporters, account),
          detail: { secretId: [{ prefix: `arn:${partition}:secretsmanager:${region}:${account}:secret:` }], account: [{ exists: false }] },
        },
        targets: [target],
      });
      new events.Rule(this, `GuardDuty${account}`, {
        eventBus: defaultBus,
        description: `GuardDuty (administrator account): IAM credential findings of account ${account}`,
        eventPattern: { ...guardDuty, detail: { ...guardDuty.detail, accountId: [account] } },
        targets: [target],
      });
    }
    if ((HEALTH_EVENT_REGIONS as readonly string[]).includes(region)) new HealthRouting(this, 'HealthRouting', { organization });

    this.memberStack = new OrganizationMemberStack(this, 'Member', { organization, config: props.member });
    const bucket = OrganizationNames.assetBucket(organization.assetBucketPrefix, region);
    this.stackSet = new cloudformation.CfnStackSet(this, 'StackSet', {
      stackSetName: organization.stackSetName ?? organizationDefaults.stackSetName,
      description: 'Rotor member stack: rotation, retire and emergency functions in every account',
      permissionModel: 'SERVICE_MANAGED',
      callAs: organization.callAs ?? organizationDefaults.callAs,
      autoDeployment: { enabled: true, retainStacksOnAccountRemoval: false },
      managedExecution: { Active: true },
      capabilities: ['CAPABILITY_NAMED_IAM'],
      operationPreferences: {
        maxConcurrentPercentage: organizationDefaults.maxConcurrentPercentage,
        failureTolerancePercentage: organizationDefaults.failureTolerancePercentage,
        regionConcurrencyType: 'PARALLEL',
      },
      stackInstancesGroup: [{ deploymentTargets: { organizationalUnitIds: [...organization.organizationalUnitIds] }, regions: [region] }],
      // Known once the member stack (a child of this one) is synthesized, which happens first; uncached,
      // so an earlier resolution (validation) does not keep the placeholder.
      templateUrl: Lazy.uncachedString({ produce: () => `https://${bucket}.s3.${region}.amazonaws.com/${this.memberStack.memberSynthesizer.templateKey}` }),
    });
  }
}

export interface HealthRoutingProps {
  readonly organization: OrganizationConfig;
}

/**
 * In a region where AWS Health publishes credential-exposure events (HEALTH_EVENT_REGIONS), on the
 * central account's default bus (the organizational view delivers every member's events there,
 * `detail.affectedAccount` naming the member): one rule per member account to its member bus in
 * the Rotor region. EventBridge forwards an event one bus hop only, so the rules sit on the bus
 * Health delivers to, not behind the central bus.
 */
export class HealthRouting extends Construct {
  public constructor(scope: Construct, id: string, props: HealthRoutingProps) {
    super(scope, id);
    const { organization } = props;
    const partition = organization.partition ?? organizationDefaults.partition;
    const stack = Stack.of(this);
    const dlq = (stack.node.tryFindChild('RoutingDlq') as sqs.Queue | undefined) ?? routingDlq(stack);
    const defaultBus = events.EventBus.fromEventBusName(this, 'DefaultBus', 'default');
    const health = healthExposurePattern();
    for (const account of organization.memberAccounts) {
      const memberBus = events.EventBus.fromEventBusArn(this, `MemberBus${account}`, OrganizationNames.memberBusArn(partition, organization.region, account));
      const role = iam.Role.fromRoleName(this, `Route${account}`, OrganizationNames.routeRole(organization.region, account), { mutable: false });
      new events.Rule(this, `Health${account}`, {
        eventBus: defaultBus,
        description: `AWS Health (organizational view): credential exposures of account ${account}`,
        eventPattern: { ...health, detail: { ...health.detail, affectedAccount: [account] } },
        targets: [new targets.EventBus(memberBus, { role, deadLetterQueue: dlq })],
      });
    }
  }
}

/** The accounts whose leak reports about `member` are routed (the reporters, and the member itself). */
function senders(reporters: readonly string[], member: string): string[] {
  return [...new Set([...reporters, member])];
}

/** The routing targets' dead-letter queue of a stack (events EventBridge could not deliver to a member bus). */
function routingDlq(stack: Stack): sqs.Queue {
  const queue = new sqs.Queue(stack, 'RoutingDlq', { enforceSSL: true, retentionPeriod: Duration.days(14), encryption: sqs.QueueEncryption.SQS_MANAGED });
  acknowledgeDlq(queue);
  return queue;
}
