import { createHash, type Hash } from 'node:crypto';
import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CopycatError } from '../errors.js';
import type { Logger } from '../log.js';
import { ABORT_UPLOAD_TIMEOUT_MS, abortMultipartUpload, describeS3Error, httpStatus, s3ErrorName } from '../s3/driver/errors.js';
import { overflowError, planParts, type PartPlan } from '../s3/driver/part-plan.js';
import { lockVersion, readRetention, retentionTarget, type LockedRetention, type RetentionPolicy, type RetentionTarget } from '../s3/driver/retention.js';
import type { SinkStage, StageContext } from '../stage.js';
import { formatBytes } from '../units.js';

/**
 * How each part (and a single-request upload) is protected on the wire.
 *
 * - `md5` (default): Content-MD5 on every request. radosgw validates it and refuses a damaged part with BadDigest
 *   (verified in test/s3-sink.test.ts); AWS validates it too. Costs one MD5 pass over the data on the event loop,
 *   computed as bytes arrive: ~270 MiB/s on one core of a small 2-core machine, where uploads to radosgw ran at
 *   ~25 MiB/s with md5 and ~28 MiB/s with crc32. Above ~200 MiB/s of upload bandwidth MD5 becomes the limit: use crc32.
 * - `crc32`: x-amz-checksum-crc32 (ChecksumAlgorithm CRC32). AWS and Scaleway validate and store it, but radosgw 16
 *   accepts it without validating or storing it, so there it protects nothing.
 *
 * Either satisfies AWS's rule that an upload carrying a retention must have Content-MD5 or an x-amz-checksum header.
 */
export type S3Checksum = 'md5' | 'crc32';

export interface S3SinkOptions {
  /** From createS3Client: it retries transient failures itself (maxAttempts 6), so the sink never retries on top. */
  readonly client: S3Client;
  readonly bucket: string;
  /** The object's key (see s3/catalog/layout.ts: dataKey). */
  readonly key: string;
  /** Bytes expected, if known: sizes the parts so that the stream fits in maxParts with a 1.5× margin. */
  readonly expectedSize?: number;
  /**
   * Asked when the run starts, if expectedSize is not given: stages are created source first, so this can
   * return what the source learned while starting (a Scaleway export's size is known only after hours of waiting).
   */
  readonly estimate?: () => Promise<number | undefined>;
  /** The provider's part limit: 10,000 (default, AWS, radosgw), Scaleway 1,000. */
  readonly maxParts?: number;
  /** Overrides the planned part size (at least 5 MiB). */
  readonly partSize?: number;
  /** Parts uploaded at once (default 4). Memory: partSize × (concurrency + 1). */
  readonly concurrency?: number;
  /**
   * How long the object stays undeletable, counted from the start of the run (fractional days are allowed).
   * null writes an unlocked object, and is accepted only together with allowUnlocked.
   */
  readonly retention: RetentionPolicy | null;
  readonly allowUnlocked?: boolean;
  readonly checksum?: S3Checksum;
}

export interface S3SinkResult {
  readonly bucket: string;
  readonly key: string;
  /** The version written; null only in a bucket without versioning (allowUnlocked). */
  readonly versionId: string | null;
  readonly etag: string;
  readonly size: number;
  readonly parts: number;
  readonly partSize: number;
  /** As read back from the server after it was verified (or, for retention null, whatever the bucket applied). */
  readonly retention: LockedRetention | null;
}

export type S3SinkStage = SinkStage & {
  /** The object written by the last successful run, undefined before that or after a failure. */
  result(): S3SinkResult | undefined;
  readonly plan: PartPlan;
};

const CONTENT_TYPE = 'application/octet-stream';

