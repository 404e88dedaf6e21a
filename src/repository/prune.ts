import { CopycatError, describeError } from '../errors.js';
import { silentLogger, type LogFields, type Logger } from '../log.js';
import { mapLimit, type BackupEntry, type BackupStatus } from './catalog.js';
import { gfsKeeps, validateGfs, type GfsRules } from './gfs.js';
import type { Repository } from './index.js';
import { listPrefix, parseKey, type ObjectKind } from './layout.js';
import type { VersionLock } from './store.js';

/*
 * Prune. A locked bucket is versioned: deleting a key only adds a delete marker and frees nothing, so prune deletes
 * object *versions* (DeleteObject with VersionId), and the server refuses those while their retention lasts. A
 * directory repository has one version per file and no lock: the same rules apply, with nothing to refuse them.
 *
 * A backup's versions go only when (a) it is older than olderThanDays, (b) it is not among the newest keepLast
 * complete backups (whatever their age), and (c) the retention of every version has passed. A backup's age is the
 * time in its id (the same instant as the manifest's startedAt), never LastModified: a copy or re-upload moves
 * LastModified, and tests can make old backups by choosing the id.
 * Also removed: delete markers (clutter: the catalog ignores them, see BackupStatus), data objects without a manifest
 * older than a day (uploads that never finished), and unfinished writes of backup keys (S3 multipart uploads,
 * .partial files) started more than a day ago.
 * Other backups that are not complete (unreadable manifest, orphan manifest) follow the olderThanDays rule: an
 * unreadable manifest is no proof that the upload failed. A backup that goes loses every version of its keys,
 * including versions someone else wrote over them. Only keys that parseKey accepts under the prefix are touched: never
 * a sibling prefix, never another tool's objects. Deletions name the VersionIds the listing saw, so a version written
 * since is never touched.
 */

const DAY_MS = 24 * 60 * 60 * 1000;
/** Data without a manifest, and multipart uploads, younger than this may belong to a backup still running. */
export const INCOMPLETE_GRACE_MS = DAY_MS;

export interface PruneOptions {
  /** Backups younger than this are kept (default 30). */
  readonly olderThanDays?: number;
  /** The newest N complete backups are kept whatever their age (default 3). */
  readonly keepLast?: number;
  /** The time the rules are applied at (default: now); the server still enforces retention against its own clock. */
  readonly now?: Date;
  /** Also keep the newest complete backup of each of the last N days, weeks, months, years (see gfs.ts). */
  readonly gfs?: GfsRules;
}

/** One object version or delete marker that prune means to delete. */
export interface PlannedVersion {
  readonly key: string;
  readonly kind: ObjectKind;
  readonly versionId: string;
  readonly deleteMarker: boolean;
  /** The key's current version: a current delete marker hides the versions behind it. */
  readonly latest: boolean;
  /**
   * Retain-until as the listing knew it (from the manifest): null when it has none, undefined when unknown.
   * executePrune asks the server for every version anyway before deleting anything.
   */
  readonly lockedUntil: Date | null | undefined;
}

export interface PruneDecision {
  readonly id: string;
  readonly status: BackupStatus;
  readonly time: Date;
  readonly action: 'delete' | 'keep';
  /** Why: "within keep-last 3", "younger than 30 days", "locked until …", or the rules that allow deletion. */
  readonly reason: string;
  readonly lockedUntil: Date | undefined;
  /**
   * Object versions to delete when action is 'delete', in deletion order (see deletionOrder): the data object's, the
   * globals', then the manifest's, the backup's own version last on each key. Empty when kept.
   */
  readonly versions: readonly PlannedVersion[];
  /** Delete markers to delete, after the versions: all of them, whether the backup goes or stays. */
  readonly deleteMarkers: readonly PlannedVersion[];
  /**
   * A kept backup that a weekly, monthly or yearly rule promoted beyond its lock: its own data, globals and manifest
   * versions get their lock extended to `until`, in the same mode.
   */
  readonly extendLock?: { readonly mode: 'COMPLIANCE' | 'GOVERNANCE'; readonly until: Date; readonly versions: readonly PlannedVersion[] };
}

