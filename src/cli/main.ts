import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { backupCommand } from './backup.js';
import { keygenCommand } from './keygen.js';
import { listCommand } from './list.js';
import { pruneCommand } from './prune.js';
import { restoreCommand } from './restore.js';

const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

export async function main(argv: string[]): Promise<void> {
  const program = new Command('copycat-db')
    .version(version)
    .description('Stream PostgreSQL backups through zstd and AES-256-GCM into object-locked S3, and restore them')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  backupCommand(program);
  restoreCommand(program);
  listCommand(program);
  pruneCommand(program);
  keygenCommand(program);
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
