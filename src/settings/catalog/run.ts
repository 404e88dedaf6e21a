/** Run-wide settings: logs, monitoring, the lock directory, the environment file, and extra backup flags. */
import { existsSync } from 'node:fs';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../../log.js';
import { COMMANDS, list, type Setting } from '../setting.js';
import { isHttpUrl, isOneOf, isWritableDir, metricsFileProblem } from '../values.js';

/** Flags of the program, before or after any command. */
const RUN_WIDE = { commands: COMMANDS, program: { envCommands: COMMANDS } } as const;
// A restore or a list run by hand with the unit's environment loaded must not report to the backup's monitoring.
const MONITORING = { commands: COMMANDS, program: { envCommands: ['backup'] } } as const;

export const LOG_FORMAT: Setting<LogFormat> = {
  env: 'COPYCAT_LOG_FORMAT',
  holds: list(LOG_FORMATS),
  help: 'json (one object per line) or text',
  defaultDoc: 'json under systemd (no TTY), text otherwise',
  ...RUN_WIDE,
  flag: '--log-format <format>',
  check: isOneOf(LOG_FORMATS, 'a log format'),
};

export const LOG_LEVEL: Setting<LogLevel> = {
  env: 'COPYCAT_LOG_LEVEL',
  holds: list(LOG_LEVELS),
  default: 'info',
  ...RUN_WIDE,
  flag: '--log-level <level>',
  check: isOneOf(LOG_LEVELS, 'a log level'),
};

export const METRICS_FILE: Setting<string> = {
  env: 'COPYCAT_METRICS_FILE',
  holds: 'path of the Prometheus textfile to write after each run, ending in .prom, in an existing writable directory',
  ...MONITORING,
  flag: '--metrics-file <path>',
  check: (path, _run, holds) => {
    const problem = metricsFileProblem(path);
    return problem && `${problem} — ${holds}`;
  },
};

export const PING_URL: Setting<string> = {
  env: 'COPYCAT_PING_URL',
  holds: 'a healthchecks.io-style ping URL (http or https): URL/start, URL, URL/fail',
  help: 'healthchecks.io-style URL: URL/start, URL on success, URL/fail',
  ...MONITORING,
  flag: '--ping-url <url>',
  secret: true,
  // The URL is a credential of the check: never echoed.
  check: (url, _run, holds) => (isHttpUrl(url) ? undefined : `not an http(s) URL — ${holds}`),
};

export const WEBHOOK_URL: Setting<string[]> = {
  env: 'COPYCAT_WEBHOOK_URL',
  holds: 'an http(s) URL that gets a JSON POST after each run, success or failure (the variable: several, space-separated); repeatable',
  help: 'POST a JSON summary of the run here, on success and on failure (never fails the run); repeatable',
  ...MONITORING,
  flag: '--webhook-url <url>',
  repeatable: true,
  secret: true,
  check: (urls, _run, holds) => (urls.every(isHttpUrl) ? undefined : `not an http(s) URL — ${holds}`),
};

export const PUSHGATEWAY_URL: Setting<string> = {
  env: 'COPYCAT_PUSHGATEWAY_URL',
  holds: 'a Prometheus Pushgateway (http or https) that gets the run\'s metrics, for jobs too short to be scraped',
  ...MONITORING,
  flag: '--pushgateway-url <url>',
  check: (url, _run, holds) => (isHttpUrl(url) ? undefined : `not an http(s) URL — ${holds}`),
};

export const LOCK_DIR: Setting<string> = {
  env: 'COPYCAT_LOCK_DIR',
  holds: 'a writable directory for the one-run-per-destination lock files',
  defaultDoc: '/run/copycat-db, else $XDG_RUNTIME_DIR/copycat-db, else $TMPDIR/copycat-db-UID',
  commands: ['backup', 'prune'],
  // One that does not exist yet is created when the lock is taken.
  check: (dir, _run, holds) => (existsSync(dir) && !isWritableDir(dir) ? `"${dir}" is not a writable directory — ${holds}` : undefined),
};

export const ENV_FILE: Setting<string> = {
  env: 'COPYCAT_ENV_FILE',
  holds: "an environment file (KEY=value lines, read as systemd's EnvironmentFile= reads them, mode 600 or 640) loaded " +
    'before anything else: a run by hand then has the settings of the unit; a variable the environment already sets wins',
  ...RUN_WIDE,
  flag: '--env-file <path>',
};

export const BACKUP_OPTIONS: Setting<string> = {
  env: 'COPYCAT_BACKUP_OPTIONS',
  holds: 'extra backup flags, split on spaces, taken as if given before the command line\'s own (e.g. --retain-days 35 ' +
    '--keep-last 7); each flag also has its own variable',
  commands: ['backup'],
};
