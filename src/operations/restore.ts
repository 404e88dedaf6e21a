import { refuseUnsupported, restoreSink, restoreTransforms, type ChainOptions } from '../chain.js';
import { CopycatError } from '../errors.js';
import { silentLogger } from '../log.js';
import { keyId } from '../formats/encrypted-stream.js';
import type { Identity } from '../formats/recipients.js';
import type { DecryptionSecrets } from '../formats/stream-header.js';
import { identitiesFor } from '../formats/recipient-header.js';
import type { Manifest } from '../formats/manifest.js';
import { applyGlobals } from '../pg/globals-apply.js';
import type { RestoreTarget } from '../pg/restore-target.js';
import { pipeline, type RunOptions, type RunStats } from '../pipeline.js';
import { chooseBackup, type BackupEntry, type Repository } from '../repository/index.js';
import type { SourceStage } from '../stage.js';
import { compressionName } from '../transforms/compression/index.js';
import { sha256 } from '../transforms/sha256.js';
import { globalsOf, readGlobals } from './globals.js';
import { summarize, type RunSummary } from './summary.js';

/** Where a restore goes: `jobs` applies to parallel containers, `create` restores the dumped database itself. */
export type RestoreInto = RestoreTarget & { readonly create?: boolean; readonly jobs?: number };

export interface RestoreOptions {
  /**
   * A backup in a repository (the latest complete one unless `backupId`), whose manifest says how it was compressed
   * and which key encrypted it; or a plain stream (a single file, standard input) with the chain it was written with.
   */
  readonly from:
    | { readonly repository: Repository; readonly backupId?: string }
    | { readonly stream: SourceStage; readonly chain: ChainOptions };
  /** What opens an encrypted backup in a repository: its key file's key, or identities (a stream's are in its chain). */
  readonly key?: Buffer;
  readonly identities?: readonly Identity[];
  readonly into: RestoreInto;
  /**
   * First apply the backup's globals (roles, memberships, tablespaces) to the target's server: a backup in a
   * repository taken with them only. Roles that exist there are left alone and reported; any other error fails the
   * restore before the database restore starts.
   */
  readonly globals?: boolean;
}

export interface RestoreResult {
  /** The backup restored, for a repository. */
  readonly entry?: BackupEntry;
  readonly manifest?: Manifest;
  readonly stats: RunStats;
  readonly summary: RunSummary;
}

/**
 * Streams a backup back into PostgreSQL: read → stored digest → decrypt → decompress → plaintext digest → pg_restore,
 * psql or the parallel restore, chosen by the dump's first bytes. From a repository both digests must match the
 * manifest, and a mismatch fails before the restore commits.
 */
export async function restore(opts: RestoreOptions, run: RunOptions = {}): Promise<RestoreResult> {
  if ('stream' in opts.from) {
    if (opts.globals) {
      throw new CopycatError('OPTION_INVALID', '--globals restores a repository\'s backup (s3://… or file:DIR): a plain stream holds no globals');
    }
    const { chain, stream } = opts.from;
    if (!chain.key && !chain.identities?.length && chain.compression === 'none') {
      // Nothing in such a stream can tell a damaged byte from a good one: say so rather than imply it was checked.
      run.log?.log('warn', 'restore.unverified', { reason: 'neither encrypted nor compressed and without a manifest: ' +
        'the stream carries no checksum, so damage inside it cannot be detected (its end still is)' });
    }
    const stats = await pipeline(stream).through(...restoreTransforms(chain)).to(restoreSink(opts.into)).run(run);
    return { stats, summary: summarize(stats, 'restore') };
  }
  const { repository } = opts.from;
  const entry = await chooseBackup(repository, opts.from.backupId, run.signal);
  const { dumpFormat } = entry.manifest!;
  if (dumpFormat !== 'custom' && dumpFormat !== 'unknown') refuseUnsupported(opts.into, dumpFormat);
  if (opts.globals) globalsOf(entry.manifest!);
  // The secrets are checked (building the transforms) before the data object is even named.
  const transforms = verifiedRestoreTransforms(entry.manifest!, opts);
  if (opts.globals) {
    const sql = await readGlobals(repository, entry, opts, run);
    const { applied, existingRoles } = await applyGlobals(sql, opts.into, run.log ?? silentLogger, run.signal);
    run.log?.log('info', 'restore.globals', { statements: applied, existing_roles: existingRoles.length });
  }
  const stats = await pipeline(backupSource(repository, entry)).through(...transforms).to(restoreSink(opts.into)).run(run);
  return { entry, manifest: entry.manifest, stats, summary: summarize(stats, 'restore') };
}

/** The stored bytes of a complete backup: exactly the data version its manifest names. */
export function backupSource(repository: Repository, entry: BackupEntry): SourceStage {
  return repository.store.dataSource(entry.dataVersion!.key, entry.dataVersion!.versionId, entry.manifest!.sizes.stored);
}

/**
 * The manifest's chain reversed, between the two digests it recorded for the data (or `digests`: its globals'); the
 * secrets are checked first.
 */
export function verifiedRestoreTransforms(manifest: Manifest, secrets: DecryptionSecrets, digests = manifest.sha256) {
  return [
    sha256({ label: 'stored', expect: digests.stored }),
    ...restoreTransforms({ compression: compressionName(manifest.compression.algorithm), ...secretsForManifest(manifest, secrets) }),
    sha256({ label: 'plaintext', expect: digests.plaintext }),
  ];
}

/**
 * The secrets that open this backup, checked against the manifest before any byte is read: the key id it recorded
 * (format 1), or the recipients it was encrypted to (format 2). A missing or wrong one is named with the public ids
 * on both sides, never a secret.
 */
export function secretsForManifest(manifest: Manifest, given: DecryptionSecrets): DecryptionSecrets {
  const encryption = manifest.encryption;
  if (!encryption) return {};
  if (encryption.algorithm === 'aes-256-gcm-stream-v2') {
    const { recipients } = encryption;
    if (!given.identities?.length) {
      throw new CopycatError('IDENTITY_MISSING', `backup ${manifest.id} is encrypted to recipients ${recipients.join(', ')}: ` +
        'pass --identity (or set COPYCAT_IDENTITY_FILE) with the identity file of one of them');
    }
    return { identities: identitiesFor(recipients, given.identities) };
  }
  const { keyId: expected } = encryption;
  if (!given.key) {
    throw new CopycatError('KEY_MISSING', `backup ${manifest.id} is encrypted with key id ${expected}: pass --key-file (or set COPYCAT_KEY_FILE) with that key`);
  }
  const actual = keyId(given.key);
  if (actual !== expected) {
    throw new CopycatError('WRONG_KEY', `wrong key: backup ${manifest.id} was encrypted with key id ${expected}, the key given has id ${actual} — use the key file whose id is ${expected}`);
  }
  return { key: given.key };
}
