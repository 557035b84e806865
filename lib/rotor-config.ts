/**
 * The one typed config an infra team writes to deploy Rotor (see bin/rotor.config.ts).
 * Every optional field documents its default.
 */
export interface RotorConfig {
  /**
   * Name of the stack.
   * @default 'Rotor'
   */
  readonly stackName?: string;
  /**
   * Account and region to deploy to.
   * @default - CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION (the deploying credentials)
   */
  readonly env?: { readonly account?: string; readonly region?: string };
  /** Where alarms go (rotation failures, function errors). */
  readonly alarms?: {
    /**
     * An existing SNS topic.
     * @default - a new topic
     */
    readonly topicArn?: string;
    /**
     * E-mail addresses subscribed to the topic.
     * @default - none
     */
    readonly emails?: readonly string[];
  };
  /**
   * The VPC the database rotation functions run in (given by attributes, so synth needs no lookup).
   * @default - functions run outside any VPC
   */
  readonly network?: {
    readonly vpcId: string;
    /** The VPC's CIDR block (the endpoint's security group admits it). */
    readonly vpcCidrBlock: string;
    readonly availabilityZones: readonly string[];
    readonly privateSubnetIds: readonly string[];
    /**
     * Create an interface endpoint for Secrets Manager in the VPC (functions in private subnets
     * without NAT need it).
     * @default false
     */
    readonly secretsManagerEndpoint?: boolean;
  };
  /** Defaults for every secret below. */
  readonly defaults?: {
    /**
     * `rate(N hours|days)` or `cron(0 H ...)`.
     * @default 'rate(30 days)'
     */
    readonly schedule?: string;
    /**
     * Rotation window in hours.
     * @default - Secrets Manager's default window
     */
    readonly windowHours?: number;
  };
  /** The secrets Rotor rotates. */
  readonly secrets: readonly RotorSecretConfig[];
  /**
   * Emergency rotation and revocation after a leak.
   * @default - enabled, with GuardDuty findings
   */
  readonly emergency?: {
    /** @default true */
    readonly enabled?: boolean;
    /** @default true */
    readonly guardDuty?: boolean;
    /** `source` of Rotor's events. @default 'rotor' */
    readonly eventSource?: string;
  };
}

interface SecretConfigBase {
  /** Construct id, unique in the config. */
  readonly id: string;
  /**
   * Complete ARN of an existing secret. Without it Rotor creates the secret (empty until you
   * put the first value).
   * @default - a new secret
   */
  readonly secretArn?: string;
  /**
   * Overrides `defaults.schedule`.
   * @default - defaults.schedule
   */
  readonly schedule?: string;
  /**
   * Overrides `defaults.windowHours`.
   * @default - defaults.windowHours
   */
  readonly windowHours?: number;
}

interface DatabaseSecretConfig extends SecretConfigBase {
  /**
   * `single-user` or `alternating-users`.
   * @default 'alternating-users' when a master secret is named, else 'single-user'
   */
  readonly strategy?: 'single-user' | 'alternating-users';
  /**
   * Complete ARN of the master secret (alternating users).
   * @default - none
   */
  readonly masterSecretArn?: string;
  /**
   * Security group of the database, opened to the function on the database port.
   * @default - no rule is added
   */
  readonly databaseSecurityGroupId?: string;
  /**
   * Reserved concurrency of the function (protects the database).
   * @default 1
   */
  readonly reservedConcurrency?: number;
}

export interface PostgresSecretConfig extends DatabaseSecretConfig {
  readonly kind: 'postgres';
}

export interface MysqlSecretConfig extends DatabaseSecretConfig {
  readonly kind: 'mysql';
}

export interface IamSecretConfig extends SecretConfigBase {
  readonly kind: 'iam';
  /** The IAM user(s) whose keys this secret holds. */
  readonly userNames: readonly string[];
  /**
   * Hours the previous key stays active.
   * @default 24
   */
  readonly graceHours?: number;
}

export interface ApiTokenSecretConfig extends SecretConfigBase {
  readonly kind: 'api-token';
  /**
   * Complete ARN of the secret holding the provider management credential.
   * @default - none: the token rotates itself (`selfRotation`)
   */
  readonly managementSecretArn?: string;
  /**
   * Hours the previous token stays valid (dual-active providers).
   * @default 24
   */
  readonly graceHours?: number;
}

export type RotorSecretConfig = PostgresSecretConfig | MysqlSecretConfig | IamSecretConfig | ApiTokenSecretConfig;
