import type { S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { restoreTransforms } from './chain.js';
import { CopycatError, describeError } from './errors.js';
import { silentLogger } from './log.js';
import { countSql, USER_TABLES_SQL } from './pg/catalog.js';
import { libpqEnv, pgClient } from './pg/client.js';
import { quoteIdent, quoteLiteral } from './pg/quote.js';
import { pipeline, type RunOptions, type RunStats } from './pipeline.js';
import { describeLocation, type BackupEntry } from './s3/catalog.js';
import type { Manifest } from './s3/manifest.js';
import { chooseBackup, restoreFromS3 } from './s3/restore.js';
import { tableOfContentsSink, type TableOfContents } from './sinks/table-of-contents.js';
import { s3Object } from './sources/s3-object.js';
import { compressionName } from './transforms/compression/index.js';
import { keyId } from './formats/encrypted-stream.js';

export interface VerifyOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  /** A backup id from `copycat-db list`; the latest complete backup when absent. */
  readonly backupId?: string;
  /** Required when the manifest says the backup is encrypted. */
  readonly key?: Buffer;
  /** libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE…) of the scratch server, on top of the process's. */
  readonly server: Record<string, string | undefined>;
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

export type CheckStatus = 'ok' | 'failed' | 'skipped';

export interface VerifyCheck {
  /** integrity (digests, decryption), restore, contents (table lists), table, scrub, check (--check), cleanup. */
  readonly kind: 'integrity' | 'restore' | 'contents' | 'table' | 'scrub' | 'check' | 'cleanup';
  /** `stored sha256`, `billing.invoices`, the SQL of a check, … */
  readonly name: string;
  readonly status: CheckStatus;
  /** What was found, or why it failed or was skipped: `expected 6000 rows, found 5999`. */
  readonly detail: string;
  readonly durationMs?: number;
  /** Rows expected (from the manifest) and found, for table checks. */
  readonly expectedRows?: number;
  readonly rows?: number;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly backup: {
    readonly id: string;
    readonly location: string;
    readonly key: string;
    readonly versionId: string;
    readonly startedAt: string;
    readonly source: Manifest['source'];
    readonly dumpFormat: Manifest['dumpFormat'];
    readonly encrypted: boolean;
    /** Where the expected tables came from: the manifest (with rows), the archive's table of contents, or nowhere. */
    readonly tableList: 'manifest' | 'archive' | 'none';
  };
  readonly scratch: {
    readonly database: string;
    readonly server: string;
    readonly outcome: 'dropped' | 'kept' | 'drop-failed';
  };
  readonly checks: readonly VerifyCheck[];
  /** One line per failed check: `table billing.invoices: expected 6000 rows, found 5999`. */
  readonly failures: readonly string[];
  readonly sizes: { readonly stored: number; readonly plaintext: number; readonly restoredDatabase?: number };
  readonly tables: { readonly restored: number; readonly rows: number };
  readonly timings: {
    readonly totalMs: number;
    readonly tocMs?: number;
    readonly restoreMs: number;
    readonly tablesMs: number;
    readonly scrubMs: number;
    readonly checksMs: number;
    readonly dropMs: number;
  };
}

const SCRATCH_COMMENT = 'copycat-db verify scratch database';
const INTEGRITY_CODES = /^(DIGEST_MISMATCH|CHUNK_|HEADER_|FRAME_|TRUNCATED|TRAILING|DECOMPRESS_|NOT_ENCRYPTED)/;

/** copycat_verify_<id>, lower case, `_` for anything else: a name that needs no quoting. */
export function scratchDatabaseName(backupId: string): string {
  return `copycat_verify_${backupId.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
}

const ms = (since: number): number => Math.round(performance.now() - since);

/**
 * The restore drill: restores one backup into a scratch database it creates, checks that the stored and
 * plaintext digests match the manifest (during the restore: pg_restore --exit-on-error --single-transaction, so a
 * mismatch rolls everything back), that every table the manifest lists exists with exactly its recorded rows (before
 * any scrub), runs the scrub SQL, then the checks; drops the scratch database unless `keep`.
 *
 * Rejects, before creating anything, when there is no such backup, the key is missing or wrong, the scratch
 * database already exists (never reused, never dropped unless `replace` and verify made it) or the server refuses
 * it. Every later failure is a failed check in the report (`ok: false`); an abort through `run.signal` cleans up
 * and then rejects with its reason.
 */
export async function verifyBackup(opts: VerifyOptions, run: RunOptions = {}): Promise<VerifyReport> {
  const started = performance.now();
  const log = run.log ?? silentLogger;
  const server = libpqEnv(opts.server);
  const maintenance = opts.maintenanceDatabase ?? 'postgres';
  const entry = await chooseBackup(opts.client, opts.bucket, opts.prefix, opts.backupId, run.signal);
  const manifest = entry.manifest!;
  const key = keyFor(manifest, opts.key);
  const scratch = opts.scratchDatabase ?? scratchDatabaseName(entry.id);
  checkScratchName(scratch, maintenance);
  const where = `${server.PGHOST ?? 'localhost'}:${server.PGPORT ?? '5432'}`;

  await createScratch(server, maintenance, scratch, entry.id, !!opts.replace);
  log.log('info', 'verify.start', { id: entry.id, scratch, server: where });

  const checks: VerifyCheck[] = [];
  const timings = { tocMs: undefined as number | undefined, restoreMs: 0, tablesMs: 0, scrubMs: 0, checksMs: 0, dropMs: 0 };
  let tableList: VerifyReport['backup']['tableList'] = manifest.tables ? 'manifest' : 'none';
  let stats: RunStats | undefined;
  let restoredSize: number | undefined;
  let restored = { tables: 0, rows: 0 };
  try {
    let toc: TableOfContents | undefined;
    if (!manifest.tables && manifest.dumpFormat !== 'plain') {
      const t = performance.now();
      try {
        toc = await readTableOfContents(opts, entry, manifest, key, run);
        if (toc.format === 'custom') tableList = 'archive';
      } catch (err) {
        if (run.signal?.aborted) throw err;
        checks.push({ kind: 'contents', name: 'archive table of contents', status: 'failed', detail: describeError(err) });
      }
      timings.tocMs = ms(t);
    }

    const t = performance.now();
    stats = await restore(opts, entry, manifest, key, scratch, checks, run);
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
        restored = await checkTables(db, manifest, toc, !!opts.allowEmpty, checks);
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

  const failures = checks.filter((c) => c.status === 'failed').map((c) => `${checkLabel(c)}: ${c.detail}`);
  const report: VerifyReport = {
    ok: failures.length === 0,
    backup: {
      id: entry.id,
      location: describeLocation(opts.bucket, opts.prefix),
      key: manifest.object.key,
      versionId: manifest.object.versionId,
      startedAt: manifest.startedAt,
      source: manifest.source,
      dumpFormat: manifest.dumpFormat,
      encrypted: !!manifest.encryption,
      tableList,
    },
    scratch: { database: scratch, server: where, outcome },
    checks,
    failures,
    sizes: {
      stored: stats?.bytesRead ?? manifest.sizes.stored,
      plaintext: stats?.bytesWritten ?? manifest.sizes.plaintext,
      ...(restoredSize !== undefined ? { restoredDatabase: restoredSize } : {}),
    },
    tables: { restored: restored.tables, rows: restored.rows },
    timings: { totalMs: ms(started), ...timings },
  };
  log.log(report.ok ? 'info' : 'error', 'verify.done', { id: entry.id, ok: report.ok, failed: failures.length, checks: checks.length,
    seconds: Number((report.timings.totalMs / 1000).toFixed(2)), scratch: outcome });
  return report;
}

/** How a check is named in one-line failures: `table billing.invoices`, `check "SELECT …"`. */
export function checkLabel(c: VerifyCheck): string {
  if (c.kind === 'check' || c.kind === 'scrub') return c.name === 'checks' || c.name === 'scrub' ? c.name : `${c.kind} ${JSON.stringify(shorten(c.name))}`;
  if (c.kind === 'table') return `table ${c.name}`;
  return c.name;
}

function shorten(sql: string, max = 80): string {
  const one = sql.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** The same key checks restore makes, done before a scratch database exists. */
function keyFor(manifest: Manifest, key: Buffer | undefined): Buffer | undefined {
  if (!manifest.encryption) return undefined;
  if (!key) {
    throw new CopycatError('KEY_MISSING', `backup ${manifest.id} is encrypted with key id ${manifest.encryption.keyId}: pass --key-file (or set COPYCAT_KEY_FILE) with that key`);
  }
  if (keyId(key) !== manifest.encryption.keyId) {
    throw new CopycatError('WRONG_KEY', `wrong key: backup ${manifest.id} was encrypted with key id ${manifest.encryption.keyId}, the key given has id ${keyId(key)} — use the key file whose id is ${manifest.encryption.keyId}`);
  }
  return key;
}

function checkScratchName(name: string, maintenance: string): void {
  if (!name || Buffer.byteLength(name) > 63) {
    throw new CopycatError('OPTION_INVALID', `scratch database name "${name}" must be 1 to 63 bytes (PostgreSQL would silently shorten it)`);
  }
  if (['postgres', 'template0', 'template1', maintenance].includes(name)) {
    throw new CopycatError('OPTION_INVALID', `"${name}" cannot be the scratch database: choose a name of its own (--scratch-database)`);
  }
}

/**
 * Creates the scratch database from template0 and marks it with a comment. An existing database of that name is
 * never reused; with `replace` it is dropped first, but only when its comment shows verify made it.
 */
async function createScratch(server: Record<string, string | undefined>, maintenance: string, name: string, id: string, replace: boolean): Promise<void> {
  const admin = pgClient(server, maintenance);
  admin.on('error', () => {});
  try {
    await admin.connect();
  } catch (err) {
    throw new CopycatError('SCRATCH_SERVER', `cannot connect to the scratch server's ${maintenance} database: ${describeError(err)} — set PGHOST, PGPORT, PGUSER, PGPASSWORD (or --maintenance-database)`, { cause: err });
  }
  try {
    const { rows } = await admin.query<{ comment: string | null }>(
      `SELECT pg_catalog.shobj_description(oid, 'pg_database') AS comment FROM pg_catalog.pg_database WHERE datname = $1`, [name]);
    if (rows.length) {
      const ours = rows[0]!.comment?.startsWith(SCRATCH_COMMENT) ?? false;
      if (!replace || !ours) {
        throw new CopycatError('SCRATCH_EXISTS', `database ${name} already exists: verify never reuses a database, and drops only those it made — ` +
          (ours ? 'pass --replace to drop this earlier scratch copy, or choose another --scratch-database'
            : 'it was not made by copycat-db verify, so choose another --scratch-database'));
      }
      await admin.query(`DROP DATABASE ${quoteIdent(name)}${await forceClause(admin)}`);
    }
    try {
      await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`);
    } catch (err) {
      throw new CopycatError('SCRATCH_CREATE_FAILED', `cannot create the scratch database ${name}: ${describeError(err)} — the role needs CREATEDB`, { cause: err });
    }
    await admin.query(`COMMENT ON DATABASE ${quoteIdent(name)} IS ${quoteLiteral(`${SCRATCH_COMMENT} (backup ${id}, ${new Date().toISOString()})`)}`);
  } finally {
    await admin.end().catch(() => {});
  }
}

async function forceClause(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
  return Number(rows[0]!.v) >= 130000 ? ' WITH (FORCE)' : '';
}

async function dropScratch(server: Record<string, string | undefined>, maintenance: string, name: string): Promise<void> {
  const admin = pgClient(server, maintenance);
  admin.on('error', () => {});
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}${await forceClause(admin)}`);
  } finally {
    await admin.end().catch(() => {});
  }
}

