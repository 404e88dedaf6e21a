import type { S3Client } from '@aws-sdk/client-s3';
import type { S3ConnectionFlags } from '../settings/flags.js';

/** The S3 client of the S3 flags; credentials come only from the environment, never from flags. */
export async function s3ClientFromFlags(flags: S3ConnectionFlags): Promise<S3Client> {
  const { createS3Client, s3SettingsFromEnv } = await import('../s3/driver/client.js');
  return createS3Client(s3SettingsFromEnv(process.env, {
    endpoint: flags.s3Endpoint, region: flags.s3Region, ...(flags.s3Timeout ? { idleTimeoutMs: flags.s3Timeout * 1000 } : {}),
  }));
}
