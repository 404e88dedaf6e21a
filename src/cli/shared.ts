import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ChainOptions } from '../chain.js';
import { CopycatError } from '../errors.js';
import { loadKeyFile } from '../key.js';
import { COMPRESSION_NAMES, type CompressionName } from '../transforms/compression/index.js';

/** Options of every command that reads or writes a backup's bytes. */
export function addChainOptions(command: Command): Command {
  return command
    .addOption(new Option('--compression <name>', 'compression of the stored bytes').choices([...COMPRESSION_NAMES]).default('zstd'))
    .addOption(new Option('--key-file <path>', 'file with the 32-byte encryption key (from `copycat-db keygen`)').env('COPYCAT_KEY_FILE'))
    .option('--no-encrypt', 'store or read the backup unencrypted (explicit, so a missing key is never silently accepted)');
}

export interface ChainFlags {
  compression: CompressionName;
  keyFile?: string;
  encrypt: boolean;
  level?: number;
  workers?: number;
}

export async function chainOptions(flags: ChainFlags): Promise<ChainOptions> {
  if (flags.encrypt && !flags.keyFile) {
    throw new CopycatError('KEY_MISSING', 'no encryption key: pass --key-file or set COPYCAT_KEY_FILE (create one with `copycat-db keygen PATH`), or pass --no-encrypt');
  }
  const key = flags.encrypt && flags.keyFile ? await loadKeyFile(flags.keyFile) : undefined;
  return { compression: flags.compression, level: flags.level, workers: flags.workers, key };
}

export function integer(name: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}
