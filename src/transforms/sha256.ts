import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { TransformStage } from '../stage.js';

/** A pass-through stage whose digest of everything that passed is in `info().sha256` after the run. */
export function sha256(label = 'sha256'): TransformStage & { digest(): string | undefined } {
  let digest: string | undefined;
  return {
    name: label,
    create() {
      const hash = createHash('sha256');
      digest = undefined;
      return new Transform({
        highWaterMark: 1 << 20,
        transform(chunk: Buffer, _encoding, callback: TransformCallback) {
          hash.update(chunk);
          callback(null, chunk);
        },
        flush(callback) {
          digest = hash.digest('hex');
          callback();
        },
      });
    },
    digest: () => digest,
    info: () => ({ sha256: digest }),
  };
}
