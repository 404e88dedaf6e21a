import type { Command } from 'commander';
import { restoreTransforms } from '../chain.js';
import { databaseTarget } from '../pg/conninfo.js';
import { loadKeyFile } from '../key.js';
import { parseLocation } from '../location.js';
import { pipeline } from '../pipeline.js';
import type { RestoreFlags } from '../settings/flags.js';
import { restoreSink } from '../sinks/restore.js';
import { fileSource } from '../sources/file.js';
import { stdinSource } from '../sources/stdin.js';
import { action } from './run.js';
import { addSettings } from './options.js';
import { s3ClientFromFlags } from './s3-options.js';
import { chainOptions } from './shared.js';
import { summarize } from './summary.js';

export function restoreCommand(program: Command): void {
  const command = program
    .command('restore')
    .description('stream a backup back through decryption and decompression into pg_restore (or psql for plain dumps)');
  addSettings(command, 'restore').action(action(async (ctx, flags: RestoreFlags) => {
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
