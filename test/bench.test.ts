// The benchmark harness at a small size, so that it never rots: every stage row and every end-to-end method must
// run and produce numbers. No time is asserted: this machine's timings say nothing about the code.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { EndToEndResult } from '../bench/e2e.js';
import { parseBenchArgs } from '../bench/run.js';
import { STAGE_ROWS, type StageResult } from '../bench/stages.js';

const RUN = fileURLToPath(new URL('../bench/run.js', import.meta.url));

const finite = (n: unknown, what: string) => assert.ok(typeof n === 'number' && Number.isFinite(n), `${what} is a number (got ${String(n)})`);
const positive = (n: unknown, what: string) => {
  finite(n, what);
  assert.ok((n as number) > 0, `${what} > 0 (got ${String(n)})`);
};

test('bench arguments: sizes, lists and counts', () => {
  const a = parseBenchArgs(['--size', '2.2GB', '--memory-sizes', '0.5GB, 1GiB', '--rounds', '4', '--stage-size', '0', '--only', 'copycat|seed']);
  assert.equal(a.size, 2.2e9);
  assert.deepEqual(a.memorySizes, [0.5e9, 2 ** 30]);
  assert.equal(a.rounds, 4);
  assert.equal(a.stageSize, 0);
  assert.ok(a.only?.test('seed'));
  assert.deepEqual(parseBenchArgs(['--memory-sizes', '']).memorySizes, []);
  assert.deepEqual(parseBenchArgs([]).parallelJobs, [1, 2]);
  assert.deepEqual(parseBenchArgs(['--parallel-jobs', '']).parallelJobs, []);
  assert.throws(() => parseBenchArgs(['--size', 'big']), /--size takes a size/);
  assert.throws(() => parseBenchArgs(['--s3-store', 'disk']), /memstore or bluestore/);
});

test('npm run bench at a small size: every stage row and every end-to-end method ran and produced numbers', { timeout: 240_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'copycat-bench-test-'));
  try {
    const { stderr } = await promisify(execFile)(process.execPath, [RUN,
      '--size', '40MB', '--memory-sizes', '15MB', '--rounds', '1', '--restore-rounds', '1',
      '--stage-size', '4MiB', '--stage-rounds', '1', '--s3-store', 'memstore', '--out', out,
    ], { maxBuffer: 16 << 20, timeout: 230_000 });
    const files = await readdir(out);
    const json = files.find((f) => f.endsWith('.json'));
    const md = files.find((f) => f.endsWith('.md'));
    assert.ok(json && md, `a JSON and a Markdown result were written (${files.join(', ')}); log: ${stderr.slice(-2000)}`);
    const report = JSON.parse(await readFile(join(out, json), 'utf8')) as {
      stages: { rows: StageResult[] };
      endToEnd: EndToEndResult;
      targets: { target: string; met: boolean | null }[];
    };

    assert.deepEqual(report.stages.rows.map((r) => r.name), STAGE_ROWS.map((r) => r.name), 'every stage row ran');
    for (const row of report.stages.rows) {
      assert.equal(row.error, undefined, `${row.name}: ${row.error}`);
      if (STAGE_ROWS.find((r) => r.name === row.name)!.feed === 'plain') assert.equal(row.bytesIn, 4 * 2 ** 20, `${row.name} read all its input`);
      else positive(row.bytesIn, `${row.name} bytes in`);
      positive(row.bytesOut, `${row.name} bytes out`);
      positive(row.mbPerSecond, `${row.name} MB/s`);
      // CPU time is counted in clock ticks (10 ms): a reference program encrypting 4 MiB (age) can take less than one.
      finite(row.cpuSeconds, `${row.name} CPU seconds`);
      assert.ok(row.cpuSeconds >= 0, `${row.name} CPU seconds >= 0`);
      positive(row.maxRssMiB, `${row.name} peak RSS`);
    }

    const e2e = report.endToEnd;
    const ids = new Set(e2e.methods.map((m) => m.id));
    for (const id of ['limit', 'copycat-file-z3', 'copycat-file-z3-w0', 'copycat-file-z1', 'copycat-s3-z3', 'shell-file', 'shell-s3', 'seed',
      'floor-zstd1', 'floor-zstd3', 'copycat-restore', 'pg_restore-file']) {
      assert.ok(ids.has(id), `method ${id} is in the results`);
    }
    for (const format of ['parallel', 'custom', 'directory']) {
      for (const jobs of [1, 2]) {
        for (const phase of ['backup', 'restore']) assert.ok(ids.has(`${format}-${jobs}:${phase}`), `parallel comparison: ${format}-${jobs}:${phase} ran`);
      }
    }
    assert.equal(e2e.databases.length, 2, 'the main database and one for the memory check');
    assert.ok(e2e.methods.some((m) => m.group === 'memory' && m.runs.length > 0), 'the memory check ran');
    for (const m of e2e.methods) {
      assert.equal(m.skipped, undefined, `${m.id} was skipped: ${m.skipped}`);
      assert.ok(m.runs.length >= 1, `${m.id} ran`);
      for (const r of m.runs) {
        assert.equal(r.error, undefined, `${m.id} on ${m.database}: ${r.error}`);
        positive(r.seconds, `${m.id} seconds`);
        finite(r.cpuSeconds, `${m.id} CPU seconds`);
        positive(r.peakTreeRssMiB, `${m.id} peak RSS`);
        finite(r.tempPeakBytes, `${m.id} temporary disk`);
        finite(r.backendCpuSeconds, `${m.id} PostgreSQL CPU`);
      }
    }
    // What the harness itself must get right, whatever the timings: the seed's way writes its dump to disk, ours none.
    const seed = e2e.methods.find((m) => m.id === 'seed')!;
    assert.ok(seed.runs[0]!.tempPeakBytes > 1e6, 'the seed\'s dump file was seen in its temporary folder');
    for (const m of e2e.methods.filter((x) => x.id.startsWith('copycat-'))) {
      for (const r of m.runs) assert.equal(r.tempPeakBytes, 0, `${m.id} wrote no temporary file`);
    }
    positive(e2e.methods.find((m) => m.id === 'copycat-s3-z3')!.runs[0]!.outputBytes, 'stored bytes of the S3 backup');
    assert.ok(report.targets.length >= 7, 'the targets were evaluated');
    assert.match(await readFile(join(out, md), 'utf8'), /### End to end[\s\S]*### Parallel dump and restore[\s\S]*### Targets/);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('npm run bench -- --no-e2e runs one stage alone and prints its table', { timeout: 60_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'copycat-bench-test-'));
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [RUN, '--no-e2e', '--stage-size', '4MiB', '--stage-rounds', '1',
      '--stage-only', '^encrypt', '--out', out], { maxBuffer: 1 << 20 });
    assert.match(stdout, /\| encrypt \(AES-256-GCM\) \| copycat-db \| \d+/);
    assert.doesNotMatch(stdout, /### End to end/, 'the end-to-end part did not run');
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
