import { GetObjectRetentionCommand, PutObjectRetentionCommand, type S3Client } from '@aws-sdk/client-s3';
import { CopycatError } from '../../errors.js';
import { describeS3Error, s3ErrorName } from './errors.js';

export type RetentionMode = 'COMPLIANCE' | 'GOVERNANCE';

/** How long a backup must stay undeletable, as given on the command line. Fractional days are allowed. */
export interface RetentionPolicy {
  readonly mode: RetentionMode;
  readonly days: number;
}

/** A retention as an instant, as S3 stores it. */
export interface RetentionTarget {
  readonly mode: RetentionMode;
  readonly retainUntil: Date;
}

/** What the server reports for a version, read back after the lock was checked or set. */
export interface LockedRetention {
  readonly mode: RetentionMode;
  /** ISO 8601. */
  readonly retainUntil: string;
}

export interface LockOutcome extends LockedRetention {
  /**
   * True when this call had to set the retention: the version carried none, or a shorter or weaker one
   * (radosgw ignores the lock headers of CreateMultipartUpload).
   */
  readonly applied: boolean;
  /** What the version carried before, if anything. */
  readonly before?: LockedRetention;
}

const DAY_MS = 86_400_000;

/**
 * now + days, rounded up to a whole second: a server that keeps only seconds then still reports at least the
 * requested instant.
 */
export function retainUntilDate(days: number, now: Date = new Date()): Date {
  if (!Number.isFinite(days) || days <= 0) {
    throw new CopycatError('S3_RETENTION_INVALID', `retention of ${String(days)} days is not a positive number: pass --retain-days 1 or more`);
  }
  return new Date(Math.ceil((now.getTime() + days * DAY_MS) / 1000) * 1000);
}

export function retentionTarget(retention: RetentionPolicy | RetentionTarget, now: Date = new Date()): RetentionTarget {
  return 'retainUntil' in retention ? retention : { mode: retention.mode, retainUntil: retainUntilDate(retention.days, now) };
}

/** The retention of one version, or undefined when it has none. */
export async function readRetention(
  client: S3Client, bucket: string, key: string, versionId: string, signal?: AbortSignal,
): Promise<RetentionTarget | undefined> {
  try {
    const out = await client.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: key, VersionId: versionId }), { abortSignal: signal });
    const mode = out.Retention?.Mode;
    const until = out.Retention?.RetainUntilDate;
    if ((mode !== 'COMPLIANCE' && mode !== 'GOVERNANCE') || !until) return undefined;
    return { mode, retainUntil: new Date(until) };
  } catch (err) {
    // AWS: NoSuchObjectLockConfiguration; radosgw: ObjectLockConfigurationNotFoundError.
    const name = s3ErrorName(err);
    if (name === 'NoSuchObjectLockConfiguration' || name === 'ObjectLockConfigurationNotFoundError') return undefined;
    throw err;
  }
}

/** COMPLIANCE satisfies a GOVERNANCE request; a later date satisfies an earlier one (compared to the second). */
function satisfies(have: RetentionTarget | undefined, want: RetentionTarget): boolean {
  if (!have) return false;
  if (want.mode === 'COMPLIANCE' && have.mode !== 'COMPLIANCE') return false;
  return Math.floor(have.retainUntil.getTime() / 1000) >= Math.floor(want.retainUntil.getTime() / 1000);
}

const toLocked = (r: RetentionTarget): LockedRetention => ({ mode: r.mode, retainUntil: r.retainUntil.toISOString() });

/**
 * Makes sure one object version is locked at least as strongly and as long as asked, and proves it by reading the
 * retention back from the server: GetObjectRetention; if missing, shorter or weaker, PutObjectRetention on that
 * version (never weakening what is there: a COMPLIANCE lock stays COMPLIANCE, a later date stays) and read again.
 * Used for the data object and the manifest alike. Fails with S3_LOCK_UNCONFIRMED when the lock cannot be confirmed.
 */
export async function lockVersion(
  client: S3Client,
  bucket: string,
  key: string,
  versionId: string,
  retention: RetentionPolicy | RetentionTarget,
  signal?: AbortSignal,
): Promise<LockOutcome> {
  const want = retentionTarget(retention);
  const where = `s3://${bucket}/${key} (version ${versionId})`;
  const unconfirmed = (what: string, cause?: unknown) => new CopycatError('S3_LOCK_UNCONFIRMED',
    `the Object Lock of ${where} could not be confirmed: ${what} — check that the bucket has Object Lock enabled and that ` +
    `the credentials may read and set object retention; the backup is not trusted`, { cause });

  let before: RetentionTarget | undefined;
  try {
    before = await readRetention(client, bucket, key, versionId, signal);
  } catch (err) {
    throw unconfirmed(`reading its retention failed with ${describeS3Error(err)}`, err);
  }
  if (before && satisfies(before, want)) return { ...toLocked(before), applied: false };

  const mode: RetentionMode = before?.mode === 'COMPLIANCE' ? 'COMPLIANCE' : want.mode;
  const until = before && before.retainUntil > want.retainUntil ? before.retainUntil : want.retainUntil;
  try {
    await client.send(new PutObjectRetentionCommand({
      Bucket: bucket,
      Key: key,
      VersionId: versionId,
      Retention: { Mode: mode, RetainUntilDate: until },
    }), { abortSignal: signal });
  } catch (err) {
    throw unconfirmed(`setting ${mode} retention until ${until.toISOString()} failed with ${describeS3Error(err)}`, err);
  }
  let after: RetentionTarget | undefined;
  try {
    after = await readRetention(client, bucket, key, versionId, signal);
  } catch (err) {
    throw unconfirmed(`reading its retention back failed with ${describeS3Error(err)}`, err);
  }
  if (!after || !satisfies(after, want)) {
    const got = after ? `${after.mode} until ${after.retainUntil.toISOString()}` : 'no retention';
    throw unconfirmed(`the server reports ${got} after ${want.mode} until ${want.retainUntil.toISOString()} was set`);
  }
  return { ...toLocked(after), applied: true, ...(before ? { before: toLocked(before) } : {}) };
}
