import { ENCRYPTION_MAGIC } from './encrypted-stream.js';
import { PARALLEL_MAGIC } from './parallel-container.js';

/** Custom-format archives (pg_dump -Fc) start with this. */
export const PGDMP_MAGIC = Buffer.from('PGDMP');
/** The zstd frame magic number (little-endian 0xFD2FB528). */
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/** What pg_dump is asked to write: `custom` restores with pg_restore, `plain` is SQL for psql. */
export type DumpFormat = 'custom' | 'plain';

/** What a dump is, told by its first bytes: never assumed from how it was asked for (Scaleway documents, not promises). */
/** `encrypted` and `zstd` are stored backups read without undoing their chain: never a dump. */
export type ArchiveFormat = 'custom' | 'plain' | 'parallel' | 'encrypted' | 'zstd' | 'unknown';

/** Enough leading bytes for every signature below. */
export const ARCHIVE_HEAD_BYTES = 16;

export function sniffArchiveFormat(head: Uint8Array): ArchiveFormat {
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (buf.subarray(0, PARALLEL_MAGIC.length).equals(PARALLEL_MAGIC)) return 'parallel';
  if (buf.subarray(0, PGDMP_MAGIC.length).equals(PGDMP_MAGIC)) return 'custom';
  if (buf.subarray(0, ENCRYPTION_MAGIC.length).equals(ENCRYPTION_MAGIC)) return 'encrypted';
  if (buf.subarray(0, ZSTD_MAGIC.length).equals(ZSTD_MAGIC)) return 'zstd';
  const text = buf.toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
  // Plain dumps start with pg_dump's "--" banner, or straight with SQL when the banner was stripped.
  if (/^(--|SET\s|CREATE\s|BEGIN|SELECT\s|\\connect\s)/.test(text)) return 'plain';
  return 'unknown';
}

/** A custom-format archive's format version (K_VERS), the three bytes after PGDMP: what a pg_restore must be able to read. */
export interface ArchiveVersion {
  readonly major: number;
  readonly minor: number;
  readonly rev: number;
}

/** The format version of a custom-format archive from its first bytes; undefined for anything else or too few bytes. */
export function customArchiveVersion(head: Uint8Array): ArchiveVersion | undefined {
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (buf.length < PGDMP_MAGIC.length + 3 || !buf.subarray(0, PGDMP_MAGIC.length).equals(PGDMP_MAGIC)) return undefined;
  return { major: buf[5]!, minor: buf[6]!, rev: buf[7]! };
}

/** Keeps a stream's first bytes as they pass and what they tell, for a stream that cannot wait for them. */
export function sniffHead(seen: { head: Buffer; archiveFormat: ArchiveFormat }, chunk: Buffer): void {
  if (seen.head.length >= ARCHIVE_HEAD_BYTES) return;
  seen.head = Buffer.concat([seen.head, chunk.subarray(0, ARCHIVE_HEAD_BYTES - seen.head.length)]);
  seen.archiveFormat = sniffArchiveFormat(seen.head);
}