export interface PrunePlan {
  readonly now: Date;
  readonly olderThanDays: number;
  readonly keepLast: number;
  readonly gfs: GfsRules;
  /** One decision per backup, oldest first. */
  readonly decisions: readonly PruneDecision[];
}

export interface PruneOutcome {
  readonly id: string;
  readonly status: BackupStatus;
  readonly time: Date;
  /** 'would-delete' only in a dry run. A backup whose deletion the server refused part-way is 'kept'. */
  readonly action: 'deleted' | 'would-delete' | 'kept';
  /** "within keep-last 3", "younger than 30 days", "locked until …", "failed: …", "retention passed; deleted 2 versions"… */
  readonly reason: string;
  readonly lockedUntil: Date | undefined;
  /** Object versions deleted (in a dry run: that would be). */
  readonly versionsDeleted: number;
  /** Delete markers deleted, also of kept backups (in a dry run: that would be). */
  readonly deleteMarkersDeleted: number;
  /** Where a GFS promotion extended the backup's lock to (in a dry run: would). */
  readonly lockExtendedTo?: Date;
}

export interface UploadOutcome {
  readonly key: string;
  /** The S3 upload id, or the partial file's name. */
  readonly uploadId: string;
  readonly initiated: Date | undefined;
  readonly action: 'aborted' | 'would-abort' | 'kept';
  readonly reason: string;
}

export interface PruneReport {
  /** The repository: s3://bucket/prefix or file:/dir. */
  readonly location: string;
  readonly dryRun: boolean;
  readonly now: Date;
  readonly olderThanDays: number;
  readonly keepLast: number;
  /** One outcome per backup, oldest first. */
  readonly backups: readonly PruneOutcome[];
  /** Unfinished writes found under the prefix (S3 multipart uploads, .partial files). */
  readonly uploads: readonly UploadOutcome[];
  /** In a dry run, what would be deleted or aborted. */
  readonly totals: {
    readonly backupsDeleted: number;
    readonly backupsKept: number;
    readonly versionsDeleted: number;
    readonly deleteMarkersDeleted: number;
    readonly uploadsAborted: number;
  };
  /**
   * Requests that failed, including deletions the server refused although the retention had passed (a legal hold, a
   * missing permission); the run went on with the other backups.
   */
  readonly errors: readonly string[];
}

export interface ExecutePruneOptions {
  /** Report what would be done, delete nothing (read-only requests such as GetObjectRetention still run). */
  readonly dryRun?: boolean;
  readonly log?: Logger;
  /** Backups handled in parallel (default 4; each backup's own deletions are always in order). */
  readonly concurrency?: number;
  /** Stops the prune (SIGTERM): requests in flight are cancelled and the signal's reason is thrown. */
  readonly signal?: AbortSignal;
}

/** Log fields without the undefined ones (renderers would print "undefined"). */
const defined = (fields: LogFields): LogFields => Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function toPlanned(v: BackupEntry['versions'][number], entry: BackupEntry): PlannedVersion {
  // Only the data version the manifest vouches for has a known retention.
  const known = entry.lock.kind !== 'unknown' && entry.dataVersion && v.key === entry.dataVersion.key && v.versionId === entry.dataVersion.versionId;
  return {
    key: v.key,
    kind: v.kind,
    versionId: v.versionId,
    deleteMarker: v.deleteMarker,
    latest: v.latest,
    lockedUntil: known ? (entry.lock.kind === 'retention' ? entry.lock.until : null) : undefined,
  };
}

/** Whether v is one of the versions the backup wrote itself (as the catalog pinned them). */
function isOwn(entry: BackupEntry, v: { readonly key: string; readonly versionId: string }): boolean {
  return [entry.dataVersion, entry.globalsVersion, entry.manifestVersion].some((o) => o !== undefined && o.key === v.key && o.versionId === v.versionId);
}

const DELETION_RANK: Readonly<Record<ObjectKind, number>> = { data: 0, globals: 2, manifest: 4 };

