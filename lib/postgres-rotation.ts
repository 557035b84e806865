import type { Construct } from 'constructs';
import { Kinds, settings, Strategies } from '../lambdas/contract/index.js';
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

/** Defaults of the PostgreSQL rotation, in one place (the password defaults live in its handler). */
export const postgresRotationDefaults = {
  port: 5432,
} as const;

/**
 * Options of a PostgreSQL rotation (as passed to a shortcut). Its defaults: `excludeCharacters`
 * ':/@"\'\\' (as AWS's PostgreSQL rotation templates), `port` 5432.
 */
export interface PostgresRotationOptions extends DatabaseRotationOptions {
  /**
   * Alternating users: reassign to the user the objects its clone owns from before the clone's
   * sessions ran as the user (REASSIGN OWNED, in the secret's database). Without it they are
   * only reported in the function's log at each rotation.
   * @default false
   */
  readonly reassignCloneObjects?: boolean;
}

export interface PostgresRotationProps extends RotationConstructProps, PostgresRotationOptions {}

/**
 * Rotates a PostgreSQL secret (the JSON of AWS's rotation templates) with Rotor's engine:
 * single-user, or alternating users (`app` / `app_clone`) for zero-downtime rotation.
 */
export class PostgresRotation extends RotationFunctionBase {
  public constructor(scope: Construct, id: string, props: PostgresRotationProps) {
    const database = databaseRotationSpec(id, Kinds.POSTGRES, props);
    if (props.reassignCloneObjects && database.strategy !== Strategies.ALTERNATING_USERS) {
      throw new Error(`${id}: reassignCloneObjects applies to the alternating-users strategy only, got strategy ${database.strategy}`);
    }
    super(scope, id, props, {
      ...database,
      environment: { ...database.environment, ...writeSetting(settings.reassignCloneObjects, props.reassignCloneObjects) },
    });
    allowDatabase(this, props, postgresRotationDefaults.port);
  }
}

/** A PostgreSQL secret in the RotorStack config. */
export interface PostgresSecretConfig extends DatabaseSecretConfig {
  readonly kind: typeof Kinds.POSTGRES;
}

/** RotorStack's registry entry for PostgreSQL. */
export const postgresKind: KindConstruct<PostgresSecretConfig> = {
  fromConfig: (scope, config, context) => new PostgresRotation(scope, config.id, databasePropsFromConfig(scope, config, context)),
};
