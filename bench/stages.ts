/**
 * The stage part of `npm run bench` (bench/run.ts): the throughput and peak memory of each stage on data generated in
 * memory (no disk). It lives outside src/ so that the shipped CLI never loads it.
 *
 * Every row runs in a child process of its own, so its peak RSS is its own; a second child (the feeder) generates
 * the input and writes it into the measured child's stdin pipe, as pg_dump does in a real backup. The feeder makes
 * its whole input (a dump-like pool, or a zstd frame of it) before the clock starts and then only copies, so the
 * measured process pays for reading a pipe and for its stages, nothing else. Reference rows run the zstd and age
 * command-line tools on the same bytes through the same pipe.
 *
 * This file is its own child entry point: `node dist/bench/stages.js child ROW …` and `… feed KIND …`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { Socket } from 'node:net';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';
import { CompressStream } from 'zstd-napi';
import { backupTransforms, restoreTransforms } from '../src/chain.js';
import { pipeline } from '../src/pipeline.js';
import type { SinkStage, TransformStage } from '../src/stage.js';
import { writeOrDrain } from '../src/streams.js';
import { zstdCompress, zstdDecompress } from '../src/transforms/compression/zstd.js';
import { generateIdentity, parseIdentity } from '../src/formats/recipients.js';
import { decrypt, encrypt } from '../src/transforms/encrypt.js';
import { sha256 } from '../src/transforms/sha256.js';

const MiB = 1 << 20;
const THIS_FILE = fileURLToPath(import.meta.url);

// ------------------------------------------------------------------------------------------------ dump-like data

/** A small deterministic PRNG (mulberry32): the same pool on every run and machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ren', 'sa', 'tor', 'vel', 'an', 'bri', 'dus', 'el', 'fin', 'gar', 'hol', 'is', 'jun',
  'ket', 'lum', 'mor', 'nel', 'ost', 'pra', 'qui', 'ros', 'sen', 'tal', 'ur', 'vin', 'wex', 'yor', 'zan', 'ce'];

/** Pseudo-words, the first ones most frequent (roughly Zipf), as in real text columns. */
function vocabulary(rand: () => number, n: number): string[] {
  const words: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = 1 + Math.floor(rand() * 3);
    let w = '';
    for (let j = 0; j < k; j++) w += SYLLABLES[Math.floor(rand() * SYLLABLES.length)];
    words.push(w);
  }
  return words;
}

/**
 * Rows in COPY text format for the three tables of bench/database.ts, which are also what `pg_dump -Fc -Z0` emits for
 * them: wide rows (words in text, jsonb), narrow numeric rows, and bytea of random bytes (in hex, so only the hex
 * encoding compresses).
 */
export class DumpLikeRows {
  private readonly rand: () => number;
  private readonly words: string[];
  private readonly ids = { wide: 0, narrow: 0, blob: 0 };

  constructor(seed = 42) {
    this.rand = prng(seed);
    this.words = vocabulary(this.rand, 3000);
  }

  private word(): string {
    return this.words[Math.floor(this.words.length * this.rand() ** 3)]!;
  }

  private int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  /** id, created_at timestamptz, customer text, description text, attrs jsonb */
  wide(): string {
    const r = this.rand;
    const n = 8 + this.int(50);
    let text = this.word();
    for (let i = 1; i < n; i++) text += ' ' + this.word();
    const two = (v: number) => String(v).padStart(2, '0');
    return `${++this.ids.wide}\t2024-${two(1 + this.int(12))}-${two(1 + this.int(28))} ${two(this.int(24))}:${two(this.int(60))}:${two(this.int(60))}+00\t` +
      `${this.word()} ${this.word()}\t${text}\t{"sku": "${this.word().toUpperCase()}-${this.int(10000)}", "tags": ["${this.word()}", "${this.word()}"], ` +
      `"price": ${(r() * 1000).toFixed(2)}, "active": ${r() < 0.8}, "rating": ${this.int(5)}}\n`;
  }

  /** id, sensor int, bucket int, value numeric(12,2), reading float8, day date */
  narrow(): string {
    return `${++this.ids.narrow}\t${this.int(1e6)}\t${this.int(100)}\t${(this.rand() * 1e5).toFixed(2)}\t${this.rand() * 1000}\t2023-${String(1 + this.int(12)).padStart(2, '0')}-15\n`;
  }

