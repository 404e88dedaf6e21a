import { PARALLEL_MAGIC } from './sources/pg-parallel/format.js';
import { ZSTD_MAGIC } from './transforms/compression/zstd.js';
import { ENCRYPTION_MAGIC } from './transforms/encryption-format.js';

/** Custom-format archives (pg_dump -Fc) start with this. */
export const PGDMP_MAGIC = Buffer.from('PGDMP');

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
