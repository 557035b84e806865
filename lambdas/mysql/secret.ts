import * as z from 'zod/mini';
import '../contract/zodMessages.js';
import { flagField, hostField, noNul, portField } from '../database/fields.js';
import { parseWith } from '../core/secretValue.js';

export const mysqlEngines = ['mysql', 'aurora-mysql', 'mariadb'] as const;

/** Longest user name any supported server accepts (MariaDB's column holds 128 characters). */
export const MAX_USERNAME_CHARACTERS = 128;

/** Longest database name MySQL and MariaDB accept. */
export const MAX_DATABASE_NAME_CHARACTERS = 64;


/**
 * The secret JSON of AWS's own MySQL/MariaDB rotation templates. Fields Rotor does not know
 * are kept as they are, so they survive rotation.
 */
export const mysqlSecretSchema = z.looseObject({
  engine: z.enum(mysqlEngines),
  host: hostField,
  port: z._default(portField, 3306),
  username: z
    .string()
    .check(
      z.minLength(1),
      z.refine((u) => [...u].length <= MAX_USERNAME_CHARACTERS, `must be at most ${MAX_USERNAME_CHARACTERS} characters`),
      z.refine(noNul, 'must not contain NUL'),
    ),
  password: z.string().check(z.minLength(1)),
  dbname: z.optional(
    z
      .string()
      .check(
        z.minLength(1),
        z.refine((d) => [...d].length <= MAX_DATABASE_NAME_CHARACTERS, `must be at most ${MAX_DATABASE_NAME_CHARACTERS} characters`),
        z.refine(noNul, 'must not contain NUL'),
      ),
  ),
  ssl: z.optional(flagField),
  masterarn: z.optional(z.string().check(z.minLength(1))),
});

export type MysqlSecret = z.output<typeof mysqlSecretSchema>;

export function parseMysqlSecret(value: unknown, where: string): MysqlSecret {
  return parseWith(mysqlSecretSchema, value, where);
}
