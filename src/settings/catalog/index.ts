/**
 * Every setting, in the order --help lists a command's flags, the start-up check reports problems and the README's
 * table lists variables. A new setting is declared in the module of its topic and listed here.
 */
import type { Setting } from '../setting.js';
import { BACKUP_ID, COMPRESSION, DESTINATION, ENCRYPT, KEY_FILE, LEVEL, WORKERS } from './backup.js';
import { CREATE, DATABASE, FORMAT, JOBS, PGHOST, PGPASSWORD, PGPORT, PGSSLMODE, PGUSER, TO_DATABASE } from './database.js';
import { JSON_OUTPUT } from './output.js';
import { DRY_RUN, KEEP_LAST, OLDER_THAN, PRUNE } from './prune.js';
import { BACKUP_OPTIONS, LOCK_DIR, LOG_FORMAT, LOG_LEVEL, METRICS_FILE, PING_URL } from './run.js';
import { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, S3_ENDPOINT, S3_REGION, S3_TIMEOUT } from './s3.js';
import {
  MODE, SCW_ACCESS_KEY, SCW_API_URL, SCW_CONFIG_PATH, SCW_DEFAULT_PROJECT_ID, SCW_DEFAULT_REGION, SCW_INSTANCE,
  SCW_PRIVATE_NETWORK, SCW_PROFILE, SCW_SECRET_KEY, SCW_WAIT_HOURS,
} from './scaleway.js';
import { ALLOW_UNLOCKED, CHECKSUM, CONCURRENCY, EXPECTED_SIZE, LOCK_MODE, MAX_PARTS, PART_SIZE, RETAIN_DAYS } from './upload.js';
import { ALLOW_EMPTY, CHECK, KEEP, MAINTENANCE_DATABASE, REPLACE, SCRATCH_DATABASE, SCRUB, SCRUB_FILE } from './verify.js';

export const SETTINGS: readonly Setting[] = [
  DESTINATION, BACKUP_ID, KEY_FILE, ENCRYPT, COMPRESSION, LEVEL, WORKERS,
  DATABASE, TO_DATABASE, CREATE, FORMAT, JOBS, PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE,
  MODE, SCW_INSTANCE, SCW_PRIVATE_NETWORK, SCW_WAIT_HOURS,
  SCW_SECRET_KEY, SCW_ACCESS_KEY, SCW_DEFAULT_REGION, SCW_DEFAULT_PROJECT_ID, SCW_API_URL, SCW_CONFIG_PATH, SCW_PROFILE,
  SCRATCH_DATABASE, MAINTENANCE_DATABASE, CHECK, SCRUB, SCRUB_FILE, KEEP, REPLACE, ALLOW_EMPTY, JSON_OUTPUT, DRY_RUN,
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, S3_ENDPOINT, S3_REGION, S3_TIMEOUT,
  RETAIN_DAYS, LOCK_MODE, ALLOW_UNLOCKED, CHECKSUM, MAX_PARTS, PART_SIZE, EXPECTED_SIZE, CONCURRENCY,
  PRUNE, OLDER_THAN, KEEP_LAST,
  LOG_FORMAT, LOG_LEVEL, METRICS_FILE, PING_URL, LOCK_DIR, BACKUP_OPTIONS,
];

/**
 * The variables whose current values are masked wherever they appear in logs. AWS_SESSION_TOKEN is no setting
 * (copycat-db never reads it) but an environment with temporary credentials holds one.
 */
export const SECRET_VARIABLES: readonly string[] = [...SETTINGS.filter((s) => s.secret).map((s) => s.env!), 'AWS_SESSION_TOKEN'];
