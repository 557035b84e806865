/**
 * Typed errors of the rotation engine. Every message names what is wrong and where
 * (secret, step, field) and never a value that could be a credential.
 */
export class RotorError extends Error {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RotorError';
  }
}

/** The event Secrets Manager sent cannot be acted on (unknown step, missing fields). */
export class InvalidEventError extends RotorError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidEventError';
  }
}

/** The secret is not in a state that allows this step (rotation off, unknown token, token not pending). */
export class RotationStateError extends RotorError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RotationStateError';
  }
}

/** A secret's value is malformed: not JSON, a missing or invalid field, a wrong engine. */
export class SecretFormatError extends RotorError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretFormatError';
  }
}

/** The function's own settings (environment variables) are invalid. */
export class ConfigurationError extends RotorError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigurationError';
  }
}

/** A step failed against the target system (database, IAM, provider). */
export class RotationStepError extends RotorError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RotationStepError';
  }
}

/** The kind refuses the rotation because it would be unsafe (user or host changed, confused deputy). */
export class UnsafeRotationError extends RotorError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnsafeRotationError';
  }
}

/** The scheduled retire run could not retire one or more secrets (the others were retired). */
export class RetireError extends RotorError {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetireError';
  }
}
