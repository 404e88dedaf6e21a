import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CopycatError, describeError } from '../errors.js';
import { loadKeyFile } from '../key.js';
import type { VerifyFlags } from '../settings/flags.js';
import { addSettings } from './options.js';
import { s3Location } from './prune.js';
import { action } from './run.js';
import { s3ClientFromFlags } from './s3-options.js';

export function verifyCommand(program: Command): void {
  const command = program
    .command('verify')
    .description('restore drill: restore a backup into a scratch database, check digests, tables and row counts, run scrub SQL and checks, then drop it');
  addSettings(command, 'verify').action(action(async (ctx, flags: VerifyFlags) => {
    await ctx.begin(flags); // every missing or invalid setting at once
    const { bucket, prefix } = s3Location(flags.from);
    const key = flags.keyFile ? await loadKeyFile(flags.keyFile) : undefined;
    const scrubFiles = await Promise.all((flags.scrubFile ?? []).map(async (path) => {
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        throw new CopycatError('FILE_MISSING', `cannot read --scrub-file ${path}: ${describeError(err)}`, { cause: err });
      }
    }));
    const { formatVerifyReport, verifyBackup } = await import('../verify/index.js');
    const report = await verifyBackup({
      client: await s3ClientFromFlags(flags),
      bucket,
      prefix,
      backupId: flags.backup,
      key,
      server: process.env,
      maintenanceDatabase: flags.maintenanceDatabase,
      scratchDatabase: flags.scratchDatabase,
      checks: flags.check ?? [],
      scrub: [...(flags.scrub ?? []), ...scrubFiles],
      keep: !!flags.keep,
      replace: !!flags.replace,
      allowEmpty: !!flags.allowEmpty,
    }, ctx);
    process.stdout.write(flags.json ? JSON.stringify(report) + '\n' : formatVerifyReport(report));
    if (!report.ok) {
      const more = report.failures.length > 1 ? ` (and ${report.failures.length - 1} more)` : '';
      throw new CopycatError('VERIFY_FAILED', `backup ${report.backup.id} failed verification: ${report.failures.length} of ` +
        `${report.checks.length} checks failed: ${report.failures[0]}${more}`);
    }
  }));
}
