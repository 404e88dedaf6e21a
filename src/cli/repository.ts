import { CopycatError } from '../errors.js';
import { parseLocation } from '../location.js';
import type { Repository } from '../repository/index.js';
import type { S3UploadOptions } from '../repository/s3-store.js';
import type { S3ConnectionFlags } from '../settings/flags.js';
import { s3ClientFromFlags } from './s3-options.js';

/**
 * The repository a location names: s3://BUCKET/PREFIX or file:DIR. The AWS SDK is loaded only for S3 (~0.4 s of CPU
 * that a directory repository does not need to pay).
 */
export async function openRepository(text: string, command: string, flags: S3ConnectionFlags, upload?: S3UploadOptions): Promise<Repository> {
  const location = parseLocation(text);
  if (location.kind === 'dir') return (await import('../repository/index.js')).dirRepository(location.path);
  if (location.kind === 's3') {
    const { s3Repository } = await import('../repository/s3-store.js');
    return s3Repository({ client: await s3ClientFromFlags(flags), bucket: location.bucket, prefix: location.prefix, upload });
  }
  throw new CopycatError('LOCATION_INVALID', `"${text}" is not a backup repository — ${command} works on s3://BUCKET/PREFIX or file:DIR (an existing directory)`);
}
