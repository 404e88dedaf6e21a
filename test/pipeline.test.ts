import assert from 'node:assert/strict';
import { Readable, Transform, Writable } from 'node:stream';
import { test } from 'node:test';
import { CopycatError } from '../src/errors.js';
import { ENCRYPTION_MAGIC } from '../src/formats/encrypted-stream.js';
import { pipeline } from '../src/pipeline.js';
import { sinkByFormat } from '../src/sinks/by-format.js';
import type { SinkStage, SourceStage, TransformStage } from '../src/stage.js';
import { compressionByName } from '../src/transforms/compression/index.js';
import { ZSTD_MAGIC } from '../src/formats/archive.js';
import { zstdCompress, zstdDecompress } from '../src/transforms/compression/zstd.js';
import { meter, type MeterReading } from '../src/transforms/meter.js';
import { sha256 } from '../src/transforms/sha256.js';
import { createHash, randomBytes } from 'node:crypto';
import { generatedSource } from './helpers/generated-source.js';

const bufferSource = (buffers: Buffer[]): SourceStage => ({ name: 'buffers', create: () => Readable.from(buffers) });

function collect(): SinkStage & { bytes(): Buffer } {
  const parts: Buffer[] = [];
  return {
    name: 'collect',
    create: () => new Writable({ write(chunk: Buffer, _e, cb) { parts.push(chunk); cb(); } }),
    bytes: () => Buffer.concat(parts),
  };
}

const failing = (name: string, afterBytes: number, error: Error): TransformStage => ({
  name,
  create() {
    let seen = 0;
    return new Transform({
      transform(chunk: Buffer, _e, cb) {
        seen += chunk.length;
        cb(seen > afterBytes ? error : null, chunk);
      },
    });
  },
});

test('stats report bytes in and out of every stage and the stages\' own facts', async () => {
  const data = Buffer.concat(Array.from({ length: 50 }, (_, i) => Buffer.from(`row ${i} `.repeat(1000))));
  const digest = sha256({ label: 'plaintext' });
  const sink = collect();
  const stats = await pipeline(bufferSource([data])).through(digest, zstdCompress({ level: 3 })).to(sink).run();
  assert.equal(stats.bytesRead, data.length);
  assert.equal(stats.bytesWritten, sink.bytes().length);
  assert.ok(stats.bytesWritten < data.length / 10, 'repetitive text compresses');
  assert.deepEqual(stats.stages.map((s) => [s.name, s.kind]),
    [['buffers', 'source'], ['sha256-plaintext', 'transform'], ['zstd-compress', 'transform'], ['collect', 'sink']]);
  assert.equal(stats.stages[1]!.bytesIn, data.length);
  assert.equal(stats.stages[2]!.bytesOut, stats.bytesWritten);
  assert.equal(stats.stages[1]!.info!.sha256, createHash('sha256').update(data).digest('hex'));
  assert.ok(stats.durationMs > 0 && stats.throughput > 0);
});

test('the first real error wins, and every other stage is torn down', async () => {
  const cause = new Error('disk on fire');
  let sinkDestroyed = false;
  const sink: SinkStage = {
    name: 'watch',
    create: () => new Writable({
      write(_c, _e, cb) { cb(); },
      destroy(err, cb) { sinkDestroyed = true; cb(err); },
    }),
  };
  await assert.rejects(pipeline(generatedSource(64 << 20)).through(failing('boom', 3 << 20, cause)).to(sink).run(), (err) => err === cause);
  assert.ok(sinkDestroyed);
});

test('an already-aborted signal rejects with its reason before any work', async () => {
  const reason = new Error('not today');
  const sink = collect();
  await assert.rejects(pipeline(generatedSource(1 << 20)).to(sink).run({ signal: AbortSignal.abort(reason) }), (err) => err === reason);
  assert.equal(sink.bytes().length, 0);
});

test('an abort without a reason becomes a clear ABORTED error', async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 20);
  const slow: SinkStage = { name: 'slow', create: () => new Writable({ write(_c, _e, cb) { setTimeout(cb, 5); } }) };
  await assert.rejects(pipeline(generatedSource(256 << 20)).to(slow).run({ signal: controller.signal }),
    (err: Error & { code?: string }) => err.code === 'ABORTED' && /aborted before it finished/.test(err.message));
});