  /** id, kind smallint, payload bytea (200–2000 random bytes) */
  blob(): string {
    return `${++this.ids.blob}\t${this.int(8)}\t\\\\x${randomBytes(200 + this.int(1800)).toString('hex')}\n`;
  }

  /** One of the three, weighted by bytes: about half wide, a quarter narrow, a quarter bytea. */
  next(kind: number): string {
    return kind < 0.5 ? this.wide() : kind < 0.75 ? this.narrow() : this.blob();
  }
}

/** `bytes` of dump-like data: runs of 256 KiB of one table's rows, as a dump has long runs of each table. */
export function dumpLikePool(bytes: number, seed = 42): Buffer {
  const rows = new DumpLikeRows(seed);
  const pick = prng(seed + 1);
  const pool = Buffer.allocUnsafe(bytes);
  let at = 0;
  const SECTION = 256 * 1024;
  while (at < bytes) {
    const kind = pick();
    const end = Math.min(bytes, at + SECTION);
    while (at < end - 8192) at += pool.write(rows.next(kind), at, 'latin1');
    if (at < end) pool.fill(0x0a, at, end); // blank lines pad the section
    at = end;
  }
  return pool;
}

const POOL_BYTES = 48 * MiB;

function poolBytes(size: number): number {
  return Math.min(POOL_BYTES, Math.max(4 * MiB, size));
}

// ------------------------------------------------------------------------------------------------ rows

/** What the feeder writes into the measured process's stdin. */
type FeedKind = 'plain' | 'zstd' | 'encrypted' | 'zstd-encrypted';

interface RowSpec {
  readonly name: string;
  readonly group: 'pipeline' | 'compress' | 'decompress' | 'encrypt' | 'decrypt' | 'chain';
  /** Ours, a command-line reference, or Node's own zstd (node:zlib) as the candidate to replace zstd-napi. */
  readonly impl: 'copycat-db' | 'cli' | 'node:zlib';
  readonly feed: FeedKind;
  readonly level?: number;
  readonly workers?: number;
  /** Our stages, in the measured process. */
  readonly stages?: (key: Buffer) => TransformStage[];
  /** A command-line reference: program and arguments, stdin from the feeder, stdout to /dev/null. */
  readonly command?: (tmp: { ageRecipient: string; ageIdentityFile: string }) => [string, string[]];
}

const passThrough: TransformStage = { name: 'pass-through', create: () => new PassThrough({ highWaterMark: MiB }) };
const LEVELS = [1, 3, 6];
const WORKERS = [0, 2];

/**
 * node:zlib's zstd, from Node 22.15 (and 23.8) on; typed here because @types/node follows the oldest Node supported.
 * Its streams compress on libuv's thread pool, one call at a time per stream; zstd's own workers (nbWorkers) break its
 * stream (ERR_STREAM_PUSH_AFTER_EOF, nodejs/node#59899), so its rows run without them.
 */
interface NodeZstd {
  createZstdCompress(opts: { chunkSize: number; params: Record<number, number> }): Transform;
  createZstdDecompress(opts: { chunkSize: number }): Transform;
  readonly constants: Record<'ZSTD_c_compressionLevel' | 'ZSTD_c_checksumFlag', number>;
}
const nodeZstd = 'createZstdCompress' in zlib ? (zlib as unknown as NodeZstd) : undefined;
/** zstd-napi's output size (ZSTD_CStreamOutSize), instead of zlib's 16 KiB default, so both push the same chunks. */
const NODE_ZSTD_CHUNK = 128 * 1024;

function nodeZstdRows(z: NodeZstd): RowSpec[] {
  return [
    ...LEVELS.map((level): RowSpec => ({ name: `node:zlib zstd -${level}`, group: 'compress', impl: 'node:zlib', feed: 'plain', level, workers: 0,
      stages: () => [{ name: 'node-zstd-compress', create: () => z.createZstdCompress({ chunkSize: NODE_ZSTD_CHUNK,
        params: { [z.constants.ZSTD_c_compressionLevel]: level, [z.constants.ZSTD_c_checksumFlag]: 1 } }) }] })),
    { name: 'node:zlib zstd decompress', group: 'decompress', impl: 'node:zlib', feed: 'zstd',
      stages: () => [{ name: 'node-zstd-decompress', create: () => z.createZstdDecompress({ chunkSize: NODE_ZSTD_CHUNK }) }] },
  ];
}

