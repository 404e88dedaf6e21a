import { TOOL_VERSION } from '../../version.js';
import { CopycatError } from '../../errors.js';
import { libpqEnv } from '../../pg/client.js';
import { pgDumpCommand } from '../../pg/dump.js';
import type { PgProgram, PgProgramSearch } from '../../pg/programs.js';
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
  /** Where the pg_dump for the schema and large objects is looked for (see choosePgProgram). */
  readonly programs?: PgProgramSearch;
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
  // What pg_dump is run for the schema, and the server's version and size, asked the same way as for a plain dump.
  const schemaDump = pgDumpCommand({ database, env: opts.env, programs: opts.programs });
  let report: DumpReport | undefined;
  let completed = false;
  let pgDump: PgProgram | undefined;
  return {
    name: 'pg_parallel',
    async create(ctx: StageContext) {
      report = { database: database ?? '', serverVersion: '', snapshot: '', jobs, tables: [], sequences: 0, largeObjects: 0 };
      completed = false;
      // Chosen before the snapshot is taken: a pg_dump older than the server is refused before anything starts.
      pgDump = await schemaDump.choose(ctx.log);
      const stream = new ParallelDumpStream({
        env,
        childEnv: opts.env,
        database,
        jobs,
        command: pgDump.command,
        lockWaitTimeoutMs: opts.lockWaitTimeoutMs ?? 60_000,
        tool: TOOL,
        onSnapshot: opts.onSnapshot,
        log: ctx.log,
      }, report);
      stream.once('end', () => (completed = true));
      return stream;
    },
    expectedSize: () => schemaDump.databaseSize(),
    report: () => report,
    async facts() {
      const dumped = report?.database || database;
      return {
        kind: 'pg_parallel',
        ...(dumped ? { database: dumped } : {}),
        ...(report?.serverVersion ? { serverVersion: report.serverVersion } : {}),
        ...(pgDump ? { dumpVersion: pgDump.version.text } : {}),
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
        ...(pgDump ? { pgDump: pgDump.command, dumpVersion: pgDump.version.text } : {}),
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
