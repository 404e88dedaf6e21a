import { CopycatError } from '../errors.js';
import type { RunOptions } from '../pipeline.js';
import { databaseRepository, listBackups, listCatalog, type BackupEntry, type Repository } from '../repository/index.js';
import { executePrune, planPrune, type PruneOptions, type PruneReport } from '../repository/prune.js';

export type PruneRules = PruneOptions & { readonly dryRun?: boolean };

/**
 * Deletes what the rules allow (see repository/prune.ts) and reports every backup with its reason. A prune that could
 * not delete something it should have fails (PRUNE_FAILED) after doing everything else it could.
 */
export async function prune(repository: Repository, rules: PruneRules, run: RunOptions = {}): Promise<PruneReport> {
  const report = await pruneListed(repository, await listBackups(repository, { signal: run.signal }), rules, run);
  if (report.errors.length) throw new CopycatError('PRUNE_FAILED', failure(report));
  return report;
}

/** One database's prune report (`database` undefined: the repository's own backups, at its prefix itself). */
export interface DatabasePruneReport {
  readonly database?: string;
  readonly report: PruneReport;
}

/**
 * prune of a repository that may hold several databases: its own backups (when it has any, or nothing else), then
 * each database's under PREFIX/DBNAME/ on its own, so that one database's backups never count towards another's
 * keep-last. Fails (PRUNE_FAILED) after all of them when any could not delete what it should have.
 */
export async function pruneByDatabase(repository: Repository, rules: PruneRules, run: RunOptions = {}): Promise<DatabasePruneReport[]> {
  const { entries, databases } = await listCatalog(repository, { signal: run.signal });
  const reports: DatabasePruneReport[] = [];
  if (entries.length || !databases.length) reports.push({ report: await pruneListed(repository, entries, rules, run) });
  for (const database of databases) {
    const repo = databaseRepository(repository, database);
    reports.push({ database, report: await pruneListed(repo, await listBackups(repo, { signal: run.signal }), rules, run) });
  }
  const failed = reports.filter((r) => r.report.errors.length);
  if (failed.length) {
    throw new CopycatError('PRUNE_FAILED', failed.length === 1 && reports.length === 1 ? failure(failed[0]!.report)
      : `prune failed for ${failed.length} of ${reports.length} prefixes: ${failed.map((f) => failure(f.report)).join('; ')}`);
  }
  return reports;
}

async function pruneListed(repository: Repository, entries: readonly BackupEntry[], rules: PruneRules, run: RunOptions): Promise<PruneReport> {
  return executePrune(repository, planPrune(entries, rules), { dryRun: rules.dryRun, log: run.log, signal: run.signal });
}

function failure(report: PruneReport): string {
  return `prune of ${report.location} failed for ${report.errors.length} item(s): ${report.errors[0]}`;
}
