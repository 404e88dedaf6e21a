import type { DumpFormat } from '../formats/archive.js';
import { ChildOutput, PG_CLIENT_HINT } from '../pg/child.js';
import { databaseTarget } from '../pg/conninfo.js';
import { libpqEnv, queryOnce } from '../pg/client.js';
import type { SourceStage } from '../stage.js';

export interface PgDumpOptions {
  /**
   * Database to dump, or a libpq connection string (URI or key=value) whose password reaches pg_dump only as
   * PGPASSWORD; defaults to PGDATABASE, as libpq does. `info()` reports the database name alone.
   */
  readonly database?: string;
  /** `custom` (default) restores with pg_restore; `plain` is SQL for psql. */
  readonly format?: DumpFormat;
  /** libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE…) on top of the process environment. */
  readonly env?: Record<string, string>;
  /** Extra pg_dump arguments, e.g. ['--exclude-table=audit_log']. */
  readonly args?: readonly string[];
  /** The pg_dump binary; defaults to the one on PATH. */
  readonly command?: string;
}

/**
 * Spawns pg_dump and streams its stdout; a non-zero exit fails the run with pg_dump's own message.
 * `expectedSize()` (pg_database_size) also learns the server version, which `info()` then reports.
 */
export function pgDump(opts: PgDumpOptions = {}): SourceStage {
  const format = opts.format ?? 'custom';
  // The connection reaches pg_dump only as PG* variables: its argv is visible to every user (ps, /proc/*/cmdline).
  const target = databaseTarget(opts.database, opts.env);
  const env = libpqEnv(target.env);
  const database = target.database;
  let serverVersion: string | undefined;
  return {
    name: 'pg_dump',
    create() {
      // The archive's own zlib compression is slow and single-threaded; a later zstd stage does better.
      const args = [`--format=${format}`, ...(format === 'custom' ? ['--compress=0'] : []), ...(opts.args ?? [])];
      return new ChildOutput({
        name: 'pg_dump',
        command: opts.command ?? 'pg_dump',
        args,
        // The database travels as PGDATABASE, which libpq takes literally, never as --dbname, which it re-parses.
        env: target.env,
        installHint: PG_CLIENT_HINT,
      });
    },
    async expectedSize() {
      try {
        const [row] = await queryOnce<{ size: string; version: string }>(env,
          `SELECT pg_database_size(current_database())::text AS size, current_setting('server_version') AS version`, database);
        serverVersion = row?.version;
        return row ? Number(row.size) : undefined;
      } catch {
        // The dump itself will report an unreachable server with pg_dump's clearer message.
        return undefined;
      }
    },
    info: () => ({ database, format, ...(serverVersion ? { serverVersion } : {}) }),
  };
}
