/**
 * Streams a backup's download_url into the pipeline, never to disk. Long downloads break: a broken connection resumes
 * with `Range: bytes=N-` from the byte already handed downstream, and an expired presigned URL is replaced by a new
 * export (same backup, so the same archive) and the download continues from the same offset.
 */
import { request, type Dispatcher } from 'undici';
import { CopycatError } from '../../errors.js';
import { sniffArchiveFormat, sniffHead, type ArchiveFormat } from '../../formats/archive.js';
import type { Logger } from '../../log.js';
import type { Produce } from '../../streams.js';
import { formatDuration } from '../../units.js';
import { errorSummary, isTransientNetworkError } from './api.js';
import { backoffDelay, redactUrl, sleep, throwIfAborted, type Backoff } from './timing.js';

export interface DownloadLocation {
  url: string;
  /** download_url_expires_at: past it, the URL is useless and a new export is needed. */
  expiresAt?: string | null;
}

export interface DownloadRetryOptions extends Partial<Backoff> {
  /** Consecutive failures without a single new byte before giving up (default 8). Progress resets the count. */
  maxFailures?: number;
  /** New exports for expired URLs in one download (default 3). */
  maxReexports?: number;
}

export interface DownloadOptions {
  /** Names the download in logs and errors, e.g. `backup 5f3c…`. */
  what: string;
  first: DownloadLocation;
  /** Gets a fresh URL by exporting the backup again. */
  refresh(reason: string): Promise<DownloadLocation>;
  log: Logger;
  dispatcher?: Dispatcher;
  retry?: DownloadRetryOptions;
  /** Longest silence on the connection before it counts as broken (default 2 min). */
  idleTimeoutMs?: number;
  progressIntervalMs?: number;
}

export interface DownloadStats {
  bytes: number;
  total?: number;
  resumes: number;
  reexports: number;
  /** First bytes of the archive, for the sniffed format and a hex peek. */
  head: Buffer;
  archiveFormat: ArchiveFormat;
}

export function newDownloadStats(): DownloadStats {
  return { bytes: 0, resumes: 0, reexports: 0, head: Buffer.alloc(0), archiveFormat: 'unknown' };
}

