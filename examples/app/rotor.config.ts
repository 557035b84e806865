import type { RotorConfig } from 'rotor';

/**
 * The example deployment: it synthesizes offline as it is. Replace the ARNs, ids and names with
 * your own (complete secret ARNs, with their 6-character suffix).
 */
export const config: RotorConfig = {
  stackName: 'Rotor',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT ?? '123456789012', region: process.env.ROTOR_REGION ?? 'eu-west-1' },
  alarms: { emails: ['infra-oncall@example.com'] },
  network: {
    vpcId: 'vpc-0a1b2c3d4e5f60718',
    vpcCidrBlock: '10.20.0.0/16',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    privateSubnetIds: ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002'],
    secretsManagerEndpoint: true,
  },
  defaults: { schedule: 'rate(30 days)', windowHours: 4 },
  secrets: [
    {
      id: 'OrdersDb',
      kind: 'postgres',
      strategy: 'alternating-users',
      secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/orders/app-AbCdEf',
      masterSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/orders/master-GhIjKl',
      databaseSecurityGroupId: 'sg-0a1b2c3d4e5f60718',
      schedule: 'cron(0 3 ? * SUN *)',
      windowHours: 3,
    },
    {
      id: 'BillingDb',
      kind: 'mysql',
      strategy: 'single-user',
      secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/billing/app-MnOpQr',
      databaseSecurityGroupId: 'sg-0a1b2c3d4e5f60719',
    },
    {
      id: 'DeployerKey',
      kind: 'iam',
      userNames: ['ci-deployer'],
      graceHours: 24,
      schedule: 'rate(7 days)',
    },
    {
      id: 'DatadogKey',
      kind: 'api-token',
      secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/datadog/api-key-StUvWx',
      managementSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/datadog/management-YzAbCd',
      graceHours: 12,
    },
  ],
  emergency: { guardDuty: true },
};
