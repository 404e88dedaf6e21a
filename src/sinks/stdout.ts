import { createWriteStream } from 'node:fs';
import type { SinkStage } from '../stage.js';

/** Writes to standard output, for shell pipelines (`copycat-db backup --to - | …`). */
export function stdoutSink(): SinkStage {
  return {
    name: 'stdout',
    // fd 1 through fs keeps pipeline's end/destroy from closing the process's own stdout object.
    create: () => createWriteStream('', { fd: 1, autoClose: false, highWaterMark: 1 << 20 }),
  };
}
