/**
 * Backup + restore wall time of the parallel container against pg_dump's own formats, for bench/ (which can take
 * `dumpMethods()` into its own harness) or for a quick comparison with `compareDumpMethods()`. Every method writes to
 * and reads from local disk, so the comparison is of formats and parallelism, not of compression or storage.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { queryOnce } from '../../pg-env.js';
import { pipeline } from '../../pipeline.js';
import { pgParallelRestore } from '../../sinks/pg-parallel-restore/index.js';
import { fileSink } from '../../sinks/file.js';
import { fileSource } from '../../sources/file.js';
import { pgParallel } from './index.js';

export const CLI = fileURLToPath(new URL('../../../../bin/copycat-db.js', import.meta.url));
/** This file run as a program: `node benchmark.js backup DB FILE JOBS` or `restore FILE DB JOBS`, the library without the CLI. */
export const RUNNER = fileURLToPath(import.meta.url);

export interface DumpMethod {
  /** `parallel-2`, `custom-1`, `directory-2`, … */
  readonly id: string;
  readonly label: string;
  readonly jobs: number;
  /** argv of the backup and the restore; the restore target database exists and is empty. */
  readonly backup: (database: string, workDir: string) => string[];
  readonly restore: (target: string, workDir: string) => string[];
}

const RESTORE_FLAGS = ['--no-owner', '--no-privileges', '--exit-on-error'];

/**
 * The three ways of a backup that restores in parallel, at each `jobs`: copycat-db's container, pg_dump -Fc, pg_dump -Fd.
 * `via: 'cli'` runs the container through `copycat-db backup/restore` (which adds the CLI's start-up time, seconds on a
 * loaded machine); the default runs the same stages from this file, so only the formats are compared.
 */
export function dumpMethods(jobs: readonly number[], opts: { via?: 'cli' | 'library'; cli?: string } = {}): DumpMethod[] {
  const cli = opts.cli ?? CLI;
  const viaCli = opts.via === 'cli';
  return jobs.flatMap((n): DumpMethod[] => [
    {
      id: `parallel-${n}`, jobs: n,
      label: `copycat-db parallel container, --jobs ${n} (no compression or encryption) → file, restore --jobs ${n}${viaCli ? '' : ' (library, no CLI start-up)'}`,
      backup: (db, dir) => viaCli
        ? [process.execPath, cli, 'backup', '-d', db, '--format', 'parallel', '--jobs', String(n), '--to', `file:${join(dir, 'parallel.ccdb')}`,
          '--no-encrypt', '--compression', 'none']
        : [process.execPath, RUNNER, 'backup', db, join(dir, 'parallel.ccdb'), String(n)],
      restore: (target, dir) => viaCli
        ? [process.execPath, cli, 'restore', '--from', `file:${join(dir, 'parallel.ccdb')}`, '--to-database', target,
          '--jobs', String(n), '--no-encrypt', '--compression', 'none']
        : [process.execPath, RUNNER, 'restore', join(dir, 'parallel.ccdb'), target, String(n)],
    },
    {
      id: `custom-${n}`, jobs: n,
      label: `pg_dump -Fc -Z0 → file, pg_restore ${n > 1 ? `-j ${n}` : '--single-transaction'}`,
      backup: (db, dir) => ['pg_dump', '-Fc', '-Z0', `--dbname=${db}`, '-f', join(dir, 'custom.dump')],
      restore: (target, dir) => ['pg_restore', ...RESTORE_FLAGS, ...(n > 1 ? [`--jobs=${n}`] : ['--single-transaction']), `--dbname=${target}`, join(dir, 'custom.dump')],
    },
    {
      id: `directory-${n}`, jobs: n,
      label: `pg_dump -Fd -Z0 -j ${n} → directory, pg_restore -j ${n}`,
      backup: (db, dir) => ['pg_dump', '-Fd', '-Z0', `--jobs=${n}`, `--dbname=${db}`, '-f', join(dir, 'directory.dump')],
      restore: (target, dir) => ['pg_restore', ...RESTORE_FLAGS, `--jobs=${n}`, `--dbname=${target}`, join(dir, 'directory.dump')],
    },
  ]);
}

