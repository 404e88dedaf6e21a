import type { S3Client } from '@aws-sdk/client-s3';
import { restoreSink, restoreTransforms } from '../chain.js';
import { CopycatError } from '../errors.js';
import { pipeline, type RunOptions, type RunStats } from '../pipeline.js';
import type { RestoreTarget } from '../pg/restore-target.js';
import { s3Object } from '../sources/s3-object.js';
import { compressionName } from '../transforms/compression/index.js';
import { keyId } from '../formats/encrypted-stream.js';
import { sha256 } from '../transforms/sha256.js';
import { findBackup, latestComplete, listBackups, type BackupEntry } from './catalog/list.js';
import type { Manifest } from './catalog/manifest.js';

export interface S3RestoreOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  /** A backup id from `copycat-db list`; the latest complete backup when absent. */
  readonly backupId?: string;
  /** Required when the manifest says the backup is encrypted. */
  readonly key?: Buffer;
  /** `jobs` applies to parallel containers. */
  readonly target: RestoreTarget & { readonly create?: boolean; readonly jobs?: number };
}

export interface S3RestoreResult {
  readonly entry: BackupEntry;
  readonly manifest: Manifest;
  readonly stats: RunStats;
}

/**
 * Picks the backup to restore: only complete ones (a manifest written after the lock was verified), read at the
 * versions the backup wrote itself (see listBackups), so a newer version of either key never replaces it.
 */
export async function chooseBackup(client: S3Client, bucket: string, prefix: string, backupId?: string, signal?: AbortSignal): Promise<BackupEntry> {
  const entries = await listBackups(client, bucket, prefix, { signal });
  const where = { bucket, prefix };
  const entry = backupId ? findBackup(entries, backupId, where) : latestComplete(entries, where);
  if (entry.status !== 'complete' || !entry.manifest || !entry.dataVersion) {
    throw new CopycatError('BACKUP_INCOMPLETE', `backup ${entry.id} is ${entry.status}${entry.problem ? ` (${entry.problem})` : ''}: ` +
      'it is never restored — choose a complete one from copycat-db list');
  }
  return entry;
}

/**
 * Streams a stored backup back: GetObject → stored digest → decrypt → decompress → plaintext digest → pg_restore or
 * psql. Both digests must match the manifest; a mismatch fails before the restore commits.
 */
export async function restoreFromS3(opts: S3RestoreOptions, run: RunOptions = {}): Promise<S3RestoreResult> {
  const entry = await chooseBackup(opts.client, opts.bucket, opts.prefix, opts.backupId, run.signal);
  const manifest = entry.manifest!;
  const key = keyForManifest(manifest, opts.key);
  const compression = compressionName(manifest.compression.algorithm);
  const stats = await pipeline(s3Object({ client: opts.client, bucket: opts.bucket, key: entry.dataVersion!.key, versionId: entry.dataVersion!.versionId }))
    .through(
      sha256({ label: 'stored', expect: manifest.sha256.stored }),
      ...restoreTransforms({ compression, key }),
      sha256({ label: 'plaintext', expect: manifest.sha256.plaintext }),
    )
    .to(restoreSink(opts.target))
    .run(run);
  return { entry, manifest, stats };
}

/** Names a wrong or missing key before any byte is read, from the key id the manifest recorded. */
function keyForManifest(manifest: Manifest, key: Buffer | undefined): Buffer | undefined {
  if (!manifest.encryption) return undefined;
  if (!key) {
    throw new CopycatError('KEY_MISSING', `backup ${manifest.id} is encrypted with key id ${manifest.encryption.keyId}: pass --key-file (or set COPYCAT_KEY_FILE) with that key`);
  }
  const given = keyId(key);
  if (given !== manifest.encryption.keyId) {
    throw new CopycatError('WRONG_KEY', `wrong key: backup ${manifest.id} was encrypted with key id ${manifest.encryption.keyId}, the key given has id ${given} — use the key file whose id is ${manifest.encryption.keyId}`);
  }
  return key;
}
