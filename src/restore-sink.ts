import { CopycatError } from './errors.js';
import { customArchiveVersion } from './formats/archive.js';
import { selectionArgs, type RestoreTarget } from './pg/restore-target.js';
import { sinkByFormat } from './sinks/by-format.js';
import { pgParallelRestore } from './sinks/pg-parallel-restore/index.js';
import { pgRestore, psql } from './sinks/pg-restore/index.js';
import type { SinkStage } from './stage.js';

// Beside chain.ts rather than in it: the restore sinks load pg and pg-copy-streams (~12 MiB), which a backup chain
// does not need.

/**
 * Restores a dump of any format into a database, choosing by the dump's first bytes: pg_restore (one that reads the
 * archive's format version), psql, or (for a copycat-db parallel container) pgParallelRestore with `jobs`.
 */
export function restoreSink(target: RestoreTarget & { create?: boolean; jobs?: number }): SinkStage {
  return sinkByFormat('restore', (format, head) => {
    if (format !== 'custom') refuseUnsupported(target, format);
    return format === 'parallel' ? pgParallelRestore(target)
      : format === 'custom' ? pgRestore({ ...target, archive: customArchiveVersion(head) }) : psql(target);
  });
}

/** Selection and kept owners are pg_restore's: a plain or parallel dump is refused before anything is restored. */
export function refuseUnsupported(target: RestoreTarget, format: string): void {
  const what = target.only && (selectionArgs(target.only).length || target.only.excludeTables?.length)
    ? 'a selective restore (--table, --schema, --exclude-schema, --exclude-table, --use-list)'
    : target.keepOwners ? '--keep-owners' : undefined;
  if (what) {
    throw new CopycatError('RESTORE_OPTION_UNSUPPORTED', `${what} needs a custom-format backup, and this one is ${format}: ` +
      'restore it whole (or take backups with --format custom)');
  }
}
