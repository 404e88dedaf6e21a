import type { ChainOptions } from '../chain.js';
import { CopycatError } from '../errors.js';
import { loadKeyFile } from '../key.js';
import type { ChainFlags, CompressFlags } from '../settings/flags.js';

/** The compression and key a backup is written with, or a stream without a manifest is read with. */
export async function chainOptions(flags: ChainFlags & Partial<CompressFlags>): Promise<ChainOptions> {
  if (flags.encrypt && !flags.keyFile) {
    throw new CopycatError('KEY_MISSING', 'no encryption key: pass --key-file or set COPYCAT_KEY_FILE (create one with `copycat-db keygen PATH`), or pass --no-encrypt');
  }
  const key = flags.encrypt && flags.keyFile ? await loadKeyFile(flags.keyFile) : undefined;
  return { compression: flags.compression, level: flags.level, workers: flags.workers, key };
}