export const STAGE_ROWS: readonly RowSpec[] = [
  { name: 'pipeline pass-through', group: 'pipeline', impl: 'copycat-db', feed: 'plain', stages: () => [passThrough] },
  ...LEVELS.flatMap((level) => WORKERS.flatMap((workers): RowSpec[] => [
    { name: `zstd -${level} workers ${workers}`, group: 'compress', impl: 'copycat-db', feed: 'plain', level, workers,
      stages: () => [zstdCompress({ level, workers })] },
    { name: `zstd CLI -${level} ${workers ? `-T${workers}` : '--single-thread'}`, group: 'compress', impl: 'cli', feed: 'plain', level, workers,
      command: () => ['zstd', ['-q', '-c', `-${level}`, workers ? `-T${workers}` : '--single-thread']] },
  ])),
  { name: 'zstd decompress', group: 'decompress', impl: 'copycat-db', feed: 'zstd', stages: () => [zstdDecompress()] },
  { name: 'zstd CLI -d', group: 'decompress', impl: 'cli', feed: 'zstd', command: () => ['zstd', ['-q', '-d', '-c']] },
  // Only where this Node has them: `npm test` runs on Node 20 and 24, and every row present must run.
  ...(nodeZstd ? nodeZstdRows(nodeZstd) : []),
  { name: 'encrypt (AES-256-GCM)', group: 'encrypt', impl: 'copycat-db', feed: 'plain', stages: (key) => [encrypt({ key })] },
  // Format 2: the same chunk stream behind a header of recipient stanzas; only the header differs.
  { name: 'encrypt to a recipient (format 2)', group: 'encrypt', impl: 'copycat-db', feed: 'plain',
    stages: () => [encrypt({ recipients: [parseIdentity(generateIdentity()).recipient] })] },
  { name: 'age CLI encrypt (X25519)', group: 'encrypt', impl: 'cli', feed: 'plain', command: (t) => ['age', ['-r', t.ageRecipient]] },
  { name: 'decrypt', group: 'decrypt', impl: 'copycat-db', feed: 'encrypted', stages: (key) => [decrypt({ key })] },
  { name: 'backup chain (zstd -3, encrypt)', group: 'chain', impl: 'copycat-db', feed: 'plain', level: 3, workers: 0,
    stages: (key) => backupTransforms({ compression: 'zstd', level: 3, workers: 0, key }) },
  { name: 'backup chain, workers 2', group: 'chain', impl: 'copycat-db', feed: 'plain', level: 3, workers: 2,
    stages: (key) => backupTransforms({ compression: 'zstd', level: 3, workers: 2, key }) },
  { name: 'backup chain + S3 digests (sha256 ×2, md5)', group: 'chain', impl: 'copycat-db', feed: 'plain', level: 3, workers: 0,
    stages: (key) => [sha256({ label: 'plaintext' }), ...backupTransforms({ compression: 'zstd', level: 3, workers: 0, key }), sha256({ label: 'stored' }), md5Stage()] },
  { name: 'restore chain (decrypt, decompress)', group: 'chain', impl: 'copycat-db', feed: 'zstd-encrypted',
    stages: (key) => restoreTransforms({ compression: 'zstd', key }) },
];

function md5Stage(): TransformStage {
  return {
    name: 'md5',
    create() {
      const hash = createHash('md5');
      return new Transform({ highWaterMark: MiB, transform(chunk: Buffer, _e, cb) { hash.update(chunk); cb(null, chunk); } });
    },
  };
}

// ------------------------------------------------------------------------------------------------ results

export interface StageResult {
  readonly name: string;
  readonly group: RowSpec['group'];
  readonly impl: RowSpec['impl'];
  readonly level?: number;
  readonly workers?: number;
  /** Bytes into the first stage. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly seconds: number;
  /** Input MB (10^6 bytes) per wall-clock second. */
  readonly mbPerSecond: number;
  /** CPU seconds (user + system, every thread) of the measured process. */
  readonly cpuSeconds: number;
  readonly maxRssMiB: number;
  /** Wall seconds spent inside each of our stages' synchronous work (per-stage counters). */
  readonly stageSeconds?: Record<string, number>;
  /** With rounds: how many runs, and the slowest and fastest of them (the row shows the median run). */
  readonly runs?: number;
  readonly mbPerSecondMin?: number;
  readonly mbPerSecondMax?: number;
  readonly error?: string;
}

