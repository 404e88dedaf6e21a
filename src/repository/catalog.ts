import { CopycatError, describeError } from '../errors.js';
import { MAX_MANIFEST_BYTES, parseManifest, type Manifest } from '../formats/manifest.js';
import { formatBytes } from '../units.js';
import { databaseRepository } from './database.js';
import type { Repository } from './index.js';
import { databaseOfKey, isBackupId, listPrefix, parseKey, type ObjectKind } from './layout.js';
import type { StoredVersion } from './store.js';

/**
 * What a listing knows about one backup id. A locked bucket is versioned, and anyone who may write can add a newer
 * version or a delete marker to any key, but no one can add an older version or delete a locked one. So a backup is
 * judged by the versions it wrote itself, never by the newest ones:
 * - the manifest is the OLDEST version of ID.manifest.json that is not a delete marker (the backup writes it once);
 * - the data is exactly the version of ID.backup that this manifest names (object.versionId), of the size it records,
 *   and so are its globals (ID.globals), when the manifest names any (globals.versionId).
 *
 * - `complete`: that manifest is valid and its data version exists with the recorded size. Newer versions and delete
 *   markers on either key change nothing but `warnings`;
 * - `incomplete`: data versions without a manifest (the upload did not finish, or its lock was never verified), or
 *   with a manifest that is unreadable, too large, or names a version or size that is not there (`problem` says which),
 *   and globals objects without any manifest;
 * - `orphan-manifest`: manifest versions without any data version;
 * - `deleted`: only delete markers are left, no version of either key.
 */
export type BackupStatus = 'complete' | 'incomplete' | 'orphan-manifest' | 'deleted';

/** One version (or delete marker) of a backup's data, globals or manifest key. */
export interface ObjectVersion extends StoredVersion {
  readonly kind: ObjectKind;
}

/**
 * A version's retention as far as it is known: from the manifest (written once the lock was verified) or from the
 * server (GetObjectRetention). `unknown` when neither could tell (no data version, or the server refused to say).
 */
export type BackupLock =
  | {
      readonly kind: 'retention';
      readonly mode: 'COMPLIANCE' | 'GOVERNANCE';
      readonly until: Date;
      readonly source: 'manifest' | 'server';
    }
  | { readonly kind: 'none'; readonly source: 'manifest' | 'server' }
  | { readonly kind: 'unknown'; readonly reason: string };

export interface BackupEntry {
  /** The repository: s3://bucket/prefix or file:/dir. */
  readonly location: string;
  readonly id: string;
  /**
   * When the backup was taken: the timestamp in its id (the same instant as the manifest's startedAt). Never the
   * objects' LastModified, which a copy or a re-upload would move.
   */
  readonly time: Date;
  readonly status: BackupStatus;
  /** Why the backup is not complete (or how it was deleted); undefined for complete backups. */
  readonly problem: string | undefined;
  /**
   * What else is on the backup's keys that the backup did not write: newer (or older) versions, delete markers. They
   * never change the status, but someone with write access put them there. Empty when there is nothing.
   */
  readonly warnings: readonly string[];
  /**
   * The data version restore reads: the one the manifest names. Without a usable manifest, the oldest version that is
   * not a delete marker (the one the upload wrote), for the lock and for prune.
   */
  readonly dataVersion: ObjectVersion | undefined;
  /**
   * The globals version restore reads: the one the manifest names. Without a usable manifest, the oldest version of
   * the globals key that is not a delete marker; undefined for a backup without globals.
   */
  readonly globalsVersion: ObjectVersion | undefined;
  /** The manifest version the backup wrote: the oldest version of the manifest key that is not a delete marker. */
  readonly manifestVersion: ObjectVersion | undefined;
  /** `manifestVersion` parsed; undefined when missing, unreadable or too large. */
  readonly manifest: Manifest | undefined;
  /** Stored bytes of the data version. */
  readonly size: number | undefined;
  /** Plaintext bytes, from the manifest. */
  readonly plaintextSize: number | undefined;
  /** Plaintext size / stored size, from the manifest. */
  readonly compressionRatio: number | undefined;
  /** Retention of the data version: the manifest's object.retention, else what the store reports for that version. */
  readonly lock: BackupLock;
  /** `lock.until` when there is a retention (possibly already passed). */
  readonly lockedUntil: Date | undefined;
  /**
   * Every version and delete marker of the backup's keys (what prune deletes): the manifest key's first, then the
   * globals key's and the data key's, newest first within a key.
   */
  readonly versions: readonly ObjectVersion[];
}

