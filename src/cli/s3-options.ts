import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Settings } from '../s3/driver/client.js';
import type { S3ConnectionFlags } from '../settings/flags.js';

/**
 * The S3 client of the S3 flags; credentials come only from the environment, never from flags. `remote`: what an
 * rclone S3 remote sets (its endpoint, region and keys), which takes precedence.
 */
export async function s3ClientFromFlags(flags: S3ConnectionFlags, remote: S3Settings = {}): Promise<S3Client> {
  const { createS3Client, s3SettingsFromEnv } = await import('../s3/driver/client.js');
  return createS3Client(s3SettingsFromEnv(process.env, {
    endpoint: remote.endpoint ?? flags.s3Endpoint, region: remote.region ?? flags.s3Region,
    accessKeyId: remote.accessKeyId, secretAccessKey: remote.secretAccessKey,
    ...(flags.s3Timeout ? { idleTimeoutMs: flags.s3Timeout * 1000 } : {}),
  }));
}
