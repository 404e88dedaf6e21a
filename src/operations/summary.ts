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
  return {
    dump_bytes: dump,
    stored_bytes: stored,
    ratio: stored > 0 ? Number((dump / stored).toFixed(2)) : null,
    seconds: Number((stats.durationMs / 1000).toFixed(2)),
    dump_mb_per_s: stats.durationMs > 0 ? Number((dump / 1000 / stats.durationMs).toFixed(1)) : null,
  };
}
