import type { S3Client } from '@aws-sdk/client-s3';
import type { Command } from 'commander';
import { CopycatError } from '../errors.js';
import { parseLocation } from '../location.js';
import type { PruneCommandFlags, PruneFlags } from '../settings/flags.js';
import { addSettings } from './options.js';
import { action, type ActionContext } from './run.js';
import { s3ClientFromFlags } from './s3-options.js';

export function pruneCommand(program: Command): void {
  const command = program
    .command('prune')
    .description('delete the versions of backups past their retention, keeping the newest complete ones');
  addSettings(command, 'prune').action(action(async (ctx, flags: PruneCommandFlags) => {
    await ctx.begin(flags); // every missing or invalid setting at once, then the destination's lock
    const { bucket, prefix } = s3Location(flags.from);
    await pruneBackups(ctx, await s3ClientFromFlags(flags), bucket, prefix, flags, !!flags.dryRun);
  }));
}

/** Prunes and logs one line per decision; a prune that could not delete something it should have fails. */
export async function pruneBackups(ctx: ActionContext, client: S3Client, bucket: string, prefix: string, flags: PruneFlags, dryRun: boolean): Promise<void> {
  const [{ listBackups }, { executePrune, planPrune }] = await Promise.all([import('../s3/catalog/list.js'), import('../s3/catalog/prune.js')]);
  const plan = planPrune(await listBackups(client, bucket, prefix, { signal: ctx.signal }), { olderThanDays: flags.olderThan, keepLast: flags.keepLast });
  const report = await executePrune(client, bucket, prefix, plan, { dryRun, log: ctx.log, signal: ctx.signal });
  if (report.errors.length) {
    throw new CopycatError('PRUNE_FAILED', `prune of s3://${bucket}/${prefix} failed for ${report.errors.length} item(s): ${report.errors[0]}`);
  }
}

export function s3Location(text: string): { bucket: string; prefix: string } {
  const location = parseLocation(text);
  if (location.kind !== 's3') throw new CopycatError('LOCATION_INVALID', `${text} is not an S3 location: use s3://BUCKET/PREFIX`);
  return location;
}
