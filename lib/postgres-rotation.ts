import type { Construct } from 'constructs';
import { allowDatabase, databaseRotationSpec, type DatabaseRotationOptions } from './database-rotation';
import { lambdaEntry, RotationFunctionBase, type RotationConstructProps } from './rotation-function';

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
    super(scope, id, props, { kind: 'postgres', entry: lambdaEntry('postgres'), ...databaseRotationSpec(id, props) });
    allowDatabase(this, props, postgresRotationDefaults.port);
  }
}
