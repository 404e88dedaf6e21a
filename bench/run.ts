/**
 * `npm run bench [-- OPTIONS]`: the stage benchmark (stages.ts), then the end-to-end comparison; writes
 * bench-results/bench-DATE.json and .md (and prints the Markdown). `--no-e2e` runs the stage part alone.
 *
 *   --size 1GB            table data of the generated database (default 1GB)
 *   --memory-sizes 0.5GB  further databases on which only copycat-db's backups run (peak RSS against size); "" for none
 *   --rounds 3            backup rounds (interleaved); --restore-rounds 2 (restores and the parallel comparison)
 *   --parallel-jobs 1,2   job counts of the parallel comparison (issue #7); "" skips it
 *   --stage-size 256MiB   input per stage row; 0 skips the stage benchmark; --no-e2e skips the end-to-end part
 *   --stage-rounds 3      runs of every stage row (interleaved; the median is reported)
 *   --only REGEXP         only the end-to-end methods whose id matches (the limit always runs)
 *   --stage-only REGEXP   only the stage rows whose name matches
 *   --s3-store bluestore  radosgw's store (memstore keeps everything in RAM, twice)
 *   --out DIR             where the results go (default bench-results)
 *   --render FILE.json    (alone) prints an earlier run's Markdown again, as the report is written now
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { machineFacts, runStageBench } from './stages.js';
import { parseSize } from '../src/units.js';
import { runEndToEnd } from './e2e.js';
import { reportMarkdown, targets, type BenchReport } from './report.js';

export interface BenchArgs {
  readonly size: number;
  readonly memorySizes: number[];
  readonly rounds: number;
  readonly restoreRounds: number;
  readonly parallelJobs: number[];
  readonly stageSize: number;
  readonly stageRounds: number;
  readonly e2e: boolean;
  readonly only?: RegExp;
  readonly stageOnly?: RegExp;
  readonly s3Store: 'memstore' | 'bluestore';
  readonly out: string;
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: 'string', default: '1GB' },
      'memory-sizes': { type: 'string', default: '0.5GB' },
      rounds: { type: 'string', default: '3' },
      'restore-rounds': { type: 'string', default: '2' },
      'parallel-jobs': { type: 'string', default: '1,2' },
      'stage-size': { type: 'string', default: '256MiB' },
      'stage-rounds': { type: 'string', default: '3' },
      'no-e2e': { type: 'boolean', default: false },
      only: { type: 'string' },
      'stage-only': { type: 'string' },
      's3-store': { type: 'string', default: 'bluestore' },
      out: { type: 'string', default: 'bench-results' },
    },
    strict: true,
  });
  const size = (name: string, text: string, zeroOk = false) => {
    const n = text === '0' && zeroOk ? 0 : parseSize(text);
    if (n === undefined || (!zeroOk && n <= 0)) throw new Error(`${name} takes a size like 1GB or 256MiB, not "${text}"`);
    return n;
  };
  const count = (name: string, text: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} takes a whole number, not "${text}"`);
    return n;
  };
  const store = values['s3-store']!;
  if (store !== 'memstore' && store !== 'bluestore') throw new Error(`--s3-store is memstore or bluestore, not "${store}"`);
  return {
    size: size('--size', values.size!),
    memorySizes: values['memory-sizes']!.split(',').map((x) => x.trim()).filter(Boolean).map((x) => size('--memory-sizes', x)),
    rounds: Math.max(1, count('--rounds', values.rounds!)),
    restoreRounds: count('--restore-rounds', values['restore-rounds']!),
    parallelJobs: values['parallel-jobs']!.split(',').map((x) => x.trim()).filter(Boolean).map((x) => Math.max(1, count('--parallel-jobs', x))),
    stageSize: size('--stage-size', values['stage-size']!, true),
    stageRounds: Math.max(1, count('--stage-rounds', values['stage-rounds']!)),
    e2e: !values['no-e2e'],
    ...(values.only ? { only: new RegExp(values.only) } : {}),
    ...(values['stage-only'] ? { stageOnly: new RegExp(values['stage-only']) } : {}),
    s3Store: store,
    out: values.out!,
  };
}

/** Runs what the arguments ask for; returns the report and the paths written. */
export async function runBench(args: BenchArgs, log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<{ report: BenchReport; json: string; markdown: string }> {
  const report: { -readonly [K in keyof BenchReport]: BenchReport[K] } = {};
  if (args.stageSize > 0) {
    const machine = machineFacts();
    log(`stages: ${(args.stageSize / 2 ** 20).toFixed(0)} MiB each (load average ${(machine.loadAverage as number[]).join(' ')})`);
    const rows = await runStageBench({
      size: args.stageSize,
      rounds: args.stageRounds,
      ...(args.stageOnly ? { only: args.stageOnly } : {}),
      onRow: (r) => log(r.error ? `  ${r.name}: FAILED ${r.error}` : `  ${r.name}: ${r.mbPerSecond.toFixed(0)} MB/s, CPU ${r.cpuSeconds.toFixed(2)} s, ${r.maxRssMiB.toFixed(0)} MiB`),
    });
    report.stages = { size: args.stageSize, machine, rows };
  }
  if (args.e2e) {
    report.endToEnd = await runEndToEnd({
      size: args.size,
      memorySizes: args.memorySizes,
      rounds: args.rounds,
      restoreRounds: args.restoreRounds,
      parallelJobs: args.parallelJobs,
      ...(args.only ? { only: args.only } : {}),
      workDir: join(tmpdir(), `copycat-bench-${process.pid}`),
      s3Store: args.s3Store,
      log,
    });
  }
  const out = resolve(args.out);
  mkdirSync(out, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const json = join(out, `bench-${stamp}.json`);
  const markdown = join(out, `bench-${stamp}.md`);
  writeFileSync(json, JSON.stringify({ ...report, targets: targets(report) }, null, 2) + '\n');
  writeFileSync(markdown, reportMarkdown(report));
  return { report, json, markdown };
}

async function main(): Promise<void> {
  // `--render FILE.json`: the Markdown of an earlier run again, as this version of the report writes it.
  if (process.argv[2] === '--render' && process.argv[3]) {
    process.stdout.write(reportMarkdown(JSON.parse(readFileSync(process.argv[3], 'utf8')) as BenchReport));
    return;
  }
  const args = parseBenchArgs(process.argv.slice(2));
  const { markdown, json } = await runBench(args);
  process.stdout.write(readFileSync(markdown, 'utf8'));
  process.stderr.write(`wrote ${json} and ${markdown}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
