import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';

const probe = fileURLToPath(new URL('./helpers/memory-probe.js', import.meta.url));
const GiB = 1 << 30;

test('1 GiB through zstd + encryption into a slow sink stays under 200 MiB peak RSS', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [probe, String(GiB)], { maxBuffer: 1 << 20 });
  const result = JSON.parse(stdout) as { bytesRead: number; bytesWritten: number; seconds: number; maxRssMiB: number };
  process.stderr.write(`# memory probe: ${JSON.stringify(result)}\n`);
  assert.equal(result.bytesRead, GiB, 'every byte went through');
  assert.ok(result.bytesWritten > GiB * 0.9, 'random data stays about its size');
  assert.ok(result.maxRssMiB < 200, `peak RSS ${result.maxRssMiB.toFixed(0)} MiB must stay under 200 MiB`);
});
