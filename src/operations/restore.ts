import { restoreTransforms, type ChainOptions } from '../chain.js';
import { refuseUnsupported, restoreSink } from '../restore-sink.js';
import type { Identity } from '../formats/recipients.js';
import type { Manifest } from '../formats/manifest.js';
import type { RestoreTarget } from '../pg/restore-target.js';
import { CopycatError } from '../errors.js';
import { silentLogger } from '../log.js';
import { applyGlobals } from '../pg/globals-apply.js';
import { pipeline, type RunOptions, type RunStats } from '../pipeline.js';
import type { BackupEntry, Repository } from '../repository/index.js';
import type { LegacyBackup, LegacyRepository } from '../repository/rclone-crypt.js';
import type { SourceStage } from '../stage.js';
import { chooseToRead, type ChosenBackup } from './chosen-backup.js';
import { excludingTables } from './exclude-tables.js';
import { readGlobals } from './globals.js';
import { summarize, type RunSummary } from './summary.js';

/** Where a restore goes: `jobs` applies to parallel containers, `create` restores the dumped database itself. */
export type RestoreInto = RestoreTarget & { readonly create?: boolean; readonly jobs?: number };

export interface RestoreOptions {
  /**
   * A backup in a repository (the latest complete one unless `backupId`), whose manifest says how it was compressed
   * and which key encrypted it; a legacy rclone crypt backup (the newest unless `backupId` names one); or a plain
   * stream (a single file, standard input) with the chain it was written with.
   */
  readonly from:
    | { readonly repository: Repository | LegacyRepository; readonly backupId?: string }
    | { readonly stream: SourceStage; readonly chain: ChainOptions };
  /** What opens an encrypted backup in a repository: its key file's key, or identities (a stream's are in its chain). */
  readonly key?: Buffer;
  readonly identities?: readonly Identity[];
  /** What opens a legacy rclone crypt backup: rcloneCryptKey(password, password2). */
  readonly rcloneKey?: Buffer;
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
  /** The legacy backup restored. */
  readonly legacy?: LegacyBackup;
  /** From a repository: the digests of the stored and the plaintext bytes (checked against the manifest, where there is one). */
  readonly digests?: { readonly stored: string; readonly plaintext: string };
  readonly stats: RunStats;
  readonly summary: RunSummary;
}

/**
 * Streams a backup back into PostgreSQL: read → stored digest → decrypt → decompress → plaintext digest → pg_restore,
 * psql or the parallel restore, chosen by the dump's first bytes. From a repository both digests must match the
 * manifest, and a mismatch fails before the restore commits; a legacy backup's blocks are each authenticated and its
 * size checked, also before the commit.
 */
export async function restore(opts: RestoreOptions, run: RunOptions = {}): Promise<RestoreResult> {
  if ('stream' in opts.from) {
    if (opts.globals) {
      throw new CopycatError('OPTION_INVALID', '--globals restores a repository\'s backup (s3://… or file:DIR): a plain stream holds no globals');
    }
    if (opts.into.only?.excludeTables?.length) {
      throw new CopycatError('OPTION_INVALID', '--exclude-table reads the backup\'s table of contents first, which a stream read once cannot give: ' +
        'restore from a repository, or export the dump and run pg_restore --list / --use-list on it');
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
  // The secrets are checked before the data object is even named.
  const chosen = await chooseToRead(opts.from.repository, opts.from.backupId, opts, run.signal);
  if (chosen.dumpFormat !== 'custom' && chosen.dumpFormat !== 'unknown') refuseUnsupported(opts.into, chosen.dumpFormat);
  // Before the globals: a table the backup lacks is refused before anything is applied.
  const excluding = await excludingTables(chosen, opts.into, run);
  try {
    return await restoreFromRepository(opts, opts.from.repository, chosen, excluding.into, run);
  } finally {
    await excluding.done();
  }
}

async function restoreFromRepository(opts: RestoreOptions, repository: Repository | LegacyRepository, chosen: ChosenBackup, into: RestoreInto,
  run: RunOptions): Promise<RestoreResult> {
  if (opts.globals) {
    if (!chosen.entry) throw new CopycatError('GLOBALS_MISSING', `${chosen.id} is a legacy backup: it holds no roles or tablespaces — restore it without --globals`);
    const sql = await readGlobals(repository as Repository, chosen.entry, opts, run);
    const { applied, existingRoles } = await applyGlobals(sql, into, run.log ?? silentLogger, run.signal);
    run.log?.log('info', 'restore.globals', { statements: applied, existing_roles: existingRoles.length });
  }
  const { stats, digests } = await restoreChosen(chosen, into, run);
  return { entry: chosen.entry, manifest: chosen.manifest, legacy: chosen.legacy, digests, stats, summary: summarize(stats, 'restore') };
}

/** Streams a chosen backup into the restore sink, which commits only once every stage ended cleanly. */
export async function restoreChosen(chosen: ChosenBackup, into: RestoreInto, run: RunOptions): Promise<{ stats: RunStats; digests: { stored: string; plaintext: string } }> {
  const chain = chosen.transforms();
  const stats = await pipeline(chosen.stored()).through(...chain.stages).to(restoreSink(into)).run(run);
  return { stats, digests: chain.digests() };
}

