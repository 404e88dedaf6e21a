import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CopycatError } from '../errors.js';
import { excludeTables } from '../pg/toc-exclusion.js';
import type { RunOptions } from '../pipeline.js';
import type { ChosenBackup } from './chosen-backup.js';
import type { RestoreInto } from './restore.js';
import { readTableOfContents } from './table-of-contents.js';

/**
 * `--exclude-table` as pg_restore can take it: the backup's table of contents (its head only) with the tables and
 * everything depending on them commented out, written to a private temporary list for `--use-list`. `done()`
 * removes it. Without excluded tables, `into` is returned as it is.
 */
export async function excludingTables(chosen: ChosenBackup, into: RestoreInto, run: RunOptions): Promise<{ into: RestoreInto; done(): Promise<void> }> {
  const names = into.only?.excludeTables ?? [];
  if (!names.length) return { into, done: async () => {} };
  if (into.only?.useList) {
    throw new CopycatError('OPTION_INVALID', '--exclude-table and --use-list both choose the entries to restore: comment the tables out of the list instead');
  }
  const toc = await readTableOfContents(chosen, into.env ?? {}, into.programs, run);
  if (toc.format !== 'custom') throw new CopycatError('RESTORE_OPTION_UNSUPPORTED', '--exclude-table needs a custom-format backup, and this one is plain: restore it whole');
  const { list, excluded } = excludeTables(toc.listing, names);
  run.log?.log('info', 'restore.exclude-table', { tables: names, entries_left_out: excluded.length, left_out: excluded });
  const dir = await mkdtemp(join(tmpdir(), 'copycat-list-'));
  const path = join(dir, 'restore.list');
  await writeFile(path, list, { mode: 0o600 });
  return {
    into: { ...into, only: { ...into.only, useList: path } },
    done: () => rm(dir, { recursive: true, force: true }),
  };
}
