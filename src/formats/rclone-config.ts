/**
 * What an rclone.conf says about a crypt remote: where its objects are (an S3 remote's bucket and path, or a local
 * directory) and its passwords, which rclone stores "obscured" (AES-CTR under a key built into rclone, base64url:
 * rclone's fs/config/obscure). Only the keys copycat-db needs are read; RCLONE_CONFIG_* variables are not.
 */
import { createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { CopycatError } from '../errors.js';

/** rclone's fixed obscuring key (fs/config/obscure/obscure.go): it hides passwords from a glance, not from anyone. */
const OBSCURE_KEY = Buffer.from('9c935b48730a554d6bfd7c63c886a92bd390198eb8128afbf4de162b8b95f638', 'hex');
const OBSCURE_IV_SIZE = 16;

export type RcloneConfig = ReadonlyMap<string, ReadonlyMap<string, string>>;

/** Where a crypt remote keeps its objects, and how to reach an S3 one (what the remote sets; the rest is the caller's). */
export type RcloneTarget =
  | { readonly kind: 'dir'; readonly path: string }
  | {
      readonly kind: 's3';
      readonly bucket: string;
      readonly prefix: string;
      /** The S3 remote's name, for messages. */
      readonly remote: string;
      readonly endpoint?: string;
      readonly region?: string;
      /** Both or neither. */
      readonly accessKeyId?: string;
      readonly secretAccessKey?: string;
    };

export interface RcloneCryptRemote {
  readonly name: string;
  readonly target: RcloneTarget;
  /** Revealed (plain) passwords; password2 is '' when the remote has none. */
  readonly password: string;
  readonly password2: string;
  /** What rclone appends to every object name with file name encryption off: `.bin` unless the remote's `suffix` says otherwise. */
  readonly suffix: string;
}

/** The default path rclone itself uses when RCLONE_CONFIG is unset. */
export function defaultRcloneConfigPath(env: Readonly<Record<string, string | undefined>>): string {
  const base = env.XDG_CONFIG_HOME || `${env.HOME ?? ''}/.config`;
  return `${base}/rclone/rclone.conf`;
}

/** The sections of an INI file as rclone (goconfig) writes it: `[name]`, `key = value`, `#` and `;` comments. */
export function parseRcloneConfig(text: string, path: string): RcloneConfig {
  if (/^\s*(# Encrypted rclone configuration File|RCLONE_ENCRYPT_V0:)/m.test(text)) {
    throw new CopycatError('RCLONE_CONFIG_INVALID', `${path} is an encrypted rclone configuration: write a plain copy for copycat-db (rclone config show > FILE, mode 0600) and pass that`);
  }
  const sections = new Map<string, Map<string, string>>();
  let section: Map<string, string> | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      sections.set(header[1]!.trim(), (section = new Map()));
      return;
    }
    const pair = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line);
    if (!pair || !section) {
      throw new CopycatError('RCLONE_CONFIG_INVALID', `${path} line ${index + 1} is neither [remote] nor key = value: is it an rclone.conf?`);
    }
    section.set(pair[1]!.toLowerCase(), pair[2]!.replace(/^(["`])(.*)\1$/, '$2'));
  });
  return sections;
}

export function loadRcloneConfig(path: string): RcloneConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CopycatError('RCLONE_CONFIG_INVALID', `cannot read the rclone config ${path}: ${(err as NodeJS.ErrnoException).code ?? err} — pass --rclone-config PATH (or set RCLONE_CONFIG)`, { cause: err });
  }
  return parseRcloneConfig(text, path);
}

/** An obscured value in the clear, as `rclone reveal` prints it. `what` names it in errors; the value is never quoted. */
export function revealObscured(obscured: string, what: string): string {
  const bytes = /^[A-Za-z0-9_-]+$/.test(obscured) ? Buffer.from(obscured, 'base64url') : Buffer.alloc(0);
  if (bytes.length < OBSCURE_IV_SIZE) {
    throw new CopycatError('RCLONE_CONFIG_INVALID', `${what} is not an obscured value (rclone obscure writes base64url of at least ${OBSCURE_IV_SIZE} bytes): set it with rclone config, or give the plain password in COPYCAT_RCLONE_PASSWORD`);
  }
  const decipher = createDecipheriv('aes-256-ctr', OBSCURE_KEY, bytes.subarray(0, OBSCURE_IV_SIZE));
  return Buffer.concat([decipher.update(bytes.subarray(OBSCURE_IV_SIZE)), decipher.final()]).toString('utf8');
}

