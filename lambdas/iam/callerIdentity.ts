import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

/** The credentials of one access key, as STS needs them. */
export interface KeyCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** Builds the STS client that signs with a given key (region and endpoint as the SDK resolves them). */
export type StsClientFactory = (credentials: KeyCredentials) => STSClient;

export const defaultStsClientFactory: StsClientFactory = (credentials) =>
  new STSClient({
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
  });

/**
 * What IAM answers while a new key has not yet reached every STS endpoint (IAM is eventually
 * consistent: a new key may be refused for a few seconds).
 */
const NOT_YET_VISIBLE = new Set(['InvalidClientTokenId', 'SignatureDoesNotMatch']);

export function isNotYetVisible(err: unknown): boolean {
  return err instanceof Error && NOT_YET_VISIBLE.has(err.name);
}

export interface Backoff {
  /** Give up once this much time has passed since the first attempt. */
  readonly timeoutMs: number;
  /** Wait before the second attempt; doubles after each refusal. */
  readonly firstDelayMs: number;
  /** Longest wait between two attempts. */
  readonly maxDelayMs: number;
}

export interface CallerIdentityResult {
  readonly arn: string;
  readonly attempts: number;
  readonly elapsedMs: number;
}

/** Thrown when STS kept refusing the key until the bound; carries the last refusal as cause. */
export class KeyNotAcceptedError extends Error {
  public constructor(
    message: string,
    public readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KeyNotAcceptedError';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls STS GetCallerIdentity signed with `credentials`, retrying with exponential backoff
 * while STS refuses the key as not (yet) known, for at most `backoff.timeoutMs`. Any other
 * error ends the wait at once. `onAttempt` is called before every call (to count logins).
 */
export async function callerIdentity(
  credentials: KeyCredentials,
  backoff: Backoff,
  options: { stsClient?: StsClientFactory; onAttempt?: () => void; now?: () => number } = {},
): Promise<CallerIdentityResult> {
  const now = options.now ?? Date.now;
  const client = (options.stsClient ?? defaultStsClientFactory)(credentials);
  const started = now();
  const deadline = started + backoff.timeoutMs;
  let delay = backoff.firstDelayMs;
  let attempts = 0;
  try {
    for (;;) {
      attempts++;
      options.onAttempt?.();
      try {
        const out = await client.send(new GetCallerIdentityCommand({}));
        if (!out.Arn) throw new Error('GetCallerIdentity returned no ARN');
        return { arn: out.Arn, attempts, elapsedMs: now() - started };
      } catch (err) {
        if (!isNotYetVisible(err)) throw err;
        const left = deadline - now();
        if (left <= 0) {
          throw new KeyNotAcceptedError(
            `STS did not accept the key within ${backoff.timeoutMs} ms (${attempts} attempts, last answer ${(err as Error).name})`,
            attempts,
            { cause: err },
          );
        }
        await sleep(Math.min(delay, left));
        delay = Math.min(delay * 2, backoff.maxDelayMs);
      }
    }
  } finally {
    client.destroy();
  }
}

/** The user name in an IAM user ARN (`arn:aws:iam::123456789012:user/path/name`), if it is one. */
export function userNameOfArn(arn: string): string | undefined {
  const match = /^arn:[\w-]+:iam::\d{12}:user\/(?:[^/]+\/)*([^/]+)$/.exec(arn);
  return match?.[1];
}
