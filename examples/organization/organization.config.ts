import type { OrganizationConfig, OrganizationMemberConfig } from 'rotor';

/**
 * The example Organizations deployment (README, "Many accounts"): it synthesizes offline as it is.
 * Replace the ids with your Organization's.
 */
export const organization: OrganizationConfig = {
  organizationId: 'o-a1b2c3d4e5',
  // StackSets, GuardDuty and AWS Health (organizational view) delegated administrator.
  centralAccount: '111111111111',
  region: process.env.ROTOR_REGION ?? 'eu-west-1',
  organizationalUnitIds: ['ou-ab12-cdefgh34'],
  memberAccounts: ['222222222222', '333333333333'],
  assetBucketPrefix: 'example-rotor-assets',
};

/**
 * What every member account deploys. Secrets are named, not given by ARN (the same name in every
 * account); the network comes from each account's SSM parameters, resolved by CloudFormation in
 * that account at deploy time (`{{resolve:ssm:…}}`), so one template fits every account.
 */
export const member: OrganizationMemberConfig = {
  alarms: { emails: ['infra-oncall@example.com'] },
  network: {
    vpcId: '{{resolve:ssm:/org/network/vpc-id}}',
    vpcCidrBlock: '{{resolve:ssm:/org/network/vpc-cidr}}',
    availabilityZones: [`${organization.region}a`, `${organization.region}b`],
    privateSubnetIds: ['{{resolve:ssm:/org/network/private-subnet-a}}', '{{resolve:ssm:/org/network/private-subnet-b}}'],
  },
  defaults: { schedule: 'rate(30 days)', windowHours: 4 },
  secrets: [
    {
      id: 'AppDb',
      kind: 'postgres',
      strategy: 'single-user',
      secretName: 'prod/app/db',
      databaseSecurityGroupId: '{{resolve:ssm:/org/app/db-security-group}}',
    },
    { id: 'DeployerKey', kind: 'iam', userNames: ['ci-deployer'], graceHours: 24, schedule: 'rate(7 days)' },
  ],
  emergency: { guardDuty: true },
};
