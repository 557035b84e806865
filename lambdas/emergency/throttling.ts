import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * Secrets Manager answers ThrottlingException when an account goes over one of its request-rate
 * quotas (RotateSecret 50/s; PutSecretValue and UpdateSecretVersionStage 50/s combined;
 * TagResource 50/s: "AWS Secrets Manager quotas",
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html). Many leaks at
 * once (a repository of secrets made public) put every emergency invocation and every rotation on
 * those few quotas at the same moment; the SDK's own three attempts are spent within a second or
 * two, and a leak whose handler then fails waits for Lambda's asynchronous retry (a minute or
 * more) with its value still live. So the emergency handler retries a throttled call itself, after
 * an exponential backoff with full jitter (the callers spread out instead of colliding again),
 * a bounded number of times.
 */
export const throttlingDefaults = {
  /** Sends of one call, the first included (each send is the SDK's own attempts). */
  attempts: 8,
  /** Upper bound of the first pause; it doubles with each retry. */
  baseMs: 200,
  /** Upper bound of any pause. */
  maxMs: 5_000,
} as const;

export interface ThrottlingOptions {
  /** @default throttlingDefaults.attempts */
  readonly attempts?: number;
  /** @default throttlingDefaults.baseMs */
  readonly baseMs?: number;
  /** @default throttlingDefaults.maxMs */
  readonly maxMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Math.random */
  readonly random?: () => number;
}

/** An answer that means "too many requests, try later" (Secrets Manager's, or any AWS service's). */
export function isThrottling(err: unknown): boolean {
  const e = err as { name?: string; $retryable?: { throttling?: boolean }; $metadata?: { httpStatusCode?: number } } | undefined;
  return (
    e?.name === 'ThrottlingException' ||
    e?.name === 'TooManyRequestsException' ||
    e?.$retryable?.throttling === true ||
    e?.$metadata?.httpStatusCode === 429
  );
}

/**
 * The same client (it is its prototype: config, middleware, paginators' instanceof check), whose
 * `send` retries a throttled call as described above. Any other error, and the last throttling
 * error, reach the caller unchanged.
 */
export function throttleTolerant(client: SecretsManagerClient, options: ThrottlingOptions = {}): SecretsManagerClient {
  const attempts = options.attempts ?? throttlingDefaults.attempts;
  const baseMs = options.baseMs ?? throttlingDefaults.baseMs;
  const maxMs = options.maxMs ?? throttlingDefaults.maxMs;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = options.random ?? Math.random;
  const send = client.send.bind(client) as (...args: unknown[]) => Promise<unknown>;
  const wrapped = Object.create(client) as SecretsManagerClient;
  Object.defineProperty(wrapped, 'send', {
    value: async (...args: unknown[]) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await send(...args);
        } catch (err) {
          if (!isThrottling(err) || attempt >= attempts) throw err;
          await sleep(Math.floor(random() * Math.min(maxMs, baseMs * 2 ** (attempt - 1))));
        }
      }
    },
  });
  return wrapped;
}
