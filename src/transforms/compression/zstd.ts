import { createRequire } from 'node:module';
import { Transform, type TransformCallback } from 'node:stream';
import type * as ZstdNapi from 'zstd-napi';
import { CopycatError } from '../../errors.js';
import type { TransformStage } from '../../stage.js';

export interface ZstdOptions {
  /** 1 (fastest) … 19; 3 is zstd's own default and a good trade for dumps. */
  readonly level?: number;
  /** zstd's own worker threads; 0 compresses on the calling thread. */
  readonly workers?: number;
}

/**
 * With workers, zstd buffers about (workers + 2) jobs of input and output; its default job is 4× the window (8 MiB at
 * level 3), which took a 2-worker backup to ~197 MiB RSS against ~135 MiB without workers. 2 MiB jobs cut that extra
 * by about two thirds at the same speed and ratio (measured on dump-like data: bench/, README "Performance"). Up to
 * level 8 the window is at most 2 MiB; from level 9 it is 4 MiB or more, and zstd's own job size is kept there.
 */
const MT_JOB_SIZE = 2 << 20;
const MT_SMALL_JOBS_MAX_LEVEL = 8;

let addon: typeof ZstdNapi | undefined;

/**
 * zstd-napi is a native addon, loaded on first use rather than when this module is imported: where it failed to build
 * or load, `--help`, `list`, `keygen` and uncompressed backups still work, and only a stage that needs zstd fails, with
 * this error, when it is asked for (before any stage of its run starts). require() keeps stage factories synchronous.
 */
function zstdNapi(): typeof ZstdNapi {
  try {
    return (addon ??= createRequire(import.meta.url)('zstd-napi') as typeof ZstdNapi);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new CopycatError('ZSTD_UNAVAILABLE', `zstd is unavailable: its native addon zstd-napi did not load (${reason}) — ` +
      'rebuild it in copycat-db\'s folder with `npm rebuild zstd-napi` (needs python3, make and g++), or back up with --compression none',
      { cause: err });
  }
}

export function zstdCompress(opts: ZstdOptions = {}): TransformStage {
  const level = opts.level ?? 3;
  const workers = opts.workers ?? 0;
  if (!Number.isInteger(level) || level < 1 || level > 19) {
    throw new CopycatError('OPTION_INVALID', `zstd level ${level} is out of range: use 1 to 19`);
  }
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) {
    throw new CopycatError('OPTION_INVALID', `zstd workers ${workers} is out of range: use 0 to 64`);
  }
  const { CompressStream } = zstdNapi();
  return {
    name: 'zstd-compress',
    create: () => new CompressStream({
      compressionLevel: level,
      nbWorkers: workers,
      checksumFlag: true,
      ...(workers > 0 && level <= MT_SMALL_JOBS_MAX_LEVEL ? { jobSize: MT_JOB_SIZE } : {}),
    }),
    info: () => ({ algorithm: 'zstd', level, workers }),
  };
}

export function zstdDecompress(): TransformStage {
  const { DecompressStream } = zstdNapi();
  return {
    name: 'zstd-decompress',
    create() {
      const inner = new DecompressStream();
      // zstd-napi's errors ("Unknown frame descriptor") do not say what to do; ours do.
      return wrapErrors(inner, (err) => new CopycatError('DECOMPRESS_FAILED',
        `zstd could not decompress the backup (${err.message}): it is corrupt, or was not compressed — restore with --compression none`,
        { cause: err }));
    },
    info: () => ({ algorithm: 'zstd' }),
  };
}

/** Re-labels a transform's own errors without adding a stream hop. */
function wrapErrors(stream: Transform, describe: (err: Error) => Error): Transform {
  const transform = stream._transform.bind(stream);
  const flush = stream._flush.bind(stream);
  const relabel = (callback: TransformCallback): TransformCallback => (err, data) =>
    callback(err ? describe(err) : null, data);
  stream._transform = (chunk, encoding, callback) => transform(chunk, encoding, relabel(callback));
  stream._flush = (callback) => flush(relabel(callback));
  return stream;
}
