import { createRequire } from 'node:module';
import type * as mysqlPromise from 'mysql2/promise';
import { defaultSecretCache, type SecretVersion } from './secrets.js';
import type { RetryOnAuthFailureOptions } from './retry.js';

/** MySQL / MariaDB's error number for a refused login (ER_ACCESS_DENIED_ERROR). */
export const MYSQL_AUTH_FAILED = 1045;

interface MysqlSecret {
  readonly username: string;
  readonly password: string;
  readonly host?: string;
  readonly port?: number;
  readonly dbname?: string;
}

export type MysqlPoolOptions = Omit<mysqlPromise.PoolOptions, 'user' | 'password'> &
  RetryOnAuthFailureOptions & {
    /** The Rotor-managed secret (name or ARN) whose AWSCURRENT logs in. host, port and database default to the secret's. */
    readonly secretId: string;
  };

type Callback = (err: (Error & { errno?: number }) | null, connection?: unknown) => void;
interface CorePool {
  getConnection(cb: Callback): void;
  config: { connectionConfig: { user?: string; password?: string; host?: string; port?: number; database?: string } };
}

/**
 * A mysql2 promise pool whose new connections log in with the secret's current value (user and
 * password, set on the pool's connection settings just before each new connection is made). A
 * login refused with error 1045 re-reads the secret (AWSCURRENT, then AWSPENDING while a
 * rotation is in flight) and connects once more; `pool.query`, `pool.execute` and
 * `pool.getConnection` see no error.
 */
export function mysqlPool(options: MysqlPoolOptions): mysqlPromise.Pool {
  const { secretId, cache: given, onAuthRetry, ...config } = options;
  const cache = given ?? defaultSecretCache();
  // mysql2 is a peer dependency: loaded when a pool is made.
  const mysql = createRequire(import.meta.url)('mysql2/promise') as typeof mysqlPromise;
  const pool = mysql.createPool({ ...config, user: '', password: '' });
  const core = (pool as unknown as { pool: CorePool }).pool;
  const original = core.getConnection.bind(core);

  const apply = (version: SecretVersion<MysqlSecret>) => {
    const secret = version.value;
    if (typeof secret.username !== 'string' || typeof secret.password !== 'string') {
      throw new TypeError(`secret ${secretId}: ${version.stage} (version ${version.versionId}) has no string username and password`);
    }
    const target = core.config.connectionConfig;
    target.user = secret.username;
    target.password = secret.password;
    if (config.host === undefined && secret.host !== undefined) target.host = secret.host;
    if (config.port === undefined && secret.port !== undefined) target.port = Number(secret.port);
    if (config.database === undefined && secret.dbname !== undefined) target.database = secret.dbname;
  };

  // Every path to a connection (query, execute, getConnection, a queued waiter) goes through the
  // core pool's getConnection: the settings are applied synchronously right before it.
  core.getConnection = (cb: Callback) => {
    cache.getVersion<MysqlSecret>(secretId).then(
      (first) => {
        apply(first);
        original((err, connection) => {
          if (err?.errno !== MYSQL_AUTH_FAILED) return cb(err, connection);
          cache.getVersion<MysqlSecret>(secretId, { failedVersionId: first.versionId }).then(
            (next) => {
              apply(next);
              onAuthRetry?.({ secretId, failedVersionId: first.versionId, retryVersionId: next.versionId, retryStage: next.stage });
              original(cb);
            },
            (readErr: Error) => cb(readErr),
          );
        });
      },
      (readErr: Error) => cb(readErr),
    );
  };
  return pool;
}
