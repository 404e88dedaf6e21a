import { CopycatError } from '../../errors.js';
import type { TransformStage } from '../../stage.js';
import { zstdCompress, zstdDecompress } from './zstd.js';

/** One entry per algorithm, looked up by the name the CLI and manifests use (WAL-G's shape). */
export interface Compression {
  readonly compress: (opts: { level?: number; workers?: number }) => TransformStage;
  readonly decompress: () => TransformStage;
}

const algorithms: Record<string, Compression> = {
  zstd: { compress: zstdCompress, decompress: zstdDecompress },
};

export const COMPRESSION_NAMES = ['zstd', 'none'] as const;
export type CompressionName = (typeof COMPRESSION_NAMES)[number];

/** Checks a name from a flag or a manifest. */
export function compressionName(name: string): CompressionName {
  if (!(COMPRESSION_NAMES as readonly string[]).includes(name)) {
    throw new CopycatError('OPTION_INVALID', `unknown compression "${name}": use one of ${COMPRESSION_NAMES.join(', ')}`);
  }
  return name as CompressionName;
}

/** `none` means no stage at all, not a pass-through, so it costs nothing. */
export function compressionByName(name: string): Compression | undefined {
  const checked = compressionName(name);
  return checked === 'none' ? undefined : algorithms[checked];
}
