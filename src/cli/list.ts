import type { Command } from 'commander';
import type { BackupEntry } from '../s3/catalog/list.js';
import type { ListFlags } from '../settings/flags.js';
import { formatBytes } from '../units.js';
import { s3Location } from './prune.js';
import { addSettings } from './options.js';
import { action } from './run.js';
import { s3ClientFromFlags } from './s3-options.js';

export function listCommand(program: Command): void {
  const command = program
    .command('list')
    .description('list the backups in a repository, oldest first, with their status and lock');
  addSettings(command, 'list').action(action(async (ctx, flags: ListFlags) => {
    await ctx.begin(flags); // every missing or invalid setting at once
    const { bucket, prefix } = s3Location(flags.from);
    const { listBackups } = await import('../s3/catalog/list.js');
    const entries = await listBackups(await s3ClientFromFlags(flags), bucket, prefix, { signal: ctx.signal });
    process.stdout.write(flags.json ? JSON.stringify(entries.map(row)) + '\n' : table(entries.map(row)));
  }));
}

function row(entry: BackupEntry) {
  return {
    id: entry.id,
    time: entry.time.toISOString(),
    size: entry.size ?? null,
    ratio: entry.compressionRatio === undefined ? null : Number(entry.compressionRatio.toFixed(2)),
    lockedUntil: entry.lockedUntil?.toISOString() ?? null,
    status: entry.status,
    ...(entry.problem ? { problem: entry.problem } : {}),
    // Versions and delete markers the backup did not write: someone with write access to the bucket added them.
    warnings: entry.warnings,
  };
}

function table(rows: ReturnType<typeof row>[]): string {
  if (rows.length === 0) return 'no backups\n';
  const cells = [['ID', 'TIME', 'SIZE', 'RATIO', 'LOCKED UNTIL', 'STATUS'],
    ...rows.map((r) => [r.id, r.time.replace(/\.\d+Z$/, 'Z'), r.size === null ? '-' : formatBytes(r.size),
      r.ratio === null ? '-' : `${r.ratio}`, r.lockedUntil?.replace(/\.\d+Z$/, 'Z') ?? '-', r.problem ? `${r.status} (${r.problem})` : r.status])];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  const warnings = rows.flatMap((r) => r.warnings.map((w) => `warning: ${r.id}: ${w}\n`));
  return cells.map((c) => c.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n' + warnings.join('');
}
