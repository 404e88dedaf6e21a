import type { Command } from 'commander';
import { prune } from '../operations/prune.js';
import type { Repository } from '../repository/index.js';
import type { PruneReport } from '../repository/prune.js';
import type { PruneCommandFlags, PruneFlags } from '../settings/flags.js';
import { addSettings } from './options.js';
import { openRepository } from './repository.js';
import { action, type ActionContext } from './run.js';

export function pruneCommand(program: Command): void {
  const command = program
    .command('prune')
    .description('delete the versions of backups past their retention, keeping the newest complete ones');
  addSettings(command, 'prune').action(action(async (ctx, flags: PruneCommandFlags) => {
    await ctx.begin(flags); // every missing or invalid setting at once, then the destination's lock
    const report = await pruneRepository(ctx, await openRepository(flags.from, 'prune', flags), flags, !!flags.dryRun);
    if (flags.json) process.stdout.write(JSON.stringify(report) + '\n');
  }));
}

/** Prunes and logs one line per decision; a prune that could not delete something it should have fails. */
export async function pruneRepository(ctx: ActionContext, repository: Repository, flags: PruneFlags, dryRun: boolean): Promise<PruneReport> {
  const gfs = { daily: flags.keepDaily, weekly: flags.keepWeekly, monthly: flags.keepMonthly, yearly: flags.keepYearly };
  return prune(repository, { olderThanDays: flags.olderThan, keepLast: flags.keepLast, gfs, dryRun }, ctx);
}
