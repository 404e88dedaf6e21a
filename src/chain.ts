import type { RestoreTarget } from './pg/restore-target.js';
import { sinkByFormat } from './sinks/by-format.js';
import { pgParallelRestore } from './sinks/pg-parallel-restore/index.js';
import { pgRestore, psql } from './sinks/pg-restore/index.js';
import type { SinkStage, TransformStage } from './stage.js';
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

/** The backup chain's stages, with handles on the two whose results a manifest records. */
export interface BackupChain {
  readonly stages: readonly TransformStage[];
  readonly compression?: TransformStage;
  readonly encryption?: ReturnType<typeof encrypt>;
}

export function backupChain(opts: ChainOptions): BackupChain {
  const algorithm = compressionByName(opts.compression);
  const compression = algorithm?.compress({ level: opts.level, workers: opts.workers });
  const encryption = opts.key ? encrypt({ key: opts.key, chunkSize: opts.chunkSize }) : undefined;
  return { stages: [...(compression ? [compression] : []), ...(encryption ? [encryption] : [])], compression, encryption };
}

export function backupTransforms(opts: ChainOptions): TransformStage[] {
  return [...backupChain(opts).stages];
}

export function restoreTransforms(opts: ChainOptions): TransformStage[] {
  const compression = compressionByName(opts.compression);
  return [
    ...(opts.key ? [decrypt({ key: opts.key })] : []),
    ...(compression ? [compression.decompress()] : []),
  ];
}

/**
 * Restores a dump of any format into a database, choosing by the dump's first bytes: pg_restore, psql, or (for a
 * copycat-db parallel container) pgParallelRestore with `jobs`.
 */
export function restoreSink(target: RestoreTarget & { create?: boolean; jobs?: number }): SinkStage {
  return sinkByFormat('restore', (format) =>
    format === 'parallel' ? pgParallelRestore(target) : format === 'custom' ? pgRestore(target) : psql(target));
}