/**
 * The crypt remote `name` of `config` (read from `path`): one with file name encryption off over an S3 remote or a
 * local path, the only kind the replaced bash service wrote. Anything else is refused, naming what it is.
 */
export function cryptRemote(config: RcloneConfig, name: string, path: string): RcloneCryptRemote {
  const where = `rclone remote [${name}] in ${path}`;
  const refuse = (problem: string): CopycatError => new CopycatError('RCLONE_REMOTE_UNSUPPORTED', `${where}: ${problem}`);
  const section = config.get(name);
  if (!section) {
    const names = [...config.keys()];
    throw new CopycatError('RCLONE_REMOTE_UNKNOWN', `no remote [${name}] in ${path}${names.length ? ` (it has ${names.join(', ')})` : ''}: pass the crypt remote's name to --rclone-remote`);
  }
  if (section.get('type') !== 'crypt') throw refuse(`its type is ${section.get('type') ?? 'not set'}, not crypt: name the crypt remote that wraps it`);
  const encryption = section.get('filename_encryption') ?? 'standard';
  if (encryption !== 'off') {
    throw refuse(`filename_encryption is ${encryption}${section.has('filename_encryption') ? '' : " (rclone's default)"}: copycat-db reads crypt remotes with filename_encryption = off, whose objects are NAME.bin`);
  }
  if (section.get('no_data_encryption') === 'true') throw refuse('no_data_encryption = true: its objects are not encrypted, so there is nothing for copycat-db to decrypt');
  const obscured = section.get('password');
  if (!obscured) throw refuse('it has no password');
  const suffix = section.get('suffix') ?? '.bin';
  return {
    name,
    target: target(config, section.get('remote') ?? '', refuse),
    password: revealObscured(obscured, `password of ${where}`),
    password2: section.get('password2') ? revealObscured(section.get('password2')!, `password2 of ${where}`) : '',
    suffix: suffix.toLowerCase() === 'none' ? '' : suffix.startsWith('.') ? suffix : `.${suffix}`,
  };
}

function target(config: RcloneConfig, remote: string, refuse: (problem: string) => CopycatError): RcloneTarget {
  if (!remote) throw refuse('it has no remote = …: the place its objects are');
  const colon = remote.indexOf(':');
  // rclone reads a value without a colon (or one starting with / or .) as a local path.
  if (colon <= 0 || /^[/.]/.test(remote)) return { kind: 'dir', path: resolve(remote) };
  const name = remote.slice(0, colon);
  const rest = remote.slice(colon + 1);
  const section = config.get(name);
  if (!section) throw refuse(`its remote = ${remote} names [${name}], which the file does not define`);
  const type = section.get('type');
  if (type === 'local') {
    if (!isAbsolute(rest)) throw refuse(`its remote = ${remote} is a relative path of a local remote: use an absolute one`);
    return { kind: 'dir', path: rest };
  }
  if (type !== 's3') throw refuse(`its remote [${name}] is of type ${type ?? 'unset'}: copycat-db reads crypt remotes over s3 or a local path`);
  const [bucket = '', ...path] = rest.split('/').filter(Boolean);
  if (!bucket) throw refuse(`its remote = ${remote} names no bucket: use ${name}:BUCKET/PATH`);
  // env_auth means "from the environment": the caller's AWS variables then, as for any other S3 location.
  const keys = section.get('env_auth') !== 'true' && section.get('access_key_id') && section.get('secret_access_key')
    ? { accessKeyId: section.get('access_key_id')!, secretAccessKey: section.get('secret_access_key')! } : {};
  return {
    kind: 's3',
    bucket,
    prefix: path.join('/'),
    remote: name,
    // rclone takes an endpoint without a scheme as https.
    ...(section.get('endpoint') ? { endpoint: section.get('endpoint')!.replace(/^(?![a-z][a-z0-9+.-]*:\/\/)/i, 'https://') } : {}),
    ...(section.get('region') ? { region: section.get('region') } : {}),
    ...keys,
  };
}

/** The crypt remote `name` of the rclone.conf at `path`. */
export function loadCryptRemote(path: string, name: string): RcloneCryptRemote {
  return cryptRemote(loadRcloneConfig(path), name, path);
}
