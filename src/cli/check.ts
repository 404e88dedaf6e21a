import type { Command } from 'commander';
import { CopycatError } from '../errors.js';
import { parseLocation } from '../location.js';
import type { BackupNeeds } from '../operations/check.js';
import { configuredSource } from '../s3/driver/credential-sources.js';
import { METRICS_FILE } from '../settings/catalog/run.js';
import { configProblems, given } from '../settings/check.js';
import type { CheckFlags } from '../settings/flags.js';
import { defaultMode } from '../sources/scaleway/modes.js';
import { uploadOptions } from './backup.js';
import { lockDir } from './lock.js';
import { addSettings, checkInput } from './options.js';
import { openRepository } from './repository.js';
import { action } from './run.js';
import { databasePlan } from './databases.js';
import { backupSource, scalewayDatabaseName } from './source-options.js';

export function checkCommand(program: Command): void {
  const command = program
    .command('check')
    .description('check, without dumping, everything a backup with these settings needs: settings, key or recipients, database and ' +
      'pg_dump (or the Scaleway instance), the repository (a test object locked for seconds, then deleted), lock directory, metrics file');
  addSettings(command, 'check').action(action(async (ctx, flags: CheckFlags, parsed: Command) => {
    const input = checkInput(parsed);
    const problems = configProblems(input);
    // The source's own rules (--jobs without --format parallel, several databases into a stream, …) are settings too.
    let databases: readonly string[] = [];
    if (!problems.length) {
      try {
        const location = parseLocation(flags.to);
        const plan = await databasePlan(flags, location.kind === 's3' || location.kind === 'dir', ctx);
        databases = plan.perDatabase ? plan.databases.map((d) => d.target) : plan.target !== undefined ? [plan.target] : [];
        await backupSource(flags, databases[0], true);
      } catch (err) {
        problems.push(settingProblem(err));
      }
    }
    const { check, formatCheckReport } = await import('../operations/check.js');
    const report = await check({ settings: problems, ...(problems.length ? {} : { backup: await needs(flags, input, databases) }) }, ctx);
    process.stdout.write(flags.json ? JSON.stringify(report) + '\n' : formatCheckReport(report));
    const failures = report.checks.filter((c) => c.status === 'failed');
    if (failures.length) {
      const more = failures.length > 1 ? ` (and ${failures.length - 1} more)` : '';
      throw new CopycatError('CHECK_FAILED', `${failures.length} of ${report.checks.length} checks failed: ${failures[0]!.name}: ${failures[0]!.detail}${more}`);
    }
  }));
}

/** A source rule's refusal is a settings problem; anything else is a failure of the command. */
function settingProblem(err: unknown): string {
  if (err instanceof CopycatError) return err.message;
  throw err;
}

/** What a backup with these flags would use, as the backup command builds it. */
async function needs(flags: CheckFlags, input: ReturnType<typeof checkInput>, databases: readonly string[]): Promise<BackupNeeds> {
  const mode = flags.mode ?? defaultMode(flags.scwInstance);
  const location = parseLocation(flags.to);
  return {
    encryption: flags.encrypt ? { keyFile: flags.keyFile, recipients: flags.recipient, recipientsFile: flags.recipientsFile } : undefined,
    source: mode === 'pgdump'
      ? { kind: 'pg_dump', databases }
      : { kind: 'scaleway', mode, instanceId: flags.scwInstance!, databases: databases.map((d) => scalewayDatabaseName(mode, d)), env: process.env },
    destination: location.kind === 'stdio' ? 'stdout' : location.kind === 'file' ? { file: location.path } : {
      repository: await openRepository(flags.to, 'check', flags, uploadOptions(flags)),
      ...(location.kind === 's3' ? { credentials: credentialsText() } : {}),
    },
    lockDir: lockDir(process.env),
    programs: { binDir: flags.pgBinDir },
    // The backup's metrics file: its variable is read by backup alone, so ask as backup.
    metricsFile: given(METRICS_FILE, { ...input, command: 'backup' }).value as string | undefined,
  };
}

function credentialsText(): string | undefined {
  const source = configuredSource(process.env);
  return source && `${source.name} (${source.state})`;
}
