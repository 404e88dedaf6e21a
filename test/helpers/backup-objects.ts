// Fake backups in a bucket: a data object and a manifest, written as the backup command would (data first, manifest
// last), with Object Lock headers, and ids made from any date so that old backups can be had without waiting.
import { createHash, randomBytes } from 'node:crypto';
import {
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { dataKey, manifestKey, newBackupId } from '../../src/repository/layout.js';
import { MANIFEST_FORMAT_VERSION, type Manifest } from '../../src/formats/manifest.js';

export type LockMode = 'COMPLIANCE' | 'GOVERNANCE';

export interface FakeBackupOptions {
  /** The backup's time: its id is newBackupId(time). */
  time: Date;
  /** Write the data object (default true). */
  data?: boolean;
  /** valid (default), none, garbage (not JSON), mismatch (names another data version). */
  manifest?: 'valid' | 'none' | 'garbage' | 'mismatch';
  /** Retention of the data object (and of the manifest when lockManifest); none when unset. */
  retainUntil?: Date;
  mode?: LockMode;
  /** Lock the manifest object too, with the same retention (default true). */
  lockManifest?: boolean;
  /** Stored bytes (default 64). */
  storedBytes?: number;
  /** Plaintext bytes recorded in the manifest (default 3 × stored). */
  plaintextBytes?: number;
}

export interface FakeBackup {
  id: string;
  dataKey: string;
  manifestKey: string;
  dataVersionId: string | undefined;
  manifestVersionId: string | undefined;
  retainUntil: Date | undefined;
  storedBytes: number;
  plaintextBytes: number;
}

const md5 = (body: Buffer): string => createHash('md5').update(body).digest('base64');
const sha256 = (body: Buffer): string => createHash('sha256').update(body).digest('hex');

/** PutObject with Content-MD5 (AWS wants it, or an x-amz-checksum, on lock-carrying PUTs; radosgw validates it). */
export async function putObject(
  client: S3Client,
  bucket: string,
  key: string,
  body: Buffer | string,
  lock?: { mode: LockMode; retainUntil: Date },
): Promise<string | undefined> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const res = await client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: bytes,
      ContentMD5: md5(bytes),
      ...(lock ? { ObjectLockMode: lock.mode, ObjectLockRetainUntilDate: lock.retainUntil } : {}),
    }),
  );
  return res.VersionId;
}

export function fakeManifest(fields: {
  id: string;
  bucket: string;
  key: string;
  versionId: string;
  stored: Buffer;
  plaintextBytes: number;
  retention: { mode: LockMode; retainUntil: Date } | null;
  time: Date;
}): Manifest {
  return {
    formatVersion: MANIFEST_FORMAT_VERSION,
    toolVersion: '0.0.0-test',
    id: fields.id,
    source: { kind: 'test' },
    dumpFormat: 'custom',
    sizes: { plaintext: fields.plaintextBytes, stored: fields.stored.length },
    sha256: { plaintext: '0'.repeat(64), stored: sha256(fields.stored) },
    compression: { algorithm: 'zstd', level: 3 },
    encryption: null,
    object: {
      bucket: fields.bucket,
      key: fields.key,
      versionId: fields.versionId,
      retention: fields.retention ? { mode: fields.retention.mode, retainUntil: fields.retention.retainUntil.toISOString() } : null,
    },
    startedAt: fields.time.toISOString(),
    finishedAt: new Date(fields.time.getTime() + 60_000).toISOString(),
  };
}

/** Writes a fake backup: the data object, then (unless told otherwise) its manifest. */
export async function putFakeBackup(client: S3Client, bucket: string, prefix: string, opts: FakeBackupOptions): Promise<FakeBackup> {
  const id = newBackupId(opts.time);
  const storedBytes = opts.storedBytes ?? 64;
  const plaintextBytes = opts.plaintextBytes ?? storedBytes * 3;
  const lock = opts.retainUntil ? { mode: opts.mode ?? 'GOVERNANCE', retainUntil: opts.retainUntil } : undefined;
  const stored = randomBytes(storedBytes);
  const dKey = dataKey(prefix, id);
  const mKey = manifestKey(prefix, id);
  const dataVersionId = opts.data === false ? undefined : await putObject(client, bucket, dKey, stored, lock);
  const kind = opts.manifest ?? 'valid';
  let manifestVersionId: string | undefined;
  if (kind !== 'none') {
    const body =
      kind === 'garbage'
        ? '{"formatVersion": 1, "id": "trunc'
        : JSON.stringify(
            fakeManifest({
              id,
              bucket,
              key: dKey,
              versionId: kind === 'mismatch' ? 'some-other-version' : (dataVersionId ?? 'missing'),
              stored,
              plaintextBytes,
              retention: lock ?? null,
              time: opts.time,
            }),
          );
    manifestVersionId = await putObject(client, bucket, mKey, body, opts.lockManifest === false ? undefined : lock);
  }
  return { id, dataKey: dKey, manifestKey: mKey, dataVersionId, manifestVersionId, retainUntil: opts.retainUntil, storedBytes, plaintextBytes };
}

/** DeleteObject without VersionId: on a versioned bucket, adds a delete marker. Returns the marker's version id. */
export async function addDeleteMarker(client: S3Client, bucket: string, key: string): Promise<string | undefined> {
  const res = await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  return res.VersionId;
}

/** Every version and delete marker in the bucket as sorted "key version [marker]" lines. */
export async function bucketVersions(client: S3Client, bucket: string): Promise<string[]> {
  const out: string[] = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (;;) {
    const page = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
    for (const v of page.Versions ?? []) out.push(`${v.Key} ${v.VersionId}`);
    for (const m of page.DeleteMarkers ?? []) out.push(`${m.Key} ${m.VersionId} marker`);
    if (!page.IsTruncated) break;
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
  return out.sort();
}

/** Keys of the bucket's multipart uploads in progress, sorted. */
export async function multipartKeys(client: S3Client, bucket: string): Promise<string[]> {
  const res = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (res.Uploads ?? []).map((u) => u.Key!).sort();
}