/**
 * Streams into one S3 object with a multipart upload it drives itself (rather than lib-storage's Upload, which sends
 * the same params, and so the same Content-MD5, with every part, and whose abort() neither cancels requests in flight
 * nor waits for AbortMultipartUpload). Parts are uploaded `concurrency` at a time while the next one fills; the
 * writable holds back its writer while all slots are busy, so memory stays at partSize × (concurrency + 1).
 *
 * The upload is completed in the writable's final step, which runs only once every upstream stage ended cleanly;
 * then the object's version is locked and the lock read back from the server (radosgw ignores the lock headers of
 * CreateMultipartUpload). Any failure, abort or overflow before that aborts the multipart upload, so nothing that
 * looks like a backup is left. A stream smaller than one part is written with a single PutObject.
 *
 * The part plan is made here, before the run, so a bad --part-size fails before any dump starts; an `estimate`
 * refines it when the run starts.
 */
export function s3Sink(opts: S3SinkOptions): S3SinkStage {
  if (opts.retention === null && !opts.allowUnlocked) {
    throw new CopycatError('S3_RETENTION_REQUIRED',
      `no retention was given for s3://${opts.bucket}/${opts.key}: pass --retain-days (and --lock-mode), or --allow-unlocked to write an unlocked backup`);
  }
  if (opts.retention) retentionTarget(opts.retention); // validates days
  const checksum = opts.checksum ?? 'md5';
  if (checksum !== 'md5' && checksum !== 'crc32') {
    throw new CopycatError('S3_OPTIONS_INVALID', `checksum ${String(checksum)} is not supported: use md5 or crc32`);
  }
  const planFor = (expectedSize: number | undefined) => planParts({
    ...(expectedSize !== undefined ? { expectedSize } : {}),
    ...(opts.maxParts !== undefined ? { maxParts: opts.maxParts } : {}),
    ...(opts.partSize !== undefined ? { partSize: opts.partSize } : {}),
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
  });
  let plan = planFor(opts.expectedSize);
  let result: S3SinkResult | undefined;
  return {
    name: 's3',
    get plan() {
      return plan;
    },
    async create(ctx: StageContext) {
      result = undefined;
      if (opts.expectedSize === undefined && opts.estimate) {
        const estimate = await opts.estimate();
        if (estimate !== undefined) plan = planFor(estimate);
      }
      const target = opts.retention ? retentionTarget(opts.retention) : undefined;
      return new S3ObjectWriter({ ...opts, checksum }, plan, target, ctx, (r) => { result = r; });
    },
    result: () => result,
    info: () => (result ? { ...result } : { bucket: opts.bucket, key: opts.key, partSize: plan.partSize, maxParts: plan.maxParts }),
  };
}

class S3ObjectWriter extends Writable {
  private readonly client: S3Client;
  private readonly where: string;
  /** Bytes accepted so far. */
  private bytes = 0;
  /** The part being filled, allocated at full part size when its first byte arrives. */
  private buffer?: Buffer;
  private fill = 0;
  /** The checksum of the part being filled. */
  private sum?: PartChecksum;
  private nextPart = 1;
  private readonly parts: CompletedPart[] = [];
  /** Part uploads under way; they never reject (a failure is recorded in `failure`). */
  private readonly inFlight = new Set<Promise<void>>();
  /**
   * Part buffers whose upload settled, reused: a fresh multi-MiB buffer per part costs page faults and GC that
   * measured 15–25 % of an S3 backup's CPU. A buffer is reused only once its request is over.
   */
  private readonly free: Buffer[] = [];
  private failure?: Error;
  private creating?: Promise<string>;
  private finishing?: Promise<void>;
  /** The object exists (CompleteMultipartUpload or PutObject succeeded): from here on, never abort. */
  private committed = false;
  private stopping = false;
  /** Cancels part uploads in flight when a part fails or the writer is destroyed. */
  private readonly requests = new AbortController();
  /**
   * Every request but CreateMultipartUpload carries this: it fires when the run fails or is stopped (SIGTERM), or as
   * above, so no request can keep a stopped run waiting. A commit cancelled after the server took it leaves an object
   * without a manifest, which is never restored.
   */
  private readonly signal: AbortSignal;
  /**
   * CreateMultipartUpload is cancelled only by cleanup, once it has had ABORT_UPLOAD_TIMEOUT_MS to answer: its upload
   * id is what lets the upload be aborted. One cancelled after the server took it leaves an empty upload that prune
   * aborts a day later.
   */
  private readonly createRequest = new AbortController();
  private readonly log: Logger;

