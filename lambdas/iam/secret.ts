import * as z from 'zod';
import { graceHoursField, parseWith } from '../core/secretValue.js';

/**
 * The secret JSON of an IAM access key: the user, its key, and optionally how many hours the
 * previous key stays active after a rotation. Fields Rotor does not know are kept as they are.
 */
export const iamSecretSchema = z.looseObject({
  /** The IAM user name (not its ARN): 1-64 characters of [\w+=,.@-]. */
  username: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[\w+=,.@-]+$/, 'must be an IAM user name (letters, digits and +=,.@_-)'),
  accessKeyId: z
    .string()
    .min(16)
    .max(128)
    .regex(/^\w+$/, 'must be an access key id'),
  secretAccessKey: z.string().min(1),
  graceperiod: graceHoursField.optional(),
});

export type IamSecret = z.output<typeof iamSecretSchema>;

export function parseIamSecret(value: unknown, where: string): IamSecret {
  return parseWith(iamSecretSchema, value, where);
}
