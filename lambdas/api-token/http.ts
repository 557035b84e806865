import { Redactor } from '../core/redact';
import { ProviderError, ProviderFailures } from './errors';
import { describeUrl, hostAllowed, urlProblem } from './urls';

/** Limits of every provider request. */
export const httpDefaults = {
  /** Each attempt is aborted after this long (AbortSignal.timeout). */
  timeoutMs: 10_000,
  /** Attempts in all, for a 429, a refused connection, or (idempotent requests only) a timeout or 5xx. */
  maxAttempts: 4,
  /** A Retry-After longer than this fails the request at once instead of waiting. */
  maxRetryAfterMs: 30_000,
  /** First backoff when the provider gives no Retry-After; doubled on each attempt. */
  backoffMs: 200,
  maxBackoffMs: 5_000,
} as const;

export interface HttpOptions {
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly maxRetryAfterMs: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface ProviderRequest {
  /** What the request does, for messages: `datadog issue`. */
  readonly operation: string;
  readonly method: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** A JSON value (sent as application/json) or a string sent as it is. */
  readonly body?: unknown;
  /**
   * The request may be sent again when its first attempt may have been processed (a timeout,
   * a 5xx): reads and deletes. Issuing and rolling are not: a second roll would invalidate the
   * value the first one returned. A 429 or a refused connection is retried either way.
   */
  readonly idempotent: boolean;
}

export interface ProviderResponse {
  readonly status: number;
  readonly headers: Headers;
  /** The parsed JSON body, or undefined when empty or not JSON. */
  readonly body: unknown;
}

/** Connection errors that prove the request was never received. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/** Runs of characters that look like a credential; masked in any provider text put in a message. */
const TOKEN_SHAPED = /[A-Za-z0-9_\-+/=.~]{20,}/g;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The HTTP client of the token providers: global fetch with a timeout on every attempt, no
 * redirects (a redirect could carry credentials elsewhere), https only (http to loopback for
 * tests), an optional host allow list, and bounded retries honouring Retry-After.
 */
export class ProviderHttp {
  public requests = 0;

  public constructor(
    private readonly redactor: Redactor,
    private readonly options: HttpOptions = httpDefaults,
    private readonly allowedHosts?: readonly string[],
  ) {}

  /** The same client with a host allow list (the management secret's `allowedHosts`). */
  public restrictedTo(allowedHosts: readonly string[]): ProviderHttp {
    return new ProviderHttp(this.redactor, this.options, allowedHosts);
  }

  public checkUrl(operation: string, raw: string): URL {
    const problem = urlProblem(raw);
    if (problem) throw new ProviderError(`${operation}: URL ${problem}`, { failure: ProviderFailures.UNEXPECTED });
    const url = new URL(raw);
    if (this.allowedHosts && !hostAllowed(url, this.allowedHosts)) {
      throw new ProviderError(
        `${operation}: host ${url.host} is not in the management secret's allowedHosts; ` +
          'Rotor sends credentials only to hosts listed there',
        { failure: ProviderFailures.UNEXPECTED },
      );
    }
    return url;
  }

  public async send(req: ProviderRequest): Promise<ProviderResponse> {
    const url = this.checkUrl(req.operation, req.url);
    const where = `${req.operation}: ${req.method} ${describeUrl(req.url)}`;
    const headers = new Headers(req.headers);
    let body: string | undefined;
    if (typeof req.body === 'string') body = req.body;
    else if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    }
    if (!headers.has('accept')) headers.set('accept', 'application/json');
    const wait = this.options.sleep ?? sleep;

