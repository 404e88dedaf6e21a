/**
 * Every failure a user can act on is a CopycatError: one line that names the problem and the fix.
 * `code` is stable for scripts and tests; the message is for people.
 */
export class CopycatError extends Error {
  /** Structured facts about the failure (which digest failed, …), so no caller has to parse the message. */
  readonly detail?: Readonly<Record<string, string | number | boolean>>;

  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown; detail?: Readonly<Record<string, string | number | boolean>> },
  ) {
    super(message, options);
    this.name = 'CopycatError';
    if (options?.detail) this.detail = options.detail;
  }
}

/** The one line shown to an operator for any error, ours or not. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n').filter(Boolean).join(' | ');
  return String(err);
}
