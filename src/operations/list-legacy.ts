import type { RunOptions } from '../pipeline.js';
import { listLegacyBackups, type LegacyBackup, type LegacyRepository } from '../repository/rclone-crypt.js';
import { formatBytes } from '../units.js';
import { alignedTable, tableTime } from './list.js';

/** One legacy rclone crypt backup as `copycat-db list --legacy-rclone --json` prints it. */
export interface LegacyRow {
  /** What restore and verify take as --backup. */
  readonly id: string;
  readonly time: string;
  /** Stored bytes, and the dump's bytes they decrypt to (null when the stored size shows the object was cut short). */
  readonly size: number;
  readonly dumpSize: number | null;
  readonly lockedUntil: string | null;
  readonly versionId: string;
  readonly problem?: string;
}

/**
 * The legacy backups, oldest first, from the listing alone: names, times, sizes and locks. Nothing is decrypted, so
 * a wrong password or a damaged block shows only when one is restored or verified.
 */
export async function listLegacy(legacy: LegacyRepository, options: Pick<RunOptions, 'signal'> = {}): Promise<{ backups: LegacyBackup[]; rows: LegacyRow[] }> {
  const backups = await listLegacyBackups(legacy, options.signal);
  return {
    backups,
    rows: backups.map((b) => ({
      id: b.id,
      time: b.time.toISOString(),
      size: b.size,
      dumpSize: b.dumpSize ?? null,
      lockedUntil: b.lock.kind === 'retention' ? b.lock.until.toISOString() : null,
      versionId: b.versionId,
      ...(b.problem ? { problem: b.problem } : {}),
    })),
  };
}

export function formatLegacyTable(rows: readonly LegacyRow[]): string {
  if (rows.length === 0) return 'no rclone crypt backups\n';
  return alignedTable([['NAME', 'TIME', 'SIZE', 'DUMP', 'LOCKED UNTIL', 'STATUS'],
    ...rows.map((r) => [r.id, tableTime(r.time), formatBytes(r.size), r.dumpSize === null ? '-' : formatBytes(r.dumpSize),
      r.lockedUntil ? tableTime(r.lockedUntil) : '-', r.problem ?? 'size ok'])]);
}
