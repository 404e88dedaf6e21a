import { S3Client } from '@aws-sdk/client-s3';
import { CopycatError } from '../errors.js';

/** S3 connection settings: flags override the standard AWS variables. */
export interface S3Settings {
  readonly endpoint?: string;
  readonly region?: string;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  /** Path-style URLs (endpoint/bucket/key); on by default for custom endpoints (radosgw, MinIO, Scaleway). */
  readonly forcePathStyle?: boolean;
}

export function s3SettingsFromEnv(env: Record<string, string | undefined> = process.env, flags: S3Settings = {}): S3Settings {
  return {
    endpoint: flags.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL,
    region: flags.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    accessKeyId: flags.accessKeyId ?? env.AWS_ACCESS_KEY_ID,
    secretAccessKey: flags.secretAccessKey ?? env.AWS_SECRET_ACCESS_KEY,
    forcePathStyle: flags.forcePathStyle,
  };
}

/**
 * Checksums are explicit, never the SDK's defaults: recent SDKs add CRC32 trailers to every request, which
 * several S3-compatible servers reject (radosgw answers 411 for streamed uploads). Uploads set their own
 * checksum per part instead (see the S3 sink's `checksum` option).
 */
export function createS3Client(settings: S3Settings): S3Client {
  const missing = [
    settings.accessKeyId ? undefined : 'AWS_ACCESS_KEY_ID',
    settings.secretAccessKey ? undefined : 'AWS_SECRET_ACCESS_KEY',
  ].filter(Boolean);
  if (missing.length) {
    throw new CopycatError('S3_CREDENTIALS_MISSING', `S3 credentials missing: set ${missing.join(' and ')} in the environment (never on the command line, where other users could read them)`);
  }
  return new S3Client({
    endpoint: settings.endpoint,
    region: settings.region ?? 'us-east-1',
    forcePathStyle: settings.forcePathStyle ?? Boolean(settings.endpoint),
    credentials: { accessKeyId: settings.accessKeyId!, secretAccessKey: settings.secretAccessKey! },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // The SDK's standard retry strategy backs off on 500, 503 SlowDown, throttling and connection resets.
    maxAttempts: 6,
  });
}
