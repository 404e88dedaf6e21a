import type { Command } from 'commander';
import { restoreTransforms } from '../chain.js';
import { CopycatError } from '../errors.js';
import { parseLocation } from '../location.js';
import { pipeline } from '../pipeline.js';
import { restoreSink } from '../sinks/restore.js';
import { fileSource } from '../sources/file.js';
import { stdinSource } from '../sources/stdin.js';
import type { SourceStage } from '../stage.js';
import { action } from './run.js';
import { addChainOptions, chainOptions, type ChainFlags } from './shared.js';
import { summarize } from './summary.js';

interface RestoreFlags extends ChainFlags {
  from: string;
  toDatabase: string;
  create?: boolean;
}

export function restoreCommand(program: Command): void {
  const command = program
    .command('restore')
    .description('stream a backup back through decryption and decompression into pg_restore (or psql for plain dumps)')
    .requiredOption('--from <location>', 'file:PATH, or - for standard input')
    .requiredOption('--to-database <name>', 'database to restore into (with --create: the database to connect to first)')
    .option('--create', 'create the dumped database (pg_restore --create) instead of restoring into an existing one');
  addChainOptions(command).action(action(async (ctx, flags: RestoreFlags) => {
    const chain = await chainOptions(flags);
    const source = restoreSource(flags.from);
    ctx.log.log('info', 'restore.start', { from: flags.from, database: flags.toDatabase });
    const stats = await pipeline(source)
      .through(...restoreTransforms(chain))
      .to(restoreSink({ database: flags.toDatabase, create: flags.create }))
      .run(ctx);
    ctx.log.log('info', 'restore.done', summarize(stats, 'restore'));
  }));
}

function restoreSource(from: string): SourceStage {
  const location = parseLocation(from);
  switch (location.kind) {
    case 'file':
      return fileSource(location.path);
    case 'stdio':
      return stdinSource();
    case 's3':
      throw new CopycatError('LOCATION_UNSUPPORTED', 's3:// sources are not available in this build: use file:PATH');
  }
}
