/**
 * Errors of the client library. They name the secret, the stage or version and the cause's
 * error name and code: never a value (a JSON parse error, whose message quotes the text it
 * could not parse, is rebuilt without it and without its cause).
 */
export class SecretReadError extends Error {
  public readonly secretId: string;
  public readonly code: string | undefined;

  public constructor(message: string, options: { secretId: string; code?: string; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SecretReadError';
    this.secretId = options.secretId;
    this.code = options.code;
  }
}

/** The name of an AWS SDK error (or any error), for messages; never its text. */
export function errorName(err: unknown): string {
  if (err instanceof Error) return err.name;
  return typeof err;
}
