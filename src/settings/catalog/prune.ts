/** Pruning: after a successful backup, and the prune command itself. */
import type { Setting } from '../setting.js';
import { positiveNumber, wholeNumber } from '../values.js';

export const PRUNE: Setting<boolean> = {
  env: 'COPYCAT_PRUNE',
  holds: 'false skips pruning expired backups after a successful backup, as --no-prune does',
  help: 'do not prune expired backups after a successful backup',
  defaultDoc: 'true',
  commands: ['backup'],
  flag: '--no-prune',
};

export const OLDER_THAN: Setting<number> = {
  env: 'COPYCAT_OLDER_THAN',
  holds: 'prune backups older than this many days whose retention has passed',
  commands: ['backup', 'prune'],
  flag: '--older-than <days>',
  parse: positiveNumber('days'),
  default: 30,
};

export const KEEP_LAST: Setting<number> = {
  env: 'COPYCAT_KEEP_LAST',
  holds: 'never prune the newest N complete backups, whatever their age',
  commands: ['backup', 'prune'],
  flag: '--keep-last <n>',
  parse: wholeNumber(1, 100_000),
  default: 3,
};

/** One grandfather-father-son rule: the newest complete backup of each of the last N such periods is kept. */
function gfsRule(period: 'daily' | 'weekly' | 'monthly' | 'yearly', noun: string, lock: string): Setting<number> {
  return {
    env: `COPYCAT_KEEP_${period.toUpperCase()}`,
    holds: `keep the newest complete backup of each of the last N ${noun}s that have one${lock}`,
    commands: ['backup', 'prune'],
    flag: `--keep-${period} <n>`,
    parse: wholeNumber(0, 100_000),
  };
}

const EXTENDS = ', its Object Lock extended to N ';
export const KEEP_DAILY = gfsRule('daily', 'day', '');
export const KEEP_WEEKLY = gfsRule('weekly', 'week', `${EXTENDS}weeks after it was taken`);
export const KEEP_MONTHLY = gfsRule('monthly', 'month', `${EXTENDS}months after it was taken`);
export const KEEP_YEARLY = gfsRule('yearly', 'year', `${EXTENDS}years after it was taken`);

export const DRY_RUN: Setting<boolean> = {
  holds: 'print the plan; delete nothing',
  commands: ['prune'],
  flag: '--dry-run',
};
