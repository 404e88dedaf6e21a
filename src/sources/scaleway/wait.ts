/**
 * Polling a Scaleway resource until it reaches a state. Real exports of big databases take hours, so the defaults are
 * patient (18 h) and quiet (one progress line a minute); tests shrink every number to milliseconds.
 */
import { CopycatError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { formatDuration } from '../../units.js';
import { sleep, throwIfAborted } from './timing.js';

export interface WaitTiming {
  /** First pause between polls (default 5 s). */
  pollInitialMs: number;
  /** Pauses grow to this (default 60 s). */
  pollMaxMs: number;
  /** Growth per poll (default 1.5). */
  pollFactor: number;
  /** Give up after this long (default 18 h, like the seed system). */
  timeoutMs: number;
  /** At most one progress line per this interval (default 60 s). */
  progressIntervalMs: number;
}

export const DEFAULT_WAIT_TIMING: WaitTiming = {
  pollInitialMs: 5_000,
  pollMaxMs: 60_000,
  pollFactor: 1.5,
  timeoutMs: 18 * 3600_000,
  progressIntervalMs: 60_000,
};

/** The scalewayRdb option a timeout message tells people to raise. */
export const TIMEOUT_OPTION = 'waitTimeoutMs';

export interface WaitSpec<T> {
  /** Names the thing in logs and errors: `backup 5f3c… (database "app" of instance 9a1e…)`. */
  resource: string;
  /** What we are waiting for, for people: "ready", "exported", "ready after the endpoint change". */
  goal: string;
  poll(): Promise<T>;
  status(t: T): string;
  done(t: T): boolean;
  /** A message when the resource reached a state it will not leave on its own (error, locked...). */
  failed?(t: T): string | undefined;
  timing: WaitTiming;
  signal?: AbortSignal;
  log: Logger;
}

export async function waitFor<T>(spec: WaitSpec<T>): Promise<T> {
  const { timing, log } = spec;
  const start = Date.now();
  let lastProgress = -Infinity;
  let lastStatus = '';
  let delay = timing.pollInitialMs;

  for (let polls = 1; ; polls++) {
    throwIfAborted(spec.signal);
    const t = await spec.poll();
    const status = spec.status(t);
    const elapsed = Date.now() - start;
    if (spec.done(t)) {
      log.log('debug', 'scaleway.wait.done', { resource: spec.resource, goal: spec.goal, status, elapsedMs: elapsed, polls });
      return t;
    }
    const failure = spec.failed?.(t);
    if (failure) throw new CopycatError('SCALEWAY_FAILED', `${spec.resource}: ${failure}`);

    if (status !== lastStatus) {
      log.log('debug', 'scaleway.wait.status', { resource: spec.resource, status, previous: lastStatus || undefined, elapsedMs: elapsed });
      lastStatus = status;
    }
    const now = Date.now();
    if (now - lastProgress >= timing.progressIntervalMs) {
      lastProgress = now;
      log.log('info', 'scaleway.wait', {
        resource: spec.resource, goal: spec.goal, status, elapsedMs: elapsed, elapsed: formatDuration(elapsed),
      });
    }

    const remaining = timing.timeoutMs - elapsed;
    if (remaining <= 0) {
      throw new CopycatError('SCALEWAY_TIMEOUT',
        `timed out waiting for ${spec.resource} to be ${spec.goal}: still "${status}" after ${formatDuration(elapsed)}` +
          ` (${polls} polls); raise the ${TIMEOUT_OPTION} option (now ${formatDuration(timing.timeoutMs)}) if it is just slow`);
    }
    // The last pause is cut short so the final poll lands on the deadline instead of overshooting it by a minute.
    await sleep(Math.min(delay, remaining), spec.signal);
    delay = Math.min(timing.pollMaxMs, Math.round(delay * timing.pollFactor));
  }
}
