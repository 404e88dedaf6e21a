import { hostname } from 'node:os';
import { request } from 'undici';
import type { LogFields, Logger } from '../log.js';
import { renderPushedMetrics, type RunRecord } from './metrics.js';

export const NOTIFY_TIMEOUT_MS = 10_000;

/** What a webhook receives after a run: JSON, the same fields for success and failure. */
export interface RunNotice {
  readonly event: 'copycat-db.run';
  readonly command: string;
  readonly success: boolean;
  /** The backup location as metrics label it (never credentials). */
  readonly destination: string;
  readonly host: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly seconds: number;
  /** What the run's closing log line said (backup id, sizes, ratio…), secrets masked. */
  readonly summary: LogFields;
  /** The one-line error, secrets masked; absent on success. */
  readonly error?: string;
}

export function runNotice(run: RunRecord, startedAt: Date, summary: LogFields, error: string | undefined): RunNotice {
  return {
    event: 'copycat-db.run', command: run.command, success: run.success, destination: run.destination, host: hostname(),
    startedAt: startedAt.toISOString(), finishedAt: run.finishedAt.toISOString(), seconds: Number((run.durationMs / 1000).toFixed(2)),
    summary, ...(error !== undefined ? { error } : {}),
  };
}

/**
 * POSTs the notice to every webhook at once. Like pings, a receiver that fails or does not answer within the timeout
 * is a warning, never a failed run: monitoring must not break the backup it watches.
 */
export async function postWebhooks(urls: readonly string[], notice: RunNotice, log: Logger, timeoutMs = NOTIFY_TIMEOUT_MS): Promise<void> {
  const body = JSON.stringify(notice);
  await Promise.all(urls.map((url) => send('webhook', url, 'POST', body, 'application/json', log, timeoutMs)));
}

/**
 * Pushes this run's metrics to a Prometheus Pushgateway, for jobs that end before they can be scraped (Kubernetes
 * CronJobs): one group per command and destination, so runs against other destinations keep their series.
 */
export async function pushMetrics(gateway: string, run: RunRecord, log: Logger, timeoutMs = NOTIFY_TIMEOUT_MS): Promise<void> {
  const group = `job/copycat_db/command/${encodeURIComponent(run.command)}/destination@base64/${Buffer.from(run.destination).toString('base64url')}`;
  const url = `${gateway.replace(/\/+$/, '')}/metrics/${group}`;
  await send('pushgateway', url, 'POST', renderPushedMetrics(run), 'text/plain; version=0.0.4', log, timeoutMs);
}

async function send(kind: string, url: string, method: 'POST', body: string, type: string, log: Logger, timeoutMs: number): Promise<void> {
  // The host only in logs: a webhook's path or query is often its secret.
  let host = '?';
  try {
    host = new URL(url).host;
    const res = await request(url, {
      method, body, headers: { 'content-type': type, 'user-agent': 'copycat-db' },
      headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body.dump();
    if (res.statusCode >= 300) log.log('warn', `${kind}.failed`, { host, status: res.statusCode, error: `the server answered HTTP ${res.statusCode}` });
    else log.log('debug', `${kind}.sent`, { host });
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    log.log('warn', `${kind}.failed`, { host, error: timedOut ? `no answer within ${timeoutMs} ms` : err instanceof Error ? err.message : String(err) });
  }
}
