import type { Command } from 'commander';
import type { ChainOptions } from '../chain.js';
import { parseLocation } from '../location.js';
import { backup } from '../operations/backup.js';
import type { S3UploadOptions } from '../repository/s3-store.js';
import type { BackupFlags } from '../settings/flags.js';
import type { PgGlobalsStage } from '../sources/pg-globals.js';
import { fileSink } from '../sinks/file.js';
import { stdoutSink } from '../sinks/stdout.js';
import { addSettings } from './options.js';
import { pruneRepository } from './prune.js';
import { openRepository } from './repository.js';
import { action, type ActionContext } from './run.js';
import { chainOptions } from './shared.js';
import { backupSource, globalsSource, type ChosenSource } from './source-options.js';

export function backupCommand(program: Command): void {
  const command = program
    .command('backup')
    .description('dump a database with pg_dump and stream it through compression and encryption to a repository or a stream');
  addSettings(command, 'backup').action(action(async (ctx, flags: BackupFlags) => {
    await ctx.begin(flags); // every missing or invalid setting at once, then the destination's lock
    const chain = await chainOptions(flags);
    const location = parseLocation(flags.to);
    const toRepository = location.kind === 's3' || location.kind === 'dir';
    const globals = flags.globals ? globalsSource(flags, toRepository) : undefined;
    const chosen = await backupSource(flags, toRepository);
    // chosen.database: the name only, as --database may be a connection string with a password.
    ctx.log.log('info', 'backup.start', { source: chosen.kind, database: chosen.database, to: flags.to, compression: flags.compression,
      encrypted: !!chain.key || !!chain.recipients?.length, globals: !!globals });
    await backupTo(ctx, flags, chosen, chain, globals);
  }));
}

/** How a backup writes into S3, from its flags. */
export function uploadOptions(flags: BackupFlags): S3UploadOptions {
  return {
    retention: { mode: flags.lockMode, days: flags.retainDays },
    allowUnlocked: flags.allowUnlocked,
    expectedSize: flags.expectedSize,
    maxParts: flags.maxParts,
    partSize: flags.partSize,
    concurrency: flags.concurrency,
    checksum: flags.checksum,
  };
}

async function backupTo(ctx: ActionContext, flags: BackupFlags, { source }: ChosenSource, chain: ChainOptions, globals: PgGlobalsStage | undefined): Promise<void> {
  const location = parseLocation(flags.to);
  if (location.kind === 'file' || location.kind === 'stdio') {
    const { summary } = await backup({ source, chain, to: { sink: location.kind === 'file' ? fileSink(location.path) : stdoutSink() } }, ctx);
    ctx.done('backup.done', summary);
    return;
  }
  const repository = await openRepository(flags.to, 'backup', flags, uploadOptions(flags));
  const { manifest, summary } = await backup({ source, chain, to: { repository }, globals }, ctx);
  ctx.done('backup.done', summary, {
    id: manifest!.id,
    key: manifest!.object.key,
    version: manifest!.object.versionId,
    locked_until: manifest!.object.retention?.retainUntil ?? 'not locked',
    ...(manifest!.globals ? { globals: manifest!.globals.key, role_passwords: manifest!.globals.rolePasswords } : {}),
  });
  if (flags.prune) await pruneRepository(ctx, repository, flags, false);
}
