/**
 * Rotor's client library (`rotor/client`): applications read Rotor-managed secrets through it
 * and survive every rotation. Drivers and the AWS SDK are optional peer dependencies, loaded
 * only by the helper that needs them (see README, "Clients").
 */
export { SecretCache, defaultSecretCache, getSecret, getSecretVersion, refreshSecret, secretCacheDefaults } from './secrets';
export type { GetOptions, SecretCacheOptions, SecretVersion } from './secrets';
export { withSecret, type AuthRetryInfo, type RetryOnAuthFailureOptions } from './retry';
export { pgPool, PG_AUTH_FAILED, type PgPoolOptions } from './pg';
export { mysqlPool, MYSQL_AUTH_FAILED, type MysqlPoolOptions } from './mysql';
export { fromRotatedAccessKey, isAwsAuthFailure, AWS_AUTH_ERRORS, type RotatedAccessKeyOptions, type RotatedAccessKeyProvider } from './aws';
export { rotatedToken, tokenFetch, tokenDefaults, TOKEN_AUTH_STATUSES, type TokenOptions, type TokenFetchOptions } from './token';
export { refreshOnAuthFailure, isAuthFailure, refreshOnAuthFailureDefaults, type RefreshOnAuthFailureOptions } from './middy';
export { invalidateOnRotorEvent, INVALIDATING_DETAIL_TYPES, type RotorEventOptions } from './events';
export { SecretReadError } from './errors';
