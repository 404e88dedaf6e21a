import { Option, type Command } from 'commander';
import { backupTransforms } from '../chain.js';
import { CopycatError } from '../errors.js';
import { parseLocation } from '../location.js';
import { pipeline } from '../pipeline.js';
import { fileSink } from '../sinks/file.js';
import { stdoutSink } from '../sinks/stdout.js';
import { pgDump } from '../sources/pg-dump.js';
import type { SinkStage } from '../stage.js';
import { action } from './run.js';
import { addChainOptions, chainOptions, integer, type ChainFlags } from './shared.js';
import { summarize } from './summary.js';

interface BackupFlags extends ChainFlags {
  to: string;
  database?: string;
  format: 'custom' | 'plain';
}

export function backupCommand(program: Command): void {
  const command = program
    .command('backup')
    .description('dump a database with pg_dump and stream it through compression and encryption to a destination')
    .requiredOption('--to <location>', 'file:PATH, or - for standard output')
    .addOption(new Option('-d, --database <name>', 'database to dump (libpq variables PGHOST, PGPORT, PGUSER, PGPASSWORD apply)').env('PGDATABASE'))
    .addOption(new Option('--format <format>', 'pg_dump archive format').choices(['custom', 'plain']).default('custom'))
    .option('--level <n>', 'zstd level (1-19)', integer('--level', 1, 19), 3)
    .option('--workers <n>', 'zstd worker threads (0 = compress on the main thread)', integer('--workers', 0, 64), 0);
  addChainOptions(command).action(action(async (ctx, flags: BackupFlags) => {
    const chain = await chainOptions(flags);
    const sink = backupSink(flags.to);
    const source = pgDump({ database: flags.database, format: flags.format });
    ctx.log.log('info', 'backup.start', { database: flags.database, to: flags.to, compression: flags.compression, encrypted: !!chain.key });
    const stats = await pipeline(source).through(...backupTransforms(chain)).to(sink).run(ctx);
    ctx.log.log('info', 'backup.done', summarize(stats, 'backup'));
  }));
}

function backupSink(to: string): SinkStage {
  const location = parseLocation(to);
  switch (location.kind) {
    case 'file':
      return fileSink(location.path);
    case 'stdio':
      return stdoutSink();
    case 's3':
      throw new CopycatError('LOCATION_UNSUPPORTED', 's3:// destinations are not available in this build: use file:PATH');
  }
}
