import {
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CopycatError } from '../../errors.js';
import { describeS3Error, httpStatus, s3ErrorName } from './errors.js';

export interface PreflightOptions {
  /** Accept a bucket without versioning or Object Lock (`--allow-unlocked`): the result then carries a warning. */
  readonly allowUnlocked?: boolean;
  /** Stops the checks (SIGTERM): the run's signal. */
  readonly signal?: AbortSignal;
}

export interface PreflightResult {
  readonly bucket: string;
  /** The endpoint as shown in messages: http://127.0.0.1:8000, or the AWS region's. */
  readonly endpoint: string;
  readonly versioning: boolean;
  readonly objectLock: boolean;
  /** The bucket's default retention, if it has one. */
  readonly defaultRetention?: { readonly mode: string; readonly days?: number; readonly years?: number };
  /** Set only when the bucket is not locked and allowUnlocked was given: the CLI shows it loudly. */
  readonly warning?: string;
}

/** Where requests go, for messages: the custom endpoint, else AWS's regional one. */
export async function describeEndpoint(client: S3Client): Promise<string> {
  try {
    const endpoint = await client.config.endpoint?.();
    if (endpoint) {
      const port = endpoint.port ? `:${endpoint.port}` : '';
      const path = endpoint.path && endpoint.path !== '/' ? endpoint.path : '';
      return `${endpoint.protocol}//${endpoint.hostname}${port}${path}`;
    }
    const region = await client.config.region();
    return `https://s3.${region}.amazonaws.com`;
  } catch {
    return 'the configured S3 endpoint';
  }
}

/**
 * Checks, before any dump starts, that the bucket exists, is reachable with these credentials, and can hold
 * immutable backups: versioning Enabled and Object Lock Enabled. Anything else is a one-line CopycatError naming
 * the bucket, the endpoint and the fix, unless allowUnlocked was given, which turns a missing lock into a warning.
 */
export async function preflight(client: S3Client, bucket: string, opts: PreflightOptions = {}): Promise<PreflightResult> {
  const endpoint = await describeEndpoint(client);
  const where = `bucket ${bucket} at ${endpoint}`;
  const send = { abortSignal: opts.signal };
  // Stopped on purpose (each catch below): the signal's reason (INTERRUPTED…) says so, not "cannot reach the endpoint".

  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }), send);
  } catch (err) {
    throw opts.signal?.aborted ? opts.signal.reason : headBucketError(err, bucket, endpoint);
  }

  let versioning: boolean;
  try {
    const out = await client.send(new GetBucketVersioningCommand({ Bucket: bucket }), send);
    versioning = out.Status === 'Enabled';
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw new CopycatError('S3_PREFLIGHT_FAILED',
      `cannot read the versioning of ${where}: ${describeS3Error(err)} — the credentials need s3:GetBucketVersioning`, { cause: err });
  }

  let objectLock = false;
  let lockUnreadable: string | undefined;
  let defaultRetention: PreflightResult['defaultRetention'];
  try {
    const out = await client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }), send);
    objectLock = out.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
    const rule = out.ObjectLockConfiguration?.Rule?.DefaultRetention;
    if (objectLock && rule?.Mode) {
      defaultRetention = {
        mode: rule.Mode,
        ...(rule.Days !== undefined ? { days: rule.Days } : {}),
        ...(rule.Years !== undefined ? { years: rule.Years } : {}),
      };
    }
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const name = s3ErrorName(err);
    if (name !== 'ObjectLockConfigurationNotFoundError' && name !== 'NoSuchObjectLockConfiguration') {
      lockUnreadable = describeS3Error(err);
    }
  }

  if (versioning && objectLock) {
    return { bucket, endpoint, versioning, objectLock, ...(defaultRetention ? { defaultRetention } : {}) };
  }

  const missing = [
    versioning ? undefined : 'versioning is not enabled',
    objectLock ? undefined : lockUnreadable ? `its Object Lock configuration cannot be read (${lockUnreadable})` : 'Object Lock is not enabled',
  ].filter(Boolean).join(' and ');
  if (!opts.allowUnlocked) {
    throw new CopycatError('S3_BUCKET_UNLOCKED',
      `${where} cannot keep backups immutable: ${missing} — use a bucket created with Object Lock enabled ` +
      `(which also enables versioning), or pass --allow-unlocked to write backups that can be deleted`);
  }
  return {
    bucket,
    endpoint,
    versioning,
    objectLock,
    warning: `UNLOCKED BUCKET: ${where} has no immutability (${missing}); --allow-unlocked was given, so backups ` +
      `written there can be deleted or overwritten by anyone holding these credentials, ransomware included`,
  };
}

function headBucketError(err: unknown, bucket: string, endpoint: string): CopycatError {
  if (err instanceof CopycatError) return err; // no credentials: nothing was sent
  const status = httpStatus(err);
  const name = s3ErrorName(err);
  const detail = describeS3Error(err);
  if (status === 404 || name === 'NotFound' || name === 'NoSuchBucket') {
    return new CopycatError('S3_BUCKET_NOT_FOUND',
      `bucket ${bucket} does not exist at ${endpoint}: check --bucket and the endpoint, or create the bucket with Object Lock enabled`, { cause: err });
  }
  if (status === 403 || status === 401) {
    return new CopycatError('S3_ACCESS_DENIED',
      `access to bucket ${bucket} at ${endpoint} was refused (${detail}): check the S3 credentials (AWS_ACCESS_KEY_ID and ` +
      `AWS_SECRET_ACCESS_KEY, or the profile or role they come from) and that they may use this bucket`, { cause: err });
  }
  if (status === 301 || name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed') {
    return new CopycatError('S3_WRONG_REGION',
      `bucket ${bucket} at ${endpoint} is in another region (${detail}): set AWS_REGION to the bucket's region`, { cause: err });
  }
  if (status === undefined) {
    return new CopycatError('S3_UNREACHABLE',
      `cannot reach ${endpoint} for bucket ${bucket} (${detail}): check the endpoint URL and the network`, { cause: err });
  }
  return new CopycatError('S3_PREFLIGHT_FAILED',
    `checking bucket ${bucket} at ${endpoint} failed: ${detail} — check the endpoint, region and credentials`, { cause: err });
}
