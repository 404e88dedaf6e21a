import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { CopycatError } from '../errors.js';
import type { TransformStage } from '../stage.js';

export interface Sha256Options {
  /** Names the digest in stats and errors, e.g. "stored" or "plaintext". */
  readonly label?: string;
  /**
   * The digest the bytes must have. A mismatch fails the stage as its input ends — before the sink's final
   * step, so a restore is rolled back instead of committed.
   */
  readonly expect?: string;
}

/** A pass-through stage whose digest of everything that passed is in `info().sha256` after the run. */
export function sha256(opts: Sha256Options = {}): TransformStage & { digest(): string | undefined } {
  const label = opts.label ?? 'sha256';
  let digest: string | undefined;
  return {
    name: label === 'sha256' ? 'sha256' : `sha256-${label}`,
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
          if (opts.expect && opts.expect !== digest) {
            return callback(new CopycatError('DIGEST_MISMATCH', `the ${label} bytes have sha256 ${digest}, the manifest says ${opts.expect}: ` +
              'the backup is corrupt or is not the one its manifest describes — restore another backup (copycat-db list)',
              { detail: { digest: label, expected: opts.expect, actual: digest } }));
          }
          callback();
        },
      });
    },
    digest: () => digest,
    info: () => ({ sha256: digest }),
  };
}
