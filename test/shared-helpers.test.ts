import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { ARCHIVE_HEAD_BYTES, sniffHead, type ArchiveFormat } from '../src/formats/archive.js';
import { qualifiedName, quoteIdent, quoteLiteral } from '../src/pg/quote.js';
import { Demand, writeOrDrain } from '../src/streams.js';
import { flagSize, formatBytes, formatDuration, MIB, parseSize } from '../src/units.js';

test('sniffHead keeps the first bytes across chunks of any size and sniffs them as they grow', () => {
  const seen: { head: Buffer; archiveFormat: ArchiveFormat } = { head: Buffer.alloc(0), archiveFormat: 'unknown' };
  const dump = Buffer.from('PGDMP\x01\x0e\x00\x04\x08\x01\x01\x00\x00\x00\x00\x00\x00 and the rest of the archive', 'latin1');
  sniffHead(seen, dump.subarray(0, 3));
  assert.equal(seen.archiveFormat, 'unknown');
  for (let at = 3; at < dump.length; at += 2) sniffHead(seen, dump.subarray(at, at + 2));
  assert.equal(seen.archiveFormat, 'custom');
  assert.deepEqual(seen.head, dump.subarray(0, ARCHIVE_HEAD_BYTES));
});

test('Demand wakes every waiting producer on one release, and only waiters that came before it', async () => {
  const demand = new Demand();
  const woken: string[] = [];
  const a = demand.wait().then(() => woken.push('a'));
  const b = demand.wait().then(() => woken.push('b'));
  demand.release();
  await Promise.all([a, b]);
  let late = false;
  void demand.wait().then(() => (late = true));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(woken, ['a', 'b']);
  assert.equal(late, false);
  demand.release();
});

test('writeOrDrain calls back at once while there is room and after the drain when there is not', async () => {
  let release!: () => void;
  const slow = new Writable({ highWaterMark: 4, write(_c, _e, cb) { release = cb; } });
  let first = false;
  writeOrDrain(slow, Buffer.from('ab'), () => (first = true));
  assert.equal(first, true);
  let second = false;
  writeOrDrain(slow, Buffer.from('cdef'), () => (second = true));
  assert.equal(second, false);
  release();
  await new Promise((r) => setImmediate(r));
  release();
  await new Promise((r) => setImmediate(r));
  assert.equal(second, true);
});

test('SQL quoting doubles embedded quotes', () => {
  assert.equal(quoteIdent('Odd "Name"'), '"Odd ""Name"""');
  assert.equal(qualifiedName({ schema: 'billing', name: 'x"y' }), '"billing"."x""y"');
  assert.equal(quoteLiteral("it's"), "'it''s'");
});

test('sizes and durations read and print in the units people use', () => {
  assert.equal(parseSize('64MiB'), 64 * MIB);
  assert.equal(parseSize('1.5TB'), 1.5e12);
  assert.equal(parseSize('12 parsecs'), undefined);
  assert.equal(flagSize(31 * MIB - 1), '31MiB');
  assert.equal(flagSize(1.5 * 1024 * MIB), '2GiB');
  assert.equal(formatBytes(16 * MIB), '16 MiB');
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatDuration(3_723_000), '1h 2m 3s');
});
