/** Small time helpers shared by the API client, the waits and the download. */
import { abortReason } from '../../streams.js';

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts (so Ctrl-C never waits out a poll). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw abortReason(signal);
}

/** Exponential backoff with a little jitter, so parallel runs against the same API do not poll in lockstep. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
  factor?: number;
}

export function backoffDelay(b: Backoff, attempt: number): number {
  const base = Math.min(b.maxMs, b.initialMs * (b.factor ?? 2) ** Math.max(0, attempt));
  return Math.round(base * (0.9 + Math.random() * 0.2));
}

/** Presigned download URLs carry signatures in their query: logs and errors get origin and path only. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '<unparseable url>';
  }
}
