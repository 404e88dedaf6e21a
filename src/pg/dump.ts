import type { DumpFormat } from '../formats/archive.js';
import type { Logger } from '../log.js';
import type { ChildSpec } from './child.js';
import { libpqEnv, queryOnce } from './client.js';
import { databaseTarget } from './conninfo.js';
import { choosePgProgram, pgDumpNeed, type PgProgram, type PgProgramSearch } from './programs.js';

/** How to run pg_dump: for a local database, or for a Scaleway snapshot's temporary instance. */
export interface PgDumpSettings {
  /**
   * Database to dump, or a libpq connection string (URI or key=value) whose password reaches pg_dump only as
   * PGPASSWORD; defaults to PGDATABASE, as libpq does. Only the database name is ever logged or recorded.
   */
  readonly database?: string;
  /** `custom` (default) restores with pg_restore; `plain` is SQL for psql. */
  readonly format?: DumpFormat;
  /** libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE…) on top of the process environment. */
  readonly env?: Record<string, string>;
  /** Extra pg_dump arguments, e.g. ['--exclude-table=audit_log']. */
  readonly args?: readonly string[];
  /** Where pg_dump is looked for (see choosePgProgram): it must be at least as new as the server. */
  readonly programs?: PgProgramSearch;
}

/** pg_dump's settings resolved once: the program to start, and this process's own way to the same database. */
export interface PgDumpCommand {
  /** The database name alone. */
  readonly database?: string;
  readonly format: DumpFormat;
  /** libpq settings for connections of our own (a census, the size query): pg_dump's server and credentials. */
  readonly env: Record<string, string | undefined>;
  /** The caller's extra pg_dump arguments. */
  readonly args: readonly string[];
  /**
   * Asks the server's version and picks the pg_dump for it; refuses one older than the server, before anything runs.
   * The server unreachable, the newest pg_dump found is taken, and reports why when it runs.
   */
  choose(log?: Logger): Promise<PgProgram>;
  /** The chosen pg_dump, with `extraArgs` (a census's `--snapshot`) after the caller's. */
  program(pgDump: PgProgram, extraArgs?: readonly string[]): ChildSpec;
  /** pg_database_size, learning the server's version on the way; undefined when the server cannot be asked. */
  databaseSize(): Promise<number | undefined>;
  /** The server's version: as already learned, else asked; undefined when the server cannot be asked. */
  serverVersion(): Promise<string | undefined>;
  /** The server's version if databaseSize() or serverVersion() learned it. */
  readonly knownServerVersion: string | undefined;
}

export function pgDumpCommand(settings: PgDumpSettings): PgDumpCommand {
  const format = settings.format ?? 'custom';
  const args = settings.args ?? [];
  // The connection reaches pg_dump only as PG* variables: its argv is visible to every user (ps, /proc/*/cmdline).
  const target = databaseTarget(settings.database, settings.env);
  const env = libpqEnv(target.env);
  let knownServerVersion: string | undefined;
  const ask = async <R extends { version: string }>(sql: string): Promise<R | undefined> => {
    try {
      const [row] = await queryOnce<R>(env, sql, target.database);
      knownServerVersion = row?.version ?? knownServerVersion;
      return row;
    } catch {
      // The dump itself will report an unreachable server with pg_dump's clearer message.
      return undefined;
    }
  };
  const serverVersion = async () => knownServerVersion ?? (await ask(`SELECT current_setting('server_version') AS version`))?.version;
  return {
    database: target.database,
    format,
    env,
    args,
    choose: async (log) => choosePgProgram('pg_dump', settings.programs, pgDumpNeed(await serverVersion()), log),
    program: (pgDump, extraArgs = []) => ({
      name: 'pg_dump',
      command: pgDump.command,
      // The archive's own zlib compression is slow and single-threaded; a later zstd stage does better.
      args: [`--format=${format}`, ...(format === 'custom' ? ['--compress=0'] : []), ...args, ...extraArgs],
      // The database travels as PGDATABASE, which libpq takes literally, never as --dbname, which it re-parses.
      env: target.env,
    }),
    async databaseSize() {
      const row = await ask<{ size: string; version: string }>(
        `SELECT pg_database_size(current_database())::text AS size, current_setting('server_version') AS version`);
      return row && Number(row.size);
    },
    serverVersion,
    get knownServerVersion() {
      return knownServerVersion;
    },
  };
}
