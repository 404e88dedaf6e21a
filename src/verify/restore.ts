import { restoreTransforms } from '../chain.js';
import { CopycatError, describeError } from '../errors.js';
import { keyId } from '../formats/encrypted-stream.js';
import { pipeline, type RunOptions, type RunStats } from '../pipeline.js';
import type { BackupEntry } from '../s3/catalog/list.js';
import type { Manifest } from '../s3/catalog/manifest.js';
import { restoreFromS3 } from '../s3/restore.js';
import { tableOfContentsSink, type TableOfContents } from '../sinks/table-of-contents.js';
import { s3Object } from '../sources/s3-object.js';
import { compressionName } from '../transforms/compression/index.js';
import type { VerifyOptions } from './index.js';
import { ms, type VerifyCheck } from './report.js';

/** Error codes of a backup that is damaged or does not decrypt: the integrity check failed, not the restore. */
const INTEGRITY_CODES = /^(DIGEST_MISMATCH|CHUNK_|HEADER_|FRAME_|TRUNCATED|TRAILING|DECOMPRESS_|NOT_ENCRYPTED)/;

/** The same key checks restore makes, done before a scratch database exists. */
export function keyFor(manifest: Manifest, key: Buffer | undefined): Buffer | undefined {
  if (!manifest.encryption) return undefined;
  if (!key) {
    throw new CopycatError('KEY_MISSING', `backup ${manifest.id} is encrypted with key id ${manifest.encryption.keyId}: pass --key-file (or set COPYCAT_KEY_FILE) with that key`);
  }
  if (keyId(key) !== manifest.encryption.keyId) {
    throw new CopycatError('WRONG_KEY', `wrong key: backup ${manifest.id} was encrypted with key id ${manifest.encryption.keyId}, the key given has id ${keyId(key)} — use the key file whose id is ${manifest.encryption.keyId}`);
  }
  return key;
}

/** The reason the download is stopped once pg_restore --list has the table of contents: not a failure. */
class TableOfContentsRead extends Error {
  override readonly name = 'TableOfContentsRead';
}

/** Streams the backup's head through decryption and decompression into pg_restore --list, then stops the download. */
export async function readTableOfContents(opts: VerifyOptions, entry: BackupEntry, manifest: Manifest, key: Buffer | undefined, run: RunOptions): Promise<TableOfContents> {
  const stop = new AbortController();
  const signal = run.signal ? AbortSignal.any([run.signal, stop.signal]) : stop.signal;
  let toc: TableOfContents | undefined;
  const sink = tableOfContentsSink((found) => {
    toc = found;
    stop.abort(new TableOfContentsRead('table of contents read'));
  }, definedOnly(opts.server));
  try {
    await pipeline(s3Object({ client: opts.client, bucket: opts.bucket, key: entry.dataVersion!.key, versionId: entry.dataVersion!.versionId }))
      .through(...restoreTransforms({ compression: compressionName(manifest.compression.algorithm), key }))
      .to(sink)
      .run({ signal, log: run.log });
  } catch (err) {
    if (!toc) throw err;
  }
  if (!toc) throw new CopycatError('TOC_UNREADABLE', 'pg_restore --list read no table of contents');
  return toc;
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** restoreFromS3 into the scratch database; its digests and decryption are the integrity checks. Undefined on failure. */
export async function restore(opts: VerifyOptions, entry: BackupEntry, manifest: Manifest, key: Buffer | undefined, scratch: string,
  checks: VerifyCheck[], run: RunOptions): Promise<RunStats | undefined> {
  const started = performance.now();
  const program = manifest.dumpFormat === 'plain' ? 'psql -v ON_ERROR_STOP=1 in one transaction' : 'pg_restore --exit-on-error --single-transaction';
  try {
    const { stats } = await restoreFromS3({ client: opts.client, bucket: opts.bucket, prefix: opts.prefix, backupId: entry.id, key,
      target: { database: scratch, env: definedOnly(opts.server) } }, run);
    const durationMs = ms(started);
    for (const label of ['stored', 'plaintext'] as const) {
      const digest = stats.stages.find((s) => s.name === `sha256-${label}`)?.info?.sha256;
      checks.push({ kind: 'integrity', name: `${label} sha256`, status: 'ok', detail: `${String(digest).slice(0, 16)}… matches the manifest` });
    }
    const restoredBy = String(stats.stages[stats.stages.length - 1]?.info?.program ?? program.split(' ')[0]);
    checks.push({ kind: 'restore', name: 'restore', status: 'ok', durationMs,
      detail: `${restoredBy === 'psql' ? 'psql -v ON_ERROR_STOP=1 in one transaction' : 'pg_restore --exit-on-error --single-transaction'} ` +
        `exited 0 (${(durationMs / 1000).toFixed(1)} s, ${stats.durationMs > 0 ? (stats.bytesWritten / 1000 / stats.durationMs).toFixed(1) : '-'} MB/s)` });
    return stats;
  } catch (err) {
    if (run.signal?.aborted) throw err;
    const durationMs = ms(started);
    const code = err instanceof CopycatError ? err.code : undefined;
    const message = describeError(err);
    const mismatch = code === 'DIGEST_MISMATCH' && err instanceof CopycatError ? err.detail?.digest : undefined;
    const integrity = !!code && INTEGRITY_CODES.test(code);
    for (const label of ['stored', 'plaintext'] as const) {
      let check: VerifyCheck;
      if (mismatch === label) check = { kind: 'integrity', name: `${label} sha256`, status: 'failed', detail: message };
      else if (mismatch === 'plaintext' && label === 'stored') check = { kind: 'integrity', name: 'stored sha256', status: 'ok', detail: 'matches the manifest' };
      else if (integrity && !mismatch && label === 'stored') check = { kind: 'integrity', name: 'stored object', status: 'failed', detail: message };
      else check = { kind: 'integrity', name: `${label} sha256`, status: 'skipped', detail: 'not computed: the restore stopped before the end of the backup' };
      checks.push(check);
    }
    checks.push({ kind: 'restore', name: 'restore', status: integrity ? 'skipped' : 'failed', durationMs,
      detail: integrity ? 'rolled back: the backup failed its integrity check' : message });
    return undefined;
  }
}
