import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { CopycatError } from '../errors.js';
import type { SourceStage } from '../stage.js';

/** Reads a backup (or any file) from disk. */
export function fileSource(path: string): SourceStage {
  return {
    name: 'file',
    async create() {
      try {
        await stat(path);
      } catch (err) {
        throw new CopycatError('FILE_MISSING', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err} — check the path`, { cause: err });
      }
      return createReadStream(path, { highWaterMark: 1 << 20 });
    },
    async expectedSize() {
      return (await stat(path)).size;
    },
    facts: async () => ({ kind: 'file', format: 'unknown' }),
    info: () => ({ path }),
  };
}
