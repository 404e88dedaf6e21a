import type { LogFields, Logger, LogLevel } from '../log.js';

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Readable `time level event key=value` lines on stderr, so stdout stays free for data (`--to -`). */
export function stderrLogger(minLevel: LogLevel = 'info'): Logger {
  return {
    log(level: LogLevel, event: string, fields: LogFields = {}) {
      if (ORDER[level] < ORDER[minLevel]) return;
      const pairs = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
      process.stderr.write(`${new Date().toISOString()} ${level.padEnd(5)} ${event}${pairs.length ? ' ' + pairs.join(' ') : ''}\n`);
    },
  };
}
