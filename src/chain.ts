import type { TransformStage } from './stage.js';
import { compressionByName, type CompressionName } from './transforms/compression/index.js';
import { decrypt, encrypt } from './transforms/encrypt.js';

/** What sits between a dump and its stored bytes; the restore chain is exactly this, reversed. */
export interface ChainOptions {
  readonly compression: CompressionName;
  readonly level?: number;
  readonly workers?: number;
  /** 32-byte key; without it the backup is stored unencrypted. */
  readonly key?: Buffer;
  readonly chunkSize?: number;
}

export function backupTransforms(opts: ChainOptions): TransformStage[] {
  const compression = compressionByName(opts.compression);
  return [
    ...(compression ? [compression.compress({ level: opts.level, workers: opts.workers })] : []),
    ...(opts.key ? [encrypt({ key: opts.key, chunkSize: opts.chunkSize })] : []),
  ];
}

export function restoreTransforms(opts: ChainOptions): TransformStage[] {
  const compression = compressionByName(opts.compression);
  return [
    ...(opts.key ? [decrypt({ key: opts.key })] : []),
    ...(compression ? [compression.decompress()] : []),
  ];
}
