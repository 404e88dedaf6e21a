/** The restore drill: where it restores, what it runs on the copy, and what it leaves behind. */
import type { Setting } from '../setting.js';

export const SCRATCH_DATABASE: Setting<string> = {
  holds: 'database to create and restore into; never an existing one',
  defaultDoc: 'copycat_verify_<backup id>',
  commands: ['verify'],
  flag: '--scratch-database <name>',
};

export const MAINTENANCE_DATABASE: Setting<string> = {
  holds: 'database to connect to for CREATE and DROP DATABASE',
  commands: ['verify'],
  flag: '--maintenance-database <name>',
  default: 'postgres',
};

export const CHECK: Setting<string[]> = {
  holds: 'SQL that must return true (one row, first column), run read-only after scrub; repeatable',
  commands: ['verify'],
  flag: '--check <sql>',
  repeatable: true,
};

export const SCRUB: Setting<string[]> = {
  holds: 'SQL run on the restored copy before the checks (e.g. "DELETE FROM tokens"); repeatable',
  commands: ['verify'],
  flag: '--scrub <sql>',
  repeatable: true,
};

export const SCRUB_FILE: Setting<string[]> = {
  holds: 'a file of scrub SQL, run after the --scrub statements; repeatable',
  commands: ['verify'],
  flag: '--scrub-file <path>',
  repeatable: true,
};

export const KEEP: Setting<boolean> = {
  holds: 'keep the scratch database afterwards (default: dropped, also on failure)',
  commands: ['verify'],
  flag: '--keep',
};

export const REPLACE: Setting<boolean> = {
  holds: 'drop an existing scratch database first, only if an earlier verify made it',
  commands: ['verify'],
  flag: '--replace',
};

export const ALLOW_EMPTY: Setting<boolean> = {
  holds: 'accept a backup without a table list that restores no table',
  commands: ['verify'],
  flag: '--allow-empty',
};
