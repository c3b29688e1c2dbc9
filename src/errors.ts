/**
 * Errors are values: every failure the user can cause carries a stable code and a
 * message that says what is wrong and what to do. The CLI maps `kind` to exit codes
 * (DESIGN §7): `invalid-input` → 2, `negative` → 1.
 */
export type ErrorKind =
  /** Bad usage or unreadable/invalid input: exit 2. */
  | 'invalid-input'
  /** A well-formed question with a negative answer (verification failed, no quorum): exit 1. */
  | 'negative'
  /** The environment failed us (disk, store locked, ...): exit 1. */
  | 'environment';

export class Bit4bitError extends Error {
  override readonly name = 'Bit4bitError';
  constructor(
    readonly code: string,
    message: string,
    readonly kind: ErrorKind = 'invalid-input',
    readonly details?: readonly string[],
  ) {
    super(message);
  }
}

export function invalidInput(code: string, message: string, details?: readonly string[]): Bit4bitError {
  return new Bit4bitError(code, message, 'invalid-input', details);
}

export function isBit4bitError(e: unknown): e is Bit4bitError {
  return e instanceof Bit4bitError;
}
