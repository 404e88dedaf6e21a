import { createHash } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CopycatError } from '../../errors.js';
import { describeS3Error } from '../driver/errors.js';
import { lockVersion, type RetentionTarget } from '../driver/retention.js';
import type { DumpFormat } from '../../formats/archive.js';

export const MANIFEST_FORMAT_VERSION = 1;

/**
 * The largest manifest read. Real ones are a few KiB (a table list of 10,000 tables is about 1 MiB); anyone who can
 * write to the bucket can put a huge one, which a listing would otherwise read whole into memory (a 120 MB manifest
 * made `list` use 581 MB).
 */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/**
 * Written beside each data object once its lock is verified. It holds what restore and verify need to trust
 * the backup, and nothing secret: key ids, never keys; sizes and digests, never table data.
 */
export interface Manifest {
  readonly formatVersion: typeof MANIFEST_FORMAT_VERSION;
  readonly toolVersion: string;
  readonly id: string;
  readonly source: { readonly kind: string; readonly database?: string; readonly serverVersion?: string };
  readonly dumpFormat: DumpFormat | 'parallel' | 'unknown';
  readonly sizes: { readonly plaintext: number; readonly stored: number; readonly compressed?: number };
  readonly sha256: { readonly plaintext: string; readonly stored: string };
  readonly compression: { readonly algorithm: string; readonly level?: number };
  readonly encryption: { readonly algorithm: 'aes-256-gcm-stream-v1'; readonly keyId: string; readonly chunkSize: number } | null;
  readonly object: {
    readonly bucket: string;
    readonly key: string;
    readonly versionId: string;
    readonly retention: { readonly mode: 'COMPLIANCE' | 'GOVERNANCE'; readonly retainUntil: string } | null;
  };
  /** Tables with exact row counts at backup time, where the source could record them. */
  readonly tables?: readonly { readonly name: string; readonly rows: number; readonly bytes?: number }[];
  readonly startedAt: string;
  readonly finishedAt: string;
}

export function parseManifest(text: string, where: string): Manifest {
  const value = JSON.parse(text) as Partial<Manifest>;
  if (value.formatVersion !== MANIFEST_FORMAT_VERSION || typeof value.id !== 'string' || !value.sha256 || !value.object) {
    throw new CopycatError('MANIFEST_INVALID', `${where} is not a copycat-db manifest of format ${MANIFEST_FORMAT_VERSION}: it was not written by this version, or is damaged`);
  }
  return value as Manifest;
}

/**
 * Stores the manifest beside its data object, locked until the same instant, and confirms that lock: a manifest
 * that could be deleted would let someone hide a backup from restore.
 */
export async function writeManifest(
  client: S3Client, bucket: string, key: string, manifest: Manifest, retention: RetentionTarget | null, signal?: AbortSignal,
): Promise<{ versionId: string | undefined }> {
  const body = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
  let versionId: string | undefined;
  try {
    const put = await client.send(new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      ContentType: 'application/json',
      ContentMD5: createHash('md5').update(body).digest('base64'),
      ...(retention ? { ObjectLockMode: retention.mode, ObjectLockRetainUntilDate: retention.retainUntil } : {}),
    }), { abortSignal: signal });
    versionId = put.VersionId;
  } catch (err) {
    // Stopped on purpose: the reason (SIGTERM, an abort) is the cause, not the request it cut short.
    if (signal?.aborted) throw signal.reason;
    throw new CopycatError('S3_WRITE_FAILED', `cannot write the manifest s3://${bucket}/${key}: ${describeS3Error(err)} — the backup stays incomplete`, { cause: err });
  }
  if (retention) {
    if (!versionId) throw new CopycatError('S3_LOCK_UNCONFIRMED', `the server returned no version for s3://${bucket}/${key}: is versioning enabled on the bucket?`);
    await lockVersion(client, bucket, key, versionId, retention, signal);
  }
  return { versionId };
}