  constructor(
    private readonly opts: S3SinkOptions & { checksum: S3Checksum },
    private readonly plan: PartPlan,
    private readonly target: RetentionTarget | undefined,
    ctx: StageContext,
    private readonly onResult: (result: S3SinkResult) => void,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.log = ctx.log;
    this.signal = AbortSignal.any([ctx.signal, this.requests.signal]);
    this.client = opts.client;
    this.where = `s3://${opts.bucket}/${opts.key}`;
    this.log.log('info', 's3.upload.start', {
      bucket: opts.bucket,
      key: opts.key,
      partSize: plan.partSize,
      maxParts: plan.maxParts,
      maxBytes: plan.maxBytes,
      memoryBound: plan.memoryBound,
      basis: plan.basis,
      checksum: opts.checksum,
      retention: target ? { mode: target.mode, retainUntil: target.retainUntil.toISOString() } : null,
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.accept(chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.finishing = this.finish();
    this.finishing.then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.stopping = true;
    this.cleanup().then(() => callback(err), (cleanupErr: unknown) => callback(err ?? (cleanupErr as Error)));
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.stopping) throw new CopycatError('ABORTED', `the upload to ${this.where} was stopped`);
  }

  private async accept(chunk: Buffer): Promise<void> {
    this.check();
    // Counted on entry: the byte that would not fit fails the run before part maxParts + 1 exists.
    if (this.bytes + chunk.length > this.plan.maxBytes) throw overflowError(this.plan, this.bytes + chunk.length);
    this.bytes += chunk.length;
    const { partSize } = this.plan;
    let offset = 0;
    while (offset < chunk.length) {
      this.buffer ??= this.free.pop() ?? Buffer.allocUnsafe(partSize);
      this.sum ??= new PartChecksum(this.opts.checksum);
      const copied = chunk.copy(this.buffer, this.fill, offset, Math.min(chunk.length, offset + partSize - this.fill));
      // Summed as the bytes arrive: no pause of the event loop over a whole part when it is sent.
      this.sum.update(chunk.subarray(offset, offset + copied));
      this.fill += copied;
      offset += copied;
      if (this.fill === partSize) await this.flushPart();
    }
  }

  /** Sends the filled part once a slot is free. Waiting here, holding the full buffer, is the backpressure. */
  private async flushPart(): Promise<void> {
    while (this.inFlight.size >= this.plan.concurrency) await Promise.race(this.inFlight);
    this.check();
    const full = this.buffer!;
    const body = full.subarray(0, this.fill);
    const sums = this.sum!.headers();
    this.buffer = undefined;
    this.sum = undefined;
    this.fill = 0;
    const partNumber = this.nextPart++;
    const tracked: Promise<void> = this.uploadPart(partNumber, body, sums).then(
      (part) => { this.parts.push(part); },
      (err: unknown) => { this.fail(err); },
    ).finally(() => {
      this.inFlight.delete(tracked);
      if (full.length === this.plan.partSize) this.free.push(full);
    });
    this.inFlight.add(tracked);
  }

  private fail(err: unknown): void {
    if (this.failure) return;
    this.failure = err instanceof Error ? err : new Error(String(err));
    this.requests.abort(this.failure); // the other parts are wasted work now
  }

  private ensureUpload(): Promise<string> {
    this.creating ??= this.client.send(new CreateMultipartUploadCommand({
      Bucket: this.opts.bucket,
      Key: this.opts.key,
      ContentType: CONTENT_TYPE,
      ...this.lockHeaders(),
      ...(this.opts.checksum === 'crc32' ? { ChecksumAlgorithm: 'CRC32' as const } : {}),
    }), { abortSignal: this.createRequest.signal }).then((out) => {
      if (!out.UploadId) throw new Error('CreateMultipartUpload returned no UploadId');
      this.log.log('debug', 's3.upload.created', { uploadId: out.UploadId });
      return out.UploadId;
    }, (err: unknown) => {
      throw this.wrap('starting the multipart upload to', err);
    });
    return this.creating;
  }

  private async uploadPart(partNumber: number, body: Buffer, sums: ChecksumHeaders): Promise<CompletedPart> {
    const uploadId = await this.ensureUpload();
    this.check();
    try {
      const out = await this.client.send(new UploadPartCommand({
        Bucket: this.opts.bucket,
        Key: this.opts.key,
        UploadId: uploadId,
        PartNumber: partNumber,
        Body: body,
        ContentLength: body.length,
        ...sums,
      }), { abortSignal: this.signal });
      if (!out.ETag) throw new Error(`UploadPart ${partNumber} returned no ETag`);
      this.log.log('debug', 's3.part.done', { part: partNumber, bytes: body.length });
      return { PartNumber: partNumber, ETag: out.ETag, ...(sums.ChecksumCRC32 ? { ChecksumCRC32: sums.ChecksumCRC32 } : {}) };
    } catch (err) {
      throw this.wrap(`uploading part ${partNumber} of`, err);
    }
  }

  private lockHeaders(): { ObjectLockMode?: RetentionTarget['mode']; ObjectLockRetainUntilDate?: Date } {
    return this.target ? { ObjectLockMode: this.target.mode, ObjectLockRetainUntilDate: this.target.retainUntil } : {};
  }

  private async finish(): Promise<void> {
    this.check();
    const { bucket, key } = this.opts;
    let versionId: string | undefined;
    let etag: string | undefined;
    let parts: number;
    if (!this.creating) {
      // Smaller than one part: a single PutObject (which radosgw does lock from its headers).
      const body = this.buffer ? this.buffer.subarray(0, this.fill) : Buffer.alloc(0);
      const sums = (this.sum ?? new PartChecksum(this.opts.checksum)).headers();
      this.buffer = undefined;
      this.sum = undefined;
      try {
        const out = await this.client.send(new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ContentType: CONTENT_TYPE,
          ...sums,
          ...this.lockHeaders(),
        }), { abortSignal: this.signal });
        versionId = out.VersionId;
        etag = out.ETag;
      } catch (err) {
        throw this.wrap('uploading', err);
      }
      this.committed = true;
      parts = 1;
    } else {
      if (this.fill > 0) await this.flushPart();
      while (this.inFlight.size > 0) await Promise.all(this.inFlight);
      this.check();
      const uploadId = await this.creating;
      const completed = [...this.parts].sort((a, b) => a.PartNumber! - b.PartNumber!);
      if (completed.length !== this.nextPart - 1) {
        throw new CopycatError('S3_UPLOAD_FAILED', `only ${completed.length} of ${this.nextPart - 1} parts of ${this.where} were uploaded: retry the backup`);
      }
      try {
        const out = await this.client.send(new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: completed },
        }), { abortSignal: this.signal });
        versionId = out.VersionId;
        etag = out.ETag;
      } catch (err) {
        throw this.wrap('completing the multipart upload to', err);
      }
      this.committed = true;
      parts = completed.length;
    }

    // radosgw answers CompleteMultipartUpload with an empty ETag: HeadObject has it, and the stored size.
    let head;
    try {
      head = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }), { abortSignal: this.signal });
    } catch (err) {
      throw this.wrap('reading back', err);
    }
    if (head.ContentLength !== this.bytes) {
      throw new CopycatError('S3_SIZE_MISMATCH',
        `${this.where} holds ${String(head.ContentLength)} bytes but ${this.bytes} were sent: the backup is not trusted; retry it`);
    }
    versionId ||= head.VersionId;
    etag ||= head.ETag ?? '';

    let retention: LockedRetention | null = null;
    if (this.target) {
      if (!versionId) {
        throw new CopycatError('S3_LOCK_UNCONFIRMED',
          `${this.where} was stored without a version id, so it cannot be locked: enable versioning and Object Lock on bucket ${bucket}`);
      }
      const lock = await lockVersion(this.client, bucket, key, versionId, this.target, this.signal);
      if (lock.applied) {
        this.log.log('info', 's3.lock.applied', { versionId, before: lock.before ?? null, mode: lock.mode, retainUntil: lock.retainUntil });
      }
      retention = { mode: lock.mode, retainUntil: lock.retainUntil };
    } else if (versionId) {
      // Unlocked by choice; report what a bucket default retention may have applied anyway.
      const found = await readRetention(this.client, bucket, key, versionId, this.signal).catch(() => undefined);
      retention = found ? { mode: found.mode, retainUntil: found.retainUntil.toISOString() } : null;
    }
    const result: S3SinkResult = {
      bucket,
      key,
      versionId: versionId ?? null,
      etag,
      size: this.bytes,
      parts,
      partSize: this.plan.partSize,
      retention,
    };
    this.log.log('info', 's3.upload.done', { ...result });
    this.onResult(result);
  }

  /** Stops part uploads, waits for every request to settle, then aborts the multipart upload unless it was committed. */
  private async cleanup(): Promise<void> {
    this.requests.abort(new CopycatError('ABORTED', `the upload to ${this.where} was stopped`));
    this.buffer = undefined;
    this.sum = undefined;
    let uploadId: string | undefined;
    if (this.creating) {
      // Parts still waiting for the upload id wait with us; a server that never answers gets a bounded wait.
      const gaveUp = new AbortController();
      uploadId = await Promise.race([
        this.creating.catch(() => undefined),
        delay(ABORT_UPLOAD_TIMEOUT_MS, undefined, { signal: gaveUp.signal }).catch(() => undefined),
      ]);
      gaveUp.abort();
      this.createRequest.abort(new CopycatError('ABORTED', `the upload to ${this.where} was stopped`));
    }
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    await this.finishing?.catch(() => undefined);
    if (this.committed || !uploadId) return;
    try {
      // Not this.signal, which has fired by now: abortMultipartUpload bounds its own time.
      await abortMultipartUpload(this.client, this.opts.bucket, this.opts.key, uploadId);
      this.log.log('warn', 's3.upload.aborted', { bucket: this.opts.bucket, key: this.opts.key, uploadId, bytes: this.bytes });
    } catch (err) {
      this.log.log('error', 's3.upload.abort_failed', {
        bucket: this.opts.bucket,
        key: this.opts.key,
        uploadId,
        error: describeS3Error(err),
        fix: 'abort it by hand (aws s3api abort-multipart-upload) or add a lifecycle rule AbortIncompleteMultipartUpload',
      });
    }
  }

  private wrap(action: string, err: unknown): Error {
    if (err instanceof CopycatError) return err;
    if (this.failure) return this.failure; // a request cancelled because another one failed first
    if (this.stopping || (err instanceof Error && err.name === 'AbortError')) {
      return new CopycatError('ABORTED', `the upload to ${this.where} was stopped`, { cause: err });
    }
    const name = s3ErrorName(err);
    const status = httpStatus(err);
    const fix = name === 'BadDigest' || name === 'InvalidDigest' || name === 'XAmzContentChecksumMismatch'
      ? 'the data was damaged on the way to the server; retry the backup'
      : status === 403 ? 'check that the credentials may write to this bucket'
      : status === undefined ? 'check the endpoint and the network, then retry the backup'
      : 'retry the backup';
    return new CopycatError('S3_UPLOAD_FAILED',
      `${action} ${this.where} failed (${describeS3Error(err)}, after ${formatBytes(this.bytes)} received): ${fix}`, { cause: err });
  }
}

type ChecksumHeaders = { ContentMD5?: string; ChecksumCRC32?: string };

/** Content-MD5 or x-amz-checksum-crc32 of one part, computed incrementally. */
class PartChecksum {
  private readonly md5?: Hash;
  private crc = 0;

  constructor(private readonly kind: S3Checksum) {
    if (kind === 'md5') this.md5 = createHash('md5');
  }

  update(data: Buffer): void {
    if (this.md5) this.md5.update(data);
    else this.crc = crc32(data, this.crc);
  }

  headers(): ChecksumHeaders {
    if (this.kind === 'md5') return { ContentMD5: this.md5!.digest('base64') };
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(this.crc >>> 0);
    return { ChecksumCRC32: sum.toString('base64') };
  }
}
