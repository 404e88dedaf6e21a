import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CopycatError } from '../errors.js';
import { abortMultipartUpload, describeS3Error, s3ErrorName } from '../s3/driver/errors.js';
import { providerMaxParts } from '../s3/driver/part-plan.js';
import { preflight } from '../s3/driver/preflight.js';
import { lockVersion, readRetention, type RetentionPolicy } from '../s3/driver/retention.js';
import { probeWrite } from '../s3/driver/write-probe.js';
import { s3Sink, type S3Checksum } from '../sinks/s3.js';
import { s3Object } from '../sources/s3-object.js';
import type { Repository } from './index.js';
import { listPrefix, probeKey } from './layout.js';
import type { ObjectStore, PendingWrite, StoredVersion, VersionLock } from './store.js';

export interface S3StoreOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** The repository's prefix, for its location text. */
  readonly prefix: string;
  /** How backups are written (backup only). */
  readonly upload?: S3UploadOptions;
  /** Keys per ListObjectVersions page (the server's default, 1000, when unset). */
  readonly pageSize?: number;
}

export function s3Repository(opts: S3StoreOptions): Repository {
  const prefix = opts.prefix.replace(/\/+$/, '');
  const store = s3Store({ ...opts, prefix });
  return { store, prefix, location: store.location };
}

export interface S3UploadOptions {
  /** Applied when the bucket has Object Lock; a bucket without it is refused unless allowUnlocked. */
  readonly retention: RetentionPolicy;
  readonly allowUnlocked?: boolean;
  /** Overrides the source's own estimate for part planning. */
  readonly expectedSize?: number;
  /** The provider's part limit; by default the endpoint's provider's (providerMaxParts). */
  readonly maxParts?: number;
  readonly partSize?: number;
  readonly concurrency?: number;
  readonly checksum?: S3Checksum;
}

const NOT_FOUND = new Set(['NoSuchKey', 'NoSuchVersion', 'NotFound']);

/** s3://bucket/prefix (s3://bucket for the bucket's root). */
export function s3Location(bucket: string, prefix: string): string {
  const p = prefix.replace(/\/+$/, '');
  return p ? `s3://${bucket}/${p}` : `s3://${bucket}`;
}

