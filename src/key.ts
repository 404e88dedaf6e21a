import { randomBytes } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { CopycatError } from './errors.js';
import { checkKey, keyId, KEY_SIZE } from './transforms/encryption-format.js';

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

/** Reads a key file written by `copycat-db keygen`; errors name the file, never its content. */
export async function loadKeyFile(path: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    if ((await stat(path)).size > 1024) throw Object.assign(new Error('too large'), { code: 'EFBIG' });
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CopycatError('KEY_UNREADABLE', `cannot read key file ${path}: ${code ?? err} — pass the file written by \`copycat-db keygen\``, { cause: err });
  }
  try {
    return checkKey(bytes);
  } catch (err) {
    throw new CopycatError('KEY_INVALID', `key file ${path}: ${(err as Error).message}`, { cause: err });
  }
}
