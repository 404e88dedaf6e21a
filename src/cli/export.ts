import type { Command } from 'commander';
import { exportBackup } from '../operations/export.js';
import type { ExportFlags } from '../settings/flags.js';
import { fileSink } from '../sinks/file.js';
import { stdoutSink } from '../sinks/stdout.js';
import { addSettings } from './options.js';
import { openRepository } from './repository.js';
import { action } from './run.js';
import { readSecrets } from './shared.js';

export function exportCommand(program: Command): void {
  const command = program
    .command('export')
    .description('write a backup\'s dump exactly as pg_dump made it (decrypted, decompressed, digests checked): for pg_restore, psql or any tool');
  addSettings(command, 'export').action(action(async (ctx, flags: ExportFlags) => {
    await ctx.begin(flags); // every missing or invalid setting at once
    const repository = await openRepository(flags.from, 'export', flags);
    const to = flags.to === '-' ? stdoutSink() : fileSink(flags.to.replace(/^file:/, ''));
    const { id, summary } = await exportBackup({ repository, backupId: flags.backup, ...(await readSecrets(flags)), to }, ctx);
    ctx.done('export.done', summary, { id, to: flags.to });
  }));
}
