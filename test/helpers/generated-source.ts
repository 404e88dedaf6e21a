import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { SourceStage } from '../../src/stage.js';

/**
 * `total` bytes generated on demand from a 4 MiB random pool at shifting offsets: incompressible for zstd's
 * window, costs no disk, and is produced as fast as it is read — so any growth in memory is the pipeline's.
 */
export function generatedSource(total: number, chunkSize = 1 << 20): SourceStage {
  const pool = randomBytes(4 << 20);
  return {
    name: 'generated',
    create() {
      let produced = 0;
      return new Readable({
        highWaterMark: chunkSize,
        read() {
          if (produced >= total) return void this.push(null);
          const n = Math.min(chunkSize, total - produced);
          const offset = (produced * 7919) % (pool.length - n);
          produced += n;
          this.push(pool.subarray(offset, offset + n));
        },
      });
    },
    expectedSize: async () => total,
  };
}
