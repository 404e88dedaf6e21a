/** A backup written to S3: its Object Lock retention and the multipart upload. */
import type { RetentionMode } from '../../s3/driver/retention.js';
import type { S3Checksum } from '../../sinks/s3.js';
import type { Setting } from '../setting.js';
import { size, wholeNumber } from '../values.js';

/**
 * The longest retention: radosgw stores retain-until in unsigned 32-bit seconds, so a date after 2106-02-07 wraps
 * around (36,500 days from 2026 reads back as 1990); 50 years stays clear of that until 2056.
 */
export const MAX_RETAIN_DAYS = 18_250;

export const RETAIN_DAYS: Setting<number> = {
  env: 'COPYCAT_RETAIN_DAYS',
  holds: `Object Lock retention of each backup, in whole days (1 to ${MAX_RETAIN_DAYS})`,
  commands: ['backup'],
  flag: '--retain-days <days>',
  parse: Number,
  default: 30,
  // Checked at start-up, before any dump: a retention the server cannot take fails only after the whole upload and
  // leaves a locked object without a manifest. Whole days: a typo like 0.0000001 must not lock a backup for 9 ms.
  check: (days) => (Number.isInteger(days) && days >= 1 && days <= MAX_RETAIN_DAYS ? undefined
    : `${JSON.stringify(String(days))} is not a whole number of days from 1 to ${MAX_RETAIN_DAYS} — pass the Object Lock retention in days, e.g. --retain-days 30`),
};

export const LOCK_MODE: Setting<RetentionMode> = {
  env: 'COPYCAT_LOCK_MODE',
  holds: 'Object Lock mode',
  commands: ['backup'],
  flag: '--lock-mode <mode>',
  choices: ['COMPLIANCE', 'GOVERNANCE'],
  default: 'COMPLIANCE',
};

export const ALLOW_UNLOCKED: Setting<boolean> = {
  env: 'COPYCAT_ALLOW_UNLOCKED',
  holds: 'true accepts a bucket without versioning or Object Lock, as --allow-unlocked does (logged loudly; backups can then be deleted)',
  help: 'accept a bucket without versioning or Object Lock (logged loudly; backups can then be deleted)',
  defaultDoc: 'false',
  commands: ['backup'],
  flag: '--allow-unlocked',
};

export const CHECKSUM: Setting<S3Checksum> = {
  env: 'COPYCAT_CHECKSUM',
  holds: 'integrity checksum on every uploaded part: md5 (validated by AWS, Scaleway, radosgw) or crc32',
  commands: ['backup'],
  flag: '--checksum <kind>',
  choices: ['md5', 'crc32'],
  default: 'md5',
};

export const MAX_PARTS: Setting<number> = {
  env: 'COPYCAT_MAX_PARTS',
  holds: "the provider's multipart part limit (AWS 10000, Scaleway 1000)",
  defaultDoc: '1000 for an endpoint on *.scw.cloud, else 10000',
  commands: ['backup'],
  flag: '--max-parts <n>',
  parse: wholeNumber(1, 10_000),
};

export const PART_SIZE: Setting<number> = {
  env: 'COPYCAT_PART_SIZE',
  holds: 'multipart part size, e.g. 64MiB',
  defaultDoc: 'planned from the expected size',
  commands: ['backup'],
  flag: '--part-size <size>',
  parse: size,
};

export const EXPECTED_SIZE: Setting<number> = {
  env: 'COPYCAT_EXPECTED_SIZE',
  holds: 'expected stored size, e.g. 200GiB',
  defaultDoc: 'the database size',
  commands: ['backup'],
  flag: '--expected-size <size>',
  parse: size,
};

export const CONCURRENCY: Setting<number> = {
  env: 'COPYCAT_CONCURRENCY',
  holds: 'parts uploaded at once; memory is part size × (concurrency + 1)',
  commands: ['backup'],
  flag: '--concurrency <n>',
  parse: wholeNumber(1, 64),
  default: 4,
};
