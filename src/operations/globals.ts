import { backupChain, type ChainOptions } from '../chain.js';
import { CopycatError } from '../errors.js';
import type { Manifest, ManifestGlobals } from '../formats/manifest.js';
import type { DecryptionSecrets } from '../formats/stream-header.js';
import { pipeline, type RunOptions } from '../pipeline.js';
import type { BackupEntry, Repository } from '../repository/index.js';
import { memorySink } from '../sinks/memory.js';
import type { PgGlobalsStage } from '../sources/pg-globals.js';
import { sha256 } from '../transforms/sha256.js';
import { manifestChain, secretsForManifest } from './chosen-backup.js';

/** A backup's globals through the same chain as its data, stored bytes in memory until the data object is written. */
export interface TakenGlobals {
  readonly stored: Buffer;
  readonly entry: Omit<ManifestGlobals, 'key' | 'versionId'>;
}

/**
 * Dumps the globals and runs them through the backup's chain (its own compression and encryption stages: with
 * recipients, a file key of their own), between two digests as the data is. Done before the data, so that a server
 * that refuses pg_dumpall fails the backup before the long dump starts.
 */
export async function takeGlobals(source: PgGlobalsStage, chain: ChainOptions, run: RunOptions): Promise<TakenGlobals> {
  const plaintext = sha256({ label: 'plaintext' });
  const stored = sha256({ label: 'stored' });
  const sink = memorySink();
  const stats = await pipeline(source).through(plaintext, ...backupChain(chain).stages, stored).to(sink).run({ signal: run.signal, log: run.log });
  const bytes = sink.result()!;
  const rolePasswords = source.rolePasswords()!;
  run.log?.log('info', 'backup.globals', { plaintext_bytes: stats.bytesRead, stored_bytes: bytes.length, role_passwords: rolePasswords });
  return {
    stored: bytes,
    entry: { sizes: { plaintext: stats.bytesRead, stored: bytes.length }, sha256: { plaintext: plaintext.digest()!, stored: stored.digest()! }, rolePasswords },
  };
}

/** Refuses a restore of globals from a backup that has none, before anything runs. */
export function globalsOf(manifest: Manifest): ManifestGlobals {
  if (manifest.globals) return manifest.globals;
  throw new CopycatError('GLOBALS_MISSING', `backup ${manifest.id} was taken without --globals: it holds no roles or tablespaces — ` +
    'restore it without --globals, or choose a backup taken with --globals (copycat-db show ID says "globals")');
}

/**
 * A complete backup's globals as SQL: exactly the version its manifest names, read whole and checked (both digests,
 * every authentication tag) before any of it is applied.
 */
export async function readGlobals(repository: Repository, entry: BackupEntry, secrets: DecryptionSecrets, run: RunOptions): Promise<string> {
  const globals = globalsOf(entry.manifest!);
  const version = entry.globalsVersion!;
  const sink = memorySink();
  await pipeline(repository.store.dataSource(version.key, version.versionId, globals.sizes.stored))
    .through(...manifestChain(entry.manifest!, secretsForManifest(entry.manifest!, secrets), globals.sha256).stages)
    .to(sink)
    .run({ signal: run.signal, log: run.log });
  return sink.result()!.toString('utf8');
}
