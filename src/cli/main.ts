import { Command, CommanderError } from 'commander';
import { TOOL_VERSION } from '../version.js';
import { backupCommand } from './backup.js';
import { keygenCommand } from './keygen.js';
import { listCommand } from './list.js';
import { pruneCommand } from './prune.js';
import { restoreCommand } from './restore.js';
import { verifyCommand } from './verify.js';

// The commands import what loads the AWS SDK or undici (S3, Scaleway, pings) only when they use it: loading them takes
// ~0.4 s of CPU, which a backup to a file or a restore from one does not need to pay.

export async function main(argv: string[]): Promise<void> {
  const program = new Command('copycat-db')
    .version(TOOL_VERSION)
    .description('Stream PostgreSQL backups through zstd and AES-256-GCM into object-locked S3, and restore them')
    .showHelpAfterError('(run with --help for usage)')
    // Run-wide options, accepted before or after the command; each falls back to its variable (see README, Operating).
    .option('--log-format <format>', 'json (one object per line) or text (env COPYCAT_LOG_FORMAT; default: json under systemd, else text)')
    .option('--log-level <level>', 'debug, info, warn or error (env COPYCAT_LOG_LEVEL; default info)')
    .option('--metrics-file <path>', 'write a Prometheus textfile (.prom) after the run (env COPYCAT_METRICS_FILE, read by backup)')
    .option('--ping-url <url>', 'healthchecks.io-style URL: URL/start, URL on success, URL/fail (env COPYCAT_PING_URL, read by backup)')
    .exitOverride();
  backupCommand(program);
  restoreCommand(program);
  listCommand(program);
  pruneCommand(program);
  keygenCommand(program);
  verifyCommand(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    throw err;
  }
}
