import { RotationStepError } from '../core/errors.js';

/** How a provider request failed. */
export const ProviderFailures = {
  /** No connection (refused, DNS, TLS): the request never reached the provider. */
  UNREACHABLE: 'unreachable',
  /** No answer within the request timeout. */
  TIMEOUT: 'timeout',
  /** Still 429 after the allowed retries, or a Retry-After longer than the bound. */
  RATE_LIMITED: 'rate-limited',
  /** The provider refused the credential used (401/403). */
  REFUSED: 'refused',
  /** Any other unexpected answer (status or body). */
  UNEXPECTED: 'unexpected',
} as const;
export type ProviderFailure = (typeof ProviderFailures)[keyof typeof ProviderFailures];

/**
 * A request to a token provider failed. The message names the operation, the provider, the
 * method and URL (without query) and what went wrong; provider error text is included only
 * after every known credential and anything token-shaped is masked.
 */
export class ProviderError extends RotationStepError {
  public readonly failure: ProviderFailure;
  public readonly status?: number;

  public constructor(
    message: string,
    options: { cause?: unknown; failure?: ProviderFailure; status?: number } = {},
  ) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'ProviderError';
    this.failure = options.failure ?? ProviderFailures.UNEXPECTED;
    this.status = options.status;
  }

  /** Masked copies (RotorError.masked) keep the failure and the status. */
  protected override copyWith(message: string, options?: { cause?: unknown }): ProviderError {
    return new ProviderError(message, { ...options, failure: this.failure, status: this.status });
  }
}
