import { request } from 'undici';
import type { Logger } from '../log.js';

export const PING_TIMEOUT_MS = 10_000;
/** healthchecks.io keeps the first 100 kB of a ping body; an error line is far shorter, but bound it anyway. */
const MAX_BODY = 10_000;

export type PingKind = 'start' | 'success' | 'fail';

/**
 * healthchecks.io-style pings: `URL/start` when a run starts, `URL` when it succeeded, `URL/fail` with the error as
 * the body when it failed (POST, so the body shows in the check's log). A ping that fails or times out is logged as a
 * warning and never fails the run: monitoring must not break the backup it watches.
 */
export async function ping(baseUrl: string, kind: PingKind, log: Logger, body = '', timeoutMs = PING_TIMEOUT_MS): Promise<boolean> {
  let url: URL;
  try {
    url = pingUrl(baseUrl, kind);
  } catch {
    log.log('warn', 'ping.failed', { kind, error: 'the ping URL is not a valid http(s) URL' });
    return false;
  }
  try {
    const res = await request(url, {
      method: 'POST',
      body: body.slice(0, MAX_BODY),
      headers: { 'content-type': 'text/plain; charset=utf-8', 'user-agent': 'copycat-db' },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body.dump();
    if (res.statusCode >= 300) {
      log.log('warn', 'ping.failed', { kind, host: url.host, status: res.statusCode, error: `the ping server answered HTTP ${res.statusCode}` });
      return false;
    }
    log.log('debug', 'ping.sent', { kind, host: url.host });
    return true;
  } catch (err) {
    const reason = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError') ? `no answer within ${timeoutMs} ms` : err instanceof Error ? err.message : String(err);
    // The host only: the path of a ping URL is its secret.
    log.log('warn', 'ping.failed', { kind, host: url.host, error: reason });
    return false;
  }
}

export function pingUrl(baseUrl: string, kind: PingKind): URL {
  const url = new URL(baseUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('not http(s)');
  if (kind !== 'success') url.pathname = `${url.pathname.replace(/\/+$/, '')}/${kind}`;
  return url;
}
