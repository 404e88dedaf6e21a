import { S3Client } from '@aws-sdk/client-s3';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { CopycatError } from '../../errors.js';
import { describeSources } from './credential-sources.js';
import { describeS3Error } from './errors.js';

/**
 * S3 connection settings: flags override the standard AWS variables. With both keys, the client signs with them (and
 * the session token of temporary keys); without, its credentials come from the AWS SDK's default chain: a profile of
 * the shared files, web identity, container or instance metadata (read by the SDK from process.env).
 */
export interface S3Settings {
  readonly endpoint?: string;
  readonly region?: string;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  /** The session token of temporary keys (AWS_SESSION_TOKEN). */
  readonly sessionToken?: string;
  /** The profile of the shared config and credentials files the chain reads (AWS_PROFILE; else `default`). */
  readonly profile?: string;
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

/**
 * How long one request to the instance (or container) metadata service may stay silent. Off EC2 nothing answers at
 * 169.254.169.254: the chain's last source then fails within a few of these (token, then role; no retries) instead of
 * holding the run.
 */
export const METADATA_TIMEOUT_MS = 1_000;

export function s3SettingsFromEnv(env: Record<string, string | undefined> = process.env, flags: S3Settings = {}): S3Settings {
  return {
    endpoint: flags.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL,
    region: flags.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    accessKeyId: flags.accessKeyId ?? (env.AWS_ACCESS_KEY_ID || undefined),
    secretAccessKey: flags.secretAccessKey ?? (env.AWS_SECRET_ACCESS_KEY || undefined),
    sessionToken: flags.sessionToken ?? (env.AWS_SESSION_TOKEN || undefined),
    profile: flags.profile ?? (env.AWS_PROFILE || undefined),
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
  return new S3Client({
    endpoint: settings.endpoint,
    region: settings.region ?? 'us-east-1',
    forcePathStyle: settings.forcePathStyle ?? Boolean(settings.endpoint),
    credentials: settings.accessKeyId && settings.secretAccessKey
      ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey, ...(settings.sessionToken ? { sessionToken: settings.sessionToken } : {}) }
      : defaultChain(settings.profile),
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

/** The SDK's default chain, with the metadata probes bounded, failing with the sources it tried named. */
function defaultChain(profile: string | undefined): ReturnType<typeof defaultProvider> {
  const chain = defaultProvider({ ...(profile ? { profile } : {}), timeout: METADATA_TIMEOUT_MS, maxRetries: 0 });
  return async (properties) => {
    try {
      return await chain(properties);
    } catch (err) {
      const env = profile ? { ...process.env, AWS_PROFILE: profile } : process.env;
      throw new CopycatError('S3_CREDENTIALS_MISSING', `no S3 credentials (${describeS3Error(err)}); the sources of the AWS SDK's ` +
        `chain, in the order it tries them: ${describeSources(env)} — set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the ` +
        'environment (never on the command line), or fix or configure one of the others', { cause: err });
    }
  };
}
