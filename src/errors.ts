/**
 * Every failure a user can act on is a CopycatError: one line that names the problem and the fix.
 * `code` is stable for scripts and tests; the message is for people.
 */
export class CopycatError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CopycatError';
  }
}

/** The one line shown to an operator for any error, ours or not. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n').filter(Boolean).join(' | ');
  return String(err);
}