/**
 * Deletion order within a backup: data versions, then globals, then manifest versions, and on each key the backup's
 * own version last (others newest first). The manifest goes last so that a run that dies or is refused part-way never
 * leaves data without its manifest: what can be left is a complete backup (only foreign versions went), or a manifest
 * without data (orphan-manifest), which is never restored and which a later prune removes.
 */
function deletionOrder(entry: BackupEntry): PlannedVersion[] {
  const rank = (v: PlannedVersion): number => DELETION_RANK[v.kind] + (isOwn(entry, v) ? 1 : 0);
  const objects = entry.versions.filter((v) => !v.deleteMarker).map((v) => toPlanned(v, entry));
  return objects.map((v, i) => ({ v, i })).sort((a, b) => rank(a.v) - rank(b.v) || a.i - b.i).map(({ v }) => v);
}

/**
 * Decides, without any request, what to keep and what to delete. Pure: the same entries, options and now give the
 * same plan. Retention it cannot know (older versions, manifest objects) is checked by executePrune.
 */
export function planPrune(entries: readonly BackupEntry[], options: PruneOptions = {}): PrunePlan {
  const olderThanDays = options.olderThanDays ?? 30;
  const keepLast = options.keepLast ?? 3;
  const now = options.now ?? new Date();
  if (!Number.isFinite(olderThanDays) || olderThanDays < 0) {
    throw new CopycatError('OPTION_INVALID', `--older-than must be a number of days, 0 or more (got ${olderThanDays})`);
  }
  if (!Number.isInteger(keepLast) || keepLast < 0) {
    throw new CopycatError('OPTION_INVALID', `--keep-last must be a whole number, 0 or more (got ${keepLast})`);
  }
  if (Number.isNaN(now.getTime())) throw new CopycatError('OPTION_INVALID', 'prune needs a valid current time');
  const gfs = options.gfs ?? {};
  const invalid = validateGfs(gfs);
  if (invalid) throw new CopycatError('OPTION_INVALID', invalid);
  const promoted = gfsKeeps(entries, gfs);

  const sorted = [...entries].sort((a, b) => a.time.getTime() - b.time.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const kept = new Set(
    sorted
      .filter((e) => e.status === 'complete')
      .slice(keepLast === 0 ? sorted.length : -keepLast)
      .map((e) => e.id),
  );
  const ageLimit = now.getTime() - olderThanDays * DAY_MS;

  const decisions = sorted.map((entry): PruneDecision => {
    const markers = entry.versions.filter((v) => v.deleteMarker).map((v) => toPlanned(v, entry));
    const objects = deletionOrder(entry);
    const base = { id: entry.id, status: entry.status, time: entry.time, lockedUntil: entry.lockedUntil };
    const keep = (reason: string, extendLock?: PruneDecision['extendLock']): PruneDecision =>
      ({ ...base, action: 'keep', reason, versions: [], deleteMarkers: markers, ...(extendLock ? { extendLock } : {}) });
    const del = (reason: string): PruneDecision => ({ ...base, action: 'delete', reason, versions: objects, deleteMarkers: markers });
    const t = entry.time.getTime();

    if (objects.length === 0) return del('only delete markers left');
    const gfsKeep = promoted.get(entry.id);
    if (kept.has(entry.id) || gfsKeep) {
      const reasons = [kept.has(entry.id) ? `within keep-last ${keepLast}` : '', ...(gfsKeep?.reasons ?? [])].filter(Boolean).join(', ');
      const horizon = gfsKeep?.horizon;
      const own = objects.filter((v) => isOwn(entry, v));
      return keep(reasons, entry.lock.kind === 'retention' && horizon && horizon > entry.lock.until
        ? { mode: entry.lock.mode, until: horizon, versions: own } : undefined);
    }
    const noManifest = entry.status === 'incomplete' && !entry.manifestVersion;
    if (noManifest) {
      if (t > now.getTime() - INCOMPLETE_GRACE_MS) return keep('incomplete, younger than 1 day (may still be uploading)');
    } else if (t > ageLimit) {
      return keep(`younger than ${plural(olderThanDays, 'day')}`);
    }
    if (entry.lockedUntil && entry.lockedUntil.getTime() > now.getTime()) return keep(`locked until ${entry.lockedUntil.toISOString()}`);
    const rules = noManifest
      ? 'incomplete (no manifest) and older than 1 day'
      : `older than ${plural(olderThanDays, 'day')}${entry.status === 'complete' ? `, not within keep-last ${keepLast}` : ''}`;
    const lock = entry.lock.kind === 'retention' ? 'retention passed' : entry.lock.kind === 'none' ? 'no retention' : 'retention to be checked';
    return del(`${rules}; ${lock}`);
  });
  return { now, olderThanDays, keepLast, gfs, decisions };
}

/** The plan must only name keys of its own backup under this prefix: the last guard before any DeleteObject. */
function assertOurs(prefix: string, d: PruneDecision): void {
  for (const v of [...d.versions, ...d.deleteMarkers]) {
    const parsed = parseKey(prefix, v.key);
    if (!parsed || parsed.id !== d.id || parsed.kind !== v.kind) {
      throw new CopycatError('PRUNE_PLAN_INVALID', `prune plan names ${v.key}, which is not part of backup ${d.id} under ${listPrefix(prefix) || 'the bucket root'}: plan and prefix do not match`);
    }
  }
}

/**
 * Carries out a plan: backups first, then multipart uploads under the prefix. Every backup is reported (and logged
 * as prune.keep or prune.delete) with its reason. A dry run makes only read requests. Retentions and upload ages are
 * judged at plan.now; the server, which enforces retention on its own clock, has the last word: a refused deletion is
 * "locked until …" when the version's known retention still holds now, and an error otherwise (a legal hold, or
 * credentials without s3:DeleteObjectVersion), so that such a prune fails instead of quietly keeping everything.
 */
export async function executePrune(repo: Repository, plan: PrunePlan, options: ExecutePruneOptions = {}): Promise<PruneReport> {
  const { store, prefix } = repo;
  const dryRun = options.dryRun ?? false;
  const log = options.log ?? silentLogger;
  const { signal } = options;
  const now = plan.now;
  const errors: string[] = [];
  for (const d of plan.decisions) assertOurs(prefix, d);

  const deleteVersion = (v: PlannedVersion): Promise<void> => store.deleteVersion(v.key, v.versionId, signal);
  /** Deletes markers one by one; returns how many went. Failures are recorded, not thrown. */
  const deleteMarkers = async (id: string, markers: readonly PlannedVersion[]): Promise<number> => {
    let n = 0;
    for (const m of markers) {
      if (dryRun) {
        n++;
        continue;
      }
      try {
        await deleteVersion(m);
        n++;
      } catch (err) {
        signal?.throwIfAborted();
        errors.push(`backup ${id}: deleting delete marker ${m.versionId} of ${m.key} failed: ${describeError(err)}`);
      }
    }
    return n;
  };

  const runOne = async (d: PruneDecision): Promise<PruneOutcome> => {
    const base = { id: d.id, status: d.status, time: d.time };
    // A kept backup loses only its delete markers.
    const keep = async (reason: string, lockedUntil: Date | undefined, versionsDeleted = 0, lockExtendedTo?: Date): Promise<PruneOutcome> => {
      const deleteMarkersDeleted = await deleteMarkers(d.id, d.deleteMarkers);
      const outcome: PruneOutcome = { ...base, action: 'kept', reason, lockedUntil, versionsDeleted, deleteMarkersDeleted, ...(lockExtendedTo ? { lockExtendedTo } : {}) };
      log.log('info', 'prune.keep', defined({ id: d.id, status: d.status, reason, lockedUntil: lockedUntil?.toISOString(), versionsDeleted, deleteMarkersDeleted,
        lockExtendedTo: lockExtendedTo?.toISOString(), dryRun }));
      return outcome;
    };
    if (d.action === 'keep') {
      const extend = d.extendLock;
      if (!extend) return keep(d.reason, d.lockedUntil);
      const until = extend.until.toISOString();
      if (dryRun) return keep(`${d.reason}; would extend its lock to ${until}`, d.lockedUntil, 0, extend.until);
      // Data first, then globals and the manifest, as the lock was first applied; a failure leaves a backup locked at least as before.
      for (const v of extend.versions) await store.extendLock(v.key, v.versionId, extend, signal);
      return keep(`${d.reason}; lock extended to ${until}`, extend.until, 0, extend.until);
    }

    // Before deleting anything, ask the server for the retention of every version: the manifest records the data
    // version's retention when it was written, but a retention can be extended since, and the manifest objects and
    // other versions have their own. A backup is deleted whole or not at all, as far as the locks can tell.
    const locks = new Map<PlannedVersion, VersionLock>();
    let lockedUntil: Date | undefined;
    let anyRetention = false;
    for (const v of d.versions) {
      const lock = await store.lockOf(v.key, v.versionId, signal);
      locks.set(v, lock);
      if (lock.kind === 'retention') {
        anyRetention = true;
        if (lock.until.getTime() > now.getTime() && (!lockedUntil || lock.until > lockedUntil)) lockedUntil = lock.until;
      } else if (lock.kind === 'unknown') {
        anyRetention = true; // the server will say at DeleteObject
      }
    }
    if (lockedUntil) return keep(`locked until ${lockedUntil.toISOString()}`, lockedUntil);

    const basis = d.versions.length === 0 ? 'only delete markers left' : anyRetention ? 'retention passed' : 'no retention';
    const counts = (verb: string, versions: number, markers: number): string => {
      const parts = [versions || !markers ? plural(versions, 'version') : '', markers ? plural(markers, 'delete marker') : ''].filter(Boolean);
      return `${basis}; ${verb} ${parts.join(' and ')}`;
    };
    if (dryRun) {
      const reason = counts('would delete', d.versions.length, d.deleteMarkers.length);
      log.log('info', 'prune.delete', defined({ id: d.id, status: d.status, reason, versions: d.versions.length, deleteMarkers: d.deleteMarkers.length, dryRun }));
      return { ...base, action: 'would-delete', reason, lockedUntil: d.lockedUntil, versionsDeleted: d.versions.length, deleteMarkersDeleted: d.deleteMarkers.length };
    }

    // In deletionOrder: data first, the manifest last.
    let deleted = 0;
    for (const v of d.versions) {
      try {
        await deleteVersion(v);
        deleted++;
      } catch (err) {
        signal?.throwIfAborted();
        const before = deleted ? `; ${plural(deleted, 'version')} deleted before it (data first, the manifest last)` : '';
        const skipped = d.versions.length - deleted - 1;
        const known = locks.get(v);
        // What the server said just now; the catalog's (the manifest's) only when the server would not say.
        const until = known?.kind === 'retention' ? known.until : known?.kind === 'unknown' ? v.lockedUntil ?? undefined : undefined;
        // The server judges retention by its own clock, which may be behind plan.now (or this machine's clock):
        // a refusal of a version whose known retention still holds right now is the lock, not a failure.
        const refused = err instanceof CopycatError && err.detail?.refused === true;
        if (refused && until && until.getTime() > Date.now()) {
          const rest = skipped ? `; ${plural(skipped, 'other version')} not tried` : '';
          return keep(`locked until ${until.toISOString()} (the server refused the deletion${rest})${before}`, until, deleted);
        }
        const why = !refused ? ''
          : until ? ` although its retention passed at ${until.toISOString()} (a legal hold? credentials without s3:DeleteObjectVersion?)`
          : known?.kind === 'unknown' ? ` and its retention is unknown (${known.reason})`
          : ' although it has no retention (credentials without s3:DeleteObjectVersion?)';
        const message = `deleting version ${v.versionId} of ${v.key} failed: ${describeError(err)}${why}; ${plural(skipped, 'other version')} of the backup skipped${before}`;
        errors.push(`backup ${d.id}: ${message}`);
        log.log('warn', 'prune.error', defined({ id: d.id, key: v.key, versionId: v.versionId, error: message }));
        return keep(`failed: ${message}`, d.lockedUntil, deleted);
      }
    }
    const markersDeleted = await deleteMarkers(d.id, d.deleteMarkers);
    const reason = counts('deleted', deleted, markersDeleted);
    log.log('info', 'prune.delete', defined({ id: d.id, status: d.status, reason, versions: deleted, deleteMarkers: markersDeleted, dryRun }));
    return { ...base, action: 'deleted', reason, lockedUntil: d.lockedUntil, versionsDeleted: deleted, deleteMarkersDeleted: markersDeleted };
  };

  const backups = await mapLimit(plan.decisions, options.concurrency ?? 4, async (d) => {
    try {
      return await runOne(d);
    } catch (err) {
      signal?.throwIfAborted();
      // GetObjectRetention failing for other reasons than a lock: report, keep, go on with the others.
      const why = describeError(err);
      errors.push(`backup ${d.id}: ${why}`);
      log.log('warn', 'prune.error', defined({ id: d.id, error: why }));
      const reason = `failed: ${why}`;
      log.log('info', 'prune.keep', defined({ id: d.id, status: d.status, reason, dryRun }));
      return { id: d.id, status: d.status, time: d.time, action: 'kept', reason, lockedUntil: d.lockedUntil, versionsDeleted: 0, deleteMarkersDeleted: 0 } satisfies PruneOutcome;
    }
  });

  const uploads = await prunePending(repo, now, dryRun, log, errors, signal);

  const report: PruneReport = {
    location: repo.location,
    dryRun,
    now,
    olderThanDays: plan.olderThanDays,
    keepLast: plan.keepLast,
    backups,
    uploads,
    totals: {
      backupsDeleted: backups.filter((b) => b.action !== 'kept').length,
      backupsKept: backups.filter((b) => b.action === 'kept').length,
      versionsDeleted: backups.reduce((n, b) => n + b.versionsDeleted, 0),
      deleteMarkersDeleted: backups.reduce((n, b) => n + b.deleteMarkersDeleted, 0),
      uploadsAborted: uploads.filter((u) => u.action !== 'kept').length,
    },
    errors,
  };
  log.log(errors.length ? 'warn' : 'info', 'prune.done', { location: repo.location, dryRun, ...report.totals, errors: errors.length });
  return report;
}

/** Removes unfinished writes of backup keys under the prefix started more than a day before `now`. */
async function prunePending(
  repo: Repository,
  now: Date,
  dryRun: boolean,
  log: Logger,
  errors: string[],
  signal: AbortSignal | undefined,
): Promise<UploadOutcome[]> {
  let pending;
  try {
    pending = await repo.store.listPending(listPrefix(repo.prefix), signal);
  } catch (err) {
    signal?.throwIfAborted();
    errors.push(describeError(err));
    log.log('warn', 'prune.error', defined({ error: describeError(err) }));
    return [];
  }
  const out: UploadOutcome[] = [];
  for (const p of pending) {
    const record = (action: UploadOutcome['action'], reason: string): void => {
      out.push({ key: p.key, uploadId: p.id, initiated: p.started, action, reason });
      log.log('info', action === 'kept' ? 'prune.keep-upload' : 'prune.abort-upload', defined({ key: p.key, uploadId: p.id, initiated: p.started?.toISOString(), reason, dryRun }));
    };
    if (!parseKey(repo.prefix, p.key)) {
      record('kept', 'not a backup key: left alone');
    } else if (!p.started) {
      record('kept', 'the server gave no start time');
    } else if (p.started.getTime() > now.getTime() - INCOMPLETE_GRACE_MS) {
      record('kept', 'started less than a day ago (may still be running)');
    } else if (dryRun) {
      record('would-abort', 'started more than a day ago');
    } else {
      try {
        await repo.store.removePending(p, signal);
        record('aborted', 'started more than a day ago');
      } catch (err) {
        signal?.throwIfAborted();
        errors.push(`aborting unfinished write ${p.id} of ${p.key} failed: ${describeError(err)}`);
        record('kept', `failed: ${describeError(err)}`);
      }
    }
  }
  return out;
}
