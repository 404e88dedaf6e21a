import { CopycatError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { stderrLogger } from './logger.js';

export interface ActionContext {
  /** Aborted on SIGINT/SIGTERM, so every stage stops, children are killed and partial output is removed. */
  readonly signal: AbortSignal;
  readonly log: Logger;
}

/**
 * Wraps a command's action: signals become an abort with a clear reason, and any failure becomes one line on
 * stderr and exit code 1 (commander itself exits 2 on usage errors).
 */
export function action<A extends unknown[]>(fn: (ctx: ActionContext, ...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const controller = new AbortController();
    const onSignal = (signal: NodeJS.Signals) =>
      controller.abort(new CopycatError('INTERRUPTED', `interrupted by ${signal}: stopped every stage; nothing partial was kept`));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      await fn({ signal: controller.signal, log: stderrLogger() }, ...args);
    } catch (err) {
      process.stderr.write(`copycat-db: error: ${describeError(err)}\n`);
      process.exitCode = 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  };
}
