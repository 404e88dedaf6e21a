// No imports: a leaf that every layer (stages, the S3 driver, the CLI) loads without pulling anything else in.
export const KIB = 1024;
export const MIB = 1024 * KIB;
export const GIB = 1024 * MIB;
export const TIB = 1024 * GIB;

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  kib: KIB, mib: MIB, gib: GIB, tib: TIB };

/** Sizes as people write them: 512MiB, 20GiB, 1.5TB, or plain bytes. */
export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match && UNITS[match[2]!.toLowerCase()];
  return match && unit ? Math.round(Number(match[1]) * unit) : undefined;
}

/** A size as a flag value, rounded up to a whole unit: 31MiB, 32GiB. */
export function flagSize(bytes: number): string {
  if (bytes >= GIB) return `${Math.ceil(bytes / GIB)}GiB`;
  return `${Math.ceil(bytes / MIB)}MiB`;
}

/** 16 MiB, 15.6 GiB, 512 KiB: binary units, at most one decimal. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const units: [number, string][] = [[TIB, 'TiB'], [GIB, 'GiB'], [MIB, 'MiB'], [KIB, 'KiB']];
  for (const [size, unit] of units) {
    if (Math.abs(bytes) >= size) {
      const value = bytes / size;
      return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
    }
  }
  return `${bytes} B`;
}

/** "2h 5m 3s", "41s", "250ms": durations in messages meant for people. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts: string[] = [];
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s || parts.length === 0) parts.push(`${s}s`);
  return parts.join(' ');
}
