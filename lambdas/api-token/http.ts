import { Redactor, REDACTED } from '../core/redact.js';
import { ProviderError, ProviderFailures } from './errors.js';
import { describeUrl, hostAllowed, productionUrlPolicy, urlProblem, type UrlPolicy } from './urls.js';

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
  /**
   * A response body larger than this is not read: the connection is closed once it is exceeded
   * (a provider answer is a few KiB; the function has 256 MiB).
   */
  maxResponseBytes: 1_048_576,
} as const;

export interface HttpOptions {
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly maxRetryAfterMs: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  readonly maxResponseBytes: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Where a client may send credentials: the hosts, and whose list it is (for messages:
 * "the management secret's allowedHosts", "provider datadog's official hosts").
 */
export interface HostRule {
  readonly hosts: readonly string[];
  readonly source: string;
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
   * Non-idempotent requests are the ones that create credentials: their answers may hold a
   * value Rotor cannot recognise yet, so no text of theirs is ever put in a message.
   */
  readonly idempotent: boolean;
}

export interface ProviderResponse {
  readonly status: number;
  readonly headers: Headers;
  /** The parsed JSON body, or the text (at most 1000 characters) when not JSON, or undefined when empty. */
  readonly body: unknown;
}

/** Connection errors that prove the request was never received. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/** Runs of characters that look like a credential; masked in any provider text put in a message. */
const TOKEN_SHAPED = /[A-Za-z0-9_\-+/=.~]{20,}/g;

/** What a provider error code may look like to be quoted (a short identifier, never free text). */
const ERROR_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

/** Longest excerpt of a provider's error message put in a Rotor message. */
const EXCERPT_CHARS = 160;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The body was larger than the cap (thrown from the reader, turned into a ProviderError by send). */
class BodyTooLarge extends Error {}

/**
 * The HTTP client of the token providers: global fetch with a timeout on every attempt, no
 * redirects (a redirect could carry credentials elsewhere), https only, every request checked
 * against a host allow list before any connection is opened, response bodies capped in size,
 * and bounded retries honouring Retry-After. Plain http and loopback hosts only under the
 * test opt-in (see lambdas/contract/testing.ts), and even then only when the allow list names them.
 */
export class ProviderHttp {
  public requests = 0;

  public constructor(
    private readonly redactor: Redactor,
    private readonly options: HttpOptions = httpDefaults,
    private readonly rule: HostRule = { hosts: [], source: 'the allowed hosts' },
    private readonly policy: UrlPolicy = productionUrlPolicy,
    /** Every value learnt from a provider that is a credential (a new token), registered at once. */
    private readonly onSecret: (value: string) => void = () => undefined,
    /** Values masked in every message, of any length (the Redactor ignores very short ones). */
    private readonly known: Set<string> = new Set(),
  ) {}

  /** The same client with another host rule (sharing what it knows must be masked). */
  public restrictedTo(rule: HostRule): ProviderHttp {
    return new ProviderHttp(this.redactor, this.options, rule, this.policy, this.onSecret, this.known);
  }

  /** Registers a value to be masked in every message of this client (and, through onSecret, everywhere). */
  public know(value: string | undefined): void {
    if (typeof value === 'string' && value.length > 0) this.known.add(value);
  }

  /**
   * A credential read from a provider's answer (a new token): registered for masking before the
   * caller can do anything else with it, then returned.
   */
  public secret(value: string): string {
    this.know(value);
    this.onSecret(value);
    return value;
  }

  /** Refuses, before any connection, a URL that is not allowed: the message names the host only. */
  public checkUrl(operation: string, raw: string): URL {
    const problem = urlProblem(raw, this.policy);
    if (problem) throw new ProviderError(this.mask(`${operation}: URL ${problem}`), { failure: ProviderFailures.UNEXPECTED });
    const url = new URL(raw);
    if (!hostAllowed(url, this.rule.hosts)) {
      throw new ProviderError(
        this.mask(
          `${operation}: host ${url.host} is not in ${this.rule.source}; Rotor sends credentials only to allowed hosts`,
        ),
        { failure: ProviderFailures.UNEXPECTED },
      );
    }
    return url;
  }

