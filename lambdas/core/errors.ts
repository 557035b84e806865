/**
 * Typed errors of the rotation engine. Every message names what is wrong and where
 * (secret, step, field) and never a value that could be a credential.
 */

/** What masks an error: its message, stack and chain of causes (see core/redact.ts, Redactor.error). */
export interface ErrorMasker {
  error(err: unknown): Error;
}

type ErrorOptions = { cause?: unknown };

export class RotorError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RotorError';
  }

  /**
   * A copy of this error, of the same class, whose message, stack and causes are masked by
   * `masker` (no secret value survives), and which keeps this error's own typed fields: what
   * leaves the engine. A subclass declares its copy in `copyWith`; one with fields of its own
   * passes them on there.
   */
  public masked(masker: ErrorMasker): RotorError {
    const safe = masker.error(this);
    const copy = this.copyWith(safe.message, safe.cause !== undefined ? { cause: safe.cause } : undefined);
    copy.stack = safe.stack;
    return copy;
  }

  /** A new error of this class with this message and options, and this error's own fields. */
  protected copyWith(message: string, options?: ErrorOptions): RotorError {
    return new RotorError(message, options);
  }
}

/** The event Secrets Manager sent cannot be acted on (unknown step, missing fields). */
export class InvalidEventError extends RotorError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidEventError';
  }

  protected override copyWith(message: string, options?: ErrorOptions): RotorError {
    return new InvalidEventError(message, options);
  }
}

/** The secret is not in a state that allows this step (rotation off, unknown token, token not pending). */
export class RotationStateError extends RotorError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RotationStateError';
  }

  protected override copyWith(message: string, options?: ErrorOptions): RotorError {
    return new RotationStateError(message, options);
  }
}

/** A secret's value is malformed: not JSON, a missing or invalid field, a wrong engine. */
export class SecretFormatError extends RotorError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SecretFormatError';
  }

  protected override copyWith(message: string, options?: ErrorOptions): RotorError {
    return new SecretFormatError(message, options);
  }
}

/** The function's own settings (environment variables) are invalid. */
export class ConfigurationError extends RotorError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigurationError';
  }

  protected override copyWith(message: string, options?: ErrorOptions): RotorError {
    return new ConfigurationError(message, options);
  }
}

/** Rotor's fingerprint key secret cannot be read (missing, access denied, too short): names the secret and what is missing. */
export class FingerprintKeyError extends ConfigurationError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FingerprintKeyError';
  }

  protected override copyWith(message: string, options?: ErrorOptions): RotorError {
    return new FingerprintKeyError(message, options);
  }
}

/** A step failed against the target system (database, IAM, provider). */
export class RotationStepError extends RotorError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RotationStepError';
  }

  protected override copyWith(message: string, options?: ErrorOptions): RotorError {
    return new RotationStepError(message, options);
  }
}

/** The kind refuses the rotation because it would be unsafe (user or host changed, confused deputy). */
export class UnsafeRotationError extends RotorError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UnsafeRotationError';
  }

  protected override copyWith(message: string, options?: ErrorOptions): RotorError {
    return new UnsafeRotationError(message, options);
  }
}

/** The scheduled retire run could not retire one or more secrets (the others were retired). */
export class RetireError extends RotorError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RetireError';
  }

  protected override copyWith(message: string, options?: ErrorOptions): RotorError {
    return new RetireError(message, options);
  }
}

/**
 * A secret's replicas are not in sync after a change on the primary (finishSecret moved
 * AWSCURRENT; the emergency revocation removed AWSPREVIOUS): names the regions and their states.
 * The change itself is made; a retry of the step waits again.
 */
export class ReplicaSyncError extends RotorError {
  public constructor(
    message: string,
    /** The replicas not in sync: region and status only. */
    public readonly replicas: ReadonlyArray<{ readonly region: string; readonly status: string }>,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ReplicaSyncError';
  }

  protected override copyWith(message: string, options?: ErrorOptions): RotorError {
    return new ReplicaSyncError(message, this.replicas, options);
  }
}
