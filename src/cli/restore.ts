import type { Command } from 'commander';
import { restoreTransforms } from '../chain.js';
import { loadKeyFile } from '../key.js';
import { parseLocation } from '../location.js';
import { pipeline } from '../pipeline.js';
import { restoreSink } from '../sinks/restore.js';
import { fileSource } from '../sources/file.js';
import { stdinSource } from '../sources/stdin.js';
import { restoreFromS3 } from '../s3/restore.js';
import { action } from './run.js';
import { addS3ConnectionOptions, s3ClientFromFlags, type S3ConnectionFlags } from './s3-options.js';
import { addChainOptions, chainOptions, type ChainFlags } from './shared.js';
import { summarize } from './summary.js';

interface RestoreFlags extends ChainFlags, S3ConnectionFlags {
  from: string;
  toDatabase: string;
  create?: boolean;
  backup?: string;
}

export function restoreCommand(program: Command): void {
  const command = program
    .command('restore')
    .description('stream a backup back through decryption and decompression into pg_restore (or psql for plain dumps)')
    .requiredOption('--from <location>', 's3://BUCKET/PREFIX, file:PATH, or - for standard input')
    .option('--backup <id>', 'S3: the backup to restore (from copycat-db list); default: the latest complete one')
    .requiredOption('--to-database <name>', 'database to restore into (with --create: the database to connect to first)')
    .option('--create', 'create the dumped database (pg_restore --create) instead of restoring into an existing one');
  addChainOptions(command);
  addS3ConnectionOptions(command).action(action(async (ctx, flags: RestoreFlags) => {
    const location = parseLocation(flags.from);
    const target = { database: flags.toDatabase, create: flags.create };
    ctx.log.log('info', 'restore.start', { from: flags.from, database: flags.toDatabase });
    if (location.kind === 's3') {
      // The manifest says how the backup was compressed and which key encrypted it; only the key comes from here.
      const key = flags.keyFile ? await loadKeyFile(flags.keyFile) : undefined;
      const { manifest, stats } = await restoreFromS3({ client: s3ClientFromFlags(flags), ...location, backupId: flags.backup, key, target }, ctx);
      ctx.log.log('info', 'restore.done', { id: manifest.id, ...summarize(stats, 'restore') });
      return;
    }
    const chain = await chainOptions(flags);
    const source = location.kind === 'file' ? fileSource(location.path) : stdinSource();
    const stats = await pipeline(source).through(...restoreTransforms(chain)).to(restoreSink(target)).run(ctx);
    ctx.log.log('info', 'restore.done', summarize(stats, 'restore'));
  }));
}
