import { CopycatError } from '../errors.js';
import type { SourceFacts, TableFact } from '../stage.js';

export const MANIFEST_FORMAT_VERSION = 1;

/**
 * The largest manifest read. Real ones are a few KiB (a table list of 10,000 tables is about 1 MiB); anyone who can
 * write to the repository can put a huge one, which a listing would otherwise read whole into memory (a 120 MB
 * manifest made `list` use 581 MB).
 */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

export type LockMode = 'COMPLIANCE' | 'GOVERNANCE';

/**
 * Written beside each data object once the object (and its lock, where the repository has one) is verified. It holds
 * what restore and verify need to trust the backup, and nothing secret: key ids, never keys; sizes and digests, never
 * table data. The same schema for every repository: an S3 one records its bucket and the versions it wrote, a
 * directory one has no bucket, version ('null') or lock.
 */
export interface Manifest {
  readonly formatVersion: typeof MANIFEST_FORMAT_VERSION;
  readonly toolVersion: string;
  readonly id: string;
  /** dumpVersion: the pg_dump's own version (absent in manifests written before it was recorded, and for Scaleway exports). */
  readonly source: { readonly kind: string; readonly database?: string; readonly serverVersion?: string; readonly dumpVersion?: string };
  readonly dumpFormat: SourceFacts['format'];
  readonly sizes: { readonly plaintext: number; readonly stored: number; readonly compressed?: number };
  readonly sha256: { readonly plaintext: string; readonly stored: string };
  readonly compression: { readonly algorithm: string; readonly level?: number };
  /** Who can read the backup: the key id (format 1), or the ids of the recipients it was encrypted to (format 2). */
  readonly encryption:
    | { readonly algorithm: 'aes-256-gcm-stream-v1'; readonly keyId: string; readonly chunkSize: number }
    | { readonly algorithm: 'aes-256-gcm-stream-v2'; readonly recipients: readonly string[]; readonly chunkSize: number }
    | null;
  readonly object: {
    /** S3 repositories only. */
    readonly bucket?: string;
    /** The data object's key, relative to the bucket (S3) or the directory. */
    readonly key: string;
    readonly versionId: string;
    readonly retention: { readonly mode: LockMode; readonly retainUntil: string } | null;
  };
  /**
   * The server's roles, memberships and tablespaces (`pg_dumpall --globals-only`), for backups taken with --globals:
   * a second object through the same chain (same compression, same key or recipients), locked until the same instant
   * as the data object, with its own sizes and digests.
   */
  readonly globals?: ManifestGlobals;
  /** Tables with exact row counts at backup time, where the source could record them. */
  readonly tables?: readonly TableFact[];
  readonly startedAt: string;
  readonly finishedAt: string;
}

export interface ManifestGlobals {
  readonly key: string;
  readonly versionId: string;
  readonly sizes: { readonly plaintext: number; readonly stored: number };
  readonly sha256: { readonly plaintext: string; readonly stored: string };
  /** False when the server refused to show role passwords (managed services) and they were dumped without them. */
  readonly rolePasswords: boolean;
}

export function parseManifest(text: string, where: string): Manifest {
  const value = JSON.parse(text) as Partial<Manifest>;
  if (value.formatVersion !== MANIFEST_FORMAT_VERSION || typeof value.id !== 'string' || !value.sha256 || !value.object) {
    throw new CopycatError('MANIFEST_INVALID', `${where} is not a copycat-db manifest of format ${MANIFEST_FORMAT_VERSION}: it was not written by this version, or is damaged`);
  }
  return value as Manifest;
}

export function serializeManifest(manifest: Manifest): Buffer {
  return Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
}
