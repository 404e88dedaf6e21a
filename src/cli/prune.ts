import type { Command } from 'commander';
import { prune, pruneByDatabase, type PruneRules } from '../operations/prune.js';
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
    const repository = await openRepository(flags.from, 'prune', flags);
    const reports = await pruneByDatabase(repository, pruneRules(flags, !!flags.dryRun), ctx);
    if (!flags.json) return;
    // A repository of several databases: one report per database prefix (null: its own backups, at the prefix itself).
    const several = reports.length > 1 || reports[0]!.database !== undefined;
    const json = several ? { location: repository.location, databases: reports.map((r) => ({ database: r.database ?? null, ...r.report })) } : reports[0]!.report;
    process.stdout.write(JSON.stringify(json) + '\n');
  }));
}

/** Prunes and logs one line per decision; a prune that could not delete something it should have fails. */
export async function pruneRepository(ctx: ActionContext, repository: Repository, flags: PruneFlags, dryRun: boolean): Promise<PruneReport> {
  return prune(repository, pruneRules(flags, dryRun), ctx);
}

function pruneRules(flags: PruneFlags, dryRun: boolean): PruneRules {
  const gfs = { daily: flags.keepDaily, weekly: flags.keepWeekly, monthly: flags.keepMonthly, yearly: flags.keepYearly };
  return { olderThanDays: flags.olderThan, keepLast: flags.keepLast, gfs, dryRun };
}
