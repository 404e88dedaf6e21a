import { describeError } from '../../errors.js';
import { silentLogger } from '../../log.js';
import { libpqEnv, pgClient } from '../../pg/client.js';
import type { PgProgramSearch } from '../../pg/programs.js';
import type { RunOptions, RunStats } from '../../pipeline.js';
import type { Repository } from '../../repository/index.js';
import type { LegacyRepository } from '../../repository/rclone-crypt.js';
import type { TableOfContents } from '../../sinks/table-of-contents.js';
import type { Identity } from '../../formats/recipients.js';
import { chooseToRead } from '../chosen-backup.js';
import { scrub, userChecks } from './checks.js';
import { checkGlobals } from './globals.js';
import { failureLines, ms, type VerifyCheck, type VerifyReport } from './report.js';
import { readTableOfContents } from '../table-of-contents.js';
import { restore } from './restore.js';
import { checkScratchName, createScratch, dropScratch, scratchDatabaseName } from './scratch.js';
import { checkTables } from './tables.js';

export { checkLabel, formatVerifyReport, type CheckStatus, type VerifyCheck, type VerifyReport } from './report.js';
export { scratchDatabaseName } from './scratch.js';

export interface VerifyOptions {
  /** Copycat-db's backups, or the legacy rclone crypt backups of the system it replaced. */
  readonly repository: Repository | LegacyRepository;
  /** A backup id (or legacy name) from `copycat-db list`; the latest complete backup when absent. */
  readonly backupId?: string;
  /** Required when the manifest says the backup is encrypted. */
  readonly key?: Buffer;
  /** Required when the manifest says the backup is encrypted to recipients: one of theirs. */
  readonly identities?: readonly Identity[];
  /** Required for a legacy backup: rcloneCryptKey(password, password2). */
  readonly rcloneKey?: Buffer;
  /** libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE…) of the scratch server, on top of the process's. */
  readonly server: Record<string, string | undefined>;
  /** Where pg_restore and psql are looked for (see choosePgProgram). */
  readonly programs?: PgProgramSearch;
  /** Where CREATE DATABASE and DROP DATABASE run (default `postgres`). */
  readonly maintenanceDatabase?: string;
  /** Default `copycat_verify_<backup id>` (lower case, `_` for anything else). */
  readonly scratchDatabase?: string;
  /** SQL that must each return one row whose first column is true; run after scrub, read-only. */
  readonly checks?: readonly string[];
  /** SQL run in order after the table checks and before `checks` (e.g. deleting tokens from the copy). */
  readonly scrub?: readonly string[];
  /** Leave the scratch database in place (default: drop it, whatever the outcome). */
  readonly keep?: boolean;
  /** Drop an existing scratch database first, but only one that verify made (its comment says so). */
  readonly replace?: boolean;
  /** Without a recorded table list, accept a backup that restores no table at all. */
  readonly allowEmpty?: boolean;
}

/**
 * The restore drill: restores one backup into a scratch database it creates, checks that the stored and
 * plaintext digests match the manifest (during the restore: pg_restore --exit-on-error --single-transaction, so a
 * mismatch rolls everything back), that every table the manifest lists exists with exactly its recorded rows (before
 * any scrub), runs the scrub SQL, then the checks; drops the scratch database unless `keep`. A legacy rclone crypt
 * backup has no manifest: its digests are computed and reported, and its tables come from the archive's contents.
 *
 * Rejects, before creating anything, when there is no such backup, the key or identity is missing or wrong (a legacy
 * backup's password shows only in its first block: then the restore check fails), the scratch
 * database already exists (never reused, never dropped unless `replace` and verify made it) or the server refuses
 * it. Every later failure is a failed check in the report (`ok: false`); an abort through `run.signal` cleans up
 * and then rejects with its reason.
 */
