import { Writable } from 'node:stream';
import type { SinkStage } from '../stage.js';

export interface MemorySink extends SinkStage {
  /** The bytes written, once the run ended cleanly (every upstream check passed); undefined before. */
  result(): Buffer | undefined;
}

/** Collects a small stream (a backup's globals) in memory: for objects written whole, or read whole before use. */
export function memorySink(): MemorySink {
  let result: Buffer | undefined;
  return {
    name: 'memory',
    create() {
      result = undefined;
      const chunks: Buffer[] = [];
      return new Writable({
        write(chunk: Buffer, _encoding, callback) {
          chunks.push(chunk);
          callback();
        },
        final(callback) {
          result = Buffer.concat(chunks);
          callback();
        },
      });
    },
    result: () => result,
  };
}
