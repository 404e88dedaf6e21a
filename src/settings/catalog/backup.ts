/** Which backup, where it is, and its stored form: compression and encryption. */
import { availableParallelism } from 'node:os';
import { COMPRESSION_NAMES, type CompressionName } from '../../transforms/compression/index.js';
import { locationProblem } from '../location.js';
import { longFlag, REQUIRED, useOf, type CommandName, type Setting } from '../setting.js';
import { keyFileProblem, wholeNumber } from '../values.js';

const STDIO: { readonly [C in CommandName]?: string } = { backup: '; - is standard output', restore: '; - is standard input' };

export const DESTINATION: Setting<string> = {
  env: 'COPYCAT_DESTINATION',
  holds: 'the backup location: s3://BUCKET/PREFIX, or file:PATH',
  commands: ['backup', 'restore', 'list', 'prune', 'verify'],
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
  check: (text, run) => locationProblem(run.command, text),
};

export const BACKUP_ID: Setting<string> = {
  holds: 'the backup to read, an id from copycat-db list',
  defaultDoc: 'the latest complete one',
  commands: ['restore', 'verify'],
  flag: '--backup <id>',
  variants: {
    restore: { help: 'S3: the backup to restore, an id from copycat-db list' },
    verify: { help: 'the backup to verify, an id from copycat-db list' },
  },
};

export const KEY_FILE: Setting<string> = {
  env: 'COPYCAT_KEY_FILE',
  holds: 'path of the 32-byte key from copycat-db keygen',
  commands: ['backup', 'restore', 'verify'],
  flag: '--key-file <path>',
  variants: { verify: { help: 'path of the 32-byte key from copycat-db keygen, when the backup is encrypted' } },
  // To write a backup, always; to read one, only when nothing stored with it says how it was written.
  required: {
    doc: 'required for backup (unless --no-encrypt), and to restore from file:PATH or -',
    when: (run) => run.command === 'backup' || (run.command === 'restore' && run.location !== undefined && run.location.kind !== 's3')
      ? ' (or --key-file PATH, or --no-encrypt)' : undefined,
  },
  applies: (run) => run.encrypt,
  check: (path, _run, holds) => keyFileProblem(path, holds),
};

export const ENCRYPT: Setting<boolean> = {
  holds: 'store or read the backup unencrypted (explicit, so a missing key is never silently accepted)',
  commands: ['backup', 'restore'],
  flag: '--no-encrypt',
};

export const COMPRESSION: Setting<CompressionName> = {
  holds: 'compression of the stored bytes',
  commands: ['backup', 'restore'],
  flag: '--compression <name>',
  choices: COMPRESSION_NAMES,
  default: 'zstd',
};

export const LEVEL: Setting<number> = {
  holds: 'zstd level, 1 (fastest) to 19',
  commands: ['backup'],
  flag: '--level <n>',
  parse: wholeNumber(1, 19),
  default: 3,
};

export const WORKERS: Setting<number> = {
  holds: 'zstd worker threads; 0 compresses on the main thread',
  commands: ['backup'],
  flag: '--workers <n>',
  parse: wholeNumber(0, 64),
  // zstd on the main thread was the bottleneck of a backup (bench/: 30.5 s against 23.6 s with 2 workers at 2.2 GB);
  // more than 4 workers buy little after pg_dump's own single core and cost memory.
  default: Math.min(availableParallelism(), 4),
  defaultDoc: 'the cores, at most 4',
};
