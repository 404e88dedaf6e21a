import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CopycatError } from '../../errors.js';
import { describeS3Error, s3ErrorName } from './errors.js';
import { lockVersion } from './retention.js';

/**
 * How long the probe object stays locked. A retention cannot be shortened or removed (GOVERNANCE only with a bypass
 * permission a backup host should not have), so it is short: the probe then waits for it to pass before deleting.
 */
export const PROBE_LOCK_MS = 2_000;
/** How long the delete keeps trying after the lock should have passed: the server's clock may run a little behind ours. */
const DELETE_PATIENCE_MS = 15_000;

/**
 * Proves, leaving nothing behind, that these credentials may do in this bucket what a backup and prune do: PutObject
 * with a lock, PutObjectRetention and GetObjectRetention on its version (the backup's lock and its proof), and
 * DeleteObject of that version (prune). The lock is GOVERNANCE for seconds, set on the request itself, so a bucket's
 * default retention (COMPLIANCE for years, perhaps) never applies to the probe; a lock of a day would be
 * irreversible. In an unlocked bucket (--allow-unlocked) only the write and the delete are tried. Returns what was
 * proven, for the report.
 */
export async function probeWrite(client: S3Client, bucket: string, key: string, opts: { locked: boolean; signal?: AbortSignal }): Promise<string> {
  const where = `s3://${bucket}/${key}`;
  const send = { abortSignal: opts.signal };
  const lockedUntil = new Date(Math.ceil((Date.now() + PROBE_LOCK_MS) / 1000) * 1000);
  let versionId: string | undefined;
  try {
    const body = Buffer.alloc(0);
    versionId = (await client.send(new PutObjectCommand({
      Bucket: bucket, Key: key, Body: body, ContentMD5: createHash('md5').update(body).digest('base64'),
      ...(opts.locked ? { ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: lockedUntil } : {}),
    }), send)).VersionId;
  } catch (err) {
    opts.signal?.throwIfAborted();
    throw new CopycatError('S3_WRITE_REFUSED', `cannot write the test object ${where}: ${describeS3Error(err)} — the credentials need ` +
      `s3:PutObject${opts.locked ? ' and s3:PutObjectRetention' : ''} on the bucket (and the clocks must agree)`, { cause: err });
  }
  // One second longer than the upload asked: the retention is then set and read back, as after a backup's upload.
  const retainUntil = new Date(lockedUntil.getTime() + 1000);
  if (opts.locked) {
    if (!versionId) throw new CopycatError('S3_LOCK_UNCONFIRMED', `the server returned no version for ${where}: is versioning enabled on the bucket?`);
    await lockVersion(client, bucket, key, versionId, { mode: 'GOVERNANCE', retainUntil }, opts.signal);
  }
  await deleteWhenUnlocked(client, bucket, key, versionId, opts.locked ? retainUntil.getTime() : Date.now(), opts.signal);
  return opts.locked
    ? `wrote ${where}, locked it for seconds (GOVERNANCE), read the lock back, and deleted the version once the lock had passed`
    : `wrote ${where} and deleted it (the bucket has no lock)`;
}

async function deleteWhenUnlocked(client: S3Client, bucket: string, key: string, versionId: string | undefined, from: number, signal?: AbortSignal): Promise<void> {
  const deadline = from + DELETE_PATIENCE_MS;
  for (let wait = from - Date.now(); ; wait = 500) {
    if (wait > 0) await delay(wait, undefined, { signal });
    try {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }), { abortSignal: signal });
      return;
    } catch (err) {
      signal?.throwIfAborted();
      if (s3ErrorName(err) === 'AccessDenied' && Date.now() < deadline) continue;
      throw new CopycatError('S3_DELETE_REFUSED', `cannot delete the test object s3://${bucket}/${key} version ${versionId ?? 'null'}: ` +
        `${describeS3Error(err)} — prune needs s3:DeleteObjectVersion; delete it by hand once its lock has passed`, { cause: err });
    }
  }
}
