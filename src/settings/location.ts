/**
 * The backup location each command accepts: backup and restore take a repository (s3://BUCKET/PREFIX, file:DIR) or a
 * plain stream (file:PATH, or - for a pipe); list, prune and verify work on a repository only.
 */
import { basename, dirname, join, resolve } from 'node:path';
import { realpathSync } from 'node:fs';
import { parseLocation, type Location } from '../location.js';
import type { CommandName } from './setting.js';

/** `legacy`: --legacy-rclone, which reads a repository of rclone crypt objects, never a single stream. */
export function locationProblem(command: CommandName, text: string, opts: { legacy?: boolean } = {}): string | undefined {
  let location: Location;
  try {
    location = parseLocation(text);
  } catch (err) {
    return (err as Error).message;
  }
  if (location.kind !== 's3' && location.kind !== 'dir' && (opts.legacy || (command !== 'backup' && command !== 'restore'))) {
    return `"${text}" is not a backup repository — ${command}${opts.legacy ? ' --legacy-rclone' : ''} works on s3://BUCKET/PREFIX or file:DIR (an existing directory)`;
  }
  return undefined;
}

export function acceptedLocation(command: CommandName, text: string, opts: { legacy?: boolean } = {}): Location | undefined {
  return locationProblem(command, text, opts) === undefined ? parseLocation(text) : undefined;
}

/** The location as a stable text for lock keys and metric labels: absolute file paths, s3://bucket/prefix. */
export function normalizeLocation(location: Location): string {
  if (location.kind === 's3') return `s3://${location.bucket}/${location.prefix}`;
  // The real path, so a symlinked directory or a relative path names the same file and so the same lock.
  if (location.kind === 'file' || location.kind === 'dir') return `file:${realFile(resolve(location.path))}`;
  return '-';
}

function realFile(path: string): string {
  try {
    return join(realpathSync(dirname(path)), basename(path));
  } catch {
    return path;
  }
}
