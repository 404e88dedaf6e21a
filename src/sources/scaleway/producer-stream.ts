/**
 * A Readable fed by an async producer that waits when the consumer is slow.
 * Not Readable.from(asyncGenerator): destroying that waits for the generator's pending await (an HTTP body read that
 * may never come), while here destroy aborts the producer's signal at once and any in-flight request with it.
 */
import { Readable } from 'node:stream';
import { abortReason } from './timing.js';

export type Produce = (write: (chunk: Buffer) => Promise<void>, signal: AbortSignal) => Promise<void>;

export function producerReadable(produce: Produce, parent: AbortSignal | undefined, highWaterMark = 256 * 1024): Readable {
  const ac = new AbortController();
  const onParentAbort = () => stream.destroy(parent!.reason instanceof Error ? parent!.reason : new Error('aborted'));
  let wake: (() => void) | undefined;
  let started = false;
  let settled = false;

  const release = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const write = async (chunk: Buffer): Promise<void> => {
    if (ac.signal.aborted) throw abortReason(ac.signal);
    if (!stream.push(chunk)) await new Promise<void>((resolve) => (wake = resolve));
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
      release();
    },
    destroy(err, cb) {
      parent?.removeEventListener('abort', onParentAbort);
      // A producer still running (e.g. blocked on a socket read) must stop now; a finished one has nothing to stop.
      if (!settled && !ac.signal.aborted) ac.abort(err ?? new Error('stream destroyed before the producer finished'));
      release();
      cb(err);
    },
  });
  if (parent?.aborted) queueMicrotask(onParentAbort);
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  return stream;
}