/** A producer for producerReadable(): pushes the download's bytes and updates `stats` as it goes. */
export function resumableDownload(opts: DownloadOptions, stats: DownloadStats): Produce {
  const backoff: Backoff = { initialMs: opts.retry?.initialMs ?? 1000, maxMs: opts.retry?.maxMs ?? 30_000, factor: opts.retry?.factor ?? 2 };
  const maxFailures = opts.retry?.maxFailures ?? 8;
  const maxReexports = opts.retry?.maxReexports ?? 3;
  const idle = opts.idleTimeoutMs ?? 120_000;
  const progressEvery = opts.progressIntervalMs ?? 60_000;
  const log = opts.log;

  return async (write, signal) => {
    let loc = opts.first;
    let failures = 0;
    let lastProgress = Date.now();
    const started = Date.now();

    const fail = async (reason: string) => {
      failures++;
      if (failures > maxFailures) {
        throw new CopycatError('SCALEWAY_DOWNLOAD',
          `download of ${opts.what} failed ${failures} times in a row at byte ${stats.bytes}` +
            `${stats.total !== undefined ? ` of ${stats.total}` : ''}; last: ${reason}`);
      }
      const wait = backoffDelay(backoff, failures - 1);
      log.log('warn', 'scaleway.download.retry', { what: opts.what, offset: stats.bytes, reason, attempt: failures, waitMs: wait });
      await sleep(wait, signal);
    };
    const reexport = async (reason: string) => {
      if (stats.reexports >= maxReexports) {
        throw new CopycatError('SCALEWAY_DOWNLOAD',
          `download URL of ${opts.what} expired again (${reason}) after ${stats.reexports} new exports, at byte ${stats.bytes}`);
      }
      stats.reexports++;
      log.log('warn', 'scaleway.download.reexport', { what: opts.what, offset: stats.bytes, reason });
      loc = await opts.refresh(reason);
    };

    for (;;) {
      throwIfAborted(signal);
      if (loc.expiresAt && Date.parse(loc.expiresAt) <= Date.now()) {
        await reexport(`download_url_expires_at ${loc.expiresAt} has passed`);
        continue;
      }
      const offset = stats.bytes;
      if (offset > 0) stats.resumes++;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(loc.url, {
          method: 'GET',
          // A presigned URL carries its own authorisation: the API token must not travel to the storage host.
          headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
          signal,
          dispatcher: opts.dispatcher,
          headersTimeout: idle,
          bodyTimeout: idle,
        });
      } catch (err) {
        throwIfAborted(signal);
        if (!isTransientNetworkError(err)) throw err;
        await fail(errorSummary(err));
        continue;
      }

      const status = res.statusCode;
      if (status === 403 || status === 404 || status === 410) {
        await res.body.dump().catch(() => {});
        await reexport(`GET ${redactUrl(loc.url)} answered ${status}`);
        continue;
      }
      if (status === 416 && stats.total !== undefined && offset === stats.total) {
        await res.body.dump().catch(() => {});
        break;
      }
      if (status === 429 || status >= 500) {
        await res.body.dump().catch(() => {});
        await fail(`HTTP ${status}`);
        continue;
      }

      let total: number | undefined;
      if (offset === 0) {
        if (status !== 200) {
          await res.body.dump().catch(() => {});
          throw new CopycatError('SCALEWAY_DOWNLOAD', `GET ${redactUrl(loc.url)} for ${opts.what} answered HTTP ${status}`);
        }
        const len = Number(res.headers['content-length']);
        total = Number.isFinite(len) && res.headers['content-length'] !== undefined ? len : undefined;
      } else {
        // Splicing bytes from anywhere but exactly `offset` would corrupt the archive silently: verify, never assume.
        const range = String(res.headers['content-range'] ?? '');
        const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(range);
        if (status !== 206 || !m || Number(m[1]) !== offset) {
          await res.body.dump().catch(() => {});
          throw new CopycatError('SCALEWAY_DOWNLOAD',
            `resuming ${opts.what} at byte ${offset}: expected 206 with Content-Range "bytes ${offset}-…", got HTTP ${status}` +
              `${range ? ` with Content-Range "${range}"` : ' without Content-Range'}`);
        }
        total = m[3] === '*' ? undefined : Number(m[3]);
      }
      if (total !== undefined) {
        if (stats.total !== undefined && stats.total !== total) {
          await res.body.dump().catch(() => {});
          throw new CopycatError('SCALEWAY_DOWNLOAD',
            `${opts.what} changed size mid-download (${stats.total} then ${total} bytes), cannot continue at byte ${offset}; run the backup again`);
        }
        stats.total = total;
      }

      let got = 0;
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          sniffHead(stats, chunk);
          got += chunk.length;
          stats.bytes += chunk.length;
          await write(chunk);
          if (Date.now() - lastProgress >= progressEvery) {
            lastProgress = Date.now();
            log.log('info', 'scaleway.download.progress', {
              what: opts.what, bytes: stats.bytes, total: stats.total,
              percent: stats.total ? Math.floor((stats.bytes / stats.total) * 100) : undefined,
              elapsed: formatDuration(Date.now() - started),
            });
          }
        }
      } catch (err) {
        throwIfAborted(signal);
        if (got > 0) failures = 0;
        await fail(`connection broke after ${got} bytes: ${errorSummary(err)}`);
        continue;
      }
      if (stats.total !== undefined && stats.bytes < stats.total) {
        if (got > 0) failures = 0;
        await fail(`body ended at byte ${stats.bytes} of ${stats.total}`);
        continue;
      }
      if (stats.total !== undefined && stats.bytes > stats.total) {
        throw new CopycatError('SCALEWAY_DOWNLOAD', `${opts.what}: received ${stats.bytes} bytes, more than the announced ${stats.total}`);
      }
      break;
    }
    if (stats.head.length > 0) stats.archiveFormat = sniffArchiveFormat(stats.head);
    log.log('info', 'scaleway.download.done', {
      what: opts.what, bytes: stats.bytes, resumes: stats.resumes, reexports: stats.reexports,
      archiveFormat: stats.archiveFormat, elapsed: formatDuration(Date.now() - started),
    });
  };
}
