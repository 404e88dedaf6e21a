import type { RunStats } from '../pipeline.js';

/** The few numbers an operator reads after a run, named the same way for backup and restore; metrics and pings use them too. */
export interface RunSummary {
  readonly dump_bytes: number;
  readonly stored_bytes: number;
  readonly ratio: number | null;
  readonly seconds: number;
  readonly dump_mb_per_s: number | null;
}

export function summarize(stats: RunStats, direction: 'backup' | 'restore'): RunSummary {
  const [dump, stored] = direction === 'backup' ? [stats.bytesRead, stats.bytesWritten] : [stats.bytesWritten, stats.bytesRead];
  return summaryOf(dump, stored, stats.durationMs);
}

/** Several backups of one run as one: their bytes added up, over the wall-clock time the run took for them all. */
export function totalSummary(summaries: readonly RunSummary[], durationMs: number): RunSummary {
  return summaryOf(summaries.reduce((n, s) => n + s.dump_bytes, 0), summaries.reduce((n, s) => n + s.stored_bytes, 0), durationMs);
}

function summaryOf(dump: number, stored: number, durationMs: number): RunSummary {
  return {
    dump_bytes: dump,
    stored_bytes: stored,
    ratio: stored > 0 ? Number((dump / stored).toFixed(2)) : null,
    seconds: Number((durationMs / 1000).toFixed(2)),
    dump_mb_per_s: durationMs > 0 ? Number((dump / 1000 / durationMs).toFixed(1)) : null,
  };
}
