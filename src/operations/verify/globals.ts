import { describeError } from '../../errors.js';
import { splitStatements } from '../../pg/globals-apply.js';
import type { RunOptions } from '../../pipeline.js';
import type { Repository } from '../../repository/index.js';
import type { ChosenBackup, ReadSecrets } from '../chosen-backup.js';
import { readGlobals } from '../globals.js';
import { ms, type VerifyCheck } from './report.js';

/** pg_dumpall's last lines: without them the globals were cut short, however well their bytes check out. */
const COMPLETE = /^-- PostgreSQL database cluster dump complete\s*$/m;

/**
 * A backup's globals are proven readable, not applied: roles and tablespaces belong to the whole server, and a drill
 * must not create or alter accounts beside the scratch database. What `restore --globals` would run is read as it
 * would read it — both digests, every authentication tag, split into statements with no psql meta-command — and
 * must end with pg_dumpall's completion line.
 */
export async function checkGlobals(repository: Repository, backup: ChosenBackup, secrets: ReadSecrets, checks: VerifyCheck[], run: RunOptions): Promise<void> {
  const entry = backup.entry;
  if (!entry?.manifest?.globals) return;
  const started = performance.now();
  try {
    const { statements, roles } = globalsContents(await readGlobals(repository, entry, secrets, run));
    checks.push({ kind: 'integrity', name: 'globals', status: 'ok', durationMs: ms(started),
      detail: `${statements} statements, ${roles} roles; digests match (read, not applied: roles are the whole server's)` });
  } catch (err) {
    if (run.signal?.aborted) throw err;
    checks.push({ kind: 'integrity', name: 'globals', status: 'failed', durationMs: ms(started), detail: describeError(err) });
  }
}

/** What `restore --globals` would run, counted; throws when it holds a meta-command or lacks pg_dumpall's last line. */
export function globalsContents(sql: string): { statements: number; roles: number } {
  const statements = splitStatements(sql);
  if (!COMPLETE.test(sql)) throw new Error("pg_dumpall's output ends before its \"cluster dump complete\" line: the globals are incomplete");
  return { statements: statements.length, roles: statements.filter((s) => s.startsWith('CREATE ROLE ')).length };
}
