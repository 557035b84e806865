import { createRequire } from 'node:module';
import type pg from 'pg';
import { defaultSecretCache, type SecretVersion } from './secrets.js';
import type { RetryOnAuthFailureOptions } from './retry.js';

/** PostgreSQL's SQLSTATE for a refused password (invalid_password). */
export const PG_AUTH_FAILED = '28P01';

/** The fields of a Rotor (and AWS template) PostgreSQL secret that a client uses. */
interface PgSecret {
  readonly username: string;
  readonly password: string;
  readonly host?: string;
  readonly port?: number;
  readonly dbname?: string;
}

export type PgPoolOptions = Omit<pg.PoolConfig, 'user' | 'password'> &
  RetryOnAuthFailureOptions & {
    /** The Rotor-managed secret (name or ARN) whose AWSCURRENT logs in. host, port and database default to the secret's. */
    readonly secretId: string;
  };

const VERSION = Symbol('rotor.secretVersion');

/**
 * A `pg.Pool` whose connections log in with the secret's current value. The user (which
 * alternating-users rotations flip) is set before each new connection, the password comes from
 * pg's own `password` hook. A login refused with 28P01 re-reads the secret (AWSCURRENT, then
 * AWSPENDING while a rotation is in flight) and connects once more, so `pool.query` and
 * `pool.connect` see no error. Connections already open are not touched.
 */
export function pgPool(options: PgPoolOptions): pg.Pool {
  const { secretId, cache: given, onAuthRetry, ...config } = options;
  const cache = given ?? defaultSecretCache();
  // pg is a peer dependency: loaded when a pool is made, so apps without it can use the rest.
  const { Pool, Client } = createRequire(import.meta.url)('pg') as typeof pg;
  const Base = (config.Client as typeof Client | undefined) ?? Client;
  /** The latest password and version the pool resolved for each user name. */
  const byUser = new Map<string, { password: string; versionId: string }>();

  /** Tags a failed connect with the version whose password it presented. */
  class RotorPgClient extends Base {
    public constructor(...args: ConstructorParameters<typeof Client>) {
      super(...args);
      // A backend that ends the session (an emergency revocation locks the leaked login and
      // terminates its sessions) makes pg emit 'error' on the client, sometimes after the pool
      // stopped listening; unheard, that event would crash the application. The query in flight
      // still fails through its own promise.
      this.on('error', () => undefined);
    }

    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's overloads (promise and callback)
    public override connect(callback?: any): any {
      const tagged = (err: Error | undefined) => {
        if (err) (err as Error & { [VERSION]?: string })[VERSION] = (this as unknown as { [VERSION]?: string })[VERSION];
        return err;
      };
      if (callback) return super.connect((err: Error) => callback(tagged(err)));
      return super.connect().catch((err: Error) => {
        throw tagged(err);
      });
    }
  }

  const apply = (pool: object, version: SecretVersion<PgSecret>) => {
    const secret = version.value;
    if (typeof secret.username !== 'string' || typeof secret.password !== 'string') {
      throw new TypeError(`secret ${secretId}: ${version.stage} (version ${version.versionId}) has no string username and password`);
    }
    byUser.set(secret.username, { password: secret.password, versionId: version.versionId });
    const target = (pool as unknown as { options: pg.PoolConfig }).options;
    target.user = secret.username;
    if (config.host === undefined && secret.host !== undefined) target.host = secret.host;
    if (config.port === undefined && secret.port !== undefined) target.port = Number(secret.port);
    if (config.database === undefined && secret.dbname !== undefined) target.database = secret.dbname;
  };

  class RotorPgPool extends Pool {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's overloads (promise and callback)
    public override connect(callback?: any): any {
      const connecting = this.connectWithRetry();
      if (!callback) return connecting;
      connecting.then(
        (client) => callback(undefined, client, (release?: unknown) => client.release(release as Error)),
        (err: Error) => callback(err, undefined, () => undefined),
      );
      return undefined;
    }

    private async connectWithRetry(): Promise<pg.PoolClient> {
      apply(this, await cache.getVersion<PgSecret>(secretId));
      try {
        return await super.connect();
      } catch (err) {
        const failed = (err as { code?: string; [VERSION]?: string });
        if (failed.code !== PG_AUTH_FAILED || failed[VERSION] === undefined) throw err;
        const next = await cache.getVersion<PgSecret>(secretId, { failedVersionId: failed[VERSION] });
        apply(this, next);
        onAuthRetry?.({ secretId, failedVersionId: failed[VERSION], retryVersionId: next.versionId, retryStage: next.stage });
        return super.connect();
      }
    }
  }

  return new RotorPgPool({
    ...config,
    Client: RotorPgClient,
    // pg calls the hook as a method of the connecting client, after it sent its user name.
    password(this: pg.Client & { [VERSION]?: string }) {
      const known = byUser.get(this.user ?? '');
      if (!known) throw new Error(`secret ${secretId}: no password resolved for the connecting user`);
      this[VERSION] = known.versionId;
      return known.password;
    },
  } as pg.PoolConfig) as pg.Pool;
}
