import { CopycatError } from './errors.js';

/** Where a backup goes to or comes from: one option shape so S3, files and pipes are interchangeable. */
export type Location =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'stdio' }
  | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string };

export function parseLocation(text: string): Location {
  if (text === '-') return { kind: 'stdio' };
  if (text.startsWith('file:')) {
    const path = text.slice('file:'.length);
    if (!path) throw new CopycatError('LOCATION_INVALID', 'file: needs a path, e.g. file:/var/backups/app.dump');
    return { kind: 'file', path };
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
  return { kind: 'file', path: text };
}
