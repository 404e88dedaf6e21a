/**
 * `copycat-db check`: everything a backup needs, proven without dumping a byte. Each check is independent, runs at
 * once with the others, and is bounded in time, so one server that never answers cannot hide the others' verdicts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CopycatError, describeError } from '../errors.js';
import { parseRecipient } from '../formats/recipients.js';
import { keyId } from '../formats/encrypted-stream.js';
import { loadKeyFile, loadRecipientsFile } from '../key.js';
import { choosePgProgram, pgDumpNeed, type PgProgramSearch } from '../pg/programs.js';
import { pgClient } from '../pg/client.js';
import { databaseTarget } from '../pg/conninfo.js';
import { pgDumpCommand } from '../pg/dump.js';
import type { RunOptions } from '../pipeline.js';
import type { Repository } from '../repository/index.js';
import type { ScalewayMode } from '../sources/scaleway/modes.js';
import type { CheckStatus } from './verify/report.js';

/** How long one check may take: a host that never answers fails its own line, not the whole run. */
export const CHECK_TIMEOUT_MS = 60_000;

export interface CheckOptions {
  /** What the start-up check found wrong. When anything, nothing else is tried: the other checks would use those settings. */
  readonly settings: readonly string[];
  /** What to check besides the settings; absent when they are wrong. */
  readonly backup?: BackupNeeds;
  /** How long one check may take (default CHECK_TIMEOUT_MS); for tests. */
  readonly timeoutMs?: number;
}

/** What a backup with these settings would use. */
export interface BackupNeeds {
  /** The key or the recipients it would encrypt to; absent with --no-encrypt. */
  readonly encryption?: { readonly keyFile?: string; readonly recipients?: readonly string[]; readonly recipientsFile?: string };
  readonly source:
    /** Each database a backup would dump (a name or a connection string); none: libpq's default. */
    | { readonly kind: 'pg_dump'; readonly databases: readonly string[] }
    | {
      readonly kind: 'scaleway';
      readonly mode: ScalewayMode;
      readonly instanceId: string;
      readonly databases: readonly string[];
      /** Where the Scaleway credentials and API URL come from: SCW_* variables, or the Scaleway CLI's config file. */
      readonly env: Record<string, string | undefined>;
    };
  /** A repository (its store is prepared, then probed), a single file, or standard output. */
  readonly destination: { readonly repository: Repository; readonly credentials?: string } | { readonly file: string } | 'stdout';
  /** Where the run's lock file would go; it is created when missing. */
  readonly lockDir: string;
  /** Where pg_dump is looked for (--pg-bin-dir): the one a backup would pick must be able to dump the server. */
  readonly programs?: PgProgramSearch;
  /** The Prometheus textfile the backup would write, if any. */
  readonly metricsFile?: string;
}

export interface CheckResult {
  /** settings, encryption, database, scaleway, repository, destination, lock directory, metrics file. */
  readonly name: string;
  readonly status: CheckStatus;
  /** What was proven, or why it failed. */
  readonly detail: string;
}

export interface CheckReport {
  readonly ok: boolean;
  readonly checks: readonly CheckResult[];
}

/** What a check proved, or why it does not apply. */
type Probe = (signal: AbortSignal) => Promise<string | { readonly skipped: string }>;

/** Runs every check (settings first, the others only when the settings hold) and reports each. */
export async function check(opts: CheckOptions, run: Pick<RunOptions, 'signal'> = {}): Promise<CheckReport> {
  const settings: CheckResult = opts.settings.length
    ? { name: 'settings', status: 'failed', detail: opts.settings.join('; ') }
    : { name: 'settings', status: 'ok', detail: 'every setting a backup reads is valid' };
  const timeoutMs = opts.timeoutMs ?? CHECK_TIMEOUT_MS;
  const probes = opts.backup ? backupProbes(opts.backup, timeoutMs) : [];
  const others = await Promise.all(probes.map(([name, probe]) => bounded(name, probe, timeoutMs, run.signal)));
  const checks = [settings, ...others];
  return { ok: checks.every((c) => c.status !== 'failed'), checks };
}

