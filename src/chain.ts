import { CopycatError } from './errors.js';
import type { Identity, Recipient } from './formats/recipients.js';
import type { TransformStage } from './stage.js';
import { compressionByName, type CompressionName } from './transforms/compression/index.js';
import { decrypt, encrypt, type EncryptStage } from './transforms/encrypt.js';

/** What sits between a dump and its stored bytes; the restore chain is exactly this, reversed. */
export interface ChainOptions {
  readonly compression: CompressionName;
  readonly level?: number;
  readonly workers?: number;
  /** A 32-byte key (stream format 1): whoever writes with it can read with it. */
  readonly key?: Buffer;
  /**
   * Public recipients (stream format 2): the backup can be written without any secret, and read only with one of
   * their identities. Without a key or recipients the backup is stored unencrypted.
   */
  readonly recipients?: readonly Recipient[];
  /** Reading: identities that open a format 2 stream (a key opens format 1; either or both may be given). */
  readonly identities?: readonly Identity[];
  readonly chunkSize?: number;
}

/** The backup chain's stages, with handles on the two whose results a manifest records. */
export interface BackupChain {
  readonly stages: readonly TransformStage[];
  readonly compression?: TransformStage;
  readonly encryption?: EncryptStage;
}

export function backupChain(opts: ChainOptions): BackupChain {
  const algorithm = compressionByName(opts.compression);
  const compression = algorithm?.compress({ level: opts.level, workers: opts.workers });
  if (opts.key && opts.recipients?.length) {
    throw new CopycatError('OPTION_INVALID', 'a backup is encrypted with a key file or to recipients, not both: drop --key-file or the recipients');
  }
  const { key, recipients, chunkSize } = opts;
  const encryption = key ? encrypt({ key, chunkSize }) : recipients?.length ? encrypt({ recipients, chunkSize }) : undefined;
  return { stages: [...(compression ? [compression] : []), ...(encryption ? [encryption] : [])], compression, encryption };
}

export function backupTransforms(opts: ChainOptions): TransformStage[] {
  return [...backupChain(opts).stages];
}

export function restoreTransforms(opts: ChainOptions): TransformStage[] {
  const compression = compressionByName(opts.compression);
  return [
    ...(opts.key || opts.identities?.length ? [decrypt({ key: opts.key, identities: opts.identities })] : []),
    ...(compression ? [compression.decompress()] : []),
  ];
}
