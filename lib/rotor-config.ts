import type { KindName, Strategy } from '../lambdas/contract/index.js';
import type { RotorSecretConfig } from './kind-registry.js';

export type { RotorSecretConfig } from './kind-registry.js';

/**
 * The one typed config an infra team writes to deploy Rotor (see examples/app/rotor.config.ts).
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

/** What every secret of the config has; each kind's entry (`PostgresSecretConfig`, ...) extends it, in the kind's construct file. */
export interface SecretConfigBase {
  /** Construct id, unique in the config. */
  readonly id: string;
  /** The kind (Kinds of the contract). */
  readonly kind: KindName;
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

/** A secret of a database kind (KIND_TRAITS `database`: postgres, mysql). */
export interface DatabaseSecretConfig extends SecretConfigBase {
  /**
   * `single-user` or `alternating-users`.
   * @default - resolveStrategy(kind, { masterSecret }): 'alternating-users' when a master secret is named, else 'single-user'
   */
  readonly strategy?: Strategy;
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

/** A secret of a dual-active kind (KIND_TRAITS `dualActive`: iam, api-token). */
export interface DualActiveSecretConfig extends SecretConfigBase {
  /**
   * Hours the previous value stays valid after a rotation; must be shorter than the interval
   * between rotations of the secret's schedule.
   * @default 24 (DEFAULT_GRACE_HOURS)
   */
  readonly graceHours?: number;
  /**
   * The longest time, in seconds, a consumer of this secret keeps a value in its cache (the
   * Secrets Manager Lambda extension and Agent: 300; the SDK caching clients: 3600). When given,
   * a `graceHours` shorter than it is refused.
   * @default - none declared: not checked
   */
  readonly consumerCacheTtlSeconds?: number;
}
