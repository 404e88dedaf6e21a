import { InvalidArgumentError, Option, type Command } from 'commander';
import type { S3Client } from '@aws-sdk/client-s3';
import type { RetentionMode } from '../s3/driver/retention.js';
import type { S3Checksum } from '../sinks/s3.js';
import { parseSize } from '../units.js';
import { integer } from './shared.js';

/** Options of every command that talks to S3. Credentials come only from the environment, never from flags. */
export function addS3ConnectionOptions(command: Command): Command {
  return command
    .addOption(new Option('--s3-endpoint <url>', 'S3 endpoint for non-AWS providers (Scaleway, MinIO, radosgw)').env('AWS_ENDPOINT_URL_S3'))
    .addOption(new Option('--s3-region <region>', 'S3 region').env('AWS_REGION'))
    .addOption(new Option('--s3-timeout <seconds>', 'fail an S3 request whose connection moves no byte for this long (retried up to 6 times; default 60)')
      .env('COPYCAT_S3_TIMEOUT').argParser(integer('--s3-timeout', 1, 3600)));
}

export interface S3ConnectionFlags {
  s3Endpoint?: string;
  s3Region?: string;
  s3Timeout?: number;
}

export async function s3ClientFromFlags(flags: S3ConnectionFlags): Promise<S3Client> {
  const { createS3Client, s3SettingsFromEnv } = await import('../s3/driver/client.js');
  return createS3Client(s3SettingsFromEnv(process.env, {
    endpoint: flags.s3Endpoint, region: flags.s3Region, ...(flags.s3Timeout ? { idleTimeoutMs: flags.s3Timeout * 1000 } : {}),
  }));
}

/** Options of a backup written to S3. */
export function addS3UploadOptions(command: Command): Command {
  return command
    .addOption(new Option('--retain-days <days>', 'Object Lock retention of each backup, in whole days (1 to 18250)').argParser(Number).default(30))
    .addOption(new Option('--lock-mode <mode>', 'Object Lock mode').choices(['COMPLIANCE', 'GOVERNANCE']).default('COMPLIANCE'))
    .option('--allow-unlocked', 'accept a bucket without versioning or Object Lock (logged loudly; backups can then be deleted)')
    .addOption(new Option('--checksum <kind>', 'integrity checksum on every uploaded part: md5 (validated by AWS, Scaleway, radosgw) or crc32').choices(['md5', 'crc32']).default('md5'))
    .option('--max-parts <n>', "the provider's multipart part limit (AWS 10000, Scaleway 1000)", integer('--max-parts', 1, 10_000), 10_000)
    .option('--part-size <size>', 'multipart part size, e.g. 64MiB (default: planned from the expected size)', size('--part-size'))
    .option('--expected-size <size>', 'expected stored size, e.g. 200GiB (default: the database size)', size('--expected-size'))
    .option('--concurrency <n>', 'parts uploaded at once; memory is part size × (concurrency + 1)', integer('--concurrency', 1, 64), 4);
}

export interface S3UploadFlags {
  retainDays: number;
  lockMode: RetentionMode;
  allowUnlocked?: boolean;
  checksum: S3Checksum;
  maxParts: number;
  partSize?: number;
  expectedSize?: number;
  concurrency: number;
}

/** Options of commands that prune (backup after success, and prune itself). */
export function addPruneOptions(command: Command): Command {
  return command
    .option('--older-than <days>', 'prune backups older than this many days whose retention has passed', positiveNumber('--older-than'), 30)
    .option('--keep-last <n>', 'never prune the newest N complete backups, whatever their age', integer('--keep-last', 1, 100_000), 3);
}

export interface PruneFlags {
  olderThan: number;
  keepLast: number;
}

function size(name: string): (value: string) => number {
  return (value) => {
    const bytes = parseSize(value);
    if (bytes === undefined || bytes <= 0) throw new InvalidArgumentError(`${name} takes a size like 64MiB, 20GiB or a number of bytes`);
    return bytes;
  };
}

function positiveNumber(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} takes a positive number`);
    return n;
  };
}
