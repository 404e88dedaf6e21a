import { InvalidArgumentError, Option, type Command } from 'commander';
import { CopycatError } from '../errors.js';
import { pgDump } from '../sources/pg-dump.js';
import { scalewayRdb, SCALEWAY_MODES, type ScalewayMode } from '../sources/scaleway/index.js';
import type { SourceStage } from '../stage.js';

export const BACKUP_MODES = ['pgdump', ...SCALEWAY_MODES] as const;
export type BackupMode = (typeof BACKUP_MODES)[number];

/** Where a backup's dump comes from: pg_dump on the libpq settings, or one of the Scaleway RDB modes. */
export function addSourceOptions(command: Command): Command {
  return command
    .addOption(new Option('--mode <mode>', 'pgdump, or a Scaleway Managed Database mode (default: scw-export when SCW_RDB_INSTANCE_ID is set, else pgdump)')
      .choices([...BACKUP_MODES]).env('BACKUP_MODE'))
    .addOption(new Option('--scw-instance <id>', 'Scaleway RDB instance to back up').env('SCW_RDB_INSTANCE_ID'))
    .addOption(new Option('--scw-private-network <id>', 'snapshot-pgdump: private network for the temporary instance').env('SCW_PRIVATE_NETWORK_ID'))
    .option('--scw-wait-hours <hours>', 'Scaleway: give up waiting for a backup, export or instance after this long', hours, 18);
}

export interface SourceFlags {
  mode?: BackupMode;
  scwInstance?: string;
  scwPrivateNetwork?: string;
  scwWaitHours: number;
  database?: string;
  format: 'custom' | 'plain';
}

export function backupSource(flags: SourceFlags): { source: SourceStage; kind: string } {
  const mode: BackupMode = flags.mode ?? (flags.scwInstance ? 'scw-export' : 'pgdump');
  if (mode === 'pgdump') return { source: pgDump({ database: flags.database, format: flags.format }), kind: 'pg_dump' };
  if (!flags.scwInstance) {
    throw new CopycatError('CONFIG_MISSING', `--mode ${mode} needs the Scaleway instance: set SCW_RDB_INSTANCE_ID (or --scw-instance) to the RDB instance id`);
  }
  if (!flags.database) {
    throw new CopycatError('CONFIG_MISSING', `--mode ${mode} needs the database name: set PGDATABASE (or --database)`);
  }
  const pgEnv = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('PG') && e[1] !== undefined));
  return {
    source: scalewayRdb({
      mode: mode as ScalewayMode,
      instanceId: flags.scwInstance,
      databaseName: flags.database,
      privateNetworkId: flags.scwPrivateNetwork,
      pgEnv,
      pgDumpFormat: flags.format,
      waitTimeoutMs: flags.scwWaitHours * 3600_000,
    }),
    kind: `scaleway-${mode}`,
  };
}

function hours(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('--scw-wait-hours takes a positive number of hours');
  return n;
}