/** A versioned, usually object-locked, bucket: every request takes the run's signal, so SIGTERM cancels it. */
export function s3Store(opts: S3StoreOptions): ObjectStore {
  const { client, bucket } = opts;
  const location = s3Location(bucket, opts.prefix);
  let locked = false;
  let endpointMaxParts: number | undefined;
  const upload = (): S3UploadOptions => {
    if (!opts.upload) throw new Error('s3Store: a backup needs upload options');
    return opts.upload;
  };
  return {
    location,
    describe: (key) => `s3://${bucket}/${key}`,

    async listVersions(prefix, signal) {
      const out: StoredVersion[] = [];
      const seen = new Set<string>();
      let keyMarker: string | undefined;
      let versionIdMarker: string | undefined;
      for (;;) {
        let page;
        try {
          page = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix || undefined, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker, MaxKeys: opts.pageSize }),
            { abortSignal: signal });
        } catch (err) {
          signal?.throwIfAborted();
          throw new CopycatError('S3_LIST_FAILED', `cannot list ${location}: ${describeS3Error(err)}`, { cause: err });
        }
        const add = (key: string | undefined, versionId: string | undefined, deleteMarker: boolean, latest: boolean | undefined, lastModified: Date | undefined, size: number | undefined): void => {
          if (!key) return;
          const vid = versionId ?? 'null';
          const dedupe = `${key}\u0000${vid}`;
          if (seen.has(dedupe)) return; // some servers repeat the boundary entry of a page
          seen.add(dedupe);
          out.push({ key, versionId: vid, deleteMarker, latest: latest ?? false, lastModified, size });
        };
        for (const v of page.Versions ?? []) add(v.Key, v.VersionId, false, v.IsLatest, v.LastModified, v.Size);
        for (const m of page.DeleteMarkers ?? []) add(m.Key, m.VersionId, true, m.IsLatest, m.LastModified, undefined);
        if (!page.IsTruncated) return out;
        if (!page.NextKeyMarker && !page.NextVersionIdMarker) {
          throw new CopycatError('S3_LIST_FAILED', `cannot list ${location}: the server said the listing is truncated but gave no marker to continue from`);
        }
        keyMarker = page.NextKeyMarker;
        versionIdMarker = page.NextVersionIdMarker;
      }
    },

    async readSmall(key, versionId, maxBytes, signal) {
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }), { abortSignal: signal });
        const chunks: Buffer[] = [];
        let bytes = 0;
        // The listing's size could be stale or wrong: the read itself stops at the bound (leaving the loop destroys the body).
        for await (const chunk of (res.Body ?? []) as AsyncIterable<Buffer>) {
          bytes += chunk.length;
          if (bytes > maxBytes) return 'too-large';
          chunks.push(chunk);
        }
        return Buffer.concat(chunks);
      } catch (err) {
        signal?.throwIfAborted();
        const name = s3ErrorName(err);
        if (name && NOT_FOUND.has(name)) return 'missing';
        throw new CopycatError('S3_READ_FAILED', `cannot read s3://${bucket}/${key} version ${versionId}: ${describeS3Error(err)}`, { cause: err });
      }
    },

    async lockOf(key, versionId, signal): Promise<VersionLock> {
      try {
        const found = await readRetention(client, bucket, key, versionId, signal);
        return found ? { kind: 'retention', mode: found.mode, until: found.retainUntil } : { kind: 'none' };
      } catch (err) {
        signal?.throwIfAborted();
        const name = s3ErrorName(err);
        // A bucket without Object Lock answers InvalidRequest: no retention.
        if (name === 'InvalidRequest') return { kind: 'none' };
        if (name === 'AccessDenied') return { kind: 'unknown', reason: 'the server refused GetObjectRetention (AccessDenied)' };
        if (name && NOT_FOUND.has(name)) return { kind: 'unknown', reason: 'the version is gone' };
        throw new CopycatError('S3_REQUEST_FAILED', `GetObjectRetention on s3://${bucket}/${key} version ${versionId} failed: ${describeS3Error(err)}`, { cause: err });
      }
    },

    async deleteVersion(key, versionId, signal) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }), { abortSignal: signal });
      } catch (err) {
        signal?.throwIfAborted();
        const refused = s3ErrorName(err) === 'AccessDenied';
        throw new CopycatError(refused ? 'S3_DELETE_REFUSED' : 'S3_DELETE_FAILED', describeS3Error(err), { cause: err, detail: { refused } });
      }
    },

    async extendLock(key, versionId, lock, signal) {
      await lockVersion(client, bucket, key, versionId, { mode: lock.mode, retainUntil: lock.until }, signal);
    },

    async listPending(prefix, signal) {
      const out: PendingWrite[] = [];
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      for (;;) {
        let page;
        try {
          page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix || undefined, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
            { abortSignal: signal });
        } catch (err) {
          signal?.throwIfAborted();
          throw new CopycatError('S3_LIST_FAILED', `listing multipart uploads under ${location} failed: ${describeS3Error(err)}`, { cause: err });
        }
        for (const u of page.Uploads ?? []) {
          if (u.Key && u.UploadId) out.push({ key: u.Key, id: u.UploadId, started: u.Initiated ? new Date(u.Initiated) : undefined });
        }
        if (!page.IsTruncated || (!page.NextKeyMarker && !page.NextUploadIdMarker)) return out;
        keyMarker = page.NextKeyMarker;
        uploadIdMarker = page.NextUploadIdMarker;
      }
    },

    async removePending(pending, signal) {
      try {
        await abortMultipartUpload(client, bucket, pending.key, pending.id, { signal });
      } catch (err) {
        signal?.throwIfAborted();
        throw new CopycatError('S3_REQUEST_FAILED', describeS3Error(err), { cause: err });
      }
    },

    async prepare(signal) {
      const check = await preflight(client, bucket, { allowUnlocked: upload().allowUnlocked, signal });
      locked = check.objectLock;
      endpointMaxParts = providerMaxParts(check.endpoint);
      return { locked, ...(check.warning ? { warning: check.warning } : {}) };
    },

    probe: (signal) => probeWrite(client, bucket, probeKey(opts.prefix), { locked, signal }),

    dataSink(key, estimate) {
      const u = upload();
      const sink = s3Sink({
        client, bucket, key,
        expectedSize: u.expectedSize,
        estimate,
        maxParts: u.maxParts ?? endpointMaxParts,
        partSize: u.partSize,
        concurrency: u.concurrency,
        retention: locked ? u.retention : null,
        allowUnlocked: u.allowUnlocked,
        checksum: u.checksum,
      });
      return {
        stage: sink,
        async written() {
          const object = sink.result()!;
          return { bucket, key, versionId: object.versionId ?? 'null', size: object.size, retention: object.retention };
        },
      };
    },

    async putSmall(key, body, lock, signal) {
      let versionId: string | undefined;
      try {
        const put = await client.send(new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: key.endsWith('.json') ? 'application/json' : 'application/octet-stream',
          ContentMD5: createHash('md5').update(body).digest('base64'),
          ...(lock ? { ObjectLockMode: lock.mode, ObjectLockRetainUntilDate: new Date(lock.retainUntil) } : {}),
        }), { abortSignal: signal });
        versionId = put.VersionId;
      } catch (err) {
        // Stopped on purpose: the reason (SIGTERM, an abort) is the cause, not the request it cut short.
        if (signal?.aborted) throw signal.reason;
        throw new CopycatError('S3_WRITE_FAILED', `cannot write s3://${bucket}/${key}: ${describeS3Error(err)} — the backup stays incomplete`, { cause: err });
      }
      // A manifest that could be deleted would let someone hide a backup from restore: its lock is confirmed too.
      if (lock) {
        if (!versionId) throw new CopycatError('S3_LOCK_UNCONFIRMED', `the server returned no version for s3://${bucket}/${key}: is versioning enabled on the bucket?`);
        await lockVersion(client, bucket, key, versionId, { mode: lock.mode, retainUntil: new Date(lock.retainUntil) }, signal);
      }
      return versionId ?? 'null';
    },

    dataSource: (key, versionId) => s3Object({ client, bucket, key, versionId }),

    below: (prefix, segment) => s3Repository({ ...opts, prefix: listPrefix(prefix) + segment }),
  };
}
