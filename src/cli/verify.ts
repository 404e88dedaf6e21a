import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { CopycatError, describeError } from '../errors.js';
import { loadKeyFile } from '../key.js';
import { openRepository } from './repository.js';
import { action } from './run.js';
import { addS3ConnectionOptions, type S3ConnectionFlags } from './s3-options.js';

interface VerifyFlags extends S3ConnectionFlags {
  from: string;
  backup?: string;
  keyFile?: string;
  scratchDatabase?: string;
  maintenanceDatabase: string;
  check?: string[];
  scrub?: string[];
  scrubFile?: string[];
  keep?: boolean;
  replace?: boolean;
  allowEmpty?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function verifyCommand(program: Command): void {
  const command = program
    .command('verify')
    .description('restore drill: restore a backup into a scratch database, check digests, tables and row counts, run scrub SQL and checks, then drop it')
    .addOption(new Option('--from <location>', 's3://BUCKET/PREFIX or file:DIR (required)').env('COPYCAT_DESTINATION'))
    .option('--backup <id>', 'the backup to verify (from copycat-db list); default: the latest complete one')
    .addOption(new Option('--key-file <path>', 'file with the 32-byte encryption key (needed when the backup is encrypted)').env('COPYCAT_KEY_FILE'))
    .option('--scratch-database <name>', 'database to create and restore into (default: copycat_verify_<backup id>); never an existing one')
    .option('--maintenance-database <name>', 'database to connect to for CREATE and DROP DATABASE', 'postgres')
    .option('--check <sql>', 'SQL that must return true (one row, first column), run read-only after scrub; repeatable', collect)
    .option('--scrub <sql>', 'SQL run on the restored copy before the checks (e.g. "DELETE FROM tokens"); repeatable', collect)
    .option('--scrub-file <path>', 'a file of scrub SQL, run after the --scrub statements; repeatable', collect)
    .option('--keep', 'keep the scratch database afterwards (default: dropped, also on failure)')
    .option('--replace', 'drop an existing scratch database first, only if an earlier verify made it')
    .option('--allow-empty', 'accept a backup without a table list that restores no table')
    .option('--json', 'print the report as one JSON object');
  addS3ConnectionOptions(command).action(action(async (ctx, flags: VerifyFlags) => {
    await ctx.begin(flags); // every missing or invalid setting at once
    const key = flags.keyFile ? await loadKeyFile(flags.keyFile) : undefined;
    const scrubFiles = await Promise.all((flags.scrubFile ?? []).map(async (path) => {
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        throw new CopycatError('FILE_MISSING', `cannot read --scrub-file ${path}: ${describeError(err)}`, { cause: err });
      }
    }));
    const { formatVerifyReport, verify } = await import('../operations/verify/index.js');
    const report = await verify({
      repository: await openRepository(flags.from, 'verify', flags),
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
