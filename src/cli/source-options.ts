import { databaseTarget, isConnectionString } from '../pg/conninfo.js';
import { CopycatError } from '../errors.js';
import type { SourceFlags } from '../settings/flags.js';
import { pgDump } from '../sources/pg-dump.js';
import { pgGlobals, type PgGlobalsStage } from '../sources/pg-globals.js';
import { pgParallel } from '../sources/pg-parallel/index.js';
import { defaultMode, type BackupMode } from '../sources/scaleway/modes.js';
import type { SourceStage } from '../stage.js';

export interface ChosenSource {
  readonly source: SourceStage;
  /** What the manifest says the source was. */
  readonly kind: string;
  /** The database name alone (never a connection string, which may hold a password): what logs may show. */
  readonly database?: string;
}

/**
 * The dump a backup streams of `database` (a name or a connection string; unset: libpq's default). Into S3, a pg_dump
 * also counts every table's rows in the dump's own snapshot, so verify can check them; the parallel container counts
 * rows and bytes from its COPY streams.
 */
export async function backupSource(flags: SourceFlags, database: string | undefined, toRepository: boolean): Promise<ChosenSource> {
  const mode: BackupMode = flags.mode ?? defaultMode(flags.scwInstance);
  const programs = { binDir: flags.pgBinDir };
  if (flags.jobs !== undefined && flags.format !== 'parallel') {
    throw new CopycatError('OPTION_INVALID', '--jobs applies to --format parallel only');
  }
  if (flags.format === 'parallel') {
    if (mode !== 'pgdump') throw new CopycatError('OPTION_INVALID', `--format parallel reads the database itself: it cannot be used with --mode ${mode}`);
    // A connection string's parts (password included) reach pgParallel's connections and pg_dump as PG* variables.
    const target = databaseTarget(database);
    return { source: pgParallel({ database: target.database, env: target.env, jobs: flags.jobs, programs }), kind: 'pg_parallel', database: target.database };
  }
  if (mode === 'pgdump') {
    // pgDump resolves a connection string itself; resolving it here too checks it before anything starts.
    const { database: name } = databaseTarget(database);
    return { source: pgDump({ database, format: flags.format, countTables: toRepository, programs }), kind: 'pg_dump', database: name };
  }
  // The start-up check (src/settings, modeNeeds) has already refused a missing instance or database.
  const databaseName = scalewayDatabaseName(mode, database!);
  const { scalewayRdb } = await import('../sources/scaleway/source.js');
  const pgEnv = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('PG') && e[1] !== undefined));
  return {
    source: scalewayRdb({
      mode,
      instanceId: flags.scwInstance!,
      databaseName,
      privateNetworkId: flags.scwPrivateNetwork,
      pgEnv,
      pgDumpFormat: flags.format,
      pgDumpPrograms: programs,
      waitTimeoutMs: flags.scwWaitHours * 3600_000,
    }),
    kind: `scaleway-${mode}`,
    database: databaseName,
  };
}

/** A Scaleway mode's --database: the RDB database's name, never a connection string (the instance comes from Scaleway). */
export function scalewayDatabaseName(mode: BackupMode, database: string): string {
  if (isConnectionString(database)) {
    throw new CopycatError('OPTION_INVALID', `--mode ${mode} takes the RDB database's name in --database (PGDATABASE), not a connection string: the instance comes from Scaleway`);
  }
  return database;
}

/**
 * The server's globals for `backup --globals`: refused, before anything runs, where a backup has no place for them
 * (a plain stream) or no server to read them from (a Scaleway mode takes its dump from the API).
 */
export function globalsSource(flags: SourceFlags, database: string | undefined, toRepository: boolean): PgGlobalsStage {
  const mode: BackupMode = flags.mode ?? defaultMode(flags.scwInstance);
  if (!toRepository) {
    throw new CopycatError('OPTION_INVALID', '--globals needs a repository (s3://BUCKET/PREFIX or file:DIR): a plain stream holds one dump, without room for the globals');
  }
  if (mode !== 'pgdump') {
    throw new CopycatError('OPTION_INVALID', `--globals reads the server with pg_dumpall: it cannot be used with --mode ${mode}, whose dump comes from Scaleway's API`);
  }
  return pgGlobals({ database });
}
