import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { RotorMetrics, settings, type ServiceNames } from '../lambdas/contract/index.js';
import { writeSetting } from './function-settings.js';
import { LAMBDA_HANDLER, LambdaAssets, type LambdaBundle } from './lambda-assets.js';

/** The test opt-in's variable (plain http and loopback provider hosts); no Rotor function may hold it. */
const LOOPBACK = settings.allowLoopbackForTests.name;

/** Defaults of every Rotor function (rotation, emergency, retire), in one place. */
export const rotorFunctionDefaults = {
  runtime: lambda.Runtime.NODEJS_24_X,
  memorySize: 256,
  logRetention: logs.RetentionDays.ONE_YEAR,
  /** The error alarm fires on the first failed invocation in this period. */
  alarmPeriod: Duration.minutes(5),
  trustRdsCertificates: true,
} as const;

/** Where a Rotor function runs and how long its logs are kept: options of every construct that runs one. */
export interface RotorFunctionOptions {
  /**
   * VPC to run the function in (to reach a private database).
   * @default - the function does not run in a VPC
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Subnets of `vpc` for the function.
   * @default - private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Security groups of the function (only with `vpc`).
   * @default - a new security group is created
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * How long the function's logs are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
}

/** What `addRotorFunction` needs; the construct that calls it validates these first. */
export interface RotorFunctionProps extends RotorFunctionOptions {
  /** The pre-built bundle the function runs (see `LambdaAssets`). */
  readonly bundle: LambdaBundle;
  /** Description of the function. */
  readonly description: string;
  /**
   * Description of the function's role.
   * @default - the function's description
   */
  readonly roleDescription?: string;
  /** POWERTOOLS_SERVICE_NAME of the function (one of the contract's ServiceNames). */
  readonly serviceName: (typeof ServiceNames)[keyof typeof ServiceNames];
  /** Function timeout. */
  readonly timeout: Duration;
  /**
   * Environment of the function besides NODE_EXTRA_CA_CERTS and the Powertools variables.
   * @default - none
   */
  readonly environment?: Record<string, string>;
  /**
   * Statements the role gets right after its logs grant, before the function exists.
   * @default - none
   */
  readonly statements?: iam.PolicyStatement[];
  /**
   * Why the role may hold `Resource::*` (the cdk-nag IAM5 acknowledgment): name every action
   * that has no resource type.
   */
  readonly wildcardReason: string;
  /**
   * Subnets of `vpc`, passed to the function as given (the caller applies its default).
   * @default - Lambda's default selection in `vpc`
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Reserved concurrency.
   * @default - no reservation
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Memory of the function, in MiB.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Set NODE_EXTRA_CA_CERTS so that the function trusts the RDS certificate authorities.
   * @default true
   */
  readonly trustRdsCertificates?: boolean;
  /** Description of the error alarm. */
  readonly alarmDescription: string;
  /**
   * Period of the error alarm.
   * @default Duration.minutes(5)
   */
  readonly alarmPeriod?: Duration;
  /**
   * Topic the error alarm notifies.
   * @default - the alarm is created without an action
   */
  readonly alarmTopic?: sns.ITopic;
}

/** What `addRotorFunction` created. */
export interface RotorFunctionParts {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly errorAlarm: cloudwatch.Alarm;
}

/**
 * The Lambda of every Rotor construct, made the same way: an own role with inline grants only
 * (no AWS managed policy, logs only to its own group), the function's code the bundle the
 * package ships pre-built (no bundling at synth), the cdk-nag acknowledgments of the role's wildcards, and an alarm on the
 * first error. The children (`Logs`, `Role`, `Function`, `ErrorAlarm`) are added to `scope`
 * itself, so their logical ids are those of the construct that calls this.
 */
export function addRotorFunction(scope: Construct, props: RotorFunctionProps): RotorFunctionParts {
  const logGroup = new logs.LogGroup(scope, 'Logs', {
    retention: props.logRetention ?? rotorFunctionDefaults.logRetention,
  });
  const role = new iam.Role(scope, 'Role', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: props.roleDescription ?? props.description,
  });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn, `${logGroup.logGroupArn}:log-stream:*`],
    }),
  );
  for (const statement of props.statements ?? []) role.addToPrincipalPolicy(statement);
  if (props.vpc) {
    // The Lambda VPC network-interface actions do not support resource-level permissions.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );
  }

  const fn = new lambda.Function(scope, 'Function', {
    role,
    code: LambdaAssets.code(props.bundle),
    handler: LAMBDA_HANDLER,
    description: props.description,
    runtime: rotorFunctionDefaults.runtime,
    architecture: lambda.Architecture.ARM_64,
    memorySize: props.memorySize ?? rotorFunctionDefaults.memorySize,
    timeout: props.timeout,
    reservedConcurrentExecutions: props.reservedConcurrentExecutions,
    vpc: props.vpc,
    vpcSubnets: props.vpc ? props.vpcSubnets : undefined,
    securityGroups: props.securityGroups,
    logGroup,
    environment: {
      ...props.environment,
      // Node.js 20+ Lambda runtimes trust the RDS certificate authorities only with this.
      ...((props.trustRdsCertificates ?? rotorFunctionDefaults.trustRdsCertificates)
        ? { NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' }
        : {}),
      ...writeSetting(settings.serviceName, props.serviceName),
      ...writeSetting(settings.metricsNamespace, RotorMetrics.NAMESPACE),
    },
  });

  // The test opt-in (plain http and loopback provider hosts) must never reach a deployed
  // function, however it got there: props, or fn.addEnvironment(...) later. Checked at synth.
  fn.node.addValidation({
    validate: () => {
      const cfn = fn.node.defaultChild as lambda.CfnFunction;
      const env = Stack.of(fn).resolve(cfn.environment) as { variables?: Record<string, unknown> } | undefined;
      if (!env?.variables || !Object.hasOwn(env.variables, LOOPBACK)) return [];
      return [
        `${fn.node.path}: environment variable ${LOOPBACK} is for local tests and the sandbox only ` +
          '(it lets the function send credentials over plain http and to loopback hosts); remove it from this Rotor function',
      ];
    },
  });

  Validations.of(role).acknowledge(
    { id: 'AwsSolutions-IAM5[Resource::*]', reason: props.wildcardReason },
    {
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(scope).getLogicalId(logGroup.node.defaultChild as logs.CfnLogGroup)}.Arn>:log-stream:*]`,
      reason: "log streams of the function's own log group, created by Lambda with generated names",
    },
  );

  const errorAlarm = new cloudwatch.Alarm(scope, 'ErrorAlarm', {
    alarmDescription: props.alarmDescription,
    metric: fn.metricErrors({ period: props.alarmPeriod ?? rotorFunctionDefaults.alarmPeriod, statistic: 'Sum' }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  if (props.alarmTopic) errorAlarm.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));

  return { function: fn, role, logGroup, errorAlarm };
}
