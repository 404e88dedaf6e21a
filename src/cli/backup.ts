import type { Command } from 'commander';
import type { ChainOptions } from '../chain.js';
import { CopycatError, describeError } from '../errors.js';
import type { Manifest } from '../formats/manifest.js';
import { parseLocation } from '../location.js';
import type { LogFields } from '../log.js';
import { backup } from '../operations/backup.js';
import { totalSummary, type RunSummary } from '../operations/summary.js';
import { databaseRepository, type Repository } from '../repository/index.js';
import type { S3UploadOptions } from '../repository/s3-store.js';
import type { BackupFlags } from '../settings/flags.js';
import type { PgGlobalsStage } from '../sources/pg-globals.js';
import { fileSink } from '../sinks/file.js';
import { stdoutSink } from '../sinks/stdout.js';
import { databasePlan, type DatabaseRun } from './databases.js';
import { addSettings } from './options.js';
import { pruneRepository } from './prune.js';
import { openRepository } from './repository.js';
import { action, type ActionContext } from './run.js';
import { chainOptions } from './shared.js';
import { backupSource, globalsSource, type ChosenSource } from './source-options.js';

export function backupCommand(program: Command): void {
  const command = program
    .command('backup')
    .description('dump a database with pg_dump and stream it through compression and encryption to a repository or a stream');
  addSettings(command, 'backup').action(action(async (ctx, flags: BackupFlags) => {
    await ctx.begin(flags); // every missing or invalid setting at once, then the destination's lock
    const chain = await chainOptions(flags);
    const location = parseLocation(flags.to);
    const toRepository = location.kind === 's3' || location.kind === 'dir';
    const plan = await databasePlan(flags, toRepository, ctx);
    if (plan.perDatabase) return backupEach(ctx, flags, chain, plan.databases);
    const globals = flags.globals ? globalsSource(flags, plan.target, toRepository) : undefined;
    const chosen = await backupSource(flags, plan.target, toRepository);
    ctx.log.log('info', 'backup.start', startFields(flags, chain, chosen, globals, flags.to));
    await backupTo(ctx, flags, chosen, chain, globals);
  }));
}

/** chosen.database: the name only, as --database may be a connection string with a password. */
function startFields(flags: BackupFlags, chain: ChainOptions, chosen: ChosenSource, globals: PgGlobalsStage | undefined, to: string): LogFields {
  return { source: chosen.kind, database: chosen.database, to, compression: flags.compression, encrypted: !!chain.key || !!chain.recipients?.length, globals: !!globals };
}

/** What a finished backup's log line and summary name: where its objects are and how long they are locked. */
function backupFields(manifest: Manifest): LogFields {
  return {
    id: manifest.id,
    key: manifest.object.key,
    version: manifest.object.versionId,
    locked_until: manifest.object.retention?.retainUntil ?? 'not locked',
    ...(manifest.globals ? { globals: manifest.globals.key, role_passwords: manifest.globals.rolePasswords } : {}),
  };
}

async function openDestination(flags: BackupFlags): Promise<Repository> {
  return openRepository(flags.to, 'backup', flags, uploadOptions(flags));
}

/** How a backup writes into S3, from its flags. */
export function uploadOptions(flags: BackupFlags): S3UploadOptions {
  return {
    retention: { mode: flags.lockMode, days: flags.retainDays },
    allowUnlocked: flags.allowUnlocked,
    expectedSize: flags.expectedSize,
    maxParts: flags.maxParts,
    partSize: flags.partSize,
    concurrency: flags.concurrency,
    checksum: flags.checksum,
  };
}

