/**
 * Typed errors. Every error duiad raises on purpose is a `DuiadError` with a stable
 * `code`; the CLI maps codes to exit codes (see `exitCodeFor`).
 */

/** Stable machine-readable error codes. */
export type ErrorCode =
  'E_USAGE' | 'E_NOT_FOUND' | 'E_FORMAT' | 'E_SHAPE' | 'E_VALUE' | 'E_NATIVE' | 'E_MODEL';

/** Base class of all deliberate duiad errors; `code` is stable across versions. */
export class DuiadError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A bad flag, option or argument from the caller. */
export class UsageError extends DuiadError {
  constructor(message: string) {
    super('E_USAGE', message);
  }
}

/** A file or folder that does not exist or cannot be read. */
export class NotFoundError extends DuiadError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_NOT_FOUND', message, options);
  }
}

/** A file whose bytes are not what its format requires (truncated, corrupt, wrong magic). */
export class FormatError extends DuiadError {
  constructor(message: string) {
    super('E_FORMAT', message);
  }
}

/** A tensor or array whose shape does not fit the operation. */
export class ShapeError extends DuiadError {
  constructor(message: string) {
    super('E_SHAPE', message);
  }
}

/** A value out of range or not finite (NaN, Infinity, negative size, ...). */
export class ValueError extends DuiadError {
  constructor(message: string) {
    super('E_VALUE', message);
  }
}

/** A model directory or file that is missing parts, corrupt or of another kind. */
export class ModelError extends DuiadError {
  constructor(message: string) {
    super('E_MODEL', message);
  }
}

/** Process exit codes of the CLI, one per error code; 0 is success. */
export const exitCodes: Readonly<Record<ErrorCode, number>> = {
  E_USAGE: 2,
  E_NOT_FOUND: 3,
  E_FORMAT: 4,
  E_SHAPE: 4,
  E_VALUE: 4,
  E_MODEL: 5,
  E_NATIVE: 6,
};

/** The CLI exit code for any thrown value; 1 for errors that are not DuiadErrors. */
export function exitCodeFor(error: unknown): number {
  return error instanceof DuiadError ? exitCodes[error.code] : 1;
}
