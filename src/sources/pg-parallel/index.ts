import { TOOL_VERSION } from '../../version.js';
import { CopycatError } from '../../errors.js';
import { libpqEnv, queryOnce } from '../../pg/client.js';
import type { SourceStage, StageContext } from '../../stage.js';
import { ParallelDumpStream, type DumpReport, type TableResult } from './dump-stream.js';

export {
  PARALLEL_MAGIC, PARALLEL_FORMAT_VERSION, FrameType, FrameReader, type ContainerHeader, type ContainerTable,
  type SequenceValue, type TableEnd, type Trailer,
} from '../../formats/parallel-container.js';
export type { TableResult } from './dump-stream.js';

export interface PgParallelOptions {
  /** Database to dump; defaults to PGDATABASE, as libpq does. */
  readonly database?: string;
  /** libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE…) on top of the process environment. */
  readonly env?: Record<string, string>;
  /** Worker connections reading tables at once (1–64; default 2). One more connection coordinates. */
  readonly jobs?: number;
  /** The pg_dump binary used for the schema and large objects; defaults to the one on PATH. */
  readonly command?: string;
  /**
   * How long to wait for the tables' share locks before failing (default 60 s), rather than waiting forever behind a
   * migration's exclusive lock.
   */
  readonly lockWaitTimeoutMs?: number;
  /**
   * Called once every worker has imported the snapshot and before any table is read; the dump waits for it.
   * Changes committed from here on are not in the dump (tests use it to write concurrently).
   */
  readonly onSnapshot?: (snapshot: string) => void | Promise<void>;
}

const TOOL = `copycat-db ${TOOL_VERSION}`;

/**
 * A snapshot-consistent dump read by `jobs` connections at once, as one stream: the parallel container
 * (docs/FORMAT.md). Schema and large objects come from pg_dump runs that import the same snapshot; table data from
 * `COPY … TO STDOUT` on each worker, largest tables first. `facts().tables` holds every table's exact row and byte counts.
 */
export function pgParallel(opts: PgParallelOptions = {}): SourceStage & { report(): Readonly<DumpReport> | undefined } {
  const jobs = opts.jobs ?? 2;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) {
    throw new CopycatError('OPTION_INVALID', `jobs ${jobs} is out of range: use 1 to 64`);
  }
  const env = libpqEnv(opts.env);
  const database = opts.database ?? env.PGDATABASE;
  let report: DumpReport | undefined;
  let completed = false;
  return {
    name: 'pg_parallel',
    create(ctx: StageContext) {
      report = { database: database ?? '', serverVersion: '', snapshot: '', jobs, tables: [], sequences: 0, largeObjects: 0 };
      completed = false;
      const stream = new ParallelDumpStream({
        env,
        childEnv: opts.env,
        database,
        jobs,
        command: opts.command ?? 'pg_dump',
        lockWaitTimeoutMs: opts.lockWaitTimeoutMs ?? 60_000,
        tool: TOOL,
        onSnapshot: opts.onSnapshot,
        log: ctx.log,
      }, report);
      stream.once('end', () => (completed = true));
      return stream;
    },
    async expectedSize() {
      try {
        const [row] = await queryOnce<{ size: string }>(env, `SELECT pg_database_size(current_database())::text AS size`, database);
        return row ? Number(row.size) : undefined;
      } catch {
        return undefined;
      }
    },
    report: () => report,
    async facts() {
      const dumped = report?.database || database;
      return {
        kind: 'pg_parallel',
        ...(dumped ? { database: dumped } : {}),
        ...(report?.serverVersion ? { serverVersion: report.serverVersion } : {}),
        format: 'parallel',
        ...(report ? { tables: tableFacts(report) } : {}),
      };
    },
    info() {
      if (!report) return { database, format: 'parallel', jobs };
      const tables = tableFacts(report);
      return {
        database: report.database || database,
        format: 'parallel',
        ...(report.serverVersion ? { serverVersion: report.serverVersion } : {}),
        snapshot: report.snapshot,
        jobs: report.jobs,
        complete: completed,
        tables,
        rows: tables.reduce((n, t) => n + t.rows, 0),
        tableBytes: tables.reduce((n, t) => n + t.bytes, 0),
        sequences: report.sequences,
        largeObjects: report.largeObjects,
      };
    },
  };
}

function tableFacts(report: DumpReport): { name: string; rows: number; bytes: number }[] {
  return report.tables.map((t: TableResult) => ({ name: t.ident, rows: t.rows, bytes: t.bytes }));
}
