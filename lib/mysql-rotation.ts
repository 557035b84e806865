import type { Construct } from 'constructs';
import { Bounds, Kinds, settings, Strategies } from '../lambdas/contract/index.js';
import {
  allowDatabase,
  databasePropsFromConfig,
  databaseRotationSpec,
  type DatabaseRotationOptions,
} from './database-rotation.js';
import { writeSetting } from './function-settings.js';
import type { KindConstruct } from './kind-registry.js';
import { RotationFunctionBase, type RotationConstructProps } from './rotation-function-base.js';
import type { DatabaseSecretConfig } from './rotor-config.js';

/** Defaults of the MySQL/MariaDB rotation, in one place (the password defaults live in its handler). */
export const mysqlRotationDefaults = {
  port: 3306,
} as const;

/**
 * Options of a MySQL/MariaDB rotation (as passed to a shortcut). Its defaults: `excludeCharacters`
 * '/@"\'\\' (as AWS's MySQL rotation templates), `port` 3306.
 */
export interface MysqlRotationOptions extends DatabaseRotationOptions {
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
}

export interface MysqlRotationProps extends RotationConstructProps, MysqlRotationOptions {}

/**
 * Rotates a MySQL, Aurora MySQL or MariaDB secret (the JSON of AWS's rotation templates) with
 * Rotor's engine: single-user (optionally with MySQL 8's dual passwords), or alternating users
 * (`app` / `app_clone`) for zero-downtime rotation.
 */
export class MysqlRotation extends RotationFunctionBase {
  public constructor(scope: Construct, id: string, props: MysqlRotationProps) {
    const database = databaseRotationSpec(id, Kinds.MYSQL, props);
    const strategy = database.strategy;
    const max = props.maxUsernameLength;
    const bounds = Bounds.mysqlUsernameLength;
    if (max !== undefined && (!Number.isInteger(max) || max < bounds.min || max > bounds.max)) {
      throw new Error(`${id}: maxUsernameLength must be an integer between ${bounds.min} and ${bounds.max}, got ${max}`);
    }
    if (props.dualPassword && strategy !== Strategies.SINGLE_USER) {
      throw new Error(`${id}: dualPassword applies to the single-user strategy only, got strategy ${strategy}`);
    }
    super(scope, id, props, {
      ...database,
      environment: {
        ...database.environment,
        ...writeSetting(settings.maxUsernameLength, max),
        ...writeSetting(settings.dualPassword, props.dualPassword),
      },
    });
    allowDatabase(this, props, mysqlRotationDefaults.port);
  }
}

/** A MySQL/MariaDB secret in the RotorStack config. */
export interface MysqlSecretConfig extends DatabaseSecretConfig {
  readonly kind: typeof Kinds.MYSQL;
}

/** RotorStack's registry entry for MySQL/MariaDB. */
export const mysqlKind: KindConstruct<MysqlSecretConfig> = {
  fromConfig: (scope, config, context) => new MysqlRotation(scope, config.id, databasePropsFromConfig(scope, config, context)),
};
