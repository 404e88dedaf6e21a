import { CopycatError } from '../errors.js';
import type { DumpFormat } from '../sources/pg-dump.js';

export const MANIFEST_FORMAT_VERSION = 1;

/**
 * Written beside each data object once its lock is verified. It holds what restore and verify need to trust
 * the backup, and nothing secret: key ids, never keys; sizes and digests, never table data.
 */
export interface Manifest {
  readonly formatVersion: typeof MANIFEST_FORMAT_VERSION;
  readonly toolVersion: string;
  readonly id: string;
  readonly source: { readonly kind: string; readonly database?: string; readonly serverVersion?: string };
  readonly dumpFormat: DumpFormat | 'unknown';
  readonly sizes: { readonly plaintext: number; readonly stored: number; readonly compressed?: number };
  readonly sha256: { readonly plaintext: string; readonly stored: string };
  readonly compression: { readonly algorithm: string; readonly level?: number };
  readonly encryption: { readonly algorithm: 'aes-256-gcm-stream-v1'; readonly keyId: string; readonly chunkSize: number } | null;
  readonly object: {
    readonly bucket: string;
    readonly key: string;
    readonly versionId: string;
    readonly retention: { readonly mode: 'COMPLIANCE' | 'GOVERNANCE'; readonly retainUntil: string } | null;
  };
  /** Tables with exact row counts at backup time, where the source could record them. */
  readonly tables?: readonly { readonly name: string; readonly rows: number }[];
  readonly startedAt: string;
  readonly finishedAt: string;
}

export function parseManifest(text: string, where: string): Manifest {
  const value = JSON.parse(text) as Partial<Manifest>;
  if (value.formatVersion !== MANIFEST_FORMAT_VERSION || typeof value.id !== 'string' || !value.sha256 || !value.object) {
    throw new CopycatError('MANIFEST_INVALID', `${where} is not a copycat-db manifest of format ${MANIFEST_FORMAT_VERSION}: it was not written by this version, or is damaged`);
  }
  return value as Manifest;
}
