// The progress line shows a percentage and an ETA once the source's expected size is known; the size is asked once
// per run, and only when someone watches the progress.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { ProgressBar } from '../src/cli/progress.js';
import { backup } from '../src/operations/backup.js';
import { pipeline } from '../src/pipeline.js';
import { dirRepository } from '../src/repository/index.js';
import type { SinkStage, SourceStage } from '../src/stage.js';
import type { MeterReading } from '../src/transforms/meter.js';
import { generatedSource } from './helpers/generated-source.js';

const MiB = 1 << 20;
const GiB = 1 << 30;

function terminal(): { write(text: string): boolean; columns: number; text: string } {
  return { columns: 200, text: '', write(t: string) { this.text += t; return true; } };
}

test('the progress line shows bytes of the expected size, the percentage and the ETA', () => {
  const bar = new ProgressBar('backup', terminal());
  bar.stop();
  const reading = { bytes: GiB, elapsedMs: 20_480, rate: 50 * MiB };
  assert.match(bar.render(reading, 20_480), /^⠋ backup {2}1 GiB read {2}50 MiB\/s {2}0:00:20$/, 'no expected size: no percentage');
  // 1.5 GiB left at 50 MiB/s: 30.7 s.
  assert.match(bar.render({ ...reading, expectedBytes: 2.5 * GiB }, 20_480), /^⠋ backup {2}1 GiB of 2\.5 GiB {2}40% {2}50 MiB\/s {2}0:00:20 {2}ETA 0:00:30$/);
  assert.match(bar.render({ ...reading, bytes: 2.5 * GiB - 1, expectedBytes: 2.5 * GiB }, 51_200), / 99% /, 'rounded down: 100% only when every byte is in');
  assert.match(bar.render({ ...reading, bytes: 2.5 * GiB, expectedBytes: 2.5 * GiB }, 51_200), / 100% .*ETA 0:00:00$/);
  assert.match(bar.render({ ...reading, rate: 0, expectedBytes: 2.5 * GiB }, 0), / 40% {2}—\/s {2}0:00:00$/, 'no rate yet: no ETA');
  // An estimate that the stream outgrew says nothing any more.
  assert.match(bar.render({ ...reading, bytes: 3 * GiB, expectedBytes: 2.5 * GiB }, 61_440), /^⠋ backup {2}3 GiB read {2}50 MiB\/s {2}0:01:01$/);
});

test('the terminal shows the percentage as readings come in', () => {
  const out = terminal();
  const bar = new ProgressBar('restore', out);
  bar.update({ bytes: 3 * MiB, elapsedMs: 1000, rate: 3 * MiB, expectedBytes: 12 * MiB });
  bar.stop();
  assert.match(out.text, /\r\x1b\[2K⠙ restore {2}3 MiB of 12 MiB {2}25% {2}3 MiB\/s {2}0:00:00 {2}ETA 0:00:03/);
});

/** A source of `total` bytes whose expectedSize() says `expected`, counting how often it is asked. */
function countedSource(total: number, expected: number): SourceStage & { asked: number } {
  const source = { ...generatedSource(total, 256 << 10), asked: 0, expectedSize: async () => { source.asked++; return expected; } };
  return source;
}

const slowSink = (): SinkStage => ({ name: 'slow', create: () => new Writable({ write(_c, _e, cb) { setTimeout(cb, 1); } }) });

test('a run\'s progress readings carry the source\'s expected size once it answered', async () => {
  const source = countedSource(16 * MiB, 20 * MiB);
  const readings: MeterReading[] = [];
  await pipeline(source).to(slowSink()).run({ onProgress: (r) => readings.push(r), progressIntervalMs: 10 });
  assert.equal(source.asked, 1);
  assert.ok(readings.length >= 3, `several readings (${readings.length})`);
  assert.equal(readings.at(-1)!.expectedBytes, 20 * MiB);
  assert.equal(readings.at(-1)!.bytes, 16 * MiB);

  const unwatched = countedSource(MiB, MiB);
  await pipeline(unwatched).to(slowSink()).run();
  assert.equal(unwatched.asked, 0, 'nobody watches the progress: the source is not asked (it may be a query)');

  const told = countedSource(4 * MiB, MiB);
  const toldReadings: MeterReading[] = [];
  await pipeline(told).to(slowSink()).run({ onProgress: (r) => toldReadings.push(r), expectedSize: async () => 5 * MiB });
  assert.equal(told.asked, 0, 'the caller\'s expected size replaces the source\'s');
  assert.equal(toldReadings.at(-1)!.expectedBytes, 5 * MiB);
});

test('a backup to a repository asks the source\'s expected size once, for its upload and its progress', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'copycat-progress-'));
  try {
    const source = countedSource(8 * MiB, 9 * MiB);
    const readings: MeterReading[] = [];
    // A store that plans its upload from the estimate when its sink is created, as S3's does.
    const plain = dirRepository(dir);
    const planned = { ...plain.store, dataSink: (key: string, estimate: () => Promise<number | undefined>) => {
      void estimate();
      return plain.store.dataSink(key, estimate);
    } };
    await backup({ source, chain: { compression: 'none' }, to: { repository: { ...plain, store: planned } } },
      { onProgress: (r) => readings.push(r), progressIntervalMs: 10 });
    assert.equal(source.asked, 1);
    assert.equal(readings.at(-1)!.expectedBytes, 9 * MiB);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