  public async send(req: ProviderRequest): Promise<ProviderResponse> {
    const url = this.checkUrl(req.operation, req.url);
    const where = this.mask(`${req.operation}: ${req.method} ${describeUrl(req.url)}`);
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
      const abort = new AbortController();
      try {
        this.requests++;
        res = await fetch(url, {
          method: req.method,
          headers,
          body,
          redirect: 'error',
          signal: AbortSignal.any([abort.signal, AbortSignal.timeout(this.options.timeoutMs)]),
        });
        text = await readCapped(res, this.options.maxResponseBytes, abort);
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          throw new ProviderError(
            `${where}: the response exceeded ${this.options.maxResponseBytes} bytes; Rotor stopped reading it and closed ` +
              'the connection (a provider answer is a few KiB: check the URL)',
            { failure: ProviderFailures.UNEXPECTED },
          );
        }
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
          `${where}: cannot reach the provider (${code ?? this.mask(cause.message)}) after ${attempt} attempt${attempt > 1 ? 's' : ''}`,
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

  /**
   * An error for an answer the operation did not expect: the status, the provider's error code
   * when it has one of the fixed shape, and, for requests that create no credential only, a short
   * masked excerpt of the JSON error message. The answer of an issue or roll is never quoted: it
   * may hold a new credential that no redactor can recognise.
   */
  public unexpected(req: Pick<ProviderRequest, 'operation' | 'method' | 'url' | 'idempotent'>, res: ProviderResponse, what?: string): ProviderError {
    const refused = res.status === 401 || res.status === 403;
    const code = this.errorCode(res.body);
    const said = req.idempotent ? this.providerText(res.body) : '';
    const details = [what, code ? `provider error code ${code}` : undefined].filter(Boolean).join('; ');
    return new ProviderError(
      this.mask(
        `${req.operation}: ${req.method} ${describeUrl(req.url)} answered HTTP ${res.status}` +
          `${details ? ` (${details})` : ''}${refused ? ': the provider refused the credential' : ''}${said ? `: ${said}` : ''}`,
      ),
      { failure: refused ? ProviderFailures.REFUSED : ProviderFailures.UNEXPECTED, status: res.status },
    );
  }

  /**
   * The error code of a JSON error body (`code`, `error_code`, `errorCode`, at the top, under
   * `error`, or in the first of `errors`), when it is a short identifier and no known value.
   */
  public errorCode(body: unknown): string | undefined {
    const obj = (v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
    const top = obj(body);
    if (!top) return undefined;
    const candidates = [top, obj(top.error), Array.isArray(top.errors) ? obj(top.errors[0]) : undefined];
    for (const c of candidates) {
      for (const key of ['code', 'error_code', 'errorCode']) {
        const v = c?.[key];
        const s = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : typeof v === 'string' ? v : undefined;
        if (s !== undefined && ERROR_CODE.test(s) && !this.quotesKnown(s)) return s;
      }
    }
    return undefined;
  }

  /**
   * What a JSON error body says in its message fields, at most EXCERPT_CHARS characters, with
   * token-shaped runs masked; empty when the body is not JSON (a text or HTML body is never
   * quoted) or when the excerpt holds any value Rotor knows, however short.
   */
  public providerText(body: unknown): string {
    if (body === null || typeof body !== 'object') return '';
    const parts: string[] = [];
    const collect = (v: unknown, depth: number): void => {
      if (depth > 3 || parts.length > 5) return;
      if (typeof v === 'string') parts.push(v);
      else if (Array.isArray(v)) v.slice(0, 5).forEach((x) => collect(x, depth + 1));
      else if (v !== null && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (typeof o.message === 'string') parts.push(o.message);
        else if (o.detail !== undefined) collect(o.detail, depth + 1);
        else if (o.title !== undefined) collect(o.title, depth + 1);
      }
    };
    if (!Array.isArray(body)) {
      const o = body as Record<string, unknown>;
      for (const key of ['errors', 'error', 'message', 'error_description', 'detail']) {
        if (o[key] !== undefined) collect(o[key], 0);
      }
    }
    const joined = parts.join('; ');
    if (this.quotesKnown(joined)) return '';
    const text = joined
      .slice(0, EXCERPT_CHARS)
      .replace(/[\u0000-\u001f\u007f]+/g, ' ')
      .replace(TOKEN_SHAPED, REDACTED)
      .trim();
    return this.redactor.text(text);
  }

  /** A message with every known value masked, short ones included. */
  public mask(text: string): string {
    let out = this.redactor.text(text);
    for (const value of [...this.known].sort((a, b) => b.length - a.length)) out = out.split(value).join(REDACTED);
    return out;
  }

  private quotesKnown(text: string): boolean {
    return [...this.known].some((v) => text.includes(v));
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** (attempt - 1));
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }
}

/**
 * Reads a body incrementally, at most `max` bytes: a Content-Length above it, or a stream that
 * goes past it, aborts the request (which closes the connection) and throws BodyTooLarge.
 */
async function readCapped(res: Response, max: number, abort: AbortController): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > max) {
    abort.abort();
    throw new BodyTooLarge();
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      abort.abort();
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLarge();
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
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