export interface DumpMethodFigure {
  readonly id: string;
  readonly label: string;
  readonly jobs: number;
  readonly backupSeconds: number;
  readonly restoreSeconds: number;
  readonly totalSeconds: number;
}

export interface CompareOptions {
  /** libpq variables of the server holding `database`; restores go to scratch databases on the same server. */
  readonly env: Record<string, string>;
  readonly database: string;
  readonly jobs: readonly number[];
  readonly workDir: string;
  /** Each method runs this many times; the fastest backup and restore count (default 1). */
  readonly rounds?: number;
  readonly via?: 'cli' | 'library';
  readonly log?: (line: string) => void;
}

/** Runs every method (rounds interleaved), checks each restore holds as many rows as the source, and reports wall times. */
export async function compareDumpMethods(opts: CompareOptions): Promise<DumpMethodFigure[]> {
  const methods = dumpMethods(opts.jobs, { via: opts.via });
  const best = new Map<string, { backup: number; restore: number }>();
  const expected = await rowCount(opts.env, opts.database);
  for (let round = 0; round < (opts.rounds ?? 1); round++) {
    for (const m of methods) {
      clean(opts.workDir);
      const backup = await timed(m.backup(opts.database, opts.workDir), opts.env);
      const target = `bench_restore_${m.id.replace(/-/g, '_')}`;
      await queryOnce(opts.env, `DROP DATABASE IF EXISTS ${target}`, 'postgres');
      await queryOnce(opts.env, `CREATE DATABASE ${target}`, 'postgres');
      const restore = await timed(m.restore(target, opts.workDir), opts.env);
      const rows = await rowCount(opts.env, target);
      if (rows !== expected) throw new Error(`${m.id}: restored ${rows} rows, the source has ${expected}`);
      await queryOnce(opts.env, `DROP DATABASE ${target}`, 'postgres');
      const prev = best.get(m.id);
      best.set(m.id, { backup: Math.min(prev?.backup ?? Infinity, backup), restore: Math.min(prev?.restore ?? Infinity, restore) });
      opts.log?.(`round ${round + 1} ${m.id}: backup ${backup.toFixed(2)} s, restore ${restore.toFixed(2)} s`);
    }
  }
  clean(opts.workDir);
  return methods.map((m) => {
    const b = best.get(m.id)!;
    return { id: m.id, label: m.label, jobs: m.jobs, backupSeconds: b.backup, restoreSeconds: b.restore, totalSeconds: b.backup + b.restore };
  });
}

function clean(dir: string): void {
  for (const name of ['parallel.ccdb', 'custom.dump', 'directory.dump']) rmSync(join(dir, name), { recursive: true, force: true });
}

/** Exact rows over every user table (ONLY: partitions and inheritance children count once). */
async function rowCount(env: Record<string, string>, database: string): Promise<number> {
  const full = { ...process.env, ...env };
  const tables = await queryOnce<{ name: string }>(full, `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'`, database);
  if (!tables.length) return 0;
  const [row] = await queryOnce<{ n: string }>(full, `SELECT (${tables.map((t) => `(SELECT count(*) FROM ONLY ${t.name})`).join(' + ')})::text AS n`, database);
  return Number(row!.n);
}

function timed(argv: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve((performance.now() - started) / 1000)
      : reject(new Error(`${argv.slice(0, 4).join(' ')} … exited with ${code}: ${stderr}`))));
  });
}

async function runner(args: string[]): Promise<void> {
  const [command, a, b, jobs] = args;
  if (command === 'backup' && a && b) await pipeline(pgParallel({ database: a, jobs: Number(jobs ?? 2) })).to(fileSink(b)).run();
  else if (command === 'restore' && a && b) await pipeline(fileSource(a)).to(pgParallelRestore({ database: b, jobs: Number(jobs ?? 2) })).run();
  else throw new Error('usage: benchmark.js backup DATABASE FILE JOBS | restore FILE DATABASE JOBS');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runner(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  });
}