test('progress is reported while bytes flow and once at the end with the total', async () => {
  const readings: MeterReading[] = [];
  const stageReadings: MeterReading[] = [];
  const slow: SinkStage = { name: 'slow', create: () => new Writable({ write(_c, _e, cb) { setTimeout(cb, 2); } }) };
  await pipeline(generatedSource(32 << 20, 256 << 10))
    .through(meter({ onProgress: (r) => stageReadings.push(r), intervalMs: 20 }))
    .to(slow)
    .run({ onProgress: (r) => readings.push(r), progressIntervalMs: 20 });
  assert.ok(readings.length >= 3, `several readings (${readings.length})`);
  assert.equal(readings.at(-1)!.bytes, 32 << 20);
  assert.equal(stageReadings.at(-1)!.bytes, 32 << 20);
  assert.ok(readings.every((r, i) => i === 0 || r.bytes >= readings[i - 1]!.bytes));
});

for (const [level, workers] of [[1, 0], [3, 0], [6, 2], [19, 0]] as const) {
  test(`zstd level ${level} with ${workers} workers round-trips mixed data`, async () => {
    const data = Buffer.concat([randomBytes(300_000), Buffer.from('compressible '.repeat(100_000)), randomBytes(77)]);
    const packed = collect();
    await pipeline(bufferSource([data])).through(zstdCompress({ level, workers })).to(packed).run();
    assert.ok(packed.bytes().subarray(0, 4).equals(ZSTD_MAGIC));
    const unpacked = collect();
    await pipeline(bufferSource([packed.bytes()])).through(zstdDecompress()).to(unpacked).run();
    assert.ok(unpacked.bytes().equals(data));
  });
}

test('decompressing bytes that are not zstd names the problem and the fix', async () => {
  await assert.rejects(pipeline(bufferSource([Buffer.from('PGDMP plain bytes')])).through(zstdDecompress()).to(collect()).run(),
    (err: Error & { code?: string }) => err.code === 'DECOMPRESS_FAILED' && /--compression none/.test(err.message));
});

test('compression is looked up by name; none is no stage at all; unknown names are refused', () => {
  assert.equal(compressionByName('none'), undefined);
  assert.ok(compressionByName('zstd'));
  assert.throws(() => compressionByName('lz5'), /unknown compression "lz5": use one of zstd, none/);
  assert.throws(() => zstdCompress({ level: 30 }), /level 30 is out of range/);
});

test('a digest that differs from the expected one fails with which digest it was and both values as detail', async () => {
  const data = Buffer.from('the bytes the manifest does not describe');
  const actual = createHash('sha256').update(data).digest('hex');
  const expected = '0'.repeat(64);
  await assert.rejects(pipeline(bufferSource([data])).through(sha256({ label: 'stored', expect: expected })).to(collect()).run(),
    (err: unknown) => {
      assert.ok(err instanceof CopycatError && err.code === 'DIGEST_MISMATCH', String(err));
      assert.deepEqual(err.detail, { digest: 'stored', expected, actual });
      return true;
    });
});

test('sinkByFormat hands the whole stream to the sink chosen by its first bytes, and finishes only after that sink', async () => {
  const dump = Buffer.concat([Buffer.from('PGDMP'), randomBytes(100_000)]);
  const received: Buffer[] = [];
  let innerFinished = false;
  const chosen: string[] = [];
  const slowSink: SinkStage = {
    name: 'slow',
    create: () => new Writable({
      write(chunk: Buffer, _e, cb) { received.push(chunk); cb(); },
      final(cb) { setTimeout(() => { innerFinished = true; cb(); }, 50); },
    }),
    info: () => ({ program: 'slow' }),
  };
  const sink = sinkByFormat('restore', (format) => {
    chosen.push(format);
    return slowSink;
  });
  // One byte at a time first: the head is gathered across chunks.
  const stats = await pipeline(bufferSource([dump.subarray(0, 1), dump.subarray(1, 3), dump.subarray(3)])).to(sink).run();
  assert.ok(innerFinished, 'the run ended after the chosen sink finished');
  assert.deepEqual(chosen, ['custom']);
  assert.ok(Buffer.concat(received).equals(dump));
  assert.deepEqual(stats.stages.at(-1), { name: 'restore', kind: 'sink', bytesIn: dump.length, info: { program: 'slow' } });
});

test('sinkByFormat refuses what is not a dump, naming what it is, before any sink is chosen', async () => {
  const never = sinkByFormat('restore', () => assert.fail('no sink may be chosen'));
  const cases: [Buffer, string][] = [
    [Buffer.concat([ENCRYPTION_MAGIC, randomBytes(64)]), 'BACKUP_ENCRYPTED'],
    [Buffer.concat([ZSTD_MAGIC, randomBytes(64)]), 'BACKUP_COMPRESSED'],
    [Buffer.alloc(64, 0xff), 'NOT_A_DUMP'],
    [Buffer.alloc(0), 'BACKUP_EMPTY'],
  ];
  for (const [bytes, code] of cases) {
    await assert.rejects(pipeline(bufferSource([bytes])).to(never).run(), (err: Error & { code?: string }) => err.code === code, code);
  }
});
