/** Recognises what a backup download actually is, because Scaleway documents the format but does not promise it. */

export type ArchiveFormat = 'custom' | 'plain' | 'unknown';

/** Bytes kept from the start of a download: enough for every signature below and for a hex peek in stats. */
export const HEAD_BYTES = 16;

export function sniffArchiveFormat(head: Uint8Array): ArchiveFormat {
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  // pg_dump -Fc archives begin with the magic "PGDMP" followed by the archive version.
  if (buf.subarray(0, 5).toString('latin1') === 'PGDMP') return 'custom';
  const text = buf.toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
  // Plain dumps start with pg_dump's "--" banner, or straight with SQL when the banner was stripped.
  if (/^(--|SET\s|CREATE\s|BEGIN|SELECT\s|\\connect\s)/.test(text)) return 'plain';
  return 'unknown';
}
