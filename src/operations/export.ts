import type { Identity } from '../formats/recipients.js';
import { pipeline, type RunOptions } from '../pipeline.js';
import { chooseBackup, type BackupEntry, type Repository } from '../repository/index.js';
import type { SinkStage } from '../stage.js';
import { backupSource, verifiedRestoreTransforms } from './restore.js';
import { summarize, type RunSummary } from './summary.js';

export interface ExportOptions {
  readonly repository: Repository;
  /** The latest complete backup when absent. */
  readonly backupId?: string;
  readonly key?: Buffer;
  readonly identities?: readonly Identity[];
  /** Where the dump goes: a file (fileSink: written as .partial, named only when complete) or standard output. */
  readonly to: SinkStage;
}

/**
 * The dump exactly as pg_dump (or the parallel dump) wrote it: decrypted, decompressed, both digests checked against
 * the manifest before the sink commits, so any standard tool can read a backup without copycat-db.
 */
export async function exportBackup(opts: ExportOptions, run: RunOptions = {}): Promise<{ entry: BackupEntry; summary: RunSummary }> {
  const entry = await chooseBackup(opts.repository, opts.backupId, run.signal);
  const transforms = verifiedRestoreTransforms(entry.manifest!, opts);
  const stats = await pipeline(backupSource(opts.repository, entry)).through(...transforms).to(opts.to).run(run);
  return { entry, summary: summarize(stats, 'restore') };
}
