import { CopycatError } from '../../errors.js';
import { libpqEnv } from '../../pg/client.js';
import type { RestoreTarget } from '../../pg/restore-target.js';
import type { SinkStage, StageContext } from '../../stage.js';
import { ParallelRestoreWriter, type RestoreReport } from './restore-writer.js';

export type { RestoreReport } from './restore-writer.js';

export interface PgParallelRestoreOptions extends RestoreTarget {
  /** Create the dumped database first (connect to `database`, usually `postgres`), like pg_restore --create. */
  readonly create?: boolean;
  /**
   * `pg_restore -j` for the post-data entries built after the commit (foreign keys, materialized view refreshes; in
   * a version-1 container, all of them); default: the dump's jobs. Table data is always loaded over as many
   * connections as the dump interleaved tables.
   */
  readonly jobs?: number;
  /** Where the schema-only post-data archive is kept while pg_restore -j reads it; default os.tmpdir(). */
  readonly tempDir?: string;
}

/**
 * Restores a parallel container (from pgParallel) as it streams in: pre-data, then every table's COPY data over
 * parallel connections with its row count checked, followed on the same connection by the table's own indexes and
 * constraints (container version 2), then large objects, then the rest of the post-data section with pg_restore -j.
 * Unlike the single pg_restore of a custom archive this is not one transaction: the table data commits only after the
 * whole stream was read and checked, but a failure after that (or in the pre-data) leaves a partly restored database.
 */
export function pgParallelRestore(opts: PgParallelRestoreOptions): SinkStage & { report(): Readonly<RestoreReport> | undefined } {
  if (opts.jobs !== undefined && (!Number.isInteger(opts.jobs) || opts.jobs < 1 || opts.jobs > 64)) {
    throw new CopycatError('OPTION_INVALID', `jobs ${opts.jobs} is out of range: use 1 to 64`);
  }
  let report: RestoreReport | undefined;
  return {
    name: 'pg_parallel_restore',
    create(ctx: StageContext) {
      report = { copyConnections: 0, tables: 0, rows: 0, bytes: 0, sequences: 0, largeObjects: 0, builtWithData: 0, verified: false };
      return new ParallelRestoreWriter({
        env: libpqEnv(opts.env),
        childEnv: opts.env,
        database: opts.database,
        create: opts.create ?? false,
        jobs: opts.jobs,
        args: opts.args ?? [],
        programs: opts.programs,
        tempDir: opts.tempDir,
        log: ctx.log,
      }, report);
    },
    report: () => report,
    info: () => ({ program: 'pg_parallel_restore', database: report?.database ?? opts.database, ...report }),
  };
}
