import { CopycatError } from '../errors.js';
import type { PgProgramSearch } from '../pg/programs.js';
import { pipeline, type RunOptions } from '../pipeline.js';
import { tableOfContentsSink, type TableOfContents } from '../sinks/table-of-contents.js';
import type { ChosenBackup } from './chosen-backup.js';

/** The reason the download is stopped once pg_restore --list has the table of contents: not a failure. */
class TableOfContentsRead extends Error {
  override readonly name = 'TableOfContentsRead';
}

/**
 * Streams the backup's head through decryption and decompression into pg_restore --list, then stops the download.
 * No digest can be checked on a head: what it says selects, it is never restored from.
 */
export async function readTableOfContents(backup: ChosenBackup, env: Record<string, string | undefined>, programs: PgProgramSearch | undefined,
  run: RunOptions): Promise<TableOfContents> {
  const stop = new AbortController();
  const signal = run.signal ? AbortSignal.any([run.signal, stop.signal]) : stop.signal;
  let toc: TableOfContents | undefined;
  const sink = tableOfContentsSink((found) => {
    toc = found;
    stop.abort(new TableOfContentsRead('table of contents read'));
  }, definedOnly(env), programs);
  try {
    await pipeline(backup.stored()).through(...backup.transforms().stages).to(sink).run({ signal, log: run.log });
  } catch (err) {
    if (!toc) throw err;
  }
  if (!toc) throw new CopycatError('TOC_UNREADABLE', 'pg_restore --list read no table of contents');
  return toc;
}

export function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}
