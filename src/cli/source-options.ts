import { InvalidArgumentError, Option, type Command } from 'commander';
import { databaseTarget, isConnectionString } from '../pg/conninfo.js';
import { CopycatError } from '../errors.js';
import { integer } from './shared.js';
import { pgDump } from '../sources/pg-dump.js';
import { pgParallel } from '../sources/pg-parallel/index.js';
import { BACKUP_MODES, defaultMode, type BackupMode } from '../sources/scaleway/modes.js';
import type { SourceStage } from '../stage.js';


/** Where a backup's dump comes from: pg_dump or the parallel container on the libpq settings, or a Scaleway RDB mode. */
export function addSourceOptions(command: Command): Command {
  return command
    .addOption(new Option('--mode <mode>', `${BACKUP_MODES.join(', ')} (default: scw-export when SCW_RDB_INSTANCE_ID is set, else pgdump)`)
      .argParser(backupMode).env('BACKUP_MODE'))
    .addOption(new Option('--scw-instance <id>', 'Scaleway RDB instance to back up').env('SCW_RDB_INSTANCE_ID'))
    .addOption(new Option('--scw-private-network <id>', 'snapshot-pgdump: private network for the temporary instance').env('SCW_PRIVATE_NETWORK_ID'))
    .option('--scw-wait-hours <hours>', 'Scaleway: give up waiting for a backup, export or instance after this long', hours, 18)
    .addOption(new Option('--format <format>', 'pg_dump archive format, or parallel: a snapshot-consistent dump read by --jobs connections, restored in parallel')
      .choices(['custom', 'plain', 'parallel']).default('custom'))
    .option('--jobs <n>', 'parallel format: connections reading tables at once (default 2)', integer('--jobs', 1, 64));
}

export interface SourceFlags {
  mode?: BackupMode;
  scwInstance?: string;
  scwPrivateNetwork?: string;
  scwWaitHours: number;
  database?: string;
  format: 'custom' | 'plain' | 'parallel';
  jobs?: number;
}

export interface ChosenSource {
  readonly source: SourceStage;
  /** What the manifest says the source was. */
  readonly kind: string;
  /** The database name alone (never a connection string, which may hold a password): what logs may show. */
  readonly database?: string;
}

/**
 * The dump a backup streams. Into S3, a pg_dump also counts every table's rows in the dump's own snapshot, so
 * verify can check them; the parallel container counts rows and bytes from its COPY streams.
 */
export async function backupSource(flags: SourceFlags, toRepository: boolean): Promise<ChosenSource> {
  const mode: BackupMode = flags.mode ?? defaultMode(flags.scwInstance);
  if (flags.jobs !== undefined && flags.format !== 'parallel') {
    throw new CopycatError('OPTION_INVALID', '--jobs applies to --format parallel only');
  }
  if (flags.format === 'parallel') {
    if (mode !== 'pgdump') throw new CopycatError('OPTION_INVALID', `--format parallel reads the database itself: it cannot be used with --mode ${mode}`);
    // A connection string's parts (password included) reach pgParallel's connections and pg_dump as PG* variables.
    const { database, env } = databaseTarget(flags.database);
    return { source: pgParallel({ database, env, jobs: flags.jobs }), kind: 'pg_parallel', database };
  }
  if (mode === 'pgdump') {
    // pgDump resolves a connection string itself; resolving it here too checks it before anything starts.
    const { database } = databaseTarget(flags.database);
    return { source: pgDump({ database: flags.database, format: flags.format, countTables: toRepository }), kind: 'pg_dump', database };
  }
  // The start-up check (src/config.ts, modeNeeds) has already refused a missing instance or database.
  if (isConnectionString(flags.database!)) {
    throw new CopycatError('OPTION_INVALID', `--mode ${mode} takes the RDB database's name in --database (PGDATABASE), not a connection string: the instance comes from Scaleway`);
  }
  const { scalewayRdb } = await import('../sources/scaleway/source.js');
  const pgEnv = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('PG') && e[1] !== undefined));
  return {
    source: scalewayRdb({
      mode,
      instanceId: flags.scwInstance!,
      databaseName: flags.database!,
      privateNetworkId: flags.scwPrivateNetwork,
      pgEnv,
      pgDumpFormat: flags.format,
      waitTimeoutMs: flags.scwWaitHours * 3600_000,
    }),
    kind: `scaleway-${mode}`,
    database: flags.database,
  };
}

/** An empty value (a `BACKUP_MODE=` line in an environment file) means unset, as for every other setting. */
function backupMode(value: string): BackupMode | undefined {
  if (value === '') return undefined;
  if (!(BACKUP_MODES as readonly string[]).includes(value)) throw new InvalidArgumentError(`use one of ${BACKUP_MODES.join(', ')}`);
  return value as BackupMode;
}

function hours(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('--scw-wait-hours takes a positive number of hours');
  return n;
}
