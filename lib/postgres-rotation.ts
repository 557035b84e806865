import type { Construct } from 'constructs';
import { Kinds } from '../lambdas/contract';
import {
  allowDatabase,
  databasePropsFromConfig,
  databaseRotationSpec,
  type DatabaseRotationOptions,
} from './database-rotation';
import type { KindConstruct } from './kind-registry';
import { RotationFunctionBase, type RotationConstructProps } from './rotation-function-base';
import type { DatabaseSecretConfig } from './rotor-config';

/** Defaults of the PostgreSQL rotation, in one place (the password defaults live in its handler). */
export const postgresRotationDefaults = {
  port: 5432,
} as const;

/**
 * Options of a PostgreSQL rotation (as passed to a shortcut). Its defaults: `excludeCharacters`
 * ':/@"\'\\' (as AWS's PostgreSQL rotation templates), `port` 5432.
 */
export interface PostgresRotationOptions extends DatabaseRotationOptions {}

export interface PostgresRotationProps extends RotationConstructProps, PostgresRotationOptions {}

/**
 * Rotates a PostgreSQL secret (the JSON of AWS's rotation templates) with Rotor's engine:
 * single-user, or alternating users (`app` / `app_clone`) for zero-downtime rotation.
 */
export class PostgresRotation extends RotationFunctionBase {
  public constructor(scope: Construct, id: string, props: PostgresRotationProps) {
    super(scope, id, props, databaseRotationSpec(id, Kinds.POSTGRES, props));
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