    for (let attempt = 1; ; attempt++) {
      const last = attempt >= this.options.maxAttempts;
      let res: Response;
      let text: string;
      try {
        this.requests++;
        res = await fetch(url, {
          method: req.method,
          headers,
          body,
          redirect: 'error',
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        text = await res.text();
      } catch (err) {
        const timedOut = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError';
        const code = connectionCode(err);
        const retry = !last && (NOT_SENT.has(code ?? '') || (req.idempotent && (timedOut || code === 'ECONNRESET')));
        if (retry) {
          await wait(this.backoff(attempt));
          continue;
        }
        const cause = this.redactor.error(err);
        if (timedOut) {
          throw new ProviderError(
            `${where}: no answer within ${this.options.timeoutMs} ms (attempt ${attempt} of ${this.options.maxAttempts})`,
            { failure: ProviderFailures.TIMEOUT, cause },
          );
        }
        throw new ProviderError(
          `${where}: cannot reach the provider (${code ?? cause.message}) after ${attempt} attempt${attempt > 1 ? 's' : ''}`,
          { failure: ProviderFailures.UNREACHABLE, cause },
        );
      }
      const response: ProviderResponse = { status: res.status, headers: res.headers, body: parseBody(text) };
      if (res.status === 429) {
        const asked = retryAfterMs(res.headers);
        if (asked !== undefined && asked > this.options.maxRetryAfterMs) {
          throw new ProviderError(
            `${where}: rate limited (HTTP 429); the provider asks to wait ${Math.ceil(asked / 1000)} s, ` +
              `more than the ${this.options.maxRetryAfterMs / 1000} s Rotor waits within a step`,
            { failure: ProviderFailures.RATE_LIMITED, status: 429 },
          );
        }
        if (!last) {
          await wait(asked ?? this.backoff(attempt));
          continue;
        }
        throw new ProviderError(`${where}: still rate limited (HTTP 429) after ${attempt} attempts`, {
          failure: ProviderFailures.RATE_LIMITED,
          status: 429,
        });
      }
      if (res.status >= 500 && req.idempotent && !last) {
        await wait(this.backoff(attempt));
        continue;
      }
      return response;
    }
  }

  /** An error for an answer the operation did not expect: status and the provider's own words, masked. */
  public unexpected(req: Pick<ProviderRequest, 'operation' | 'method' | 'url'>, res: ProviderResponse, what?: string): ProviderError {
    const refused = res.status === 401 || res.status === 403;
    const said = this.providerText(res.body);
    return new ProviderError(
      `${req.operation}: ${req.method} ${describeUrl(req.url)} answered HTTP ${res.status}` +
        `${what ? ` (${what})` : ''}${said ? `: ${said}` : ''}`,
      { failure: refused ? ProviderFailures.REFUSED : ProviderFailures.UNEXPECTED, status: res.status },
    );
  }

  /** What a provider's error body says, with known secrets and token-shaped strings masked. */
  public providerText(body: unknown): string {
    const parts: string[] = [];
    const collect = (v: unknown): void => {
      if (typeof v === 'string') parts.push(v);
      else if (Array.isArray(v)) v.forEach(collect);
      else if (v !== null && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (typeof o.message === 'string') parts.push(typeof o.code === 'number' ? `${o.code} ${o.message}` : o.message);
        else if (o.detail !== undefined) collect(o.detail);
        else if (o.title !== undefined) collect(o.title);
      }
    };
    if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
      const o = body as Record<string, unknown>;
      for (const key of ['errors', 'error', 'message', 'error_description', 'detail']) {
        if (o[key] !== undefined) collect(o[key]);
      }
    } else if (typeof body === 'string') {
      parts.push(body);
    }
    const text = parts.join('; ').slice(0, 300);
    return this.redactor.text(text).replace(TOKEN_SHAPED, '[REDACTED]');
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** (attempt - 1));
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text.slice(0, 1000);
  }
}

function connectionCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * How long a 429 asks to wait: Retry-After in seconds or as an HTTP date (Cloudflare, and the
 * generic case), else Datadog's X-RateLimit-Reset (seconds until the window resets).
 */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.round(Number(retryAfter) * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = headers.get('x-ratelimit-reset')?.trim();
  if (reset && /^\d+$/.test(reset)) return Number(reset) * 1000;
  return undefined;
}