async function backupTo(ctx: ActionContext, flags: BackupFlags, { source }: ChosenSource, chain: ChainOptions, globals: PgGlobalsStage | undefined): Promise<void> {
  const location = parseLocation(flags.to);
  if (location.kind === 'file' || location.kind === 'stdio') {
    const { summary } = await backup({ source, chain, to: { sink: location.kind === 'file' ? fileSink(location.path) : stdoutSink() } }, ctx);
    ctx.done('backup.done', summary);
    return;
  }
  const repository = await openDestination(flags);
  const { manifest, summary } = await backup({ source, chain, to: { repository }, globals }, ctx);
  ctx.done('backup.done', summary, backupFields(manifest!));
  if (flags.prune) await pruneRepository(ctx, repository, flags, false);
}

/** One database's outcome in a run of several: its backup (and summary), its error, or both when only its prune failed. */
interface DatabaseOutcome {
  readonly database: string;
  readonly id?: string;
  readonly summary?: RunSummary;
  readonly error?: string;
}

/**
 * Several databases, one after another, each into its own PREFIX/DBNAME/ under the run's one lock. A database that
 * fails is logged with its error and the others go on; each backup is complete or leaves no manifest, as alone. The
 * run's summary has every database's outcome and the totals, and the run fails if any database did.
 */
async function backupEach(ctx: ActionContext, flags: BackupFlags, chain: ChainOptions, databases: readonly DatabaseRun[]): Promise<void> {
  const parent = await openDestination(flags);
  // A destination that cannot take a backup (a missing directory, a bucket without Object Lock) is refused once, for the run.
  await parent.store.prepare(ctx.signal);
  const started = performance.now();
  const outcomes: DatabaseOutcome[] = [];
  for (const database of databases) outcomes.push(await backupDatabase(ctx, flags, chain, parent, database));
  const failed = outcomes.filter((o) => o.error !== undefined);
  ctx.done('backup.done', totalSummary(outcomes.flatMap((o) => (o.summary ? [o.summary] : [])), performance.now() - started), {
    databases: outcomes.length,
    failed: failed.length,
    results: outcomes.map(({ summary, ...o }) => ({ ...o, ...(summary ? { dump_bytes: summary.dump_bytes, stored_bytes: summary.stored_bytes } : {}) })),
  });
  if (failed.length) {
    throw new CopycatError('BACKUP_FAILED', `${failed.length} of ${outcomes.length} databases failed: ${failed.map((o) => `${o.database} (${o.error})`).join('; ')}` +
      ' — the others were backed up; see the backup.database.failed lines');
  }
}

async function backupDatabase(ctx: ActionContext, flags: BackupFlags, chain: ChainOptions, parent: Repository, run: DatabaseRun): Promise<DatabaseOutcome> {
  const failed = (err: unknown, done?: Omit<DatabaseOutcome, 'database' | 'error'>): DatabaseOutcome => {
    // A stop ends the whole run, not one database.
    if (ctx.signal.aborted) throw err;
    const error = describeError(err);
    ctx.log.log('error', 'backup.database.failed', { database: run.name, ...(done?.id ? { id: done.id, backed_up: true } : {}), error });
    return { database: run.name, ...done, error };
  };
  let repository: Repository;
  let outcome: Omit<DatabaseOutcome, 'database' | 'error'>;
  try {
    repository = databaseRepository(parent, run.name);
    const globals = flags.globals ? globalsSource(flags, run.target, true) : undefined;
    const chosen = await backupSource(flags, run.target, true);
    ctx.log.log('info', 'backup.start', startFields(flags, chain, chosen, globals, repository.location));
    const { manifest, summary } = await backup({ source: chosen.source, chain, to: { repository }, globals }, ctx);
    ctx.log.log('info', 'backup.database.done', { database: run.name, ...backupFields(manifest!), ...summary });
    outcome = { id: manifest!.id, summary };
  } catch (err) {
    return failed(err);
  }
  try {
    // Each database's prefix is pruned on its own: one database's backups never count towards another's keep-last.
    if (flags.prune) await pruneRepository(ctx, repository, flags, false);
  } catch (err) {
    return failed(new CopycatError('PRUNE_FAILED', `backed up as ${outcome.id}, but ${describeError(err)}`), outcome);
  }
  return { database: run.name, ...outcome };
}
