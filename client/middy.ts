import { isAwsAuthFailure } from './aws.js';
import { MYSQL_AUTH_FAILED } from './mysql.js';
import { PG_AUTH_FAILED } from './pg.js';
import { defaultSecretCache, type SecretCache } from './secrets.js';
import { TOKEN_AUTH_STATUSES } from './token.js';

export interface RefreshOnAuthFailureOptions {
  /** Secrets whose Rotor cache entries (getSecret, the pools, the providers) are dropped. */
  readonly secretIds?: readonly string[];
  /**
   * Cache keys of middy's fetching middlewares to clear (`@middy/secrets-manager`'s `cacheKey`),
   * so that their next invocation fetches again. @default ['secrets-manager']
   */
  readonly middyCacheKeys?: readonly string[];
  /** @default isAuthFailure (PostgreSQL 28P01, MySQL 1045, AWS's key refusals, HTTP 401/403) */
  readonly isAuthFailure?: (err: unknown) => boolean;
  /** @default the process-wide cache */
  readonly cache?: SecretCache;
}

export const refreshOnAuthFailureDefaults = { middyCacheKeys: ['secrets-manager'] } as const;

/** Whether an error is a target refusing a credential: a database login, an AWS key, an HTTP token. */
export function isAuthFailure(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown; status?: unknown; statusCode?: unknown } | undefined;
  if (!e) return false;
  return (
    e.code === PG_AUTH_FAILED ||
    e.errno === MYSQL_AUTH_FAILED ||
    (TOKEN_AUTH_STATUSES as readonly unknown[]).includes(e.status ?? e.statusCode) ||
    isAwsAuthFailure(err)
  );
}

/**
 * A middy middleware for Lambda consumers. It fetches nothing itself: the fetching and caching
 * stay with `@middy/secrets-manager` (or the client library inside the handler). When the
 * handler fails with an authentication failure it drops those caches — middy's by cache key
 * (`clearCache` of `@middy/util`), Rotor's by secret — so the next invocation fetches the
 * secret again instead of serving the refused value until its cache expires. The error still
 * fails the invocation (Lambda's retry, or the caller's, gets the fresh value).
 */
export function refreshOnAuthFailure(options: RefreshOnAuthFailureOptions = {}) {
  const cache = options.cache ?? defaultSecretCache();
  const keys = options.middyCacheKeys ?? refreshOnAuthFailureDefaults.middyCacheKeys;
  const refused = options.isAuthFailure ?? isAuthFailure;
  return {
    onError: async (request: { error?: unknown }): Promise<void> => {
      if (!refused(request.error)) return;
      for (const id of options.secretIds ?? []) cache.invalidate(id);
      if (keys.length > 0) {
        // @middy/util comes with @middy/secrets-manager (an optional peer): loaded only when needed.
        const util = (await import('@middy/util').catch(() => undefined)) as { clearCache(keys: string[]): void } | undefined;
        util?.clearCache([...keys]);
      }
    },
  };
}
