import { randomBytes } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { CopycatError } from './errors.js';
import { checkKey, keyId, KEY_SIZE } from './formats/encrypted-stream.js';
import { generateIdentity, parseIdentity, parseIdentityFile, parseRecipientsFile, type Identity, type Recipient } from './formats/recipients.js';

/** The two kinds of secret file: a 32-byte key (format version 1) and an identity file (version 2). */
const KINDS = {
  key: { code: 'KEY', noun: 'key file', maker: '`copycat-db keygen`', maxSize: 1024 },
  identity: { code: 'IDENTITY', noun: 'identity file', maker: '`copycat-db keygen --identity`', maxSize: 64 * 1024 },
} as const;
type SecretKind = keyof typeof KINDS;

/** Creates a secret file (mode 0600); refuses to overwrite, because overwriting a secret orphans every backup made with it. */
async function writeNewSecretFile(path: string, kind: SecretKind, content: string | Buffer): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new CopycatError(`${KINDS[kind].code}_EXISTS`, `${path} already exists: keygen never overwrites a ${kind} (backups made with it would become unreadable) — choose another path`);
    }
    throw new CopycatError('FILE_UNWRITABLE', `cannot create ${path}: ${code ?? err} — check the directory`, { cause: err });
  }
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes a new random key; refuses to overwrite. */
export async function generateKeyFile(path: string): Promise<{ keyId: string }> {
  const key = randomBytes(KEY_SIZE);
  await writeNewSecretFile(path, 'key', key);
  return { keyId: keyId(key) };
}

/**
 * Writes a new identity file (format version 2): the secret identity, after comments naming its public recipient,
 * which is also returned, for `--recipient` on the hosts that write backups. Refuses to overwrite.
 */
export async function generateIdentityFile(path: string): Promise<Recipient> {
  const identity = generateIdentity();
  const { recipient } = parseIdentity(identity);
  const content = `# copycat-db identity, created ${new Date().toISOString()}: keep it secret, backups to its recipient need it\n` +
    `# recipient: ${recipient.text}\n# recipient id: ${recipient.id}\n${identity}\n`;
  await writeNewSecretFile(path, 'identity', content);
  return recipient;
}

/**
 * Reads a secret file; errors name the file, never its content. Like ssh with a private key, it refuses a file that
 * other users may read or write (mode bits beyond 0700): a secret others can read is a secret others hold, and one
 * they can write can be swapped for theirs. One exception: systemd's LoadCredential= copies are 0440 (0400 plus an
 * ACL granting the service user, which stat shows as group read), and the credentials directory they live in is
 * itself reachable only by the service, so group read is accepted under $CREDENTIALS_DIRECTORY.
 */
async function readSecretFile(path: string, kind: SecretKind): Promise<Buffer> {
  const { code, noun, maker, maxSize } = KINDS[kind];
  let bytes: Buffer;
  let mode: number;
  try {
    // One open file for the mode and the bytes, so both describe the same file.
    const handle = await open(path, 'r');
    try {
      const info = await handle.stat();
      if (info.size > maxSize) throw Object.assign(new Error('too large'), { code: 'EFBIG' });
      mode = info.mode & 0o777;
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code;
    throw new CopycatError(`${code}_UNREADABLE`, `cannot read ${noun} ${path}: ${errno ?? err} — pass the file written by ${maker}`, { cause: err });
  }
  const allowed = inCredentialsDirectory(path) ? 0o040 : 0;
  if ((mode & 0o077 & ~allowed) !== 0) {
    throw new CopycatError(`${code}_PERMISSIONS`, `${noun} ${path} has mode 0${mode.toString(8).padStart(3, '0')}, so other users ` +
      `can read or change it: make it private with \`chmod 600 ${path}\``);
  }
  return bytes;
}

/** Reads a key file written by `copycat-db keygen` (see readSecretFile for the checks). */
export async function loadKeyFile(path: string): Promise<Buffer> {
  const bytes = await readSecretFile(path, 'key');
  try {
    return checkKey(bytes);
  } catch (err) {
    throw new CopycatError('KEY_INVALID', `key file ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads every identity in an identity file (see readSecretFile for the checks); throws IDENTITY_INVALID naming the line. */
export async function loadIdentityFile(path: string): Promise<Identity[]> {
  return parseIdentityFile((await readSecretFile(path, 'identity')).toString('utf8'), `identity file ${path}`);
}

/** Reads a recipients file: public, so any mode will do. Throws RECIPIENT_INVALID naming the line. */
export async function loadRecipientsFile(path: string): Promise<Recipient[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CopycatError('RECIPIENTS_UNREADABLE', `cannot read recipients file ${path}: ${code ?? err} — check the path`, { cause: err });
  }
  return parseRecipientsFile(text, `recipients file ${path}`);
}

/** Whether a path lies in systemd's credentials directory for this service (set only for services that have one). */
function inCredentialsDirectory(path: string): boolean {
  const dir = process.env.CREDENTIALS_DIRECTORY;
  if (!dir) return false;
  const rel = relative(resolve(dir), resolve(path));
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith('/');
}
