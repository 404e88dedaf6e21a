import { pipeline, type RunOptions } from '../pipeline.js';
import type { Repository } from '../repository/index.js';
import type { SinkStage } from '../stage.js';
import { chooseToRead, type ReadSecrets } from './chosen-backup.js';
import { summarize, type RunSummary } from './summary.js';

export interface ExportOptions extends ReadSecrets {
  readonly repository: Repository;
  /** The latest complete backup when absent. */
  readonly backupId?: string;
  /** Where the dump goes: a file (fileSink: written as .partial, named only when complete) or standard output. */
  readonly to: SinkStage;
}

/**
 * The dump exactly as pg_dump (or the parallel dump) wrote it: decrypted, decompressed, both digests checked against
 * the manifest before the sink commits, so any standard tool can read a backup without copycat-db.
 */
export async function exportBackup(opts: ExportOptions, run: RunOptions = {}): Promise<{ id: string; summary: RunSummary }> {
  const chosen = await chooseToRead(opts.repository, opts.backupId, opts, run.signal);
  const stats = await pipeline(chosen.stored()).through(...chosen.transforms().stages).to(opts.to).run(run);
  return { id: chosen.id, summary: summarize(stats, 'restore') };
}
