import type { RunStats } from '../pipeline.js';

/** The few numbers an operator reads after a run. */
export function summarize(stats: RunStats): Record<string, unknown> {
  return {
    bytes_read: stats.bytesRead,
    bytes_written: stats.bytesWritten,
    ratio: stats.bytesWritten > 0 ? Number((stats.bytesRead / stats.bytesWritten).toFixed(2)) : null,
    seconds: Number((stats.durationMs / 1000).toFixed(2)),
    mb_per_s: Number((stats.throughput / 1e6).toFixed(1)),
  };
}
