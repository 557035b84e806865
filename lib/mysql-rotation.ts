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

/** Options of a MySQL/MariaDB rotation (as passed to a shortcut). */
export interface MysqlRotationOptions {
  /**
   * Rotation strategy.
   * @default RotationStrategy.ALTERNATING_USERS when `masterSecret` is given, else RotationStrategy.SINGLE_USER
   */
  readonly strategy?: RotationStrategy;
  /**
   * The secret holding the master (admin) credential that creates the clone login and copies
   * the user's grants to it. Required for alternating users; read only.
   * @default - none (single-user rotation)
   */
  readonly masterSecret?: secretsmanager.ISecret;
  /**
   * Characters new passwords never contain.
   * @default '/@"\'\\' (as AWS's MySQL rotation templates)
   */
  readonly excludeCharacters?: string;
  /**
   * Length of new passwords.
   * @default 32
   */
  readonly passwordLength?: number;
  /**
   * Longest user name the server accepts, checked for `<user>_clone` before anything is
   * created (MySQL 5.7 and 8: 32, MySQL 5.6 and older: 16, MariaDB 10.11: 128).
   * @default 32
   */
  readonly maxUsernameLength?: number;
  /**
   * Single-user rotation on MySQL 8.0.14+ with `RETAIN CURRENT PASSWORD`: the old password
   * keeps working until the next rotation. The function refuses it on MariaDB and older MySQL.
   * @default false
   */
  readonly dualPassword?: boolean;
  /**
   * The database (its security group) the function must reach, on `port`.
   * @default - no security group rule is added
   */
  readonly database?: ec2.IConnectable;
  /**
   * Database port for `database`.
   * @default 3306
   */
  readonly port?: number;
}

export interface MysqlRotationProps extends RotationConstructProps, MysqlRotationOptions {}

/**
 * Rotates a MySQL, Aurora MySQL or MariaDB secret (the JSON of AWS's rotation templates) with
 * Rotor's engine: single-user (optionally with MySQL 8's dual passwords), or alternating users
 * (`app` / `app_clone`) for zero-downtime rotation.
 */
export class MysqlRotation extends RotationFunctionBase {
  public constructor(scope: Construct, id: string, props: MysqlRotationProps) {
    const strategy =
      props.strategy ?? (props.masterSecret ? RotationStrategy.ALTERNATING_USERS : RotationStrategy.SINGLE_USER);
    validatePasswordOptions(id, props);
    if (strategy === RotationStrategy.ALTERNATING_USERS && !props.masterSecret) {
      throw new Error(`${id}: masterSecret is required for the alternating-users strategy`);
    }
    const max = props.maxUsernameLength;
    if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > 128)) {
      throw new Error(`${id}: maxUsernameLength must be an integer between 1 and 128, got ${max}`);
    }
    if (props.dualPassword && strategy !== RotationStrategy.SINGLE_USER) {
      throw new Error(`${id}: dualPassword applies to the single-user strategy only, got strategy ${strategy}`);
    }
    super(scope, id, props, {
      kind: 'mysql',
      entry: lambdaEntry('mysql'),
      strategy,
      environment: {
        ...passwordEnvironment(props),
        ...(max !== undefined ? { MAX_USERNAME_LENGTH: String(max) } : {}),
        ...(props.dualPassword !== undefined ? { DUAL_PASSWORD: String(props.dualPassword) } : {}),
      },
      readOnlySecrets: props.masterSecret ? [props.masterSecret] : [],
    });
    if (props.database) this.allowTo(props.database, ec2.Port.tcp(props.port ?? 3306));
  }
}
