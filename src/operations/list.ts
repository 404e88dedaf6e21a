import type { Manifest } from '../formats/manifest.js';
import type { DecryptionSecrets } from '../formats/stream-header.js';
import type { RunOptions } from '../pipeline.js';
import { databaseRepository, listCatalog, pickBackup, type BackupEntry, type Repository } from '../repository/index.js';
import { keyId } from '../formats/encrypted-stream.js';
import { formatBytes } from '../units.js';

/** One backup as `copycat-db list --json` prints it: the same fields for every repository. */
export interface BackupRow {
  readonly id: string;
  readonly time: string;
  readonly size: number | null;
  readonly ratio: number | null;
  readonly lockedUntil: string | null;
  readonly status: BackupEntry['status'];
  readonly problem?: string;
  /** Who can read it: its key id, or the ids of the recipients it was encrypted to; empty when not encrypted. */
  readonly keys: readonly string[];
  /** Whether the key or identities given to `list` open it (absent when none were given). */
  readonly readable?: boolean;
  /** What is on the backup's keys that it did not write (newer versions, delete markers): someone with write access put it there. */
  readonly warnings: readonly string[];
}

export type ListOptions = Pick<RunOptions, 'signal'> & { readonly secrets?: DecryptionSecrets };

/**
 * Every backup in the repository, oldest first, as catalog entries and as the rows `list` prints, and the databases
 * with backups under it (PREFIX/DBNAME/). With `secrets`, each row says whether they open the backup, from the ids the
 * manifest recorded: a key rotation can be checked before an old identity is put away.
 */
export async function list(repository: Repository, options: ListOptions = {}): Promise<{ entries: BackupEntry[]; rows: BackupRow[]; databases: string[] }> {
  const { entries, databases } = await listCatalog(repository, { signal: options.signal });
  return { entries, rows: entries.map((e) => backupRow(e, options.secrets)), databases };
}

/** One database's backups (`database` undefined: the repository's own, at its prefix itself). */
export interface BackupGroup {
  readonly database?: string;
  readonly location: string;
  readonly entries: BackupEntry[];
  readonly rows: BackupRow[];
}

/**
 * `list` of a repository that may hold several databases: its own backups (when it has any, or nothing else), then
 * each database's under PREFIX/DBNAME/, by name.
 */
export async function listByDatabase(repository: Repository, options: ListOptions = {}): Promise<BackupGroup[]> {
  const { databases, ...own } = await list(repository, options);
  const groups: BackupGroup[] = own.entries.length || !databases.length ? [{ location: repository.location, ...own }] : [];
  for (const database of databases) {
    const repo = databaseRepository(repository, database);
    const { entries, rows } = await list(repo, options);
    groups.push({ database, location: repo.location, entries, rows });
  }
  return groups;
}

/** The groups as `list --json` prints them: one array of rows, each with its database where there are several. */
export function groupedRows(groups: readonly BackupGroup[]): (BackupRow & { readonly database?: string | null })[] {
  if (groups.length === 1 && groups[0]!.database === undefined) return groups[0]!.rows;
  return groups.flatMap((g) => g.rows.map((r) => ({ database: g.database ?? null, ...r })));
}

/** The groups as tables, each under a line naming its database and location; one group alone as formatBackupTable. */
export function formatGroupedTables(groups: readonly BackupGroup[]): string {
  if (groups.length === 1 && groups[0]!.database === undefined) return formatBackupTable(groups[0]!.rows);
  return groups.map((g) => `${g.database === undefined ? `${g.location} itself (no database prefix)` : `database ${g.database} (${g.location})`}\n` +
    formatBackupTable(g.rows)).join('\n');
}

function keyIds(encryption: Manifest['encryption'] | undefined): string[] {
  if (!encryption) return [];
  return encryption.algorithm === 'aes-256-gcm-stream-v2' ? [...encryption.recipients] : [encryption.keyId];
}

function opens(encryption: Manifest['encryption'], secrets: DecryptionSecrets): boolean {
  if (!encryption) return true;
  if (encryption.algorithm === 'aes-256-gcm-stream-v2') return !!secrets.identities?.some((i) => encryption.recipients.includes(i.recipient.id));
  return !!secrets.key && keyId(secrets.key) === encryption.keyId;
}

function backupRow(entry: BackupEntry, secrets: DecryptionSecrets | undefined): BackupRow {
  const encryption = entry.manifest?.encryption;
  return {
    id: entry.id,
    time: entry.time.toISOString(),
    size: entry.size ?? null,
    ratio: entry.compressionRatio === undefined ? null : Number(entry.compressionRatio.toFixed(2)),
    lockedUntil: entry.lockedUntil?.toISOString() ?? null,
    status: entry.status,
    ...(entry.problem ? { problem: entry.problem } : {}),
    keys: keyIds(encryption),
    ...(secrets && entry.manifest ? { readable: opens(encryption ?? null, secrets) } : {}),
    warnings: entry.warnings,
  };
}

