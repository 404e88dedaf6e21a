import { statSync } from 'node:fs';
import { CopycatError } from './errors.js';

/**
 * Where a backup goes to or comes from. Repositories (`s3`, `dir`) hold backups with their manifests, so list,
 * restore, verify and prune work on them; `file` (one file) and `stdio` carry a plain stream, for pipes.
 */
export type Location =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'dir'; readonly path: string }
  | { readonly kind: 'stdio' }
  | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string };

/** A `file:` path is a directory repository when it names an existing directory or ends with a slash. */
function fileOrDir(path: string): Location {
  if (path.endsWith('/')) return { kind: 'dir', path };
  try {
    if (statSync(path).isDirectory()) return { kind: 'dir', path };
  } catch {
    // Not there yet: a single file to be written.
  }
  return { kind: 'file', path };
}

export function parseLocation(text: string): Location {
  if (text === '-') return { kind: 'stdio' };
  if (text.startsWith('file:')) {
    const path = text.slice('file:'.length);
    if (!path) throw new CopycatError('LOCATION_INVALID', 'file: needs a path: file:/var/backups/app/ (a repository directory) or file:/tmp/app.backup (one file)');
    return fileOrDir(path);
  }
  if (text.startsWith('s3://')) {
    const [bucket = '', ...rest] = text.slice('s3://'.length).split('/');
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new CopycatError('LOCATION_INVALID', `"${bucket}" is not a valid bucket name: use s3://BUCKET/PREFIX`);
    }
    return { kind: 's3', bucket, prefix: rest.filter(Boolean).join('/') };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new CopycatError('LOCATION_INVALID', `unsupported location "${text}": use file:PATH, s3://BUCKET/PREFIX or - (standard input/output)`);
  }
  return fileOrDir(text);
}
