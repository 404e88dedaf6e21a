import type { Command } from 'commander';
import { formatGroupedTables, groupedRows, listByDatabase } from '../operations/list.js';
import { formatLegacyTable, listLegacy } from '../operations/list-legacy.js';
import type { ListFlags } from '../settings/flags.js';
import { openLegacy } from './legacy.js';
import { addSettings } from './options.js';
import { openRepository } from './repository.js';
import { action } from './run.js';
import { readSecrets } from './shared.js';

export function listCommand(program: Command): void {
  const command = program
    .command('list')
    .description('list the backups in a repository, oldest first, with their status and lock');
  addSettings(command, 'list').action(action(async (ctx, flags: ListFlags) => {
    await ctx.begin(flags); // every missing or invalid setting at once
    if (flags.legacyRclone) {
      const { rows } = await listLegacy((await openLegacy(flags, 'list', false)).repository, { signal: ctx.signal });
      process.stdout.write(flags.json ? JSON.stringify(rows) + '\n' : formatLegacyTable(rows));
      return;
    }
    const secrets = flags.keyFile || flags.identity?.length ? await readSecrets(flags) : undefined;
    const groups = await listByDatabase(await openRepository(flags.from, 'list', flags), { signal: ctx.signal, secrets });
    process.stdout.write(flags.json ? JSON.stringify(groupedRows(groups)) + '\n' : formatGroupedTables(groups));
  }));
}