/** The rows as the aligned table `list` prints, each warning on its own line after it. */
export function formatBackupTable(rows: readonly BackupRow[]): string {
  if (rows.length === 0) return 'no backups\n';
  const checked = rows.some((r) => r.readable !== undefined);
  const cells = [['ID', 'TIME', 'SIZE', 'RATIO', 'LOCKED UNTIL', 'KEYS', ...(checked ? ['READABLE'] : []), 'STATUS'],
    ...rows.map((r) => [r.id, tableTime(r.time), r.size === null ? '-' : formatBytes(r.size),
      r.ratio === null ? '-' : `${r.ratio}`, r.lockedUntil ? tableTime(r.lockedUntil) : '-', r.keys.join(',') || '-',
      ...(checked ? [r.readable === undefined ? '-' : r.readable ? 'yes' : 'no'] : []), r.problem ? `${r.status} (${r.problem})` : r.status])];
  const warnings = rows.flatMap((r) => r.warnings.map((w) => `warning: ${r.id}: ${w}\n`));
  return alignedTable(cells) + warnings.join('');
}

/** One backup in full: its listing row, where it is, and the manifest it wrote (absent when unreadable or missing). */
export interface BackupDetails extends BackupRow {
  readonly location: string;
  readonly manifest?: Manifest;
}

/** The backup with this id (any status), or the latest complete one. */
export async function show(repository: Repository, backupId: string | undefined, run: Pick<RunOptions, 'signal'> = {}): Promise<BackupDetails> {
  const entry = pickBackup(repository, await listCatalog(repository, { signal: run.signal }), backupId);
  return { ...backupRow(entry, undefined), location: repository.location, ...(entry.manifest ? { manifest: entry.manifest } : {}) };
}

/** `show` for people: one fact per line, then the tables with their rows. */
export function formatBackupDetails(d: BackupDetails): string {
  const m = d.manifest;
  const lines: [string, string][] = [['id', d.id], ['status', d.problem ? `${d.status} (${d.problem})` : d.status], ['location', d.location],
    ['locked until', d.lockedUntil ?? 'not locked']];
  if (m) {
    const encryption = !m.encryption ? 'none'
      : m.encryption.algorithm === 'aes-256-gcm-stream-v2' ? `to recipients ${m.encryption.recipients.join(', ')}` : `key id ${m.encryption.keyId}`;
    lines.push(
      ['source', `${m.source.kind}${m.source.database ? ` ${m.source.database}` : ''}${m.source.serverVersion ? ` (server ${m.source.serverVersion})` : ''}`],
      ['dump format', m.dumpFormat],
      ['sizes', `plaintext ${formatBytes(m.sizes.plaintext)}${m.sizes.compressed !== undefined ? `, compressed ${formatBytes(m.sizes.compressed)}` : ''}, stored ${formatBytes(m.sizes.stored)}`],
      ['compression', `${m.compression.algorithm}${m.compression.level !== undefined ? ` level ${m.compression.level}` : ''}`],
      ['encryption', encryption],
      ['sha256', `plaintext ${m.sha256.plaintext}, stored ${m.sha256.stored}`],
      ['object', `${m.object.key} version ${m.object.versionId}${m.object.retention ? ` (${m.object.retention.mode} until ${m.object.retention.retainUntil})` : ''}`],
      ['globals', m.globals ? `${m.globals.key} version ${m.globals.versionId}: plaintext ${formatBytes(m.globals.sizes.plaintext)}, stored ` +
        `${formatBytes(m.globals.sizes.stored)}, ${m.globals.rolePasswords ? 'with' : 'WITHOUT'} role passwords; sha256 plaintext ${m.globals.sha256.plaintext}` : 'not taken (backup without --globals)'],
      ['taken', `${m.startedAt} to ${m.finishedAt} by copycat-db ${m.toolVersion}`],
      ['tables', m.tables ? `${m.tables.length}, ${m.tables.reduce((n, t) => n + t.rows, 0)} rows` : 'not recorded'],
    );
  }
  const width = Math.max(...lines.map(([k]) => k.length));
  const tables = (m?.tables ?? []).map((t) => `  ${t.name}  ${t.rows} rows${t.bytes !== undefined ? `, ${formatBytes(t.bytes)}` : ''}\n`);
  const warnings = d.warnings.map((w) => `warning: ${w}\n`);
  return lines.map(([k, v]) => `${k.padEnd(width)}  ${v}\n`).join('') + tables.join('') + warnings.join('');
}

/** Rows of cells (a heading first) as columns two spaces apart, one line each. */
export function alignedTable(cells: readonly (readonly string[])[]): string {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  return cells.map((c) => c.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** An ISO time without its milliseconds, as tables show it. */
export const tableTime = (iso: string): string => iso.replace(/\.\d+Z$/, 'Z');
