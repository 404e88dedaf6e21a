import { CopycatError } from '../errors.js';
import type { RunOptions } from '../pipeline.js';
import { listBackups, type Repository } from '../repository/index.js';
import { executePrune, planPrune, type PruneOptions, type PruneReport } from '../repository/prune.js';

/**
 * Deletes what the rules allow (see repository/prune.ts) and reports every backup with its reason. A prune that could
 * not delete something it should have fails (PRUNE_FAILED) after doing everything else it could.
 */
export async function prune(repository: Repository, rules: PruneOptions & { readonly dryRun?: boolean }, run: RunOptions = {}): Promise<PruneReport> {
  const plan = planPrune(await listBackups(repository, { signal: run.signal }), rules);
  const report = await executePrune(repository, plan, { dryRun: rules.dryRun, log: run.log, signal: run.signal });
  if (report.errors.length) {
    throw new CopycatError('PRUNE_FAILED', `prune of ${repository.location} failed for ${report.errors.length} item(s): ${report.errors[0]}`);
  }
  return report;
}
