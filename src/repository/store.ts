import type { LockMode } from '../formats/manifest.js';
import type { SinkStage, SourceStage } from '../stage.js';

/**
 * The few things a repository asks of the place its objects live. An S3 bucket (versioned, maybe locked) and a local
 * directory (one version per name, no lock) both answer them, so the catalog, prune and the operations are written once.
 * Keys are the full object keys (an S3 prefix included), as the manifest records them.
 */
export interface ObjectStore {
  /** s3://bucket/prefix or file:/abs/dir: the repository as messages, reports and lock files name it. */
  readonly location: string;
  /** Where one key is, for messages: s3://bucket/key, /abs/dir/key. */
  describe(key: string): string;

  /** Every version and delete marker of keys under `prefix` (a key prefix ending in `/`, or ''), in listing order. */
  listVersions(prefix: string, signal?: AbortSignal): Promise<StoredVersion[]>;
  /** One version's bytes, read only while they stay within `maxBytes`: 'missing' when it is gone, 'too-large' past the bound. */
  readSmall(key: string, versionId: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer | 'missing' | 'too-large'>;
  /** The lock of one version as the store itself reports it. */
  lockOf(key: string, versionId: string, signal?: AbortSignal): Promise<VersionLock>;
  /**
   * Removes one version (or delete marker). Fails with a CopycatError whose `detail.refused` is true when the store
   * refused it (a lock, a permission), and whose message is the store's own explanation.
   */
  deleteVersion(key: string, versionId: string, signal?: AbortSignal): Promise<void>;
  /** Extends one version's lock to `until` (never shortens or weakens it) and confirms it; only stores with locks. */
  extendLock(key: string, versionId: string, lock: { readonly mode: LockMode; readonly until: Date }, signal?: AbortSignal): Promise<void>;
  /** Writes that never finished (S3 multipart uploads, `.partial` files) of keys under `prefix`. */
  listPending(prefix: string, signal?: AbortSignal): Promise<PendingWrite[]>;
  /** Removes one; a write already gone counts as removed. */
  removePending(pending: PendingWrite, signal?: AbortSignal): Promise<void>;

  /** Before a backup: refuses a destination that cannot take one (an S3 bucket without Object Lock, a missing directory). */
  prepare(signal?: AbortSignal): Promise<{ readonly locked: boolean; readonly warning?: string }>;
  /** The sink a backup's data streams into; `written()` reports the object once the run ended cleanly. */
  dataSink(key: string, estimate: () => Promise<number | undefined>): { readonly stage: SinkStage; written(): Promise<WrittenObject> };
  /**
   * For `copycat-db check`, after prepare(): proves that a backup could be written, leaving nothing behind (S3: a test
   * object written, locked for seconds, its lock read back, its version deleted; a directory: a file written, synced
   * and removed). Returns what it proved, for the report.
   */
  probe(signal?: AbortSignal): Promise<string>;
  /**
   * Writes a small object (globals, a manifest) whole, never over an existing one where the store can tell, with the
   * same lock as its data object, and confirms that lock; resolves to the version written ('null' without versions).
   */
  putSmall(key: string, body: Buffer, lock: WrittenObject['retention'], signal?: AbortSignal): Promise<string>;
  /** Streams one version back, failing when it ends before `size` bytes. */
  dataSource(key: string, versionId: string, size: number): SourceStage;

  /**
   * The repository one level below a repository at `prefix` in this store: PREFIX/SEGMENT/, a database's backups.
   * Its keys are what opening its location directly gives: an S3 key is the bucket's, so the same bucket with the
   * longer prefix; a directory's keys are paths below it, so the subdirectory's own store, which makes it when prepared.
   */
  below(prefix: string, segment: string): { readonly store: ObjectStore; readonly prefix: string; readonly location: string };
}

/** One entry of a listing: an object version or a delete marker. */
export interface StoredVersion {
  readonly key: string;
  /** 'null' for objects written without versioning (S3 with versioning off, every file of a directory). */
  readonly versionId: string;
  readonly deleteMarker: boolean;
  /** The key's current version. */
  readonly latest: boolean;
  readonly lastModified: Date | undefined;
  /** Bytes stored; undefined for delete markers. */
  readonly size: number | undefined;
}

/** A lock as the store reports it: a retention, none, or unknown (permission refused, version gone). */
export type VersionLock =
  | { readonly kind: 'retention'; readonly mode: LockMode; readonly until: Date }
  | { readonly kind: 'none' }
  | { readonly kind: 'unknown'; readonly reason: string };

export interface PendingWrite {
  readonly key: string;
  /** The S3 upload id, or the partial file's name. */
  readonly id: string;
  readonly started: Date | undefined;
}

export interface WrittenObject {
  /** S3 stores only. */
  readonly bucket?: string;
  readonly key: string;
  readonly versionId: string;
  readonly size: number;
  /** As the store confirmed it; null where there is no lock. */
  readonly retention: { readonly mode: LockMode; readonly retainUntil: string } | null;
}