export interface StageBenchOptions {
  /** Input bytes per row. */
  readonly size: number;
  /** Only the rows whose name matches (a negative lookahead such as `^(?!.*CLI)` skips the reference rows). */
  readonly only?: RegExp;
  /** Runs of each row, interleaved (every row once, then again): the median is reported. */
  readonly rounds?: number;
  readonly onRow?: (row: StageResult) => void;
}

/** Bytes per write from the feeder (a pipe delivers at most 64 KiB per read whatever this is). */
const FEED_CHUNK = 64 * 1024;

/** Runs every selected row, one child process each, one after the other; with rounds, all rows once per round. */
export async function runStageBench(opts: StageBenchOptions): Promise<StageResult[]> {
  const rows = STAGE_ROWS.filter((r) => !opts.only || opts.only.test(r.name));
  const runs = new Map<string, StageResult[]>();
  const rounds = Math.max(1, opts.rounds ?? 1);
  for (let round = 0; round < rounds; round++) {
    for (const row of rows) {
      const result = await runChild(row, opts.size, FEED_CHUNK);
      runs.set(row.name, [...(runs.get(row.name) ?? []), result]);
      if (round === rounds - 1) opts.onRow?.(combine(runs.get(row.name)!));
    }
  }
  return rows.map((row) => combine(runs.get(row.name)!));
}

/** The median run (by throughput) of a row, with the spread of all its runs. */
function combine(results: StageResult[]): StageResult {
  const ok = results.filter((r) => !r.error);
  if (ok.length === 0) return results[results.length - 1]!;
  const sorted = [...ok].sort((a, b) => a.mbPerSecond - b.mbPerSecond);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return {
    ...mid,
    runs: results.length,
    mbPerSecondMin: sorted[0]!.mbPerSecond,
    mbPerSecondMax: sorted[sorted.length - 1]!.mbPerSecond,
    cpuSeconds: round(median(ok.map((r) => r.cpuSeconds)), 3),
    maxRssMiB: Math.max(...ok.map((r) => r.maxRssMiB)),
  };
}

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

/**
 * Starts the feeder and the measured child at once, the feeder's stdout as the child's stdin (a socket pair, as
 * between copycat-db and pg_dump), waits until both say "ready" (the feeder has made its input, the child has loaded
 * its code), then says "go" to the child (which starts its clock) and to the feeder.
 */
function runChild(row: RowSpec, size: number, chunk: number): Promise<StageResult> {
  const failed = (error: string): StageResult => ({ name: row.name, group: row.group, impl: row.impl, bytesIn: 0, bytesOut: 0, seconds: 0,
    mbPerSecond: NaN, cpuSeconds: NaN, maxRssMiB: NaN, error });
  return new Promise((resolve) => {
    const feeder = spawn(process.execPath, [THIS_FILE, 'feed', row.feed, String(size), String(chunk)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const child = spawn(process.execPath, [THIS_FILE, 'child', row.name, String(size), String(chunk)], { stdio: [feeder.stdout, 'pipe', 'pipe', 'pipe'] });
    feeder.stdout.destroy(); // the child holds the read end now
    const control = child.stdio[3] as Writable;
    control.on('error', () => {});
    feeder.stdin.on('error', () => {});
    let out = '';
    let childErr = '';
    let feederErr = '';
    let ready = 0;
    const onReady = () => {
      if (++ready < 2) return;
      control.end('go\n');
      feeder.stdin.end('g');
    };
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      const before = childErr.includes('ready\n');
      childErr = (childErr + d).slice(-4000);
      if (!before && childErr.includes('ready\n')) onReady();
    });
    feeder.stderr.setEncoding('utf8').on('data', (d: string) => {
      const before = feederErr.includes('ready\n');
      feederErr = (feederErr + d).slice(-4000);
      if (!before && feederErr.includes('ready\n')) onReady();
    });
    const feederDone = new Promise<number | null>((r) => feeder.once('close', r));
    child.on('error', (e) => resolve(failed(e.message)));
    child.on('close', async (code) => {
      if (code !== 0) feeder.kill();
      const feederCode = await feederDone;
      const line = out.trim().split('\n').pop();
      try {
        if (code !== 0 || !line) throw new Error(`exited with code ${code}: ${childErr.trim().split('\n').slice(-3).join(' | ')}`);
        if (feederCode !== 0) throw new Error(`the feeder exited with code ${feederCode}: ${feederErr.trim().split('\n').slice(-3).join(' | ')}`);
        const result = JSON.parse(line) as StageResult;
        // A command-line row's input went straight from the feeder to the program: the feeder counted it.
        const sent = Number(/sent (\d+)/.exec(feederErr)?.[1]);
        const bytesIn = result.bytesIn > 0 ? result.bytesIn : sent;
        resolve({ ...result, bytesIn, mbPerSecond: round(bytesIn / 1e6 / result.seconds, 1) });
      } catch (e) {
        resolve(failed((e as Error).message));
      }
    });
  });
}

