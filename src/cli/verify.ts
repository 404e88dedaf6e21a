import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CopycatError, describeError } from '../errors.js';
import type { VerifyFlags } from '../settings/flags.js';
import { openLegacy } from './legacy.js';
import { addSettings } from './options.js';
import { openRepository } from './repository.js';
import { action } from './run.js';
import { readSecrets } from './shared.js';

export function verifyCommand(program: Command): void {
  const command = program
    .command('verify')
    .description('restore drill: restore a backup into a scratch database, check digests, tables and row counts, run scrub SQL and checks, then drop it');
  addSettings(command, 'verify').action(action(async (ctx, flags: VerifyFlags) => {
    await ctx.begin(flags); // every missing or invalid setting at once
    const secrets = await readSecrets(flags);
    const scrubFiles = await Promise.all((flags.scrubFile ?? []).map(async (path) => {
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        throw new CopycatError('FILE_MISSING', `cannot read --scrub-file ${path}: ${describeError(err)}`, { cause: err });
      }
    }));
    const { formatVerifyReport, verify } = await import('../operations/verify/index.js');
    const legacy = flags.legacyRclone ? await openLegacy(flags, 'verify', true) : undefined;
    const report = await verify({
      repository: legacy?.repository ?? await openRepository(flags.from, 'verify', flags),
      backupId: flags.backup,
      ...secrets,
      ...(legacy?.rcloneKey ? { rcloneKey: legacy.rcloneKey } : {}),
      server: process.env,
      programs: { binDir: flags.pgBinDir },
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
