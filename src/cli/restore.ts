import type { Command } from 'commander';
import { databaseTarget } from '../pg/conninfo.js';
import { parseLocation } from '../location.js';
import { restore } from '../operations/restore.js';
import type { RestoreFlags } from '../settings/flags.js';
import { fileSource } from '../sources/file.js';
import { stdinSource } from '../sources/stdin.js';
import { openLegacy } from './legacy.js';
import { addSettings } from './options.js';
import { openRepository } from './repository.js';
import { action } from './run.js';
import { chainOptions, readSecrets } from './shared.js';

export function restoreCommand(program: Command): void {
  const command = program
    .command('restore')
    .description('stream a backup back through decryption and decompression into pg_restore (or psql for plain dumps)');
  addSettings(command, 'restore').action(action(async (ctx, flags: RestoreFlags) => {
    await ctx.begin(flags); // every missing or invalid setting at once
    // jobs reaches the restore sink, which uses it only for a parallel container (sniffed from the first bytes).
    // --to-database may be a connection string: its parts (password included) reach pg_restore, psql and the parallel
    // restore's connections as PG* variables, never argv; logs get the database name alone.
    const { database, env } = databaseTarget(flags.toDatabase, {}, '--to-database');
    const into = {
      database: database ?? flags.toDatabase, env, create: flags.create, jobs: flags.jobs, keepOwners: flags.keepOwners, programs: { binDir: flags.pgBinDir },
      only: { tables: flags.table, schemas: flags.schema, excludeSchemas: flags.excludeSchema, excludeTables: flags.excludeTable, useList: flags.useList },
    };
    if (flags.legacyRclone) {
      // No manifest: the digests are computed and logged, for the record.
      const { repository, rcloneKey } = await openLegacy(flags, 'restore', true);
      ctx.log.log('info', 'restore.start', { from: repository.location, database: into.database });
      const { legacy, digests, summary } = await restore({ from: { repository, backupId: flags.backup }, rcloneKey, into }, ctx);
      ctx.done('restore.done', summary, { id: legacy!.id, sha256_stored: digests!.stored, sha256_plaintext: digests!.plaintext });
      return;
    }
    ctx.log.log('info', 'restore.start', { from: flags.from, database: into.database });
    const location = parseLocation(flags.from);
    if (location.kind === 's3' || location.kind === 'dir') {
      // The manifest says how the backup was compressed and who can read it; only the secrets come from here.
      const secrets = await readSecrets(flags);
      const repository = await openRepository(flags.from, 'restore', flags);
      const { manifest, summary } = await restore({ from: { repository, backupId: flags.backup }, ...secrets, into, globals: flags.globals }, ctx);
      ctx.done('restore.done', summary, { id: manifest!.id });
      return;
    }
    const stream = location.kind === 'file' ? fileSource(location.path) : stdinSource();
    const { summary } = await restore({ from: { stream, chain: await chainOptions(flags) }, into, globals: flags.globals }, ctx);
    ctx.done('restore.done', summary);
  }));
}
