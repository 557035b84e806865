import * as z from 'zod/mini';
import '../contract/zodMessages.js';
import { flagField, hostField, noNul, portField } from '../database/fields.js';
import { parseWith } from '../core/secretValue.js';

/** PostgreSQL's identifier limit (NAMEDATALEN - 1 bytes). */
export const MAX_IDENTIFIER_BYTES = 63;

export const postgresEngines = ['postgres', 'aurora-postgresql'] as const;


/**
 * The secret JSON of AWS's own PostgreSQL rotation templates. Fields Rotor does not know are
 * kept as they are, so they survive rotation.
 */
export const postgresSecretSchema = z.looseObject({
  engine: z.enum(postgresEngines),
  host: hostField,
  port: z._default(portField, 5432),
  username: z
    .string()
    .check(
      z.minLength(1),
      z.refine((u) => Buffer.byteLength(u) <= MAX_IDENTIFIER_BYTES, `must be at most ${MAX_IDENTIFIER_BYTES} bytes`),
      z.refine(noNul, 'must not contain NUL'),
    ),
  password: z.string().check(z.minLength(1)),
  dbname: z._default(
    z
      .string()
      .check(
        z.minLength(1),
        z.refine((d) => Buffer.byteLength(d) <= MAX_IDENTIFIER_BYTES, `must be at most ${MAX_IDENTIFIER_BYTES} bytes`),
        z.refine(noNul, 'must not contain NUL'),
      ),
    'postgres',
  ),
  ssl: z.optional(flagField),
  masterarn: z.optional(z.string().check(z.minLength(1))),
});

export type PostgresSecret = z.output<typeof postgresSecretSchema>;

export function parsePostgresSecret(value: unknown, where: string): PostgresSecret {
  return parseWith(postgresSecretSchema, value, where);
}
