import { createReadStream } from 'node:fs';
import type { SourceStage } from '../stage.js';

/** Reads standard input, for `copycat-db restore --from -` and shell pipelines. */
export function stdinSource(): SourceStage {
  return {
    name: 'stdin',
    // fd 0 through fs keeps pipeline's destroy from closing the process's own stdin object.
    create: () => createReadStream('', { fd: 0, autoClose: false, highWaterMark: 1 << 20 }),
    facts: async () => ({ kind: 'stdin', format: 'unknown' }),
  };
}