function backupProbes(needs: BackupNeeds, timeoutMs: number): [string, Probe][] {
  const { source, destination } = needs;
  const target: [string, Probe] = destination === 'stdout' ? ['destination', async () => ({ skipped: 'standard output' })]
    : 'file' in destination ? ['destination', () => singleFile(destination.file)]
    : ['repository', (signal) => repository(destination.repository, destination.credentials, signal)];
  const metrics = needs.metricsFile;
  // One line per database when a run takes several, each named as its PREFIX/DBNAME/ is.
  const databases: [string, Probe][] = source.kind === 'scaleway' ? [['scaleway', (signal) => scaleway(source, needs.programs, signal)]]
    : source.databases.length <= 1 ? [['database', (signal) => database(source.databases[0], needs.programs, timeoutMs, signal)]]
    : source.databases.map((db) => [`database ${databaseTarget(db).database}`, (signal) => database(db, needs.programs, timeoutMs, signal)]);
  return [
    ['encryption', () => encryption(needs.encryption)],
    ...databases,
    target,
    ['lock directory', () => writableDirectory(needs.lockDir, 'the lock directory')],
    ['metrics file', async () => (metrics ? metricsFile(metrics) : { skipped: 'none set (COPYCAT_METRICS_FILE, --metrics-file)' })],
  ];
}

/**
 * One check, its failure as its line, and a limit on its time: the signal stops what listens to it (S3 and Scaleway
 * requests, the database connection), and the race ends what does not (a child process, a file system).
 */
async function bounded(name: string, probe: Probe, timeoutMs: number, outer?: AbortSignal): Promise<CheckResult> {
  const timeout = new AbortController();
  const signal = outer ? AbortSignal.any([outer, timeout.signal]) : timeout.signal;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timeout.abort(new CopycatError('CHECK_TIMEOUT', `no answer within ${timeoutMs / 1000} s`));
      reject(timeout.signal.reason);
    }, timeoutMs);
  });
  try {
    const proven = await Promise.race([probe(signal), late]);
    return typeof proven === 'string' ? { name, status: 'ok', detail: proven } : { name, status: 'skipped', detail: proven.skipped };
  } catch (err) {
    outer?.throwIfAborted();
    return { name, status: 'failed', detail: describeError(timeout.signal.aborted ? timeout.signal.reason : err) };
  } finally {
    clearTimeout(timer);
  }
}

async function encryption(given: BackupNeeds['encryption']): Promise<string> {
  if (!given) return 'not encrypted (--no-encrypt)';
  const recipients = [
    ...(given.recipients ?? []).map((text) => parseRecipient(text, '--recipient')),
    ...(given.recipientsFile ? await loadRecipientsFile(given.recipientsFile) : []),
  ];
  if (recipients.length) return `to ${recipients.length} recipient${recipients.length > 1 ? 's' : ''}: ${recipients.map((r) => r.id).join(', ')}`;
  if (given.keyFile) return `with the key ${keyId(await loadKeyFile(given.keyFile))} (${given.keyFile})`;
  throw new CopycatError('KEY_MISSING', 'no key and no recipients');
}

/** The server answers with these credentials, and this pg_dump can dump it (pg_dump refuses a newer server). */
async function database(name: string | undefined, programs: PgProgramSearch | undefined, timeoutMs: number, signal: AbortSignal): Promise<string> {
  const dump = pgDumpCommand({ database: name });
  let server: { version: string };
  // A connect bounded a little past the check (whose own limit names the failure) leaves no socket behind when a host
  // never answers; the signal ends the rest (SIGTERM).
  const connection = pgClient(dump.env, dump.database, timeoutMs + 1_000);
  const close = () => void connection.end().catch(() => {});
  signal.addEventListener('abort', close, { once: true });
  try {
    await connection.connect();
    [server] = (await connection.query<{ version: string }>(`SELECT current_setting('server_version') AS version`)).rows as [typeof server];
  } catch (err) {
    throw new CopycatError('DATABASE_UNREACHABLE', `cannot connect to ${dump.database ?? "libpq's default database"}: ${describeError(err)} — ` +
      'check PGHOST, PGPORT, PGUSER, PGPASSWORD (or ~/.pgpass) and --database', { cause: err });
  } finally {
    signal.removeEventListener('abort', close);
    close();
  }
  const pgDump = await choosePgProgram('pg_dump', programs, pgDumpNeed(server.version));
  return `${dump.database ?? "libpq's default database"} on PostgreSQL ${server.version}; pg_dump ${pgDump.version.text} (${pgDump.command})`;
}

