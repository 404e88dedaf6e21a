import { Option, type Command } from 'commander';
import { formatBackupTable, list } from '../operations/list.js';
import { openRepository } from './repository.js';
import { action } from './run.js';
import { addS3ConnectionOptions, type S3ConnectionFlags } from './s3-options.js';

interface ListFlags extends S3ConnectionFlags {
  from: string;
  json?: boolean;
}

export function listCommand(program: Command): void {
  const command = program
    .command('list')
    .description('list the backups in a repository, oldest first, with their status and lock')
    .addOption(new Option('--from <location>', 's3://BUCKET/PREFIX or file:DIR (required)').env('COPYCAT_DESTINATION'))
    .option('--json', 'one JSON array, for scripts');
  addS3ConnectionOptions(command).action(action(async (ctx, flags: ListFlags) => {
    await ctx.begin(flags); // every missing or invalid setting at once
    const { rows } = await list(await openRepository(flags.from, 'list', flags), ctx);
    process.stdout.write(flags.json ? JSON.stringify(rows) + '\n' : formatBackupTable(rows));
  }));
}
