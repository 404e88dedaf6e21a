import type { RunOptions } from '../pipeline.js';
import { listBackups, type BackupEntry, type Repository } from '../repository/index.js';
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
  /** What is on the backup's keys that it did not write (newer versions, delete markers): someone with write access put it there. */
  readonly warnings: readonly string[];
}

/** Every backup in the repository, oldest first, as catalog entries and as the rows `list` prints. */
export async function list(repository: Repository, run: Pick<RunOptions, 'signal'> = {}): Promise<{ entries: BackupEntry[]; rows: BackupRow[] }> {
  const entries = await listBackups(repository, { signal: run.signal });
  return { entries, rows: entries.map(backupRow) };
}

function backupRow(entry: BackupEntry): BackupRow {
  return {
    id: entry.id,
    time: entry.time.toISOString(),
    size: entry.size ?? null,
    ratio: entry.compressionRatio === undefined ? null : Number(entry.compressionRatio.toFixed(2)),
    lockedUntil: entry.lockedUntil?.toISOString() ?? null,
    status: entry.status,
    ...(entry.problem ? { problem: entry.problem } : {}),
    warnings: entry.warnings,
  };
}

/** The rows as the aligned table `list` prints, each warning on its own line after it. */
export function formatBackupTable(rows: readonly BackupRow[]): string {
  if (rows.length === 0) return 'no backups\n';
  const cells = [['ID', 'TIME', 'SIZE', 'RATIO', 'LOCKED UNTIL', 'STATUS'],
    ...rows.map((r) => [r.id, r.time.replace(/\.\d+Z$/, 'Z'), r.size === null ? '-' : formatBytes(r.size),
      r.ratio === null ? '-' : `${r.ratio}`, r.lockedUntil?.replace(/\.\d+Z$/, 'Z') ?? '-', r.problem ? `${r.status} (${r.problem})` : r.status])];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  const warnings = rows.flatMap((r) => r.warnings.map((w) => `warning: ${r.id}: ${w}\n`));
  return cells.map((c) => c.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n' + warnings.join('');
}
