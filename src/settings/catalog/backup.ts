/** Which backup, where it is, and its stored form: compression and encryption. */
import { availableParallelism } from 'node:os';
import { COMPRESSION_NAMES, type CompressionName } from '../../transforms/compression/index.js';
import { locationProblem } from '../location.js';
import { longFlag, REQUIRED, useOf, type CommandName, type Setting } from '../setting.js';
import { identityFileProblem, keyFileProblem, recipientProblem, recipientsFileProblem, wholeNumber } from '../values.js';

const STDIO: { readonly [C in CommandName]?: string } = { backup: '; - is standard output', restore: '; - is standard input' };

export const DESTINATION: Setting<string> = {
  env: 'COPYCAT_DESTINATION',
  holds: 'the backup location: s3://BUCKET/PREFIX, or file:PATH',
  commands: ['backup', 'restore', 'list', 'prune', 'verify', 'show', 'export'],
  flag: '--from <location>',
  help: 'the backups: s3://BUCKET/PREFIX, or file:DIR',
  variants: {
    backup: { flag: '--to <location>', help: 's3://BUCKET/PREFIX, file:PATH, or - for standard output' },
    restore: { help: 's3://BUCKET/PREFIX, file:PATH, or - for standard input' },
  },
  required: {
    doc: REQUIRED,
    when: (run) => ` (or pass ${longFlag(useOf(DESTINATION, run.command)!.flag!)}${STDIO[run.command] ?? ''})`,
  },
  // A crypt remote names its own location: COPYCAT_DESTINATION (the new repository) is then not read.
  applies: (run) => !run.legacy?.remoteNamed,
  check: (text, run) => locationProblem(run.command, text, { legacy: run.legacy !== undefined }),
};

export const BACKUP_ID: Setting<string> = {
  holds: 'the backup to read, an id (with --legacy-rclone, a name) from copycat-db list',
  defaultDoc: 'the latest complete one',
  commands: ['restore', 'verify', 'export'],
  flag: '--backup <id>',
  variants: {
    restore: { help: 'a repository\'s backup to restore, an id from copycat-db list' },
    verify: { help: 'the backup to verify, an id from copycat-db list' },
    export: { help: 'the backup to export, an id from copycat-db list' },
  },
};

export const KEY_FILE: Setting<string> = {
  env: 'COPYCAT_KEY_FILE',
  holds: 'path of the 32-byte key from copycat-db keygen',
  commands: ['backup', 'restore', 'verify', 'list', 'export'],
  flag: '--key-file <path>',
  variants: {
    verify: { help: 'path of the 32-byte key from copycat-db keygen, when the backup is encrypted with a key file' },
    list: { help: 'path of a 32-byte key: list then says which backups it opens (READABLE)' },
  },
  // To write a backup, unless it goes to recipients; to read one, only when nothing stored with it says how it was
  // written (a plain stream) and no identity is given.
  required: {
    doc: 'required for backup (unless --recipient, --recipients-file or --no-encrypt), and to restore from file:PATH or - (unless --identity)',
    when: (run) => (run.command === 'backup' && !run.recipients)
      || (run.command === 'restore' && !run.identities && (run.location?.kind === 'file' || run.location?.kind === 'stdio'))
      ? ' (or --key-file PATH, or --no-encrypt)' : undefined,
  },
  applies: (run) => run.encrypt && run.legacy === undefined,
  check: (path, _run, holds) => keyFileProblem(path, holds),
};

export const RECIPIENT: Setting<string[]> = {
  env: 'COPYCAT_RECIPIENT',
  holds: 'a public recipient (ccdb1…, printed by copycat-db keygen --identity) the backup is encrypted to: the backup host then holds no secret that reads backups; repeatable (the variable holds one)',
  commands: ['backup'],
  flag: '--recipient <recipient>',
  repeatable: true,
  applies: (run) => run.encrypt,
  check: (texts) => texts.map(recipientProblem).find((p) => p !== undefined),
};

export const RECIPIENTS_FILE: Setting<string> = {
  env: 'COPYCAT_RECIPIENTS_FILE',
  holds: 'path of a file of public recipients (ccdb1…), one per line, # comments: the recommended way to encrypt',
  commands: ['backup'],
  flag: '--recipients-file <path>',
  applies: (run) => run.encrypt,
  check: (path, _run, holds) => recipientsFileProblem(path, holds),
};

export const IDENTITY: Setting<string[]> = {
  env: 'COPYCAT_IDENTITY_FILE',
  holds: 'path of an identity file (CCDB-SECRET-KEY-1…, from copycat-db keygen --identity; one file may hold several): opens backups encrypted to its recipient; repeatable',
  commands: ['restore', 'verify', 'list', 'export'],
  flag: '--identity <path>',
  repeatable: true,
  variants: { list: { help: 'path of an identity file: list then says which backups it opens (READABLE); repeatable' } },
  check: (paths, _run, holds) => paths.map((p) => identityFileProblem(p, holds)).find((p) => p !== undefined),
};

export const ENCRYPT: Setting<boolean> = {
  env: 'COPYCAT_ENCRYPT',
  holds: 'false stores or reads the backup unencrypted, as --no-encrypt does (explicit, so a missing key is never silently accepted)',
  help: 'store or read the backup unencrypted (explicit, so a missing key is never silently accepted)',
  defaultDoc: 'true',
  commands: ['backup', 'restore'],
  flag: '--no-encrypt',
};

export const COMPRESSION: Setting<CompressionName> = {
  env: 'COPYCAT_COMPRESSION',
  holds: 'compression of the stored bytes',
  commands: ['backup', 'restore'],
  flag: '--compression <name>',
  choices: COMPRESSION_NAMES,
  default: 'zstd',
};

export const LEVEL: Setting<number> = {
  env: 'COPYCAT_LEVEL',
  holds: 'zstd level, 1 (fastest) to 19',
  commands: ['backup'],
  flag: '--level <n>',
  parse: wholeNumber(1, 19),
  default: 3,
};

export const WORKERS: Setting<number> = {
  env: 'COPYCAT_WORKERS',
  holds: 'zstd worker threads; 0 compresses on the main thread',
  commands: ['backup'],
  flag: '--workers <n>',
  parse: wholeNumber(0, 64),
  // zstd on the main thread was the bottleneck of a backup (bench/: 30.5 s against 23.6 s with 2 workers at 2.2 GB);
  // more than 4 workers buy little after pg_dump's own single core and cost memory.
  default: Math.min(availableParallelism(), 4),
  defaultDoc: 'the cores, at most 4',
};
