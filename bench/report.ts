/** Turns results into the Markdown tables of the README's Performance section, and checks the targets. */
import { stageMarkdown, type StageResult } from './stages.js';
import { summarize, type EndToEndResult, type MethodResult, type RunResult } from './e2e.js';
import { median } from './measure.js';
import { parallelPairId } from './parallel.js';

export interface BenchReport {
  readonly stages?: { readonly size: number; readonly machine: Record<string, unknown>; readonly rows: StageResult[] };
  readonly endToEnd?: EndToEndResult;
}

export interface Target {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean | undefined;
}

/** A table cell: pipes inside code spans would still split the row. */
const cell = (text: string) => text.replace(/\|/g, '\\|');
const MB = (n: number) => (Number.isFinite(n) ? (n / 1e6).toFixed(0) : '–');
const s = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '–');

function find(e2e: EndToEndResult, id: string, database?: string): MethodResult | undefined {
  return e2e.methods.find((m) => m.id === id && (database ? m.database === database : m.group !== 'memory'));
}

/** Per round: max(limit wall, (limit CPU + backend CPU + zstd CLI CPU at the level) / cores), then the median. */
export function cpuFloor(e2e: EndToEndResult, level: 1 | 3): number {
  const limit = find(e2e, 'limit');
  const zstd = find(e2e, `floor-zstd${level}`);
  if (!limit || !zstd) return NaN;
  const cores = Number(e2e.machine.cpus) || 1;
  const floors = limit.runs.filter((r) => !r.error).map((l) => {
    const z = zstd.runs.find((r) => r.round === l.round && !r.error);
    return z ? Math.max(l.seconds, (l.cpuSeconds + l.backendCpuSeconds + z.cpuSeconds) / cores) : NaN;
  });
  return median(floors);
}

