import { CopycatError } from '../errors.js';
import { rcloneDumpSize } from '../formats/rclone-crypt.js';
import type { Repository } from './index.js';
import { mapLimit } from './catalog.js';
import { listPrefix } from './layout.js';
import type { VersionLock } from './store.js';

/**
 * The backups of the system copycat-db replaced: `rclone copy` of a dump to an rclone crypt remote with file name
 * encryption off, so each is one object PREFIX/NAME.bin (the remote's suffix) in rclone's crypt format, beside no
 * manifest. Read over the same ObjectStore as copycat-db's own repositories (an S3 bucket or a directory), read only.
 */
export interface LegacyRepository {
  readonly kind: 'rclone-crypt';
  readonly repository: Repository;
  /** Appended to every object name: `.bin`, or the remote's `suffix` (may be ''). */
  readonly suffix: string;
  readonly location: string;
}

export function legacyRepository(repository: Repository, suffix = '.bin'): LegacyRepository {
  return { kind: 'rclone-crypt', repository, suffix, location: `${repository.location} (rclone crypt)` };
}

/** One object version: a legacy backup. */
export interface LegacyBackup {
  /** What --backup takes: the dump's file name, with @VERSIONID when its object has more than one version. */
  readonly id: string;
  readonly key: string;
  readonly versionId: string;
  /** When it was stored: the version's LastModified (a directory: the file's mtime, which rclone copies from the dump). */
  readonly time: Date;
  /** Stored bytes. */
  readonly size: number;
  /** The dump's bytes, from the stored size; undefined when no crypt object has that size (`problem` says why). */
  readonly dumpSize: number | undefined;
  readonly problem: string | undefined;
  readonly lock: VersionLock;
}

/**
 * Every version of every NAME+suffix object directly under the prefix, oldest first. Delete markers and objects in
 * deeper "folders" are not backups; a size that no crypt object can have is listed with its problem and never read.
 */
export async function listLegacyBackups(legacy: LegacyRepository, signal?: AbortSignal): Promise<LegacyBackup[]> {
  const { store, prefix } = legacy.repository;
  const base = listPrefix(prefix);
  const versions = (await store.listVersions(base, signal)).filter((v) => {
    const name = v.key.slice(base.length);
    return !v.deleteMarker && v.key.startsWith(base) && !name.includes('/') && name.endsWith(legacy.suffix) && name.length > legacy.suffix.length;
  });
  const perKey = new Map<string, number>();
  for (const v of versions) perKey.set(v.key, (perKey.get(v.key) ?? 0) + 1);
  const backups = await mapLimit(versions, 8, async (v): Promise<LegacyBackup> => {
    const name = v.key.slice(base.length, v.key.length - legacy.suffix.length);
    const size = v.size ?? 0;
    const dump = rcloneDumpSize(size);
    return {
      id: perKey.get(v.key)! > 1 ? `${name}@${v.versionId}` : name,
      key: v.key,
      versionId: v.versionId,
      time: v.lastModified ?? new Date(0),
      size,
      dumpSize: 'size' in dump ? dump.size : undefined,
      problem: 'problem' in dump ? dump.problem : undefined,
      lock: await store.lockOf(v.key, v.versionId, signal),
    };
  });
  return backups.sort((a, b) => a.time.getTime() - b.time.getTime() || a.id.localeCompare(b.id));
}

/** The backup `id` names, or the newest one that can be read; refuses one whose size shows it is cut short. */
export async function chooseLegacyBackup(legacy: LegacyRepository, id?: string, signal?: AbortSignal): Promise<LegacyBackup> {
  const backups = await listLegacyBackups(legacy, signal);
  if (id === undefined) {
    const latest = backups.filter((b) => !b.problem).at(-1);
    if (!latest) {
      throw new CopycatError('NO_COMPLETE_BACKUP', `no rclone crypt backup (NAME${legacy.suffix}) under ${legacy.repository.location}` +
        `${backups.length ? ` that can be read (${backups.length} cut short: see copycat-db list --legacy-rclone)` : ''}: check the remote, or --from`);
    }
    return latest;
  }
  const found = backups.find((b) => b.id === id);
  if (!found) {
    const versions = backups.filter((b) => b.id.startsWith(`${id}@`)).map((b) => b.id);
    throw new CopycatError('BACKUP_NOT_FOUND', versions.length
      ? `${id} has ${versions.length} versions: pass one of them to --backup (${versions.join(', ')})`
      : `no rclone crypt backup ${id} under ${legacy.repository.location}: run copycat-db list --legacy-rclone for the names`);
  }
  if (found.problem) throw new CopycatError('BACKUP_INCOMPLETE', `rclone crypt backup ${found.id} cannot be read: ${found.problem}`);
  return found;
}
