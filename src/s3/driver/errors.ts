import { AbortMultipartUploadCommand, type S3Client } from '@aws-sdk/client-s3';
import { CopycatError } from '../../errors.js';

/**
 * Failure handling shared by the S3 modules: naming S3 errors in one line, and aborting a multipart upload so
 * that a failed backup leaves neither an object nor billed parts behind.
 */

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** The S3 error code (BadDigest, NoSuchBucket, AccessDenied…) or the network error code (ECONNREFUSED…). */
export function s3ErrorName(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as SdkErrorShape;
  for (const v of [e.Code, e.code, e.name]) {
    if (typeof v === 'string' && v && v !== 'Error' && v !== 'UnknownError') return v;
  }
  return undefined;
}

export function httpStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  return (err as SdkErrorShape).$metadata?.httpStatusCode;
}

/**
 * "BadDigest (HTTP 400)", "ECONNREFUSED": radosgw often sends no <Message>, and the SDK then says only
 * "UnknownError", so the code and status carry the meaning.
 */
export function describeS3Error(err: unknown): string {
  // Ours already (no credentials from the SDK's chain): its message says it all.
  if (err instanceof CopycatError) return err.message;
  const name = s3ErrorName(err);
  const status = httpStatus(err);
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  const parts = [name, status !== undefined ? `(HTTP ${status})` : undefined].filter(Boolean).join(' ');
  const informative = message && message !== 'UnknownError' && message !== name && !message.startsWith('char ');
  if (!parts) return message || 'unknown error';
  return informative ? `${parts}: ${message}` : parts;
}

/** True for the errors that mean "this upload is already gone" (AWS says NoSuchUpload, radosgw NoSuchKey). */
export function isUploadGone(err: unknown): boolean {
  const name = s3ErrorName(err);
  return name === 'NoSuchUpload' || name === 'NoSuchKey' || httpStatus(err) === 404;
}

/**
 * How long aborting a multipart upload may take. It runs on the way out of a failed or interrupted run, when the
 * server may be the reason for the failure: a dead server must not keep the process alive (the upload is then left
 * for prune, or for a lifecycle rule, to clean up).
 */
export const ABORT_UPLOAD_TIMEOUT_MS = 5_000;

/**
 * Aborts a multipart upload. Call it only once no part request is in flight any more: a part that lands after the
 * abort can resurrect storage on some servers. An upload that is already gone counts as aborted. The client's own
 * retry strategy handles transient failures within the time bound; this does not retry on top of it. `signal` (a
 * prune's run) may stop it sooner; a failed backup's cleanup passes none, since its run's signal is already aborted.
 */
export async function abortMultipartUpload(
  client: S3Client, bucket: string, key: string, uploadId: string,
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<void> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? ABORT_UPLOAD_TIMEOUT_MS);
  const abortSignal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), { abortSignal });
  } catch (err) {
    if (isUploadGone(err)) return;
    throw err;
  }
}