export function endToEndMarkdown(e2e: EndToEndResult): string {
  const main = e2e.databases[0]!;
  const limit = summarize(find(e2e, 'limit')!).seconds;
  const lines: string[] = [];
  const load = (e2e.machine.loadAverage as number[]).join(' ');
  const loadAfter = ((e2e.machine.loadAverageAfter as number[] | undefined) ?? []).join(' ');
  lines.push(`Database \`${main.name}\`: ${MB(main.tableBytes)} MB of table data, ${MB(main.databaseBytes)} MB with indexes; ` +
    `its \`pg_dump -Fc -Z0\` is ${MB(e2e.dumpBytes)} MB. ${e2e.options.rounds} rounds, interleaved (the order rotates every round); ` +
    `medians, with min–max. ${e2e.machine.cpus} CPUs (${e2e.machine.cpu}), load average ${load} before, ${loadAfter} after. ` +
    `S3: local radosgw (${e2e.options.s3Store}) on the same machine.`);
  lines.push('');
  lines.push('| method | wall s (min–max) | × limit | CPU s: tree + PostgreSQL + S3 server | peak RSS MiB (tree; biggest process) | temp disk MB | disk written MB | stored MB |');
  lines.push('|---|--:|--:|--:|--:|--:|--:|--:|');
  for (const m of e2e.methods.filter((x) => x.group === 'backup' || x.group === 'restore' || x.group === 'floor')) {
    lines.push(methodRow(m, m.group === 'backup' || m.group === 'floor' ? limit : NaN));
  }
  const floor3 = cpuFloor(e2e, 3);
  const floor1 = cpuFloor(e2e, 1);
  lines.push('');
  lines.push(`CPU floor (limit's CPU + PostgreSQL's + \`zstd --single-thread\` on the dump, over ${e2e.machine.cpus} cores, at least the limit): ` +
    `zstd -3 ${s(floor3)} s (${s(floor3 / limit, 2)}× limit), zstd -1 ${s(floor1)} s (${s(floor1 / limit, 2)}× limit).`);
  const memory = e2e.methods.filter((x) => x.group === 'memory' || (x.group === 'backup' && x.id.startsWith('copycat-') && !x.id.includes('w0') && !x.id.includes('z1')));
  if (e2e.databases.length > 1) {
    lines.push('');
    lines.push('Peak RSS against database size (copycat-db backup, zstd -3, encrypted):');
    lines.push('');
    lines.push('| database | table data MB | method | wall s | peak RSS MiB (tree) | copycat-db (node) MiB | pg_dump MiB |');
    lines.push('|---|--:|---|--:|--:|--:|--:|');
    for (const m of [...memory].sort((a, b) => a.tableBytes - b.tableBytes)) {
      const x = summarize(m);
      lines.push(`| ${m.database} | ${MB(m.tableBytes)} | ${m.id} | ${s(x.seconds)} | ${s(x.peakTreeRssMiB, 0)} | ${s(x.programsRssMiB.node ?? NaN, 0)} | ${s(x.programsRssMiB.pg_dump ?? NaN, 0)} |`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Issue #7: each format's backup and restore at each job count, against `pg_dump -Fc` + `pg_restore` at the same count. */
export function parallelMarkdown(e2e: EndToEndResult): string {
  const pairs = new Map<string, { label: string; backup?: MethodResult; restore?: MethodResult }>();
  for (const m of e2e.methods.filter((x) => x.group === 'parallel')) {
    const id = parallelPairId(m.id);
    if (!id) continue;
    const entry = pairs.get(id.pair) ?? { label: m.label };
    entry[id.phase] = m;
    pairs.set(id.pair, entry);
  }
  if (!pairs.size) return '';
  const seconds = (m?: MethodResult) => (m && !m.skipped ? summarize(m).seconds : NaN);
  const total = (pair: string) => seconds(pairs.get(pair)?.backup) + seconds(pairs.get(pair)?.restore);
  const lines = [
    `Medians of ${e2e.options.restoreRounds} rounds, interleaved; each restore into an empty database, its rows checked against the source.`,
    '',
    '| format and jobs | backup s | restore s | backup + restore s | × `pg_dump -Fc` + `pg_restore`, same jobs | CPU s of the tools (backup; restore) | PostgreSQL CPU s (backup; restore) | peak RSS MiB (backup; restore) | backup MB |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const [pair, p] of pairs) {
    const [b, r] = [p.backup, p.restore].map((m) => (m && !m.skipped && m.runs.some((x) => !x.error) ? summarize(m) : undefined));
    const failed = [p.backup, p.restore].flatMap((m) => m?.runs.filter((x) => x.error) ?? []);
    const note = failed.length ? ` (${failed.length} failed: ${failed[0]!.error!.replace(/\|/g, '/').slice(0, 200)})` : '';
    const base = total(pair.replace(/^\w+-/, 'custom-'));
    lines.push(`| ${cell(p.label)}${note} | ${s(b?.seconds ?? NaN, 2)} | ${s(r?.seconds ?? NaN, 2)} | ${s(total(pair), 2)} | ${s(total(pair) / base, 2)} | ` +
      `${s(b?.cpuSeconds ?? NaN)}; ${s(r?.cpuSeconds ?? NaN)} | ${s(b?.backendCpuSeconds ?? NaN)}; ${s(r?.backendCpuSeconds ?? NaN)} | ` +
      `${s(b?.peakTreeRssMiB ?? NaN, 0)}; ${s(r?.peakTreeRssMiB ?? NaN, 0)} | ${MB(b?.outputBytes ?? NaN)} |`);
  }
  return lines.join('\n') + '\n';
}

function methodRow(m: MethodResult, limit: number): string {
  if (m.skipped) return `| ${cell(m.label)} | skipped: ${m.skipped} | | | | | | |`;
  const x = summarize(m);
  const failures = m.runs.filter((r: RunResult) => r.error);
  const failed = failures.length ? ` (${failures.length} failed: ${failures[0]!.error!.replace(/\|/g, '/').slice(0, 200)})` : '';
  const biggest = Object.entries(x.programsRssMiB).sort((a, b) => b[1] - a[1])[0];
  const server = [x.backendCpuSeconds, x.s3ServerCpuSeconds].map((v) => s(v)).join(' + ');
  return `| ${cell(m.label)}${failed} | ${s(x.seconds, 2)} (${s(x.min, 1)}–${s(x.max, 1)}) | ${Number.isFinite(limit) ? s(x.seconds / limit, 2) : ''} | ` +
    `${s(x.cpuSeconds)} + ${server} | ${s(x.peakTreeRssMiB, 0)}${biggest ? `; ${biggest[0]} ${biggest[1].toFixed(0)}` : ''} | ` +
    `${MB(x.tempPeakBytes)} | ${MB(x.diskWrittenBytes)} | ${MB(x.outputBytes)} |`;
}

/** The issue's targets, each with what was measured and whether it was met (undefined: not measured in this run). */
export function targets(report: BenchReport): Target[] {
  const out: Target[] = [];
  const e2e = report.endToEnd;
  if (e2e) {
    const sec = (id: string) => { const m = find(e2e, id); return m && !m.skipped ? summarize(m).seconds : NaN; };
    const limit = sec('limit');
    const ratio = (a: number, b: number) => a / b;
    const add = (target: string, value: number, measured: string, ok: (v: number) => boolean) =>
      out.push({ target, measured: Number.isFinite(value) ? measured : 'not measured', met: Number.isFinite(value) ? ok(value) : undefined });
    const seedOverS3 = ratio(sec('seed'), sec('copycat-s3-z3'));
    const s3 = find(e2e, 'copycat-s3-z3');
    const s3Cpu = s3 && !s3.skipped ? summarize(s3) : undefined;
    // Where the S3 server runs on the same cores, its CPU bounds the backup as much as ours does.
    const s3Floor = s3Cpu ? (s3Cpu.cpuSeconds + s3Cpu.backendCpuSeconds + s3Cpu.s3ServerCpuSeconds) / (Number(e2e.machine.cpus) || 1) : NaN;
    add('backup to S3 ≥ 5× faster than the seed\'s way', seedOverS3, `${s(seedOverS3, 2)}× (${s(sec('copycat-s3-z3'))} s vs ${s(sec('seed'))} s); ` +
      `its CPU floor here, with the S3 server's ${s(s3Cpu?.s3ServerCpuSeconds ?? NaN)} CPU s on the same cores, is ${s(s3Floor)} s`, (v) => v >= 5);
    const fileOverShell = ratio(sec('copycat-file-z3'), sec('shell-file'));
    add('backup to a file ≤ 1.0× the shell pipeline (zstd -3 -T2 | age)', fileOverShell, `${s(fileOverShell, 2)}× (${s(sec('copycat-file-z3'))} s vs ${s(sec('shell-file'))} s)`, (v) => v <= 1.0);
    const floor3 = cpuFloor(e2e, 3);
    const best3 = sec('copycat-file-z3');
    add('zstd -3 backup within 1.1× of the CPU floor', best3 / floor3, `${s(best3 / floor3, 2)}× (${s(best3)} s vs floor ${s(floor3)} s = ${s(floor3 / limit, 2)}× limit)`, (v) => v <= 1.1);
    const z1 = sec('copycat-file-z1') / limit;
    add('zstd -1 backup within 1.4× of the limit', z1, `${s(z1, 2)}× (${s(sec('copycat-file-z1'))} s vs ${s(limit)} s)`, (v) => v <= 1.4);
    const restore = ratio(sec('copycat-restore'), sec('pg_restore-file'));
    const cpuOf = (id: string) => { const m = find(e2e, id); return m && !m.skipped ? summarize(m) : undefined; };
    const [ccRestore, pgRestore] = [cpuOf('copycat-restore'), cpuOf('pg_restore-file')];
    // Both restores wait on the same single-threaded COPY and index builds: what ours adds is CPU on the same cores.
    add('restore from S3 ≤ 1.1× `pg_restore --single-transaction` of a local uncompressed dump', restore,
      `${s(restore, 2)}× (${s(sec('copycat-restore'))} s vs ${s(sec('pg_restore-file'))} s); CPU s tools + PostgreSQL + S3 server: ` +
      `${s(ccRestore?.cpuSeconds ?? NaN)} + ${s(ccRestore?.backendCpuSeconds ?? NaN)} + ${s(ccRestore?.s3ServerCpuSeconds ?? NaN)} vs ` +
      `${s(pgRestore?.cpuSeconds ?? NaN)} + ${s(pgRestore?.backendCpuSeconds ?? NaN)}`, (v) => v <= 1.1);
    const parallelJobs = e2e.methods.map((m) => Number(/^parallel-(\d+):backup$/.exec(m.id)?.[1])).filter((n) => n > 1);
    for (const jobs of parallelJobs) {
      const pairSeconds = (pair: string) => sec(`${pair}:backup`) + sec(`${pair}:restore`);
      const [container, directory] = [pairSeconds(`parallel-${jobs}`), pairSeconds(`directory-${jobs}`)];
      add(`parallel backup + restore, ${jobs} jobs, ≤ 1.0× \`pg_dump -Fd -j ${jobs}\` + \`pg_restore -j ${jobs}\` from disk`, container / directory,
        `${s(container / directory, 2)}× (${s(container)} s vs ${s(directory)} s: backup ${s(sec(`parallel-${jobs}:backup`))} vs ${s(sec(`directory-${jobs}:backup`))}, ` +
        `restore ${s(sec(`parallel-${jobs}:restore`))} vs ${s(sec(`directory-${jobs}:restore`))})`, (v) => v <= 1.0);
    }
    const ours = e2e.methods.filter((m) => m.id.startsWith('copycat-') && !m.skipped && m.runs.length);
    const rss = Math.max(...ours.map((m) => summarize(m).peakTreeRssMiB));
    add('peak RSS < 200 MiB at every size (copycat-db + pg_dump)', rss, `max ${s(rss, 0)} MiB over ${ours.length} methods × sizes`, (v) => v < 200);
    const temp = Math.max(...ours.map((m) => summarize(m).tempPeakBytes));
    const s3Runs = ours.filter((m) => m.id.includes('s3') || m.id.includes('restore'));
    const s3Written = s3Runs.length ? Math.max(...s3Runs.map((m) => summarize(m).diskWrittenBytes)) : NaN;
    // The only writes an S3 backup or restore makes are its run lock (src/cli/lock.ts: a few bytes, one page or two).
    add('zero bytes of temporary disk', temp, `temp folder peak ${temp} B` +
      (Number.isFinite(s3Written) ? `; all disk writes of S3 backups and restores ${s3Written} B (the run lock file)` : ''),
      (v) => v === 0 && !(s3Written > 64 * 1024));
  }
  const stages = report.stages?.rows;
  if (stages) {
    for (const level of [1, 3, 6]) {
      for (const workers of [0, 2]) {
        const ours = stages.find((r) => r.impl === 'copycat-db' && r.group === 'compress' && r.level === level && r.workers === workers);
        const cli = stages.find((r) => r.impl === 'cli' && r.group === 'compress' && r.level === level && r.workers === workers);
        if (!ours || !cli || ours.error || cli.error) continue;
        const v = ours.mbPerSecond / cli.mbPerSecond;
        out.push({ target: `zstd stage within 10 % of the CLI, level ${level}, ${workers} workers (MB/s)`, measured: `${s(v, 2)}× (${ours.mbPerSecond.toFixed(0)} vs ${cli.mbPerSecond.toFixed(0)} MB/s)`, met: v >= 0.9 });
      }
    }
  }
  return out;
}

export function reportMarkdown(report: BenchReport): string {
  const parts: string[] = [];
  if (report.stages) {
    const m = report.stages.machine;
    parts.push(`### Stages (${(report.stages.size / 2 ** 20).toFixed(0)} MiB each, dump-like data generated in memory, fed through a pipe; ` +
      `load average ${(m.loadAverage as number[]).join(' ')})\n`);
    parts.push(stageMarkdown(report.stages.rows));
  }
  if (report.endToEnd) {
    parts.push('### End to end\n');
    parts.push(endToEndMarkdown(report.endToEnd));
    const parallel = parallelMarkdown(report.endToEnd);
    if (parallel) parts.push('### Parallel dump and restore, against pg_dump\'s formats\n', parallel);
  }
  const t = targets(report);
  if (t.length) {
    parts.push('### Targets\n');
    parts.push('| target | measured | met |\n|---|---|---|\n' +
      t.map((x) => `| ${cell(x.target)} | ${cell(x.measured)} | ${x.met === undefined ? '–' : x.met ? 'yes' : '**no**'} |`).join('\n') + '\n');
  }
  return parts.join('\n');
}