class TableOfContentsRead extends Error {
  override readonly name = 'TableOfContentsRead';
}

/** Streams the backup's head through decryption and decompression into pg_restore --list, then stops the download. */
async function readTableOfContents(opts: VerifyOptions, entry: BackupEntry, manifest: Manifest, key: Buffer | undefined, run: RunOptions): Promise<TableOfContents> {
  const stop = new AbortController();
  const signal = run.signal ? AbortSignal.any([run.signal, stop.signal]) : stop.signal;
  let toc: TableOfContents | undefined;
  const sink = tableOfContentsSink((found) => {
    toc = found;
    stop.abort(new TableOfContentsRead('table of contents read'));
  }, definedOnly(opts.server));
  try {
    await pipeline(s3Object({ client: opts.client, bucket: opts.bucket, key: entry.dataVersion!.key, versionId: entry.dataVersion!.versionId }))
      .through(...restoreTransforms({ compression: compressionName(manifest.compression.algorithm), key }))
      .to(sink)
      .run({ signal, log: run.log });
  } catch (err) {
    if (!toc) throw err;
  }
  if (!toc) throw new CopycatError('TOC_UNREADABLE', 'pg_restore --list read no table of contents');
  return toc;
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** restoreFromS3 into the scratch database; its digests and decryption are the integrity checks. Undefined on failure. */
async function restore(opts: VerifyOptions, entry: BackupEntry, manifest: Manifest, key: Buffer | undefined, scratch: string,
  checks: VerifyCheck[], run: RunOptions): Promise<RunStats | undefined> {
  const started = performance.now();
  const program = manifest.dumpFormat === 'plain' ? 'psql -v ON_ERROR_STOP=1 in one transaction' : 'pg_restore --exit-on-error --single-transaction';
  try {
    const { stats } = await restoreFromS3({ client: opts.client, bucket: opts.bucket, prefix: opts.prefix, backupId: entry.id, key,
      target: { database: scratch, env: definedOnly(opts.server) } }, run);
    const durationMs = ms(started);
    for (const label of ['stored', 'plaintext'] as const) {
      const digest = stats.stages.find((s) => s.name === `sha256-${label}`)?.info?.sha256;
      checks.push({ kind: 'integrity', name: `${label} sha256`, status: 'ok', detail: `${String(digest).slice(0, 16)}… matches the manifest` });
    }
    const restoredBy = String(stats.stages[stats.stages.length - 1]?.info?.program ?? program.split(' ')[0]);
    checks.push({ kind: 'restore', name: 'restore', status: 'ok', durationMs,
      detail: `${restoredBy === 'psql' ? 'psql -v ON_ERROR_STOP=1 in one transaction' : 'pg_restore --exit-on-error --single-transaction'} ` +
        `exited 0 (${(durationMs / 1000).toFixed(1)} s, ${stats.durationMs > 0 ? (stats.bytesWritten / 1000 / stats.durationMs).toFixed(1) : '-'} MB/s)` });
    return stats;
  } catch (err) {
    if (run.signal?.aborted) throw err;
    const durationMs = ms(started);
    const code = err instanceof CopycatError ? err.code : undefined;
    const message = describeError(err);
    const mismatch = code === 'DIGEST_MISMATCH' && err instanceof CopycatError ? err.detail?.digest : undefined;
    const integrity = !!code && INTEGRITY_CODES.test(code);
    for (const label of ['stored', 'plaintext'] as const) {
      let check: VerifyCheck;
      if (mismatch === label) check = { kind: 'integrity', name: `${label} sha256`, status: 'failed', detail: message };
      else if (mismatch === 'plaintext' && label === 'stored') check = { kind: 'integrity', name: 'stored sha256', status: 'ok', detail: 'matches the manifest' };
      else if (integrity && !mismatch && label === 'stored') check = { kind: 'integrity', name: 'stored object', status: 'failed', detail: message };
      else check = { kind: 'integrity', name: `${label} sha256`, status: 'skipped', detail: 'not computed: the restore stopped before the end of the backup' };
      checks.push(check);
    }
    checks.push({ kind: 'restore', name: 'restore', status: integrity ? 'skipped' : 'failed', durationMs,
      detail: integrity ? 'rolled back: the backup failed its integrity check' : message });
    return undefined;
  }
}

interface RestoredTable {
  readonly name: string;
  readonly nspname: string;
  readonly relname: string;
}

/**
 * Every table the manifest lists must exist with exactly its rows; without a manifest list, every TABLE DATA entry
 * of the archive's table of contents must exist; without either, at least one table must (unless allowEmpty).
 */
async function checkTables(db: pg.Client, manifest: Manifest, toc: TableOfContents | undefined, allowEmpty: boolean,
  checks: VerifyCheck[]): Promise<{ tables: number; rows: number }> {
  const restored = (await db.query<RestoredTable>(USER_TABLES_SQL)).rows;
  const byName = new Map(restored.map((t) => [t.name, t]));
  const counted = new Map<string, number>();
  const countRows = async (name: string): Promise<number> => {
    const n = Number((await db.query<{ n: string }>(countSql(name))).rows[0]!.n);
    counted.set(name, n);
    return n;
  };
  const listed = new Set<string>();

  if (manifest.tables) {
    checks.push({ kind: 'contents', name: 'tables', status: 'ok',
      detail: `${manifest.tables.length} recorded in the manifest with their rows, ${restored.length} restored` });
    for (const t of manifest.tables) {
      listed.add(t.name);
      // Only names read from the restored catalog are ever put into SQL, never a manifest's text.
      const found = byName.get(t.name);
      if (!found) {
        checks.push({ kind: 'table', name: t.name, status: 'failed', detail: 'missing', expectedRows: t.rows });
        continue;
      }
      const rows = await countRows(found.name);
      checks.push(rows === t.rows
        ? { kind: 'table', name: t.name, status: 'ok', detail: `${rows} rows`, expectedRows: t.rows, rows }
        : { kind: 'table', name: t.name, status: 'failed', detail: `expected ${t.rows} rows, found ${rows}`, expectedRows: t.rows, rows });
    }
  } else if (toc?.format === 'custom') {
    checks.push({ kind: 'contents', name: 'tables', status: 'ok',
      detail: `no table list in the manifest: ${toc.tableData.length} tables with data in the archive's table of contents, ${restored.length} restored` });
    for (const entry of toc.tableData) {
      const found = restored.find((t) => entry.rest === `${t.nspname} ${t.relname}` || entry.rest.startsWith(`${t.nspname} ${t.relname} `));
      if (!found) {
        const parts = entry.rest.split(' ');
        checks.push({ kind: 'table', name: parts.length >= 2 ? `${parts[0]}.${parts.slice(1, -1).join(' ') || parts[1]}` : entry.rest, status: 'failed',
          detail: 'missing (listed in the archive)' });
        continue;
      }
      listed.add(found.name);
      const rows = await countRows(found.name);
      checks.push({ kind: 'table', name: found.name, status: 'ok', detail: `${rows} rows (no count recorded)`, rows });
    }
  } else {
    const empty = restored.length === 0 && !allowEmpty;
    checks.push({ kind: 'contents', name: 'tables', status: empty ? 'failed' : 'ok',
      detail: `no table list recorded; ${restored.length} tables restored${empty ? ' — a backup with no table is taken for a failed one (--allow-empty accepts it)' : ''}` });
  }
  for (const t of restored) {
    if (listed.has(t.name)) continue;
    const rows = await countRows(t.name);
    checks.push({ kind: 'table', name: t.name, status: 'ok', detail: `${rows} rows${manifest.tables || toc?.format === 'custom' ? ' (restored, not in the list)' : ''}`, rows });
  }
  return { tables: restored.length, rows: [...counted.values()].reduce((a, b) => a + b, 0) };
}

/** Scrub statements in order, each committed on its own; the first failure skips the rest. */
async function scrub(db: pg.Client, statements: readonly string[], checks: VerifyCheck[], signal?: AbortSignal): Promise<void> {
  let failed = false;
  for (const sql of statements) {
    if (failed || signal?.aborted) {
      checks.push({ kind: 'scrub', name: sql, status: 'skipped', detail: failed ? 'an earlier scrub failed' : 'aborted' });
      continue;
    }
    const started = performance.now();
    try {
      const result = lastResult(await db.query(sql));
      checks.push({ kind: 'scrub', name: sql, status: 'ok', durationMs: ms(started),
        detail: result?.rowCount != null ? `${result.command ?? 'done'}: ${result.rowCount} rows` : 'done' });
    } catch (err) {
      failed = true;
      checks.push({ kind: 'scrub', name: sql, status: 'failed', durationMs: ms(started), detail: `failed: ${describeError(err)}` });
    }
  }
}

/** Each check in a read-only transaction, rolled back: it must return a row whose first column is true. */
async function userChecks(db: pg.Client, statements: readonly string[], checks: VerifyCheck[], signal?: AbortSignal): Promise<void> {
  for (const sql of statements) {
    if (signal?.aborted) {
      checks.push({ kind: 'check', name: sql, status: 'skipped', detail: 'aborted' });
      continue;
    }
    const started = performance.now();
    let detail: string;
    let ok = false;
    try {
      await db.query('BEGIN READ ONLY');
      try {
        const result = lastResult(await db.query(sql));
        const row = result?.rows[0] as Record<string, unknown> | undefined;
        const value = row ? Object.values(row)[0] : undefined;
        ok = value === true;
        detail = !result || !result.fields?.length ? 'returned no result'
          : !row ? 'returned no rows'
            : value === true ? 'returned true'
              : value === false ? 'returned false'
                : `returned ${JSON.stringify(value) ?? String(value)}, not true`;
      } finally {
        await db.query('ROLLBACK').catch(() => {});
      }
    } catch (err) {
      detail = `failed: ${describeError(err)}`;
    }
    checks.push({ kind: 'check', name: sql, status: ok ? 'ok' : 'failed', detail, durationMs: ms(started) });
  }
}

/** A multi-statement query answers with one result per statement: the last one is what the SQL "returns". */
function lastResult(result: pg.QueryResult | pg.QueryResult[]): pg.QueryResult | undefined {
  return Array.isArray(result) ? result[result.length - 1] : result;
}

/** The text report: one line per check, then the verdict. */
export function formatVerifyReport(report: VerifyReport): string {
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const s = (n: number) => `${(n / 1000).toFixed(1)} s`;
  const b = report.backup;
  const lines = [
    `backup ${b.id} from ${b.location} (${b.source.kind}${b.source.database ? ` of ${b.source.database}` : ''}, ${b.dumpFormat}, ` +
      `${mb(report.sizes.stored)} stored, ${mb(report.sizes.plaintext)} dump${b.encrypted ? ', encrypted' : ''})`,
    `scratch database ${report.scratch.database} on ${report.scratch.server}: ${report.scratch.outcome}` +
      (report.sizes.restoredDatabase !== undefined ? ` (${mb(report.sizes.restoredDatabase)} restored, ${report.tables.restored} tables, ${report.tables.rows} rows)` : ''),
  ];
  const width = Math.max(...report.checks.map((c) => c.kind.length));
  for (const c of report.checks) {
    const status = c.status === 'ok' ? 'ok' : c.status === 'failed' ? 'FAILED' : 'skipped';
    const name = c.kind === 'check' || c.kind === 'scrub' ? (c.name === 'checks' || c.name === 'scrub' ? c.name : shorten(c.name, 60)) : c.name;
    lines.push(`${status.padEnd(7)} ${c.kind.padEnd(width)}  ${name}: ${c.detail}`);
  }
  const t = report.timings;
  const failed = report.failures.length;
  lines.push(`${report.ok ? 'verified' : `FAILED: ${failed} of ${report.checks.length} checks failed`} in ${s(t.totalMs)} ` +
    `(${t.tocMs !== undefined ? `contents ${s(t.tocMs)}, ` : ''}restore ${s(t.restoreMs)}, tables ${s(t.tablesMs)}, scrub ${s(t.scrubMs)}, checks ${s(t.checksMs)}, drop ${s(t.dropMs)})`);
  return lines.join('\n') + '\n';
}
