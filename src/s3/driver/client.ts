import { S3Client } from '@aws-sdk/client-s3';
import { CopycatError } from '../../errors.js';

/** S3 connection settings: flags override the standard AWS variables. */
export interface S3Settings {
  readonly endpoint?: string;
  readonly region?: string;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  /** Path-style URLs (endpoint/bucket/key); on by default for custom endpoints (radosgw, MinIO, Scaleway). */
  readonly forcePathStyle?: boolean;
  /** Milliseconds to establish a TCP (and TLS) connection (default CONNECTION_TIMEOUT_MS); for tests. */
  readonly connectionTimeoutMs?: number;
  /** Milliseconds a request's socket may stay idle, sending and receiving nothing (default IDLE_TIMEOUT_MS); for tests. */
  readonly idleTimeoutMs?: number;
  /** Attempts per request, the first included (default 6); for tests. */
  readonly maxAttempts?: number;
}

/** A server that accepts no connection within this is down or unreachable (loopback and WAN handshakes take ms). */
export const CONNECTION_TIMEOUT_MS = 10_000;
/**
 * A request whose socket moves no byte either way for this long is dead: an idle timeout, not a total one, so a 64 MiB
 * part on a 1 Mbit/s link (8+ minutes) is never cut while it is flowing. 60 s leaves room for a server that thinks
 * before answering (CompleteMultipartUpload of many parts). With maxAttempts 6 and the SDK's backoff, a server that
 * accepts connections and then never answers fails a request after about 6 × 60 s.
 */
export const IDLE_TIMEOUT_MS = 60_000;

export function s3SettingsFromEnv(env: Record<string, string | undefined> = process.env, flags: S3Settings = {}): S3Settings {
  return {
    endpoint: flags.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL,
    region: flags.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    accessKeyId: flags.accessKeyId ?? env.AWS_ACCESS_KEY_ID,
    secretAccessKey: flags.secretAccessKey ?? env.AWS_SECRET_ACCESS_KEY,
    forcePathStyle: flags.forcePathStyle,
    connectionTimeoutMs: flags.connectionTimeoutMs,
    idleTimeoutMs: flags.idleTimeoutMs,
    maxAttempts: flags.maxAttempts,
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
    // Without these the SDK waits forever on a server that stops answering (its default is no timeout at all).
    // socketTimeout is the idle timeout; requestTimeout would be a total-time limit (and only a warning).
    requestHandler: {
      connectionTimeout: settings.connectionTimeoutMs ?? CONNECTION_TIMEOUT_MS,
      socketTimeout: settings.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
    },
    // The SDK's standard retry strategy backs off on 500, 503 SlowDown, throttling, connection resets and timeouts.
    maxAttempts: settings.maxAttempts ?? 6,
  });
}
