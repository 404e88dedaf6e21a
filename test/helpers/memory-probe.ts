// Runs in its own process so its peak RSS is the pipeline's alone: 1 GiB through zstd + encryption into a sink
// that is slower than the producer, which is exactly where a pipeline without backpressure would buffer.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from '../../src/pipeline.js';
import { encrypt } from '../../src/transforms/encrypt.js';
import { zstdCompress } from '../../src/transforms/compression/zstd.js';
import { generatedSource } from './generated-source.js';

const total = Number(process.argv[2] ?? 1 << 30);
let written = 0;
let writes = 0;
const slowSink = {
  name: 'slow',
  create: () => new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _encoding, callback) {
      written += chunk.length;
      if (++writes % 8 === 0) setTimeout(callback, 2);
      else setImmediate(callback);
    },
  }),
};
const stats = await pipeline(generatedSource(total))
  .through(zstdCompress({ level: 1 }), encrypt({ key: randomBytes(32) }))
  .to(slowSink)
  .run();
process.stdout.write(JSON.stringify({
  bytesRead: stats.bytesRead,
  bytesWritten: written,
  seconds: stats.durationMs / 1000,
  maxRssMiB: process.resourceUsage().maxRSS / 1024,
}) + '\n');
