import { Option, type Command } from 'commander';
import { databaseTarget } from '../pg/conninfo.js';
import { loadKeyFile } from '../key.js';
import { parseLocation } from '../location.js';
import { restore } from '../operations/restore.js';
import { fileSource } from '../sources/file.js';
import { stdinSource } from '../sources/stdin.js';
import { openRepository } from './repository.js';
import { action } from './run.js';
import { addS3ConnectionOptions, type S3ConnectionFlags } from './s3-options.js';
import { addChainOptions, chainOptions, integer, type ChainFlags } from './shared.js';

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
    const into = { database: database ?? flags.toDatabase, env, create: flags.create, jobs: flags.jobs };
    ctx.log.log('info', 'restore.start', { from: flags.from, database: into.database });
    if (location.kind === 's3' || location.kind === 'dir') {
      // The manifest says how the backup was compressed and which key encrypted it; only the key comes from here.
      const key = flags.keyFile ? await loadKeyFile(flags.keyFile) : undefined;
      const repository = await openRepository(flags.from, 'restore', flags);
      const { manifest, summary } = await restore({ from: { repository, backupId: flags.backup }, key, into }, ctx);
      ctx.done('restore.done', summary, { id: manifest!.id });
      return;
    }
    const stream = location.kind === 'file' ? fileSource(location.path) : stdinSource();
    const { summary } = await restore({ from: { stream, chain: await chainOptions(flags) }, into }, ctx);
    ctx.done('restore.done', summary);
  }));
}
