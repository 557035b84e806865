import type {
  AwsCredentialIdentity,
  AwsCredentialIdentityProvider,
  HandlerExecutionContext,
  InitializeHandler,
  InitializeHandlerArguments,
  MiddlewareStack,
} from '@smithy/types';
import { defaultSecretCache, secretCacheDefaults, type SecretCache, type SecretVersion } from './secrets.js';
import type { RetryOnAuthFailureOptions } from './retry.js';

/** Error names with which AWS refuses a key it does not know or a signature it cannot verify. */
export const AWS_AUTH_ERRORS = [
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'InvalidAccessKeyId',
  'AuthFailure',
] as const;

interface AccessKeySecret {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface RotatedAccessKeyOptions extends RetryOnAuthFailureOptions {
  /** The Rotor-managed IAM key secret (`{ username, accessKeyId, secretAccessKey }`). */
  readonly secretId: string;
  /** @default the cache's TTL (2 minutes): kept below the SDK's 5-minute refresh window, so the SDK asks at every request */
  readonly cache?: SecretCache;
}

/** A credential provider for a rotated IAM key, and the middleware that retries a refused call once. */
export interface RotatedAccessKeyProvider extends AwsCredentialIdentityProvider {
  /**
   * Adds to an SDK v3 client the retry on refusal: a call refused with InvalidClientTokenId,
   * SignatureDoesNotMatch (or another of `AWS_AUTH_ERRORS`, or an HTTP 403 whose body the SDK
   * could not parse) re-reads the secret and is sent once more, signed with the key read.
   * Returns the client.
   */
  retryOnAuthFailure<C extends { middlewareStack: MiddlewareStack<any, any> }>(client: C): C;
}

const MIDDLEWARE = 'rotorRotatedAccessKeyRetry';

/**
 * An AWS SDK v3 credential provider reading a Rotor-managed IAM key secret. Each identity it
 * returns expires with its cache entry (2 minutes by default), which is inside the SDK's own
 * 5-minute refresh window, so the SDK asks the provider before every request and a rotated key
 * is picked up as soon as the cache re-reads it (dual-active rotation keeps the old key valid
 * for its grace window). With `retryOnAuthFailure(client)` a refused call re-reads the secret
 * and is sent once more.
 */
export function fromRotatedAccessKey(options: RotatedAccessKeyOptions): RotatedAccessKeyProvider {
  const cache = options.cache ?? defaultSecretCache();
  const byKeyId = new Map<string, string>();

  const identity = (version: SecretVersion<AccessKeySecret>): AwsCredentialIdentity => {
    const { accessKeyId, secretAccessKey } = version.value;
    if (typeof accessKeyId !== 'string' || typeof secretAccessKey !== 'string') {
      throw new TypeError(`secret ${options.secretId}: ${version.stage} (version ${version.versionId}) has no string accessKeyId and secretAccessKey`);
    }
    byKeyId.set(accessKeyId, version.versionId);
    if (byKeyId.size > 16) byKeyId.delete(byKeyId.keys().next().value!);
    return { accessKeyId, secretAccessKey, expiration: new Date(Math.min(version.expiresAt, Date.now() + secretCacheDefaults.ttlMs)) };
  };

  const provider = (async () => identity(await cache.getVersion<AccessKeySecret>(options.secretId))) as RotatedAccessKeyProvider;

  provider.retryOnAuthFailure = (client) => {
    client.middlewareStack.remove(MIDDLEWARE);
    client.middlewareStack.add(
      (next: InitializeHandler<any, any>, context: HandlerExecutionContext) => async (args: InitializeHandlerArguments<any>) => {
        try {
          return await next(args);
        } catch (err) {
          if (!isAwsAuthFailure(err)) throw err;
          const used = usedAccessKeyId(context);
          const failedVersionId = used === undefined ? undefined : byKeyId.get(used);
          if (failedVersionId === undefined) throw err;
          const retried = await cache.getVersion<AccessKeySecret>(options.secretId, { failedVersionId });
          identity(retried);
          options.onAuthRetry?.({
            secretId: options.secretId, failedVersionId, retryVersionId: retried.versionId, retryStage: retried.stage,
          });
          // The whole chain again: the auth scheme middleware asks the provider, which answers the value read.
          return next(args);
        }
      },
      { step: 'initialize', name: MIDDLEWARE, override: true },
    );
    return client;
  };
  return provider;
}

/** Whether an SDK error is AWS refusing the credentials (not the caller's permissions). */
export function isAwsAuthFailure(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  if (!e) return false;
  if ((AWS_AUTH_ERRORS as readonly string[]).includes(e.name ?? '') || (AWS_AUTH_ERRORS as readonly string[]).includes(e.Code ?? '')) return true;
  // Some services answer a refused key in a body their protocol does not parse (XML to a JSON
  // client): the SDK reports a parse error whose $metadata still holds the 403.
  return e.$metadata?.httpStatusCode === 403 && /deserializ|parse|xml/i.test(`${e.name} ${(err as Error).message ?? ''}`);
}

/** The access key id the request was signed with (the identity the auth scheme middleware chose). */
function usedAccessKeyId(context: HandlerExecutionContext): string | undefined {
  const smithy = (context as Record<string, unknown>).__smithy_context as
    | { selectedHttpAuthScheme?: { identity?: { accessKeyId?: string } } }
    | undefined;
  return smithy?.selectedHttpAuthScheme?.identity?.accessKeyId;
}