/** The instance exists and is usable, has the database, and (snapshot modes) a snapshot to start from. */
async function scaleway(source: Extract<BackupNeeds['source'], { kind: 'scaleway' }>, programs: PgProgramSearch | undefined, signal: AbortSignal): Promise<string> {
  // Loaded here: undici is needed by the Scaleway modes only.
  const { ScalewayApi } = await import('../sources/scaleway/api.js');
  const { loadScalewayCredentials } = await import('../sources/scaleway/config.js');
  const { newestReadySnapshot } = await import('../sources/scaleway/temp-instance.js');
  const credentials = loadScalewayCredentials({ env: source.env });
  // Two attempts: a check reports a flaky API rather than riding it out as a backup's hours of waiting would.
  const api = new ScalewayApi({ ...credentials, signal, retry: { attempts: 2, initialMs: 500 } });
  const instance = await api.getInstance(source.instanceId);
  if (['error', 'locked', 'deleting', 'unknown'].includes(instance.status)) {
    throw new CopycatError('SCALEWAY_INSTANCE_UNUSABLE', `instance ${source.instanceId} is ${instance.status}: a backup needs it ready`);
  }
  const databases = (await api.listDatabases(source.instanceId)).map((d) => d.name);
  const missing = source.databases.filter((name) => !databases.includes(name));
  if (missing.length) {
    throw new CopycatError('SCALEWAY_DATABASE_MISSING', `instance ${source.instanceId} has no database ${missing.map((m) => `"${m}"`).join(', ')}` +
      `${databases.length ? ` (it has ${databases.join(', ')})` : ''} — check --database (PGDATABASE)`);
  }
  const parts = [`instance ${source.instanceId} (${instance.engine}, ${instance.status}) has database${source.databases.length > 1 ? 's' : ''} ${source.databases.join(', ')}`];
  if (source.mode !== 'scw-export') {
    const snapshot = await newestReadySnapshot(api, source.instanceId);
    parts.push(`newest ready snapshot ${snapshot.id}${snapshot.created_at ? ` of ${snapshot.created_at}` : ''}`);
  }
  if (source.mode === 'snapshot-pgdump') {
    const pgDump = await choosePgProgram('pg_dump', programs, pgDumpNeed(/(\d+)/.exec(instance.engine)?.[1]));
    parts.push(`pg_dump ${pgDump.version.text} (${pgDump.command})`);
  }
  return parts.join('; ');
}

/** The store takes a backup (S3: bucket, versioning, Object Lock) and a test write proves the credentials' rights. */
async function repository(repo: Repository, credentials: string | undefined, signal: AbortSignal): Promise<string> {
  const prepared = await repo.store.prepare(signal);
  const proven = await repo.store.probe(signal);
  return [credentials && `credentials: ${credentials}`, prepared.warning ?? (prepared.locked ? 'locked (versioning and Object Lock)' : undefined), proven]
    .filter(Boolean).join('; ');
}

/** A plain stream into one file: its directory takes new files, and the name is free (a backup never replaces a file). */
async function singleFile(path: string): Promise<string> {
  if (existsSync(path)) throw new CopycatError('FILE_EXISTS', `${path} already exists: a backup never replaces a file — choose another path`);
  return `${await writableDirectory(dirname(resolve(path)), 'the directory')}; ${path} is free`;
}

/** Its name and directory are the start-up check's; this proves the directory takes new files (the file is renamed in). */
async function metricsFile(path: string): Promise<string> {
  return `${await writableDirectory(dirname(resolve(path)), 'its directory')}; written after each backup`;
}

/** A file can be created in `dir`; one that does not exist yet must be creatable (its nearest existing parent writable). */
async function writableDirectory(dir: string, what: string): Promise<string> {
  if (!existsSync(dir)) {
    const parent = dirname(dir);
    if (parent === dir) throw new CopycatError('DIRECTORY_MISSING', `${what} ${dir} does not exist`);
    return `${await writableDirectory(parent, `${what}'s parent`)}, so ${dir} can be created`;
  }
  const probe = resolve(dir, `.copycat-check.${randomBytes(4).toString('hex')}`);
  try {
    await (await open(probe, 'wx', 0o600)).close();
    await unlink(probe);
  } catch (err) {
    throw new CopycatError('DIRECTORY_NOT_WRITABLE', `cannot create a file in ${what} ${dir}: ${(err as NodeJS.ErrnoException).code ?? err} ` +
      '— the user running copycat-db needs write permission there', { cause: err });
  }
  return `${what} ${dir} is writable`;
}

/** One line per check, then the verdict. */
export function formatCheckReport(report: CheckReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = report.checks.map((c) => `${(c.status === 'failed' ? 'FAILED' : c.status).padEnd(7)} ${c.name.padEnd(width)}  ${c.detail}`);
  if (report.checks.length === 1 && !report.ok) lines.push('nothing else was checked: fix the settings first');
  const failed = report.checks.filter((c) => c.status === 'failed').length;
  lines.push(report.ok ? 'ready to back up' : `FAILED: ${failed} of ${report.checks.length} checks failed`);
  return lines.join('\n') + '\n';
}