export interface ListBackupsOptions {
  /** Manifest reads and lock lookups in flight (default 8). */
  readonly concurrency?: number;
  /** Stops the listing (SIGTERM): every request is cancelled and the signal's reason is thrown. */
  readonly signal?: AbortSignal;
}

/** The instant encoded in a backup id (YYYYMMDDTHHMMSSZ-xxxx). */
export function backupTime(id: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-/.exec(id);
  if (!m || !isBackupId(id)) throw new CopycatError('BACKUP_ID_INVALID', `${id} is not a backup id (like 20250101T120000Z-ab12): run copycat-db list`);
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

/** Runs fn over items with at most `limit` calls in flight; results keep the items' order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

interface Listed extends ObjectVersion {
  readonly seq: number;
}

type Group = Record<ObjectKind, Listed[]>;

/**
 * The store's listing: keys that parseKey accepts under the prefix, grouped by backup id, and the databases whose
 * backups are one level down (PREFIX/DBNAME/, databaseOfKey).
 */
async function groupVersions(repo: Repository, signal: AbortSignal | undefined): Promise<{ groups: Map<string, Group>; databases: string[] }> {
  const groups = new Map<string, Group>();
  const databases = new Set<string>();
  const listed = await repo.store.listVersions(listPrefix(repo.prefix), signal);
  listed.forEach((v, seq) => {
    const parsed = parseKey(repo.prefix, v.key);
    if (!parsed) {
      const database = databaseOfKey(repo.prefix, v.key);
      if (database !== undefined) databases.add(database);
      return; // else not ours: another prefix, or a name this tool never writes
    }
    let group = groups.get(parsed.id);
    if (!group) groups.set(parsed.id, (group = { data: [], globals: [], manifest: [] }));
    group[parsed.kind].push({ ...v, kind: parsed.kind, seq });
  });
  return { groups, databases: [...databases].sort() };
}

/** Newest first: the current version, then by LastModified, then in listing order (versions are listed newest first). */
function newestFirst(list: Listed[]): ObjectVersion[] {
  return [...list]
    .sort((a, b) => {
      if (a.latest !== b.latest) return a.latest ? -1 : 1;
      const ta = a.lastModified?.getTime() ?? 0;
      const tb = b.lastModified?.getTime() ?? 0;
      if (ta !== tb) return tb - ta;
      return a.seq - b.seq;
    })
    .map(({ seq: _seq, ...v }) => v);
}

type ManifestRead = { manifest: Manifest; problem?: undefined } | { manifest?: undefined; problem: string };

const tooLarge = (bytes: string): string =>
  `manifest is ${bytes}, more than the ${formatBytes(MAX_MANIFEST_BYTES)} a manifest may be: copycat-db did not write it, so it is not read`;

/** Reads one manifest version, never more than MAX_MANIFEST_BYTES of it (the listing's size is checked first). */
async function readManifest(repo: Repository, v: ObjectVersion, signal: AbortSignal | undefined): Promise<ManifestRead> {
  if ((v.size ?? 0) > MAX_MANIFEST_BYTES) return { problem: tooLarge(formatBytes(v.size!)) };
  // Anything but a vanished version (network, permissions) is not evidence about the backup: it throws rather than
  // calling the backup incomplete, since prune would act on that verdict.
  const body = await repo.store.readSmall(v.key, v.versionId, MAX_MANIFEST_BYTES, signal);
  if (body === 'missing') return { problem: `manifest version ${v.versionId} vanished while listing` };
  if (body === 'too-large') return { problem: tooLarge(`over ${formatBytes(MAX_MANIFEST_BYTES)}`) };
  const where = repo.store.describe(v.key);
  try {
    return { manifest: parseManifest(body.toString('utf8'), where) };
  } catch (err) {
    return { problem: `manifest unreadable: ${err instanceof SyntaxError ? `not JSON (${err.message})` : describeError(err)}` };
  }
}

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;
const versionIds = (list: readonly ObjectVersion[]): string =>
  `VersionId ${list.slice(0, 3).map((v) => v.versionId).join(', ')}${list.length > 3 ? ', …' : ''}`;

/**
 * What is on one key besides the version the backup wrote (`own`, from a newest-first list): versions it did not
 * write, and delete markers. Neither hides nor replaces the backup, but someone who may write to the bucket put them.
 */
function keyWarnings(repo: Repository, all: readonly ObjectVersion[], own: ObjectVersion | undefined): string[] {
  if (all.length === 0) return [];
  const where = repo.store.describe(all[0]!.key);
  const warnings: string[] = [];
  if (own) {
    const at = all.indexOf(own);
    const newer = all.slice(0, at).filter((v) => !v.deleteMarker);
    const older = all.slice(at + 1).filter((v) => !v.deleteMarker);
    if (newer.length) warnings.push(`${where} has ${plural(newer.length, 'newer version')} not written by this backup (${versionIds(newer)})`);
    if (older.length) warnings.push(`${where} has ${plural(older.length, 'older version')} not written by this backup (${versionIds(older)})`);
  } else {
    // Globals beside a manifest that names none.
    const foreign = all.filter((v) => !v.deleteMarker);
    if (foreign.length) warnings.push(`${where} has ${plural(foreign.length, 'version')} not written by this backup (${versionIds(foreign)})`);
  }
  const markers = all.filter((v) => v.deleteMarker);
  if (all[0]!.deleteMarker) {
    warnings.push(`a delete marker hides ${where} (VersionId ${all[0]!.versionId}) from plain S3 reads; ${own ? "the backup's own version remains, and is what restore reads" : 'no version of it is used'}`);
  }
  const behind = markers.filter((m) => m !== all[0]);
  if (behind.length) warnings.push(`${where} has ${plural(behind.length, 'older delete marker')} (${versionIds(behind)})`);
  return warnings;
}

/** What judge decided, and the versions it pinned. */
interface Judged {
  readonly status: BackupStatus;
  readonly problem: string | undefined;
  readonly dataVersion: ObjectVersion | undefined;
  readonly globalsVersion: ObjectVersion | undefined;
  readonly manifest: Manifest | undefined;
}

/** Newest first, as listed: the objects alone, and the oldest of them (what a backup wrote, and no later writer can displace). */
function objectsOf(all: readonly ObjectVersion[]): { objects: ObjectVersion[]; oldest: ObjectVersion | undefined } {
  const objects = all.filter((v) => !v.deleteMarker);
  return { objects, oldest: objects.at(-1) };
}

/** Pins the versions the backup wrote and judges it (see BackupStatus). */
function judge(id: string, repo: Repository, all: Record<ObjectKind, ObjectVersion[]>, read: ManifestRead | undefined): Judged {
  const data = objectsOf(all.data);
  const globals = objectsOf(all.globals);
  const manifestObjects = all.manifest.filter((v) => !v.deleteMarker);
  const unpinned = { dataVersion: data.oldest, globalsVersion: globals.oldest };
  if (data.objects.length === 0 && globals.objects.length === 0 && manifestObjects.length === 0) {
    return { status: 'deleted', problem: 'deleted: only delete markers are left', ...unpinned, manifest: undefined };
  }
  const manifest = read?.manifest;
  if (!manifest) {
    if (data.objects.length === 0 && globals.objects.length === 0) {
      return { status: 'orphan-manifest', problem: `manifest without data object${read?.problem ? ` (${read.problem})` : ''}`, ...unpinned, manifest: undefined };
    }
    return {
      status: 'incomplete',
      problem: read ? read.problem : 'no manifest: the upload did not finish, or its lock was never verified',
      ...unpinned,
      manifest: undefined,
    };
  }
  const incomplete = (problem: string, dataVersion = data.oldest): Judged =>
    ({ status: data.objects.length ? 'incomplete' : 'orphan-manifest', problem, dataVersion, globalsVersion: globals.oldest, manifest });
  const key = all.data[0]?.key;
  if (manifest.id !== id) return incomplete(`manifest is for backup ${manifest.id}, not ${id}`);
  if (key !== undefined && manifest.object?.key !== key) return incomplete(`manifest names object ${String(manifest.object?.key)}, not ${key}`);
  const named = data.objects.find((v) => v.versionId === manifest.object.versionId);
  if (!named) {
    if (data.objects.length === 0) return incomplete(`manifest without data object (it names version ${manifest.object.versionId})`);
    return incomplete(`manifest names data version ${manifest.object.versionId}, which is not among the ${plural(data.objects.length, 'version')} of ${repo.store.describe(key!)}`);
  }
  if (named.size !== manifest.sizes?.stored) {
    return incomplete(`data version ${named.versionId} holds ${String(named.size)} bytes, but the manifest says ${String(manifest.sizes?.stored)}`, named);
  }
  if (!manifest.globals) return { status: 'complete', problem: undefined, dataVersion: named, globalsVersion: undefined, manifest };
  // The globals are part of the backup: without exactly the version the manifest names, it is not complete.
  const want = manifest.globals;
  const where = repo.store.describe(want.key);
  const namedGlobals = all.globals[0]?.key === want.key ? globals.objects.find((v) => v.versionId === want.versionId) : undefined;
  if (!namedGlobals) {
    const found = globals.objects.length ? `, which is not among the ${plural(globals.objects.length, 'version')} of ${where}` : `: ${where} is missing`;
    return incomplete(`manifest names globals version ${want.versionId}${found}`, named);
  }
  if (namedGlobals.size !== want.sizes.stored) {
    return incomplete(`globals version ${namedGlobals.versionId} holds ${String(namedGlobals.size)} bytes, but the manifest says ${want.sizes.stored}`, named);
  }
  return { status: 'complete', problem: undefined, dataVersion: named, globalsVersion: namedGlobals, manifest };
}

/** What a repository holds: its own backups, and the databases with backups of their own under it. */
export interface Catalog {
  /** Oldest first (see listBackups). */
  readonly entries: BackupEntry[];
  /** Databases with backups under PREFIX/DBNAME/ (databaseRepository), sorted; empty in a one-database repository. */
  readonly databases: string[];
}

/**
 * Every backup in the repository, oldest first. Only keys directly under its prefix that parseKey accepts are looked
 * at: never a sibling prefix, never another tool's objects.
 */
export async function listBackups(repo: Repository, options: ListBackupsOptions = {}): Promise<BackupEntry[]> {
  return (await listCatalog(repo, options)).entries;
}

/** listBackups, and the databases whose backups are under the prefix, from the same listing. */
export async function listCatalog(repo: Repository, options: ListBackupsOptions = {}): Promise<Catalog> {
  const { signal } = options;
  const { groups, databases } = await groupVersions(repo, signal);
  const ids = [...groups.keys()].sort();
  const entries = await mapLimit(ids, options.concurrency ?? 8, async (id): Promise<BackupEntry> => {
    const group = groups.get(id)!;
    const all = { data: newestFirst(group.data), globals: newestFirst(group.globals), manifest: newestFirst(group.manifest) };
    const manifestVersion = all.manifest.filter((v) => !v.deleteMarker).at(-1);
    const read = manifestVersion ? await readManifest(repo, manifestVersion, signal) : undefined;
    const { status, problem, dataVersion, globalsVersion, manifest } = judge(id, repo, all, read);

    let lock: BackupLock;
    if (status === 'complete') {
      const r = manifest!.object.retention;
      lock = r ? { kind: 'retention', mode: r.mode, until: new Date(r.retainUntil), source: 'manifest' } : { kind: 'none', source: 'manifest' };
    } else if (dataVersion) {
      const found = await repo.store.lockOf(dataVersion.key, dataVersion.versionId, signal);
      lock = found.kind === 'unknown' ? found : { ...found, source: 'server' };
    } else {
      lock = { kind: 'unknown', reason: 'no data version' };
    }

    const sizes = manifest?.sizes;
    return {
      location: repo.location,
      id,
      time: backupTime(id),
      status,
      problem,
      warnings: [
        ...keyWarnings(repo, all.data, dataVersion), ...keyWarnings(repo, all.globals, globalsVersion), ...keyWarnings(repo, all.manifest, manifestVersion),
      ],
      dataVersion,
      globalsVersion,
      manifestVersion,
      manifest,
      size: dataVersion?.size,
      plaintextSize: sizes?.plaintext,
      compressionRatio: sizes && sizes.stored > 0 ? sizes.plaintext / sizes.stored : undefined,
      lock,
      lockedUntil: lock.kind === 'retention' ? lock.until : undefined,
      versions: [...all.manifest, ...all.globals, ...all.data],
    };
  });
  return { entries, databases };
}

/** The newest complete backup; NO_COMPLETE_BACKUP when there is none. */
export function latestComplete(entries: readonly BackupEntry[], where = entries[0]?.location ?? 'the repository'): BackupEntry {
  for (let i = entries.length - 1; i >= 0; i--) if (entries[i]!.status === 'complete') return entries[i]!;
  const others = entries.length ? ` (${entries.length} incomplete or deleted: see copycat-db list)` : '';
  throw new CopycatError('NO_COMPLETE_BACKUP', `no complete backup under ${where}${others}: run copycat-db backup first`);
}

/**
 * The backup with this id, whatever its status (callers that restore check `status === 'complete'`).
 * BACKUP_NOT_FOUND when there is none.
 */
export function findBackup(entries: readonly BackupEntry[], id: string, where = entries[0]?.location ?? 'the repository'): BackupEntry {
  const found = entries.find((e) => e.id === id);
  if (found) return found;
  const hint = isBackupId(id) ? '' : ' (ids look like 20250101T120000Z-ab12)';
  throw new CopycatError('BACKUP_NOT_FOUND', `no backup ${id} under ${where}${hint}: run copycat-db list`);
}

/**
 * The backup with this id, else the latest complete one, of a repository's own backups. Where databases have backups
 * under it (PREFIX/DBNAME/), which one is meant cannot be guessed: DATABASE_AMBIGUOUS names their locations, unless
 * the id is one of the repository's own backups.
 */
export function pickBackup(repo: Repository, { entries, databases }: Catalog, backupId?: string): BackupEntry {
  if (databases.length && !(backupId && entries.some((e) => e.id === backupId))) {
    const shown = databases.slice(0, 10).map((d) => databaseRepository(repo, d).location);
    const more = databases.length > shown.length ? `, … (${databases.length} in all: see copycat-db list)` : '';
    throw new CopycatError('DATABASE_AMBIGUOUS', `${repo.location} holds the backups of ${plural(databases.length, 'database')}, each under its own ` +
      `prefix: name one in --from (${shown.join(', ')}${more})`);
  }
  return backupId ? findBackup(entries, backupId, repo.location) : latestComplete(entries, repo.location);
}

/**
 * The backup to restore or verify: only a complete one (its manifest written after the data, and its lock, were
 * verified), read at the versions it wrote itself (see listBackups), so a newer version of either key never replaces it.
 */
export async function chooseBackup(repo: Repository, backupId?: string, signal?: AbortSignal): Promise<BackupEntry> {
  const entry = pickBackup(repo, await listCatalog(repo, { signal }), backupId);
  if (entry.status !== 'complete' || !entry.manifest || !entry.dataVersion) {
    throw new CopycatError('BACKUP_INCOMPLETE', `backup ${entry.id} is ${entry.status}${entry.problem ? ` (${entry.problem})` : ''}: ` +
      'it is never restored — choose a complete one from copycat-db list');
  }
  return entry;
}
