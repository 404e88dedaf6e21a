import { Readable, type Writable } from 'node:stream';

/** Why a signal aborted: its reason, or the AbortError that a bare `abort()` stands for. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Writes with backpressure from a Writable's own write step: calls back at once while `w` has room, else on its next
 * 'drain'. A failure of `w` is left to whoever watches its 'error', which knows the real cause (a child's exit
 * status rather than the EPIPE it caused).
 */
export function writeOrDrain(w: Writable, chunk: Buffer, callback: () => void): void {
  if (w.write(chunk)) callback();
  else w.once('drain', () => callback());
}

/** Where producers wait while a Readable's buffer is full: `wait()` resolves on the next `release()` (a read or a destroy). */
export class Demand {
  private waiting?: { promise: Promise<void>; resolve: () => void };

  wait(): Promise<void> {
    if (!this.waiting) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.waiting = { promise, resolve };
    }
    return this.waiting.promise;
  }

  release(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve();
  }
}

export type Produce = (write: (chunk: Buffer) => Promise<void>, signal: AbortSignal) => Promise<void>;

/**
 * A Readable fed by an async producer that waits when the consumer is slow.
 * Not Readable.from(asyncGenerator): destroying that waits for the generator's pending await (an HTTP body read that
 * may never come), while here destroy aborts the producer's signal at once and any in-flight request with it.
 */
export function producerReadable(produce: Produce, parent: AbortSignal | undefined, highWaterMark = 256 * 1024): Readable {
  const ac = new AbortController();
  const onParentAbort = () => stream.destroy(parent!.reason instanceof Error ? parent!.reason : new Error('aborted'));
  const demand = new Demand();
  let started = false;
  let settled = false;

  const write = async (chunk: Buffer): Promise<void> => {
    if (ac.signal.aborted) throw abortReason(ac.signal);
    if (!stream.push(chunk)) await demand.wait();
    if (ac.signal.aborted) throw abortReason(ac.signal);
  };

  const stream: Readable = new Readable({
    highWaterMark,
    read() {
      if (!started) {
        started = true;
        produce(write, ac.signal).then(
          () => {
            settled = true;
            parent?.removeEventListener('abort', onParentAbort);
            if (!stream.destroyed) stream.push(null);
          },
          (err: unknown) => {
            settled = true;
            parent?.removeEventListener('abort', onParentAbort);
            if (!stream.destroyed) stream.destroy(err instanceof Error ? err : new Error(String(err)));
          },
        );
      }
      demand.release();
    },
    destroy(err, cb) {
      parent?.removeEventListener('abort', onParentAbort);
      // A producer still running (e.g. blocked on a socket read) must stop now; a finished one has nothing to stop.
      if (!settled && !ac.signal.aborted) ac.abort(err ?? new Error('stream destroyed before the producer finished'));
      demand.release();
      cb(err);
    },
  });
  if (parent?.aborted) queueMicrotask(onParentAbort);
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  return stream;
}
