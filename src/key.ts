import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { CopycatError } from './errors.js';
import { checkKey, keyId, KEY_SIZE } from './formats/encrypted-stream.js';

/** Writes a new random key; refuses to overwrite, because overwriting a key orphans every backup made with it. */
export async function generateKeyFile(path: string): Promise<{ keyId: string }> {
  const key = randomBytes(KEY_SIZE);
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new CopycatError('KEY_EXISTS', `${path} already exists: keygen never overwrites a key (backups made with it would become unreadable) — choose another path`);
    }
    throw new CopycatError('FILE_UNWRITABLE', `cannot create ${path}: ${code ?? err} — check the directory`, { cause: err });
  }
  try {
    await handle.writeFile(key);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { keyId: keyId(key) };
}

/**
 * Reads a key file written by `copycat-db keygen`; errors name the file, never its content. Like ssh with a private
 * key, it refuses a file that other users may read or write (mode bits beyond 0700): a key others can read is a key
 * others hold, and one they can write can be swapped for theirs. One exception: systemd's LoadCredential= copies are
 * 0440 (0400 plus an ACL granting the service user, which stat shows as group read), and the credentials directory
 * they live in is itself reachable only by the service, so group read is accepted under $CREDENTIALS_DIRECTORY.
 */
export async function loadKeyFile(path: string): Promise<Buffer> {
  let bytes: Buffer;
  let mode: number;
  try {
    // One open file for the mode and the bytes, so both describe the same file.
    const handle = await open(path, 'r');
    try {
      const info = await handle.stat();
      if (info.size > 1024) throw Object.assign(new Error('too large'), { code: 'EFBIG' });
      mode = info.mode & 0o777;
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CopycatError('KEY_UNREADABLE', `cannot read key file ${path}: ${code ?? err} — pass the file written by \`copycat-db keygen\``, { cause: err });
  }
  const allowed = inCredentialsDirectory(path) ? 0o040 : 0;
  if ((mode & 0o077 & ~allowed) !== 0) {
    throw new CopycatError('KEY_PERMISSIONS', `key file ${path} has mode 0${mode.toString(8).padStart(3, '0')}, so other users ` +
      `can read or change it: make it private with \`chmod 600 ${path}\``);
  }
  try {
    return checkKey(bytes);
  } catch (err) {
    throw new CopycatError('KEY_INVALID', `key file ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Whether a path lies in systemd's credentials directory for this service (set only for services that have one). */
function inCredentialsDirectory(path: string): boolean {
  const dir = process.env.CREDENTIALS_DIRECTORY;
  if (!dir) return false;
  const rel = relative(resolve(dir), resolve(path));
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith('/');
}