export async function verify(opts: VerifyOptions, run: RunOptions = {}): Promise<VerifyReport> {
  const started = performance.now();
  const log = run.log ?? silentLogger;
  const server = libpqEnv(opts.server);
  const maintenance = opts.maintenanceDatabase ?? 'postgres';
  const backup = await chooseToRead(opts.repository, opts.backupId, opts, run.signal);
  const scratch = opts.scratchDatabase ?? scratchDatabaseName(backup.id);
  checkScratchName(scratch, maintenance);
  const where = `${server.PGHOST ?? 'localhost'}:${server.PGPORT ?? '5432'}`;

  await createScratch(server, maintenance, scratch, backup.id, !!opts.replace);
  log.log('info', 'verify.start', { id: backup.id, scratch, server: where });

  const checks: VerifyCheck[] = [];
  const timings = { tocMs: undefined as number | undefined, restoreMs: 0, tablesMs: 0, scrubMs: 0, checksMs: 0, dropMs: 0 };
  let tableList: VerifyReport['backup']['tableList'] = backup.tables ? 'manifest' : 'none';
  let dumpFormat = backup.dumpFormat;
  let stats: RunStats | undefined;
  let restoredSize: number | undefined;
  let restored = { tables: 0, rows: 0 };
  try {
    let toc: TableOfContents | undefined;
    if (!backup.tables && backup.dumpFormat !== 'plain') {
      const t = performance.now();
      try {
        toc = await readTableOfContents(backup, opts.server, opts.programs, run);
        if (toc.format === 'custom') tableList = 'archive';
        if (dumpFormat === 'unknown') dumpFormat = toc.format;
      } catch (err) {
        if (run.signal?.aborted) throw err;
        checks.push({ kind: 'contents', name: 'archive table of contents', status: 'failed', detail: describeError(err) });
      }
      timings.tocMs = ms(t);
    }

    if (!('kind' in opts.repository)) await checkGlobals(opts.repository, backup, opts, checks, run);
    const t = performance.now();
    stats = await restore(backup, dumpFormat, opts.server, opts.programs, scratch, checks, run);
    timings.restoreMs = ms(t);
    if (!stats) {
      checks.push({ kind: 'contents', name: 'tables', status: 'skipped', detail: 'the restore failed' });
      if (opts.scrub?.length) checks.push({ kind: 'scrub', name: 'scrub', status: 'skipped', detail: 'the restore failed' });
      if (opts.checks?.length) checks.push({ kind: 'check', name: 'checks', status: 'skipped', detail: 'the restore failed' });
    } else {
      const db = pgClient(server, scratch);
      db.on('error', () => {});
      await db.connect();
      try {
        let s = performance.now();
        restored = await checkTables(db, backup.tables, toc, !!opts.allowEmpty, checks);
        restoredSize = Number((await db.query<{ size: string }>('SELECT pg_database_size(current_database())::text AS size')).rows[0]!.size);
        timings.tablesMs = ms(s);
        s = performance.now();
        await scrub(db, opts.scrub ?? [], checks, run.signal);
        timings.scrubMs = ms(s);
        s = performance.now();
        await userChecks(db, opts.checks ?? [], checks, run.signal);
        timings.checksMs = ms(s);
      } finally {
        await db.end().catch(() => {});
      }
    }
  } catch (err) {
    if (!run.signal?.aborted) checks.push({ kind: 'restore', name: 'verify', status: 'failed', detail: describeError(err) });
  }

  let outcome: VerifyReport['scratch']['outcome'] = 'kept';
  if (!opts.keep) {
    const t = performance.now();
    try {
      await dropScratch(server, maintenance, scratch);
      outcome = 'dropped';
    } catch (err) {
      outcome = 'drop-failed';
      checks.push({ kind: 'cleanup', name: 'drop scratch database', status: 'failed', detail: `${describeError(err)} — drop ${scratch} by hand` });
    }
    timings.dropMs = ms(t);
  }
  if (run.signal?.aborted) throw run.signal.reason;

  const failures = failureLines(checks);
  const report: VerifyReport = {
    ok: failures.length === 0,
    backup: {
      id: backup.id,
      location: backup.location,
      key: backup.object.key,
      versionId: backup.object.versionId,
      startedAt: backup.takenAt,
      source: backup.source,
      dumpFormat,
      encrypted: backup.encrypted,
      tableList,
    },
    scratch: { database: scratch, server: where, outcome },
    checks,
    failures,
    sizes: {
      stored: stats?.bytesRead ?? backup.storedSize,
      plaintext: stats?.bytesWritten ?? backup.dumpSize,
      ...(restoredSize !== undefined ? { restoredDatabase: restoredSize } : {}),
    },
    tables: { restored: restored.tables, rows: restored.rows },
    timings: { totalMs: ms(started), ...timings },
  };
  log.log(report.ok ? 'info' : 'error', 'verify.done', { id: backup.id, ok: report.ok, failed: failures.length, checks: checks.length,
    seconds: Number((report.timings.totalMs / 1000).toFixed(2)), scratch: outcome });
  return report;
}
