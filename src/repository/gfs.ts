import type { BackupEntry } from './catalog.js';

/**
 * Grandfather-father-son retention: for each kind of period, the newest complete backup of each of the last N periods
 * that have one is kept (as restic's --keep-daily and friends). Periods are UTC calendar days, ISO weeks, months and
 * years of the backup's own time (its id), so the plan never depends on the machine's time zone.
 */
export interface GfsRules {
  readonly daily?: number;
  readonly weekly?: number;
  readonly monthly?: number;
  readonly yearly?: number;
}

export interface GfsKeep {
  /** `daily 2026-11-30`, `weekly 2026-W48`, … */
  readonly reasons: readonly string[];
  /**
   * Until when the weekly, monthly and yearly rules mean to keep it: its time plus N periods. A locked backup's lock
   * is extended to this, so the history chosen cannot be deleted early either. Undefined for daily keeps only.
   */
  readonly horizon: Date | undefined;
}

type Kind = keyof GfsRules;
const KINDS: readonly Kind[] = ['daily', 'weekly', 'monthly', 'yearly'];

/** Which backups the rules keep, by id. `entries` in any order; only complete backups count. */
export function gfsKeeps(entries: readonly BackupEntry[], rules: GfsRules): Map<string, GfsKeep> {
  const newestFirst = entries.filter((e) => e.status === 'complete').sort((a, b) => b.time.getTime() - a.time.getTime());
  const keeps = new Map<string, { reasons: string[]; horizon: Date | undefined }>();
  for (const kind of KINDS) {
    const n = rules[kind] ?? 0;
    const seen = new Set<string>();
    for (const entry of newestFirst) {
      if (seen.size >= n) break;
      const period = periodOf(kind, entry.time);
      if (seen.has(period)) continue;
      seen.add(period);
      const keep = keeps.get(entry.id) ?? { reasons: [], horizon: undefined };
      keep.reasons.push(`${kind} ${period}`);
      if (kind !== 'daily') {
        const until = addPeriods(kind, entry.time, n);
        if (!keep.horizon || until > keep.horizon) keep.horizon = until;
      }
      keeps.set(entry.id, keep);
    }
  }
  return keeps;
}

export function validateGfs(rules: GfsRules): string | undefined {
  for (const kind of KINDS) {
    const n = rules[kind];
    if (n !== undefined && (!Number.isInteger(n) || n < 0)) return `--keep-${kind} must be a whole number, 0 or more (got ${n})`;
  }
  return undefined;
}

function periodOf(kind: Kind, t: Date): string {
  const y = t.getUTCFullYear();
  const pad = (n: number) => String(n).padStart(2, '0');
  if (kind === 'yearly') return `${y}`;
  if (kind === 'monthly') return `${y}-${pad(t.getUTCMonth() + 1)}`;
  if (kind === 'daily') return `${y}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
  // ISO 8601 week: the week with the year's first Thursday is week 1; a week belongs to the year of its Thursday.
  const day = new Date(Date.UTC(y, t.getUTCMonth(), t.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${day.getUTCFullYear()}-W${pad(week)}`;
}

function addPeriods(kind: Exclude<Kind, 'daily'>, t: Date, n: number): Date {
  const d = new Date(t);
  if (kind === 'weekly') d.setUTCDate(d.getUTCDate() + 7 * n);
  else if (kind === 'monthly') d.setUTCMonth(d.getUTCMonth() + n);
  else d.setUTCFullYear(d.getUTCFullYear() + n);
  return d;
}
