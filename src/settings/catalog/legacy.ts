/**
 * Reading the backups of the system copycat-db replaced: rclone crypt objects, found through a crypt remote of an
 * rclone.conf or through --from, opened with the remote's passwords or plain ones from the environment.
 */
import { CopycatError } from '../../errors.js';
import { loadCryptRemote, loadRcloneConfig } from '../../formats/rclone-config.js';
import type { RunFacts, Setting } from '../setting.js';

const LEGACY_COMMANDS = ['list', 'restore', 'verify'] as const;
const legacy = (run: RunFacts): boolean => run.legacy !== undefined;
const withRemote = (run: RunFacts): boolean => run.legacy?.remoteNamed === true;

export const LEGACY_RCLONE: Setting<boolean> = {
  holds: 'read the rclone crypt backups of the system copycat-db replaced (--rclone-remote, or --from with COPYCAT_RCLONE_PASSWORD)',
  commands: LEGACY_COMMANDS,
  flag: '--legacy-rclone',
};

export const RCLONE_CONFIG: Setting<string> = {
  env: 'RCLONE_CONFIG',
  holds: 'the rclone config file that defines --rclone-remote (rclone\'s own variable)',
  defaultDoc: '~/.config/rclone/rclone.conf',
  commands: LEGACY_COMMANDS,
  flag: '--rclone-config <path>',
  applies: withRemote,
  check: (path) => {
    try {
      loadRcloneConfig(path);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  },
};

export const RCLONE_REMOTE: Setting<string> = {
  env: 'COPYCAT_RCLONE_REMOTE',
  holds: 'with --legacy-rclone: the crypt remote of the rclone config whose objects, S3 endpoint and passwords to use (instead of --from)',
  commands: LEGACY_COMMANDS,
  flag: '--rclone-remote <name>',
  applies: legacy,
  check: (name, run) => {
    try {
      loadCryptRemote(run.legacy!.config, name);
      return undefined;
    } catch (err) {
      // An unreadable file is RCLONE_CONFIG's problem, reported once, there.
      return err instanceof CopycatError && err.code === 'RCLONE_CONFIG_INVALID' && run.legacy!.configGiven ? undefined : (err as Error).message;
    }
  },
};

export const RCLONE_PASSWORD: Setting<string> = {
  env: 'COPYCAT_RCLONE_PASSWORD',
  holds: 'with --legacy-rclone and no --rclone-remote: the crypt remote\'s password, plain (rclone reveal prints an obscured one)',
  secret: true,
  commands: ['restore', 'verify'],
  applies: (run) => legacy(run) && !withRemote(run),
  required: {
    doc: 'required by --legacy-rclone without --rclone-remote',
    when: () => ' (or --rclone-remote NAME, which has it)',
  },
};

export const RCLONE_PASSWORD2: Setting<string> = {
  env: 'COPYCAT_RCLONE_PASSWORD2',
  holds: 'with --legacy-rclone and no --rclone-remote: the crypt remote\'s password2 (its salt), plain, if it has one',
  secret: true,
  defaultDoc: 'none: rclone\'s default salt',
  commands: ['restore', 'verify'],
  applies: (run) => legacy(run) && !withRemote(run),
};