// ------------------------------------------------------------------------------------------------ child: measured side

const nullSink = (): SinkStage => ({ name: 'null', create: () => new Writable({ highWaterMark: MiB, write(_c, _e, cb) { cb(); }, writev(_c, cb) { cb(); } }) });

/**
 * Wraps a stage so that the time its stream spends in synchronous _transform/_flush calls is added up, exclusive of
 * the stages downstream (a push can run the next stages' transforms synchronously, inside this one's call).
 */
const frames: { t0: number; nested: number }[] = [];
function timed(stage: TransformStage, totals: Record<string, number>): TransformStage {
  const around = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A): void => {
    frames.push({ t0: performance.now(), nested: 0 });
    try {
      fn(...args);
    } finally {
      const frame = frames.pop()!;
      const elapsed = performance.now() - frame.t0;
      totals[stage.name] = (totals[stage.name] ?? 0) + elapsed - frame.nested;
      if (frames.length) frames[frames.length - 1]!.nested += elapsed;
    }
  };
  return {
    ...stage,
    async create(ctx) {
      const stream = (await stage.create(ctx)) as Transform;
      totals[stage.name] = 0;
      stream._transform = around(stream._transform.bind(stream));
      if (stream._flush) stream._flush = around(stream._flush.bind(stream));
      return stream;
    },
  };
}

function benchKey(): Buffer {
  return Buffer.from(process.env.COPYCAT_BENCH_KEY ?? '11'.repeat(32), 'hex');
}

/** Waits for the parent's "go" on fd 3. */
function waitForGo(): Promise<void> {
  return new Promise((resolve, reject) => {
    const control = new Socket({ fd: 3, readable: true, writable: false });
    control.once('data', () => {
      control.destroy();
      resolve();
    });
    control.once('error', reject);
  });
}

