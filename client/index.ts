/**
 * Rotor's client library (`rotor/client`): applications read Rotor-managed secrets through it
 * and survive every rotation. Drivers and the AWS SDK are optional peer dependencies, loaded
 * only by the helper that needs them (see README, "Clients").
 */
export { SecretCache, defaultSecretCache, getSecret, getSecretVersion, refreshSecret, secretCacheDefaults } from './secrets.js';
export type { GetOptions, SecretCacheOptions, SecretVersion } from './secrets.js';
export { withSecret, type AuthRetryInfo, type RetryOnAuthFailureOptions } from './retry.js';
export { pgPool, PG_AUTH_FAILED, type PgPoolOptions } from './pg.js';
export { mysqlPool, MYSQL_AUTH_FAILED, type MysqlPoolOptions } from './mysql.js';
export { fromRotatedAccessKey, isAwsAuthFailure, AWS_AUTH_ERRORS, type RotatedAccessKeyOptions, type RotatedAccessKeyProvider } from './aws.js';
export { rotatedToken, tokenFetch, tokenDefaults, TOKEN_AUTH_STATUSES, type TokenOptions, type TokenFetchOptions } from './token.js';
export { refreshOnAuthFailure, isAuthFailure, refreshOnAuthFailureDefaults, type RefreshOnAuthFailureOptions } from './middy.js';
export { invalidateOnRotorEvent, INVALIDATING_DETAIL_TYPES, type RotorEventOptions } from './events.js';
export { SecretReadError } from './errors.js';
