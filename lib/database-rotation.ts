import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { RotationStrategy, type RotationFunctionBase, type RotationFunctionSpec } from './rotation-function';

/** Options every database rotation takes (PostgreSQL, MySQL/MariaDB), as passed to a shortcut. */
export interface DatabaseRotationOptions {
  /**
   * Rotation strategy.
   * @default RotationStrategy.ALTERNATING_USERS when `masterSecret` is given, else RotationStrategy.SINGLE_USER
   */
  readonly strategy?: RotationStrategy;
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
export type DatabaseRotationSpec = Required<Pick<RotationFunctionSpec, 'strategy' | 'environment' | 'readOnlySecrets'>>;

/**
 * Resolves and checks the options every database rotation shares, at synth time: the strategy
 * (alternating users when there is a master secret), the password options (the
 * PASSWORD_LENGTH / EXCLUDE_CHARACTERS environment), and the master secret as the only secret
 * the function may read besides the one it rotates.
 */
export function databaseRotationSpec(id: string, props: DatabaseRotationOptions): DatabaseRotationSpec {
  const strategy =
    props.strategy ?? (props.masterSecret ? RotationStrategy.ALTERNATING_USERS : RotationStrategy.SINGLE_USER);
  const length = props.passwordLength;
  if (length !== undefined && (!Number.isInteger(length) || length < 8 || length > 4096)) {
    throw new Error(`${id}: passwordLength must be an integer between 8 and 4096, got ${length}`);
  }
  if (strategy === RotationStrategy.ALTERNATING_USERS && !props.masterSecret) {
    throw new Error(`${id}: masterSecret is required for the alternating-users strategy`);
  }
  return {
    strategy,
    environment: {
      ...(length !== undefined ? { PASSWORD_LENGTH: String(length) } : {}),
      ...(props.excludeCharacters !== undefined ? { EXCLUDE_CHARACTERS: props.excludeCharacters } : {}),
    },
    readOnlySecrets: props.masterSecret ? [props.masterSecret] : [],
  };
}

/** Lets a database rotation's function reach `database` on `port` (`defaultPort` when not given). */
export function allowDatabase(rotation: RotationFunctionBase, props: DatabaseRotationOptions, defaultPort: number): void {
  if (props.database) rotation.allowTo(props.database, ec2.Port.tcp(props.port ?? defaultPort));
}
