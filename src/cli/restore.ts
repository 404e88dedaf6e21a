import { Option, type Command } from 'commander';
import { restoreSink, restoreTransforms } from '../chain.js';
import { databaseTarget } from '../pg/conninfo.js';
import { loadKeyFile } from '../key.js';
import { parseLocation } from '../location.js';
import { pipeline } from '../pipeline.js';
import { fileSource } from '../sources/file.js';
import { stdinSource } from '../sources/stdin.js';
import { action } from './run.js';
import { addS3ConnectionOptions, s3ClientFromFlags, type S3ConnectionFlags } from './s3-options.js';
import { addChainOptions, chainOptions, integer, type ChainFlags } from './shared.js';
import { summarize } from './summary.js';

interface RestoreFlags extends ChainFlags, S3ConnectionFlags {
  from: string;
  toDatabase: string;
  create?: boolean;
  backup?: string;
  jobs?: number;
}

export function restoreCommand(program: Command): void {
  const command = program
    .command('restore')
    .description('stream a backup back through decryption and decompression into pg_restore (or psql for plain dumps)')
    .addOption(new Option('--from <location>', 's3://BUCKET/PREFIX, file:PATH, or - for standard input (required)').env('COPYCAT_DESTINATION'))
    .option('--backup <id>', 'S3: the backup to restore (from copycat-db list); default: the latest complete one')
    .requiredOption('--to-database <name>', 'database to restore into, or a libpq connection string (with --create: the database to connect to first)')
    .option('--create', 'create the dumped database (pg_restore --create) instead of restoring into an existing one')
    .option('--jobs <n>', 'parallel-format backups: pg_restore -j for indexes and constraints (default: the backup\'s --jobs; '
      + 'table data always loads over as many connections as the backup read it with)', integer('--jobs', 1, 64));
  addChainOptions(command);
  addS3ConnectionOptions(command).action(action(async (ctx, flags: RestoreFlags) => {
    await ctx.begin(flags); // every missing or invalid setting at once
    const location = parseLocation(flags.from);
    // jobs reaches restoreSink, which uses it only for a parallel container (sniffed from the first bytes).
    // --to-database may be a connection string: its parts (password included) reach pg_restore, psql and the parallel
    // restore's connections as PG* variables, never argv; logs get the database name alone.
    const { database, env } = databaseTarget(flags.toDatabase, {}, '--to-database');
    const target = { database: database ?? flags.toDatabase, env, create: flags.create, jobs: flags.jobs };
    ctx.log.log('info', 'restore.start', { from: flags.from, database: target.database });
    if (location.kind === 's3') {
      // The manifest says how the backup was compressed and which key encrypted it; only the key comes from here.
      const key = flags.keyFile ? await loadKeyFile(flags.keyFile) : undefined;
      const { restoreFromS3 } = await import('../s3/restore.js');
      const { manifest, stats } = await restoreFromS3({ client: await s3ClientFromFlags(flags), ...location, backupId: flags.backup, key, target }, ctx);
      ctx.done('restore.done', summarize(stats, 'restore'), { id: manifest.id });
      return;
    }
    const chain = await chainOptions(flags);
    if (!chain.key && chain.compression === 'none') {
      // Nothing in such a stream can tell a damaged byte from a good one: say so rather than imply it was checked.
      ctx.log.log('warn', 'restore.unverified', { reason: 'neither encrypted nor compressed and without a manifest: ' +
        'the stream carries no checksum, so damage inside it cannot be detected (its end still is)' });
    }
    const source = location.kind === 'file' ? fileSource(location.path) : stdinSource();
    const stats = await pipeline(source).through(...restoreTransforms(chain)).to(restoreSink(target)).run(ctx);
    ctx.done('restore.done', summarize(stats, 'restore'));
  }));
}
