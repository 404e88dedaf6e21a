import { dirStore } from './dir-store.js';
import type { ObjectStore } from './store.js';

/**
 * Where backups live: a store and a prefix in it, laid out as PREFIX/ID.backup (+ PREFIX/ID.globals) +
 * PREFIX/ID.manifest.json (layout.ts).
 * The catalog (list, choose), prune and every operation work on this alone, so an S3 bucket and a local directory
 * behave the same, except for what only a lock can give: a directory's backups can be deleted by anyone who may write
 * to it.
 */
export interface Repository {
  readonly store: ObjectStore;
  /** The key prefix without trailing slash ('' for the root). */
  readonly prefix: string;
  /** s3://bucket/prefix or file:/abs/dir. */
  readonly location: string;
}

/** s3Repository is in s3-store.ts, so that a directory repository never loads the AWS SDK. */
export function dirRepository(dir: string): Repository {
  const store = dirStore(dir);
  return { store, prefix: '', location: store.location };
}

export { databaseRepository } from './database.js';
export { chooseBackup, findBackup, latestComplete, listBackups, listCatalog, pickBackup, type Catalog, type BackupEntry, type BackupLock, type BackupStatus, type ObjectVersion } from './catalog.js';
export type { ObjectStore, StoredVersion, WrittenObject } from './store.js';
