import type { Command } from 'commander';
import { backupTransforms, type ChainOptions } from '../chain.js';
import { parseLocation } from '../location.js';
import { pipeline } from '../pipeline.js';
import type { BackupFlags } from '../settings/flags.js';
import { fileSink } from '../sinks/file.js';
import { stdoutSink } from '../sinks/stdout.js';
import type { SinkStage } from '../stage.js';
import { pruneBackups } from './prune.js';
import { action, type ActionContext } from './run.js';
import { addSettings } from './options.js';
import { s3ClientFromFlags } from './s3-options.js';
import { chainOptions } from './shared.js';
import { backupSource, type ChosenSource } from './source-options.js';
import { summarize } from './summary.js';

export function backupCommand(program: Command): void {
  const command = program
    .command('backup')
    .description('dump a database with pg_dump and stream it through compression and encryption to a destination');
  addSettings(command, 'backup').action(action(async (ctx, flags: BackupFlags) => {
    await ctx.begin(flags); // every missing or invalid setting at once, then the destination's lock
    const chain = await chainOptions(flags);
    const chosen = await backupSource(flags, parseLocation(flags.to).kind === 's3');
    // chosen.database: the name only, as --database may be a connection string with a password.
    ctx.log.log('info', 'backup.start', { source: chosen.kind, database: chosen.database, to: flags.to, compression: flags.compression, encrypted: !!chain.key });
    await backup(ctx, flags, chosen, chain);
  }));
}

async function backup(ctx: ActionContext, flags: BackupFlags, { source, kind: sourceKind, tables }: ChosenSource, chain: ChainOptions): Promise<void> {
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
    sourceKind,
    chain,
    retention: { mode: flags.lockMode, days: flags.retainDays },
    allowUnlocked: flags.allowUnlocked,
    expectedSize: flags.expectedSize,
    maxParts: flags.maxParts,
    partSize: flags.partSize,
    concurrency: flags.concurrency,
    checksum: flags.checksum,
    tables,
  }, ctx);
  ctx.done('backup.done', summarize(stats, 'backup'), {
    id: manifest.id,
    key: manifest.object.key,
    version: manifest.object.versionId,
    locked_until: manifest.object.retention?.retainUntil ?? 'not locked',
  });
  if (flags.prune) await pruneBackups(ctx, client, location.bucket, location.prefix, flags, false);
}
