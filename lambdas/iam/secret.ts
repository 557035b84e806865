import * as z from 'zod/mini';
import '../contract/zodMessages.js';
import { graceHoursField, parseWith } from '../core/secretValue.js';

/**
 * The secret JSON of an IAM access key: the user, its key, and optionally how many hours the
 * previous key stays active after a rotation. Fields Rotor does not know are kept as they are.
 */
export const iamSecretSchema = z.looseObject({
  /** The IAM user name (not its ARN): 1-64 characters of [\w+=,.@-]. */
  username: z
    .string()
    .check(z.minLength(1), z.maxLength(64), z.regex(/^[\w+=,.@-]+$/, 'must be an IAM user name (letters, digits and +=,.@_-)')),
  accessKeyId: z.string().check(z.minLength(16), z.maxLength(128), z.regex(/^\w+$/, 'must be an access key id')),
  secretAccessKey: z.string().check(z.minLength(1)),
  graceperiod: z.optional(graceHoursField),
});

export type IamSecret = z.output<typeof iamSecretSchema>;

export function parseIamSecret(value: unknown, where: string): IamSecret {
  return parseWith(iamSecretSchema, value, where);
}
