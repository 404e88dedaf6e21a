import { Command, CommanderError } from 'commander';
import { CopycatError } from '../errors.js';
import { TOOL_VERSION } from '../version.js';
import { prepareArguments } from './arguments.js';
import { backupCommand } from './backup.js';
import { checkCommand } from './check.js';
import { exportCommand } from './export.js';
import { keygenCommand } from './keygen.js';
import { listCommand } from './list.js';
import { addProgramSettings } from './options.js';
import { pruneCommand } from './prune.js';
import { restoreCommand } from './restore.js';
import { showCommand } from './show.js';
import { verifyCommand } from './verify.js';

// The commands import what loads the AWS SDK or undici (S3, Scaleway, pings) only when they use it: loading them takes
// ~0.4 s of CPU, which a backup to a file or a restore from one does not need to pay.

export async function main(argv: string[]): Promise<void> {
  let args: string[];
  try {
    args = prepareArguments(argv.slice(2));
  } catch (err) {
    if (!(err instanceof CopycatError)) throw err;
    process.stderr.write(`copycat-db: error: ${err.message}\n`);
    process.exitCode = 1;
    return;
  }
  const program = addProgramSettings(new Command('copycat-db')
    .version(TOOL_VERSION)
    .description('Stream PostgreSQL backups through zstd and AES-256-GCM into object-locked S3, and restore, list, prune and verify them')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride());
  backupCommand(program);
  restoreCommand(program);
  listCommand(program);
  pruneCommand(program);
  keygenCommand(program);
  verifyCommand(program);
  showCommand(program);
  exportCommand(program);
  checkCommand(program);
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    throw err;
  }
}
