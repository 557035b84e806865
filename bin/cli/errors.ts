/**
 * Errors of the `rotor` CLI. Each carries the exit code it ends the process with; every
 * message names what is wrong and what to do, and never a secret value (the CLI reads none).
 */
export const ExitCodes = {
  OK: 0,
  /** The command ran and failed: AWS refused, a rotation failed or timed out, a secret is unknown. */
  FAILURE: 1,
  /** The command line is wrong: unknown option, missing or conflicting arguments. */
  USAGE: 2,
} as const;
export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes];

export class CliError extends Error {
  public readonly exitCode: ExitCode;

  public constructor(message: string, options: { cause?: unknown; exitCode?: ExitCode } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = options.exitCode ?? ExitCodes.FAILURE;
  }
}

/** A wrong command line (exit code 2). */
export class UsageError extends CliError {
  public constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, exitCode: ExitCodes.USAGE });
    this.name = 'UsageError';
  }
}

/** No region, no credentials, an unreachable endpoint: the CLI cannot talk to AWS at all. */
export class AwsSetupError extends CliError {
  public constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'AwsSetupError';
  }
}

/** The named secret does not exist in the account and region the CLI talks to. */
export class SecretNotFoundError extends CliError {
  public constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'SecretNotFoundError';
  }
}
