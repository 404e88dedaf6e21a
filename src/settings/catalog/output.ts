/** How a command prints what it found. */
import type { Setting } from '../setting.js';

export const JSON_OUTPUT: Setting<boolean> = {
  holds: 'print JSON, for scripts',
  commands: ['list', 'verify', 'show', 'prune', 'check'],
  flag: '--json',
  variants: {
    list: { help: 'print one JSON array, for scripts' },
    show: { help: 'print the backup and its whole manifest as one JSON object' },
    prune: { help: 'print the report as one JSON object: every backup, kept or deleted, and why (with --dry-run: the plan)' },
    verify: { help: 'print the report as one JSON object' },
    check: { help: 'print the report as one JSON object' },
  },
};

export const EXPORT_TO: Setting<string> = {
  holds: 'where the dump goes: a file (written whole or not at all, never over an existing one), or - for standard output',
  commands: ['export'],
  flag: '--to <path>',
  required: 'flag',
};
