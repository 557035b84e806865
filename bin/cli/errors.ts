/**
 * Errors of the `rotor` CLI. Each carries the exit code it ends the process with; every
 * message names what is wrong and what to do, and never a secret value (only `rotor run` reads
 * values, and it names variables, secrets and fields only).
 */
export const ExitCodes = {
  OK: 0,
  /** The command ran and failed: a rotation step failed or was cancelled, AWS refused, a secret or profile is unknown, no credentials. */
  FAILURE: 1,
  /** The command line is wrong: unknown option, missing or conflicting arguments. */
  USAGE: 2,
  /** Waiting ended at --timeout: the rotation (or the leak response) may still finish; check `rotor status`. */
  TIMED_OUT: 3,
  /** `status --fail-on`: at least one secret is in a named condition (overdue, stuck); `preflight`: a check found a problem. The table or JSON is printed in full. */
  ATTENTION: 4,
  /** A destructive action was not confirmed: no --yes and stdin is not a terminal, or the answer was not yes. Nothing was sent. */
  NOT_CONFIRMED: 5,
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

/** A destructive action (rotate --leaked, leak) was not confirmed (exit code 5). */
export class NotConfirmedError extends CliError {
  public constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, exitCode: ExitCodes.NOT_CONFIRMED });
    this.name = 'NotConfirmedError';
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

/** The exit codes as `rotor --help` and the README show them. */
export const EXIT_CODE_HELP = [
  'Exit codes:',
  '  0  ok',
  '  1  failed: a step failed, the rotation was cancelled, AWS refused, unknown secret or profile',
  '  2  usage: wrong command line',
  "  3  timed out (--timeout): the rotation or leak response may still finish; see 'rotor status'",
  '  4  status --fail-on: a secret is overdue or stuck; preflight: a check found a problem (the report is still printed in full)',
  '  5  not confirmed: leak / rotate --leaked without --yes and no terminal, or not answered yes',
].join('\n');
