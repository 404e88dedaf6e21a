import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Transform, type Readable } from 'node:stream';
import { CopycatError } from '../errors.js';
import { describeS3Error } from '../s3/driver/errors.js';
import { formatBytes } from '../units.js';
import type { SourceStage } from '../stage.js';

export interface S3ObjectOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** Read exactly this version: a locked bucket may hold several under one key. */
  readonly versionId?: string;
}

/** Streams one stored object; the SDK's body is a Node Readable, so backpressure reaches the socket. */
export function s3Object(opts: S3ObjectOptions): SourceStage {
  const where = `s3://${opts.bucket}/${opts.key}${opts.versionId ? ` version ${opts.versionId}` : ''}`;
  return {
    name: 's3',
    async create(ctx) {
      let response;
      try {
        response = await opts.client.send(
          new GetObjectCommand({ Bucket: opts.bucket, Key: opts.key, VersionId: opts.versionId }),
          { abortSignal: ctx.signal },
        );
      } catch (err) {
        throw new CopycatError('S3_READ_FAILED', `cannot read ${where}: ${describeS3Error(err)}` +
          ' — check the bucket, the backup id (copycat-db list) and the credentials', { cause: err });
      }
      return checkedBody(response.Body as Readable, response.ContentLength, where);
    },
    async expectedSize() {
      const head = await opts.client.send(new HeadObjectCommand({ Bucket: opts.bucket, Key: opts.key, VersionId: opts.versionId }));
      return head.ContentLength;
    },
    info: () => ({ bucket: opts.bucket, key: opts.key, versionId: opts.versionId }),
  };
}

/**
 * The body, failing with a CopycatError that names the object and how far it got when the connection breaks (the bare
 * error is only "aborted") or when it ends early without an error: a short body must never pass for the whole object.
 */
function checkedBody(body: Readable, expected: number | undefined, where: string): Readable {
  let received = 0;
  const cut = (cause?: unknown): CopycatError => {
    const of = expected === undefined ? '' : ` of ${formatBytes(expected)} (${received} of ${expected} bytes)`;
    const how = cause === undefined ? 'the body ended early' : `the connection closed before the body ended (${describeS3Error(cause)})`;
    return new CopycatError('S3_READ_INTERRUPTED',
      `reading ${where} stopped after ${formatBytes(received)}${of}: ${how} — retry; if it happens again, check the network and the S3 server`,
      { cause });
  };
  const checked = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      callback(expected === undefined || received === expected ? null : cut());
    },
    destroy(err, callback) {
      body.destroy(); // stopped downstream (a failed run, SIGTERM): close the connection too
      callback(err);
    },
  });
  body.once('error', (err) => checked.destroy(cut(err)));
  body.pipe(checked);
  return checked;
}
