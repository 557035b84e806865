import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { Bounds, KIND_TRAITS, resolveStrategy, settings, Strategies, type KindName, type Strategy } from '../lambdas/contract/index.js';
import { writeSetting } from './function-settings.js';
import type { KindContext } from './kind-registry.js';
import type { RotationConstructProps, RotationFunctionBase, RotationFunctionSpec } from './rotation-function-base.js';
import type { DatabaseSecretConfig } from './rotor-config.js';

/** Defaults of the database kinds when RotorStack builds them from a config, in one place. */
export const databaseConfigDefaults = {
  /** One rotation at a time per database function: a rotation storm cannot crowd a database. */
  reservedConcurrency: 1,
} as const;

/** Options every database rotation takes (PostgreSQL, MySQL/MariaDB), as passed to a shortcut. */
export interface DatabaseRotationOptions {
  /**
   * Rotation strategy.
   * @default - resolveStrategy(kind, { masterSecret }): Strategies.ALTERNATING_USERS when `masterSecret` is given, else Strategies.SINGLE_USER
   */
  readonly strategy?: Strategy;
  /**
   * The secret holding the master (admin) credential that creates the clone login (on MySQL it
   * also copies the user's grants to it). Required for alternating users; read only.
   * @default - none (single-user rotation)
   */
  readonly masterSecret?: secretsmanager.ISecret;
  /**
   * Characters new passwords never contain.
   * @default - as AWS's rotation templates: ':/@"\'\\' for PostgreSQL, '/@"\'\\' for MySQL
   */
  readonly excludeCharacters?: string;
  /**
   * Length of new passwords.
   * @default 32
   */
  readonly passwordLength?: number;
  /**
   * The database (its security group) the function must reach, on `port`.
   * @default - no security group rule is added
   */
  readonly database?: ec2.IConnectable;
  /**
   * Database port for `database`.
   * @default - the engine's: 5432 for PostgreSQL, 3306 for MySQL
   */
  readonly port?: number;
}

/** What the database options give the shared base. */
export type DatabaseRotationSpec = Required<Pick<RotationFunctionSpec, 'kind' | 'strategy' | 'environment'>> &
  Pick<RotationFunctionSpec, 'masterSecret' | 'fingerprintTags'>;

/**
 * Resolves and checks the options every database rotation shares, at synth time: the strategy
 * (the contract's `resolveStrategy`: alternating users when there is a master secret), the
 * password options (the PASSWORD_LENGTH / EXCLUDE_CHARACTERS settings), and the master secret
 * as the only secret the function may read besides the one it rotates.
 */
export function databaseRotationSpec(id: string, kind: KindName, props: DatabaseRotationOptions): DatabaseRotationSpec {
  const supported = KIND_TRAITS[kind].strategies;
  if (props.strategy !== undefined && !supported.includes(props.strategy)) {
    throw new Error(`${id}: strategy must be one of ${supported.join(', ')}, got '${String(props.strategy)}'`);
  }
  const strategy = resolveStrategy(kind, { stated: props.strategy, masterSecret: props.masterSecret !== undefined });
  const length = props.passwordLength;
  const { min, max } = Bounds.passwordLength;
  if (length !== undefined && (!Number.isInteger(length) || length < min || length > max)) {
    throw new Error(`${id}: passwordLength must be an integer between ${min} and ${max}, got ${length}`);
  }
  if (strategy === Strategies.ALTERNATING_USERS && !props.masterSecret) {
    throw new Error(`${id}: masterSecret is required for the alternating-users strategy`);
  }
  return {
    kind,
    strategy,
    environment: {
      ...writeSetting(settings.passwordLength, length),
      ...writeSetting(settings.excludeCharacters, props.excludeCharacters),
    },
    masterSecret: props.masterSecret,
    // The password is the leak identity (a leaked connection string names its secret): keyed fingerprint tags.
    fingerprintTags: true,
  };
}

/** Lets a database rotation's function reach `database` on `port` (`defaultPort` when not given). */
export function allowDatabase(rotation: RotationFunctionBase, props: DatabaseRotationOptions, defaultPort: number): void {
  if (props.database) rotation.allowTo(props.database, ec2.Port.tcp(props.port ?? defaultPort));
}

/** The props of a database kind's rotation from its config entry (RotorStack). */
export function databasePropsFromConfig(
  scope: Construct,
  config: DatabaseSecretConfig,
  context: KindContext,
): RotationConstructProps & DatabaseRotationOptions {
  const database = config.databaseSecurityGroupId
    ? ec2.SecurityGroup.fromSecurityGroupId(scope, `${config.id}DatabaseSg`, config.databaseSecurityGroupId)
    : undefined;
  const masterSecret = context.imported('Master', config.masterSecretArn);
  return {
    ...context.common,
    strategy: resolveStrategy(config.kind, { stated: config.strategy, masterSecret: masterSecret !== undefined }),
    masterSecret,
    vpc: context.vpc,
    database,
    reservedConcurrentExecutions: config.reservedConcurrency ?? databaseConfigDefaults.reservedConcurrency,
  };
}
