import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { CopycatError } from '../errors.js';
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
  const where = `s3://${opts.bucket}/${opts.key}${opts.versionId ? ` (version ${opts.versionId})` : ''}`;
  return {
    name: 's3',
    async create(ctx) {
      try {
        const response = await opts.client.send(
          new GetObjectCommand({ Bucket: opts.bucket, Key: opts.key, VersionId: opts.versionId }),
          { abortSignal: ctx.signal },
        );
        return response.Body as Readable;
      } catch (err) {
        throw new CopycatError('S3_READ_FAILED', `cannot read ${where}: ${(err as Error).name} ${(err as Error).message ?? ''}`.trim() +
          ' — check the bucket, the backup id (copycat-db list) and the credentials', { cause: err });
      }
    },
    async expectedSize() {
      const head = await opts.client.send(new HeadObjectCommand({ Bucket: opts.bucket, Key: opts.key, VersionId: opts.versionId }));
      return head.ContentLength;
    },
    info: () => ({ bucket: opts.bucket, key: opts.key, versionId: opts.versionId }),
  };
}
