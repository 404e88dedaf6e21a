import type { Command } from 'commander';
import { formatBackupDetails, show } from '../operations/list.js';
import type { ShowFlags } from '../settings/flags.js';
import { addSettings } from './options.js';
import { openRepository } from './repository.js';
import { action } from './run.js';

export function showCommand(program: Command): void {
  const command = program
    .command('show')
    .description('print one backup in full: status, lock, sizes, digests, who can read it, source, tables and rows')
    .argument('[id]', 'a backup id from copycat-db list (default: the latest complete one)');
  addSettings(command, 'show').action(action(async (ctx, id: string | undefined, flags: ShowFlags) => {
    await ctx.begin(flags); // every missing or invalid setting at once
    const details = await show(await openRepository(flags.from, 'show', flags), id, ctx);
    process.stdout.write(flags.json ? JSON.stringify(details) + '\n' : formatBackupDetails(details));
  }));
}
