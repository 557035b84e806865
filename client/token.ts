import { defaultSecretCache, type SecretVersion } from './secrets.js';
import { withSecret, type RetryOnAuthFailureOptions } from './retry.js';

/** HTTP statuses with which an API refuses a token. */
export const TOKEN_AUTH_STATUSES = [401, 403] as const;

export interface TokenOptions extends RetryOnAuthFailureOptions {
  /** The Rotor-managed API token secret (`{ provider, token, tokenId, ... }`). */
  readonly secretId: string;
  /** @default 'token' */
  readonly field?: string;
}

export interface TokenFetchOptions extends TokenOptions {
  /** The headers that carry the token. @default `{ authorization: 'Bearer <token>' }` */
  readonly authorize?: (token: string) => Record<string, string>;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

export const tokenDefaults = {
  field: 'token',
  authorize: (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` }),
} as const;

/** The token of a version, checked to be a string (the error names the field, not its value). */
function tokenOf(version: SecretVersion<Record<string, unknown>>, secretId: string, field: string): string {
  const token = version.value[field];
  if (typeof token !== 'string' || token === '') {
    throw new TypeError(`secret ${secretId}: ${version.stage} (version ${version.versionId}) has no string field '${field}'`);
  }
  return token;
}

/**
 * A token getter for an API-token secret: `use(token => ...)` runs the callback with the current
 * token and, when the callback fails with `isAuthFailure` (by default: an error carrying
 * `status` or `statusCode` 401 or 403, as most HTTP clients throw), re-reads the secret and
 * runs it once more; `get()` just returns the current token.
 */
export function rotatedToken(options: TokenOptions) {
  const cache = options.cache ?? defaultSecretCache();
  const field = options.field ?? tokenDefaults.field;
  return {
    async get(): Promise<string> {
      return tokenOf(await cache.getVersion(options.secretId), options.secretId, field);
    },
    async use<R>(fn: (token: string) => Promise<R>, isAuthFailure: (err: unknown) => boolean = isHttpAuthError): Promise<R> {
      return withSecret<Record<string, unknown>, R>(options.secretId, (_, version) => fn(tokenOf(version, options.secretId, field)), {
        ...options,
        cache,
        isAuthFailure,
      });
    },
  };
}

function isHttpAuthError(err: unknown): boolean {
  const e = err as { status?: unknown; statusCode?: unknown; response?: { status?: unknown } } | undefined;
  const status = e?.status ?? e?.statusCode ?? e?.response?.status;
  return (TOKEN_AUTH_STATUSES as readonly unknown[]).includes(status);
}

class RefusedAnswer extends Error {
  public constructor(public readonly response: Response) {
    super(`HTTP ${response.status}`);
    this.name = 'RefusedAnswer';
  }
}

/**
 * A `fetch` that adds the secret's token to every request (`authorize`), and on a 401 or 403
 * answer re-reads the secret (AWSCURRENT, then AWSPENDING during a rotation) and sends the request
 * once more. The second answer is returned whatever it is. A request whose body is a stream
 * cannot be sent twice: its refusal is returned as it is.
 */
export function tokenFetch(options: TokenFetchOptions): (input: string | URL, init?: RequestInit) => Promise<Response> {
  const authorize = options.authorize ?? tokenDefaults.authorize;
  const doFetch = options.fetch ?? globalThis.fetch;
  const token = rotatedToken(options);
  return async (input, init = {}) => {
    const replayable = !(init.body instanceof ReadableStream);
    const send = async (value: string, last: boolean) => {
      const headers = new Headers(init.headers);
      for (const [k, v] of Object.entries(authorize(value))) headers.set(k, v);
      const response = await doFetch(input, { ...init, headers });
      if (!last && replayable && (TOKEN_AUTH_STATUSES as readonly number[]).includes(response.status)) {
        await response.body?.cancel();
        throw new RefusedAnswer(response);
      }
      return response;
    };
    let attempt = 0;
    try {
      return await token.use((value) => send(value, attempt++ > 0), (err) => err instanceof RefusedAnswer);
    } catch (err) {
      if (err instanceof RefusedAnswer) return err.response;
      throw err;
    }
  };
}