async function childMain(name: string): Promise<void> {
  const row = STAGE_ROWS.find((r) => r.name === name);
  if (!row) throw new Error(`no row named ${name}`);
  let bytesIn = 0;
  let bytesOut = 0;
  let stageSeconds: Record<string, number> | undefined;
  let cpuSeconds: number;
  let maxRssMiB: number;
  let t0: number;
  if (row.stages) {
    const totals: Record<string, number> = {};
    const stages = row.stages(benchKey()).map((s) => timed(s, totals));
    process.stderr.write('ready\n');
    await waitForGo();
    const cpu0 = process.cpuUsage();
    t0 = performance.now();
    const stats = await pipeline({ name: 'feed', create: () => process.stdin })
      .through(...stages)
      .to(nullSink())
      .run();
    bytesIn = stats.bytesRead;
    bytesOut = stats.bytesWritten;
    const cpu = process.cpuUsage(cpu0);
    cpuSeconds = (cpu.user + cpu.system) / 1e6;
    maxRssMiB = process.resourceUsage().maxRSS / 1024;
    stageSeconds = Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, round(v / 1000, 3)]));
  } else {
    // The program reads the feeder's socket itself, as `pg_dump | zstd` would; the feeder counts the bytes.
    const identity = row.impl === 'cli' && row.group === 'encrypt' ? ageIdentity() : undefined;
    try {
      const [command, args] = row.command!(identity ?? { ageRecipient: '', ageIdentityFile: '' });
      process.stderr.write('ready\n');
      await waitForGo();
      t0 = performance.now();
      const timing = await timedCommand(command, args, (n) => (bytesOut += n));
      cpuSeconds = timing.cpuSeconds;
      maxRssMiB = timing.maxRssMiB;
    } finally {
      identity?.cleanup();
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const result: StageResult = {
    name: row.name,
    group: row.group,
    impl: row.impl,
    ...(row.level !== undefined ? { level: row.level } : {}),
    ...(row.workers !== undefined ? { workers: row.workers } : {}),
    bytesIn,
    bytesOut,
    seconds: round(seconds, 3),
    mbPerSecond: round(bytesIn / 1e6 / seconds, 1),
    cpuSeconds: round(cpuSeconds, 3),
    maxRssMiB: round(maxRssMiB, 1),
    ...(stageSeconds ? { stageSeconds } : {}),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

/** An age identity for the reference row, in tmpfs when there is one (age-keygen writes a 200-byte key file). */
function ageIdentity(): { ageRecipient: string; ageIdentityFile: string; cleanup(): void } {
  const file = `${existsSync('/dev/shm') ? '/dev/shm' : tmpdir()}/copycat-bench-age-${process.pid}.key`;
  const r = spawnSync('age-keygen', ['-o', file], { encoding: 'utf8' });
  const recipient = /age1[0-9a-z]+/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[0] ?? 'age1unavailable';
  return { ageRecipient: recipient, ageIdentityFile: file, cleanup: () => rmSync(file, { force: true }) };
}

/**
 * Runs a command on this process's stdin, its stdout counted and discarded; CPU time and peak RSS come from GNU time
 * when it is installed, else from sampling /proc (CPU to the last sample).
 */
async function timedCommand(command: string, args: string[], onOut: (n: number) => void): Promise<{ cpuSeconds: number; maxRssMiB: number }> {
  const gnuTime = existsSync('/usr/bin/time');
  const timeFile = `${existsSync('/dev/shm') ? '/dev/shm' : tmpdir()}/copycat-bench-time-${process.pid}-${Date.now()}`;
  const argv = gnuTime ? ['/usr/bin/time', ['-f', '%U %S %M', '-o', timeFile, command, ...args]] as const : [command, args] as const;
  const child = spawn(argv[0], [...argv[1]], { stdio: [0, 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2000)));
  child.stdout!.on('data', (d: Buffer) => onOut(d.length));
  let sampled = { cpu: 0, rss: 0 };
  const sampler = gnuTime ? undefined : setInterval(() => { sampled = sampleProc(child.pid!, sampled); }, 50);
  const code = await new Promise<number | null>((resolve, reject) => { child.once('error', reject); child.once('close', resolve); });
  if (sampler) clearInterval(sampler);
  if (code !== 0) throw new Error(`${command} exited with code ${code}: ${err.trim()}`);
  if (!gnuTime) return { cpuSeconds: sampled.cpu, maxRssMiB: sampled.rss / 1024 };
  const timeOut = readFileSync(timeFile, 'utf8');
  rmSync(timeFile, { force: true });
  const [user, system, rssKiB] = timeOut.trim().split('\n').pop()!.split(' ').map(Number);
  return { cpuSeconds: user! + system!, maxRssMiB: rssKiB! / 1024 };
}

const CLOCK_TICKS = 100;

function sampleProc(pid: number, last: { cpu: number; rss: number }): { cpu: number; rss: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpu: Math.max(last.cpu, cpu), rss: Math.max(last.rss, Number(hwm?.[1] ?? 0)) };
  } catch {
    return last;
  }
}

// ------------------------------------------------------------------------------------------------ feeder

async function feedMain(kind: FeedKind, size: number, chunk: number): Promise<void> {
  const pool = dumpLikePool(poolBytes(size));
  const key = benchKey();
  // The source of every row is `size` bytes of plaintext; compressed feeds send the zstd frame of the pool once per
  // pool's worth, so the measured side decompresses exactly `size` bytes (in whole pools).
  let unit = pool;
  if (kind === 'zstd' || kind === 'zstd-encrypted') unit = await compressOnce(pool);
  const repeats = Math.max(1, Math.round(size / pool.length));
  const plainBytes = kind === 'zstd' || kind === 'zstd-encrypted' ? repeats * unit.length : size;
  const source = () => {
    let sent = 0;
    return new Readable({
      highWaterMark: chunk,
      read() {
        if (sent >= plainBytes) return void this.push(null);
        const offset = sent % unit.length;
        const n = Math.min(chunk, plainBytes - sent, unit.length - offset);
        sent += n;
        this.push(unit.subarray(offset, offset + n));
      },
    });
  };
  const out = new Writable({
    highWaterMark: MiB,
    write(c: Buffer, _e, cb) { writeOrDrain(process.stdout, c, cb); },
    final(cb) { process.stdout.end(() => cb()); },
  });
  // The encrypted feeds encrypt as they go (AES-GCM runs at GB/s, and the measured side is on the other core).
  const transforms = kind === 'encrypted' || kind === 'zstd-encrypted' ? [encrypt({ key })] : [];
  process.stdin.resume();
  process.stderr.write('ready\n');
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  const stats = await pipeline({ name: 'pool', create: source }).through(...transforms).to({ name: 'stdout', create: () => out }).run();
  process.stderr.write(`sent ${stats.bytesWritten}\n`);
}

function compressOnce(data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const z = new CompressStream({ compressionLevel: 3, checksumFlag: true });
    z.on('data', (d: Buffer) => parts.push(d)).on('end', () => resolve(Buffer.concat(parts))).on('error', reject);
    z.end(data);
  });
}

