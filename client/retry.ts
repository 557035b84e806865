import { defaultSecretCache, type SecretCache, type SecretVersion } from './secrets.js';

/** What a client reports when a request needed the retry (ids only). */
export interface AuthRetryInfo {
  readonly secretId: string;
  /** The version the target refused. */
  readonly failedVersionId: string;
  /** The version the retry used, and the label it was read by. */
  readonly retryVersionId: string;
  readonly retryStage: SecretVersion['stage'];
}

export interface RetryOnAuthFailureOptions {
  /** @default the process-wide cache (`defaultSecretCache()`) */
  readonly cache?: SecretCache;
  /** Called when a request was refused and is retried with a re-read value. */
  readonly onAuthRetry?: (info: AuthRetryInfo) => void;
}

/**
 * Runs `use` with the secret's current value; if it fails with an authentication failure
 * (`isAuthFailure`), re-reads the secret (AWSCURRENT, or AWSPENDING during a rotation) and runs
 * it once more. The second failure is thrown as it is.
 */
export async function withSecret<T, R>(
  secretId: string,
  use: (value: T, version: SecretVersion<T>) => Promise<R>,
  options: RetryOnAuthFailureOptions & { readonly isAuthFailure: (err: unknown) => boolean },
): Promise<R> {
  const cache = options.cache ?? defaultSecretCache();
  const first = await cache.getVersion<T>(secretId);
  try {
    return await use(first.value, first);
  } catch (err) {
    if (!options.isAuthFailure(err)) throw err;
    const next = await cache.getVersion<T>(secretId, { failedVersionId: first.versionId });
    options.onAuthRetry?.({ secretId, failedVersionId: first.versionId, retryVersionId: next.versionId, retryStage: next.stage });
    return use(next.value, next);
  }
}
