import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import {
  lambdaEntry,
  passwordEnvironment,
  RotationFunctionBase,
  RotationStrategy,
  type RotationConstructProps,
  validatePasswordOptions,
} from './rotation-function';

/** Options of a PostgreSQL rotation (as passed to a shortcut). */
export interface PostgresRotationOptions {
  /**
   * Rotation strategy.
   * @default RotationStrategy.ALTERNATING_USERS when `masterSecret` is given, else RotationStrategy.SINGLE_USER
   */
  readonly strategy?: RotationStrategy;
  /**
   * The secret holding the master (admin) credential that creates the clone login.
   * Required for alternating users; read only.
   * @default - none (single-user rotation)
   */
  readonly masterSecret?: secretsmanager.ISecret;
  /**
   * Characters new passwords never contain.
   * @default ':/@"\'\\' (as AWS's PostgreSQL rotation templates)
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
   * @default 5432
   */
  readonly port?: number;
}

export interface PostgresRotationProps extends RotationConstructProps, PostgresRotationOptions {}

/**
 * Rotates a PostgreSQL secret (the JSON of AWS's rotation templates) with Rotor's engine:
 * single-user, or alternating users (`app` / `app_clone`) for zero-downtime rotation.
 */
export class PostgresRotation extends RotationFunctionBase {
  public constructor(scope: Construct, id: string, props: PostgresRotationProps) {
    const strategy =
      props.strategy ?? (props.masterSecret ? RotationStrategy.ALTERNATING_USERS : RotationStrategy.SINGLE_USER);
    validatePasswordOptions(id, props);
    if (strategy === RotationStrategy.ALTERNATING_USERS && !props.masterSecret) {
      throw new Error(`${id}: masterSecret is required for the alternating-users strategy`);
    }
    super(scope, id, props, {
      kind: 'postgres',
      entry: lambdaEntry('postgres'),
      strategy,
      environment: passwordEnvironment(props),
      readOnlySecrets: props.masterSecret ? [props.masterSecret] : [],
    });
    if (props.database) this.allowTo(props.database, ec2.Port.tcp(props.port ?? 5432));
  }
}