// ------------------------------------------------------------------------------------------------ report

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** One Markdown table; reference rows are paired with the row of ours they compare to. */
export function stageMarkdown(rows: readonly StageResult[]): string {
  const head = '| stage | impl | MB/s (min–max) | CPU s | MB per CPU s | peak RSS MiB | out/in | vs CLI (MB/s; per CPU s) | time inside our stages (exclusive) |\n|---|---|--:|--:|--:|--:|--:|--:|---|\n';
  const body = rows.map((r) => {
    if (r.error) return `| ${r.name} | ${r.impl} | failed: ${r.error.replace(/\|/g, '/')} | | | | | | |`;
    const ref = referenceFor(r, rows);
    const perCpuOf = (x: StageResult) => x.bytesIn / 1e6 / x.cpuSeconds;
    const vs = ref && !ref.error ? `${(r.mbPerSecond / ref.mbPerSecond).toFixed(2)}×; ${(perCpuOf(r) / perCpuOf(ref)).toFixed(2)}×` : '';
    const perCpu = r.cpuSeconds > 0 ? perCpuOf(r).toFixed(0) : '';
    const spread = r.runs && r.runs > 1 ? ` (${r.mbPerSecondMin!.toFixed(0)}–${r.mbPerSecondMax!.toFixed(0)})` : '';
    const inside = r.stageSeconds ? Object.entries(r.stageSeconds).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ') : '';
    return `| ${r.name} | ${r.impl} | ${r.mbPerSecond.toFixed(0)}${spread} | ${r.cpuSeconds.toFixed(2)} | ${perCpu} | ${r.maxRssMiB.toFixed(0)} | ${(r.bytesOut / Math.max(1, r.bytesIn)).toFixed(3)} | ${vs} | ${inside} |`;
  });
  return head + body.join('\n') + '\n';
}

function referenceFor(r: StageResult, rows: readonly StageResult[]): StageResult | undefined {
  if (r.impl === 'cli') return undefined;
  if (r.group === 'compress') return rows.find((x) => x.impl === 'cli' && x.group === 'compress' && x.level === r.level && x.workers === r.workers);
  if (r.group === 'decompress' || r.group === 'encrypt') return rows.find((x) => x.impl === 'cli' && x.group === r.group);
  return undefined;
}

/** Facts printed with every result, because timings on a shared 2-core machine mean little without them. */
export function machineFacts(): Record<string, unknown> {
  return {
    cpus: availableParallelism(),
    loadAverage: loadavg().map((l) => round(l, 2)),
    node: process.version,
    date: new Date().toISOString(),
  };
}

// ------------------------------------------------------------------------------------------------ entry points

if (process.argv[1] === THIS_FILE) {
  const [mode, name, size, chunk] = process.argv.slice(2);
  const run = mode === 'child' ? childMain(name!) : mode === 'feed' ? feedMain(name as FeedKind, Number(size), Number(chunk)) : Promise.reject(new Error(`unknown mode ${mode}`));
  run.catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
