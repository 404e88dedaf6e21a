/**
 * The parallel comparison (issue #7): a backup that can be restored in parallel, made three ways at each job count —
 * copycat-db's parallel container, `pg_dump -Fc -Z0` and `pg_dump -Fd -Z0 -j N` — each backed up to local disk and
 * restored into an empty database, timed apart. Nothing is compressed or encrypted, so what is compared is the format
 * and its parallelism, not compression or storage.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { PgCluster } from '../testkit/pg-cluster.js';
import { copycat, dropDatabase, pathBytes, type Method, type RunContext } from './method.js';

const RESTORE_FLAGS = ['--no-owner', '--no-privileges', '--exit-on-error'];

interface DumpFormat {
  readonly id: string;
  readonly label: (jobs: number) => string;
  readonly file: string;
  readonly backup: (database: string, path: string, jobs: number) => readonly string[];
  readonly restore: (target: string, path: string, jobs: number) => readonly string[];
}

const FORMATS: readonly DumpFormat[] = [
  {
    id: 'parallel', file: 'parallel.ccdb',
    label: (n) => `copycat-db \`--format parallel --jobs ${n}\` → file, \`restore --jobs ${n}\``,
    backup: (db, path, n) => copycat('backup', '-d', db, '--format', 'parallel', '--jobs', String(n), '--to', `file:${path}`, '--no-encrypt', '--compression', 'none'),
    restore: (target, path, n) => copycat('restore', '--from', `file:${path}`, '--to-database', target, '--jobs', String(n), '--no-encrypt', '--compression', 'none'),
  },
  {
    id: 'custom', file: 'custom.dump',
    label: (n) => `\`pg_dump -Fc -Z0\` → file, \`pg_restore ${n > 1 ? `-j ${n}` : '--single-transaction'}\``,
    backup: (db, path) => ['pg_dump', '-Fc', '-Z0', `--dbname=${db}`, '-f', path],
    restore: (target, path, n) => ['pg_restore', ...RESTORE_FLAGS, ...(n > 1 ? [`--jobs=${n}`] : ['--single-transaction']), `--dbname=${target}`, path],
  },
  {
    id: 'directory', file: 'directory.dump',
    label: (n) => `\`pg_dump -Fd -Z0 -j ${n}\` → directory, \`pg_restore -j ${n}\``,
    backup: (db, path, n) => ['pg_dump', '-Fd', '-Z0', `--jobs=${n}`, `--dbname=${db}`, '-f', path],
    restore: (target, path, n) => ['pg_restore', ...RESTORE_FLAGS, `--jobs=${n}`, `--dbname=${target}`, path],
  },
];

/** `parallel-2:backup`, `custom-1:restore`, …: the pair of one format at one job count. */
export const parallelPairId = (id: string): { pair: string; phase: 'backup' | 'restore' } | undefined => {
  const m = /^(.+):(backup|restore)$/.exec(id);
  return m ? { pair: m[1]!, phase: m[2] as 'backup' | 'restore' } : undefined;
};

/**
 * One pair per format and job count, run in this order within a round: the backup writes under `dumpDir`, the
 * restore reads it back into a new database, checks the rows, and removes the backup.
 */
export function parallelPairs(jobs: readonly number[], dumpDir: string): [Method, Method][] {
  return jobs.flatMap((n) => FORMATS.map((f): [Method, Method] => {
    const id = `${f.id}-${n}`;
    const path = join(dumpDir, `${id}-${f.file}`);
    return [
      { id: `${id}:backup`, label: f.label(n), group: 'parallel', needs: [],
        before: async () => {
          mkdirSync(dumpDir, { recursive: true });
          rmSync(path, { recursive: true, force: true });
        },
        command: (r) => f.backup(r.database, path, n),
        output: () => pathBytes(path) },
      { id: `${id}:restore`, label: f.label(n), group: 'parallel', needs: [],
        before: (r) => r.fx.cluster.createDatabase(r.restoreTarget),
        command: (r) => f.restore(r.restoreTarget, path, n),
        check: sameRows,
        after: async (r) => {
          rmSync(path, { recursive: true, force: true });
          await dropDatabase(r.fx.cluster, r.restoreTarget);
        } },
    ];
  }));
}

/** A restore's check: every user table holds as many rows as the source's (ONLY: partitions count once). */
export async function sameRows(run: RunContext): Promise<string | undefined> {
  const [source, restored] = await Promise.all([sourceRows(run.fx.cluster, run.database), rowCount(run.fx.cluster, run.restoreTarget)]);
  return source === restored ? undefined : `restored ${restored} rows, the source has ${source}`;
}

/** A run never changes its source databases, so each is counted once, not after every restore (a full scan of GBs). */
const sourceCounts = new WeakMap<PgCluster, Map<string, Promise<number>>>();

function sourceRows(cluster: PgCluster, database: string): Promise<number> {
  const counts = sourceCounts.get(cluster) ?? new Map<string, Promise<number>>();
  sourceCounts.set(cluster, counts);
  const count = counts.get(database) ?? rowCount(cluster, database);
  counts.set(database, count);
  return count;
}

async function rowCount(cluster: PgCluster, database: string): Promise<number> {
  const tables = await cluster.query<{ name: string }>(`SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'`, database);
  if (!tables.length) return 0;
  const [row] = await cluster.query<{ n: string }>(`SELECT (${tables.map((t) => `(SELECT count(*) FROM ONLY ${t.name})`).join(' + ')})::text AS n`, database);
  return Number(row!.n);
}
