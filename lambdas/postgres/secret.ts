import * as z from 'zod';
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
  port: portField.default(5432),
  username: z
    .string()
    .min(1)
    .refine((u) => Buffer.byteLength(u) <= MAX_IDENTIFIER_BYTES, `must be at most ${MAX_IDENTIFIER_BYTES} bytes`)
    .refine(noNul, 'must not contain NUL'),
  password: z.string().min(1),
  dbname: z
    .string()
    .min(1)
    .refine((d) => Buffer.byteLength(d) <= MAX_IDENTIFIER_BYTES, `must be at most ${MAX_IDENTIFIER_BYTES} bytes`)
    .refine(noNul, 'must not contain NUL')
    .default('postgres'),
  ssl: flagField.optional(),
  masterarn: z.string().min(1).optional(),
});

export type PostgresSecret = z.output<typeof postgresSecretSchema>;

export function parsePostgresSecret(value: unknown, where: string): PostgresSecret {
  return parseWith(postgresSecretSchema, value, where);
}
