import { Option, type Command } from 'commander';
import { availableParallelism } from 'node:os';
import { backupTransforms, type ChainOptions } from '../chain.js';
import { parseLocation } from '../location.js';
import { pipeline } from '../pipeline.js';
import { fileSink } from '../sinks/file.js';
import { stdoutSink } from '../sinks/stdout.js';
import type { SinkStage } from '../stage.js';
import { pruneBackups } from './prune.js';
import { action, type ActionContext } from './run.js';
import { addPruneOptions, addS3ConnectionOptions, addS3UploadOptions, s3ClientFromFlags, type PruneFlags, type S3ConnectionFlags, type S3UploadFlags } from './s3-options.js';
import { addChainOptions, chainOptions, integer, type ChainFlags } from './shared.js';
import { addSourceOptions, backupSource, type ChosenSource, type SourceFlags } from './source-options.js';
import { summarize } from './summary.js';

interface BackupFlags extends ChainFlags, S3ConnectionFlags, S3UploadFlags, PruneFlags, SourceFlags {
  to: string;
  prune: boolean;
}

/**
 * zstd on the main thread was the bottleneck of a backup (bench/: 30.5 s against 23.6 s with 2 workers at 2.2 GB);
 * more than 4 workers buy little after pg_dump's own single core and cost memory.
 */
const DEFAULT_WORKERS = Math.min(availableParallelism(), 4);

export function backupCommand(program: Command): void {
  const command = program
    .command('backup')
    .description('dump a database with pg_dump and stream it through compression and encryption to a destination')
    .addOption(new Option('--to <location>', 's3://BUCKET/PREFIX, file:PATH, or - for standard output (required)').env('COPYCAT_DESTINATION'))
    .addOption(new Option('-d, --database <name>', 'database to dump, or a libpq connection string (URI or key=value; its password reaches pg_dump only as PGPASSWORD); libpq variables PGHOST, PGPORT, PGUSER, PGPASSWORD apply; with a Scaleway mode, the RDB database').env('PGDATABASE'))
    .option('--level <n>', 'zstd level (1-19)', integer('--level', 1, 19), 3)
    .option('--workers <n>', 'zstd worker threads (0 = compress on the main thread; default: the cores, at most 4)', integer('--workers', 0, 64), DEFAULT_WORKERS)
    .option('--no-prune', 'S3: do not prune expired backups after a successful backup');
  for (const add of [addSourceOptions, addChainOptions, addS3ConnectionOptions, addS3UploadOptions, addPruneOptions]) add(command);
  command.action(action(async (ctx, flags: BackupFlags) => {
    await ctx.begin(flags); // every missing or invalid setting at once, then the destination's lock
    const chain = await chainOptions(flags);
    const chosen = await backupSource(flags, parseLocation(flags.to).kind === 's3');
    // chosen.database: the name only, as --database may be a connection string with a password.
    ctx.log.log('info', 'backup.start', { source: chosen.kind, database: chosen.database, to: flags.to, compression: flags.compression, encrypted: !!chain.key });
    await backup(ctx, flags, chosen, chain);
  }));
}

async function backup(ctx: ActionContext, flags: BackupFlags, { source }: ChosenSource, chain: ChainOptions): Promise<void> {
  const location = parseLocation(flags.to);
  if (location.kind !== 's3') {
    const sink: SinkStage = location.kind === 'file' ? fileSink(location.path) : stdoutSink();
    const stats = await pipeline(source).through(...backupTransforms(chain)).to(sink).run(ctx);
    ctx.done('backup.done', summarize(stats, 'backup'));
    return;
  }
  const client = await s3ClientFromFlags(flags);
  const { backupToS3 } = await import('../s3/backup.js');
  const { manifest, stats } = await backupToS3({
    client,
    bucket: location.bucket,
    prefix: location.prefix,
    source,
    chain,
    retention: { mode: flags.lockMode, days: flags.retainDays },
    allowUnlocked: flags.allowUnlocked,
    expectedSize: flags.expectedSize,
    maxParts: flags.maxParts,
    partSize: flags.partSize,
    concurrency: flags.concurrency,
    checksum: flags.checksum,
  }, ctx);
  ctx.done('backup.done', summarize(stats, 'backup'), {
    id: manifest.id,
    key: manifest.object.key,
    version: manifest.object.versionId,
    locked_until: manifest.object.retention?.retainUntil ?? 'not locked',
  });
  if (flags.prune) await pruneBackups(ctx, client, location.bucket, location.prefix, flags, false);
}
