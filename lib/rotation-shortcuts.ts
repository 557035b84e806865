import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ApiTokenRotation, type ApiTokenRotationProps } from './api-token-rotation.js';
import { IamAccessKeyRotation, type IamAccessKeyRotationProps } from './iam-access-key-rotation.js';
import { MysqlRotation, type MysqlRotationProps } from './mysql-rotation.js';
import { PostgresRotation, type PostgresRotationProps } from './postgres-rotation.js';

/**
 * Shortcuts that read like aws-cdk-lib's `secret.addRotationSchedule(...)`: the rotation is
 * created beside the secret, in the secret's scope, with the id `<id>` (default 'Rotation').
 *
 * ```ts
 * addPostgresRotation(appSecret, { masterSecret, schedule: RotorSchedule.cron('cron(0 4 ? * SUN *)') });
 * ```
 */
export function addPostgresRotation(
  secret: secretsmanager.ISecret,
  options: Omit<PostgresRotationProps, 'secret'> = {},
  id = 'Rotation',
): PostgresRotation {
  return new PostgresRotation(secret, id, { ...options, secret });
}

export function addMysqlRotation(
  secret: secretsmanager.ISecret,
  options: Omit<MysqlRotationProps, 'secret'> = {},
  id = 'Rotation',
): MysqlRotation {
  return new MysqlRotation(secret, id, { ...options, secret });
}

export function addIamAccessKeyRotation(
  secret: secretsmanager.ISecret,
  options: Omit<IamAccessKeyRotationProps, 'secret'>,
  id = 'Rotation',
): IamAccessKeyRotation {
  return new IamAccessKeyRotation(secret, id, { ...options, secret });
}

export function addApiTokenRotation(
  secret: secretsmanager.ISecret,
  options: DistributiveOmit<ApiTokenRotationProps, 'secret'>,
  id = 'Rotation',
): ApiTokenRotation {
  return new ApiTokenRotation(secret, id, { ...options, secret } as ApiTokenRotationProps);
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
