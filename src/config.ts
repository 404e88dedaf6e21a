/**
 * The one documented set of settings (environment variables; flags override them) and the start-up check that reports
 * every missing or invalid one at once, naming the variable (or the flag, when the value came from the command line)
 * and what it should hold, before any work starts.
 */
import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CopycatError } from './errors.js';
import { parseLocation, type Location } from './location.js';
import { loadScalewayCredentials } from './sources/scaleway/config.js';
import { defaultMode, modeNeeds } from './sources/scaleway/modes.js';

export type Env = Record<string, string | undefined>;
export type CommandName = 'backup' | 'restore' | 'list' | 'prune' | 'verify';

export interface Setting {
  readonly name: string;
  readonly flag?: string;
  /** What it should hold: the text shown when it is missing. */
  readonly holds: string;
  readonly default?: string;
  /** Which commands read it. */
  readonly usedBy: string;
  /** Masked in logs wherever its value appears. */
  readonly secret?: boolean;
}

export const SETTINGS = [
  { name: 'COPYCAT_DESTINATION', flag: '--to (backup), --from (others)', usedBy: 'backup, restore, list, prune, verify',
    holds: 'the backup location: s3://BUCKET/PREFIX, or file:PATH' },
  { name: 'COPYCAT_KEY_FILE', flag: '--key-file', usedBy: 'backup, restore, verify',
    holds: 'path of the 32-byte key from copycat-db keygen' },
  { name: 'COPYCAT_LOG_FORMAT', flag: '--log-format', usedBy: 'all', default: 'json under systemd (no TTY), text otherwise',
    holds: 'json or text' },
  { name: 'COPYCAT_LOG_LEVEL', flag: '--log-level', usedBy: 'all', default: 'info', holds: 'debug, info, warn or error' },
  { name: 'COPYCAT_METRICS_FILE', flag: '--metrics-file', usedBy: 'backup (the flag: any command)',
    holds: 'path of the Prometheus textfile to write after each run, ending in .prom, in an existing writable directory' },
  { name: 'COPYCAT_PING_URL', flag: '--ping-url', usedBy: 'backup (the flag: any command)', secret: true,
    holds: 'a healthchecks.io-style ping URL (http or https): URL/start, URL, URL/fail' },
  { name: 'COPYCAT_LOCK_DIR', usedBy: 'backup, prune', default: '/run/copycat-db, else $XDG_RUNTIME_DIR/copycat-db, else $TMPDIR/copycat-db-UID',
    holds: 'a writable directory for the one-run-per-destination lock files' },
  { name: 'COPYCAT_BACKUP_OPTIONS', usedBy: 'the systemd units only', holds: 'extra backup flags, split on spaces (e.g. --retain-days 35 --keep-last 7)' },
  { name: 'BACKUP_MODE', flag: '--mode', usedBy: 'backup', default: 'scw-export when SCW_RDB_INSTANCE_ID is set, else pgdump',
    holds: 'pgdump, scw-export, snapshot-scw-export or snapshot-pgdump' },
  { name: 'PGHOST', usedBy: 'backup (pgdump), restore', default: "libpq's (local socket)", holds: 'the PostgreSQL host' },
  { name: 'PGPORT', usedBy: 'backup (pgdump), restore', default: '5432', holds: 'the PostgreSQL port (1-65535)' },
  { name: 'PGUSER', usedBy: 'backup, restore', default: 'the OS user', holds: 'the PostgreSQL user' },
  { name: 'PGPASSWORD', usedBy: 'backup, restore', secret: true, default: 'none (or ~/.pgpass)', holds: 'the PostgreSQL password' },
  { name: 'PGDATABASE', flag: '--database', usedBy: 'backup', default: 'the user name (pgdump); required for Scaleway modes', holds: 'the database to dump' },
  { name: 'PGSSLMODE', usedBy: 'backup, restore', default: 'prefer', holds: 'disable, allow, prefer, require, verify-ca or verify-full' },
  { name: 'AWS_ACCESS_KEY_ID', usedBy: 'S3 locations', holds: 'the S3 access key id' },
  { name: 'AWS_SECRET_ACCESS_KEY', usedBy: 'S3 locations', secret: true, holds: 'the S3 secret key' },
  { name: 'AWS_ENDPOINT_URL_S3', flag: '--s3-endpoint', usedBy: 'S3 locations', default: 'AWS_ENDPOINT_URL, else AWS',
    holds: 'the S3 endpoint URL for non-AWS providers, e.g. https://s3.fr-par.scw.cloud' },
  { name: 'AWS_REGION', flag: '--s3-region', usedBy: 'S3 locations', default: 'AWS_DEFAULT_REGION, else us-east-1', holds: 'the S3 region, e.g. fr-par' },
  { name: 'COPYCAT_S3_TIMEOUT', flag: '--s3-timeout', usedBy: 'S3 locations', default: '60',
    holds: 'seconds an S3 request may move no byte before it fails and is retried (1-3600)' },
  { name: 'SCW_RDB_INSTANCE_ID', flag: '--scw-instance', usedBy: 'backup (Scaleway modes)', holds: 'the id of the Scaleway RDB instance to back up' },
  { name: 'SCW_PRIVATE_NETWORK_ID', flag: '--scw-private-network', usedBy: 'backup (snapshot-pgdump)', holds: 'the private network the temporary instance is attached to' },
  { name: 'SCW_SECRET_KEY', usedBy: 'backup (Scaleway modes)', secret: true, default: 'secret_key in the scw config.yaml',
    holds: 'the Scaleway API secret key (or secret_key in ~/.config/scw/config.yaml)' },
  { name: 'SCW_ACCESS_KEY', usedBy: 'backup (Scaleway modes)', holds: 'the Scaleway API access key' },
  { name: 'SCW_DEFAULT_REGION', usedBy: 'backup (Scaleway modes)', default: 'fr-par', holds: 'fr-par, nl-ams or pl-waw' },
  { name: 'SCW_DEFAULT_PROJECT_ID', usedBy: 'backup (Scaleway modes)', holds: 'the Scaleway project id' },
  { name: 'SCW_API_URL', usedBy: 'backup (Scaleway modes)', default: 'https://api.scaleway.com', holds: 'the Scaleway API URL' },
  { name: 'SCW_CONFIG_PATH', usedBy: 'backup (Scaleway modes)', default: '~/.config/scw/config.yaml', holds: 'the Scaleway CLI config file' },
  { name: 'SCW_PROFILE', usedBy: 'backup (Scaleway modes)', default: 'active_profile of the config file', holds: 'the profile of the Scaleway CLI config file' },
] as const satisfies readonly Setting[];

export type SettingName = (typeof SETTINGS)[number]['name'];

export function holds(name: SettingName): string {
  return SETTINGS.find((s) => s.name === name)!.holds;
}

/** Run-wide settings every command shares: a flag on the program, else the variable (metrics and pings: backup only). */
export const GLOBAL_SETTINGS = {
  logFormat: { env: 'COPYCAT_LOG_FORMAT', flag: '--log-format', commands: 'all' },
  logLevel: { env: 'COPYCAT_LOG_LEVEL', flag: '--log-level', commands: 'all' },
  // A restore or a list run by hand with the unit's environment loaded must not report to the backup's monitoring.
  metricsFile: { env: 'COPYCAT_METRICS_FILE', flag: '--metrics-file', commands: 'backup' },
  pingUrl: { env: 'COPYCAT_PING_URL', flag: '--ping-url', commands: 'backup' },
} as const;
export type GlobalSetting = keyof typeof GLOBAL_SETTINGS;

export interface Sourced {
  readonly value?: string;
  /** The flag when the value came from the command line, else the variable. */
  readonly label: string;
}

/** A run-wide setting as given; empty means unset (an `X=` line in an environment file). */
export function globalSetting(key: GlobalSetting, command: string, options: Readonly<Record<string, unknown>>, env: Env = process.env): Sourced {
  const spec = GLOBAL_SETTINGS[key];
  const flag = options[key];
  if (typeof flag === 'string') return { value: flag || undefined, label: spec.flag };
  const fromEnv = spec.commands === 'all' || spec.commands === command ? env[spec.env] : undefined;
  return { value: fromEnv || undefined, label: spec.env };
}

export interface ConfigInput {
  readonly command: CommandName;
  /** The command's parsed options, program-level ones included (commander's camelCase keys, env defaults applied). */
  readonly options: Readonly<Record<string, unknown>>;
  /** Whether an option's value came from the command line: its problems are then reported under the flag's name. */
  readonly fromCommandLine?: (option: string) => boolean;
  readonly env?: Env;
}

/** The longest --retain-days (50 years): see the check in configProblems. */
export const MAX_RETAIN_DAYS = 18_250;

const PG_SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/** Every missing or invalid setting for this command, each as `NAME: what is wrong — what it should hold`. */
export function configProblems(input: ConfigInput): string[] {
  const env = input.env ?? process.env;
  const o = input.options;
  const cli = (option: string) => input.fromCommandLine?.(option) ?? false;
  const text = (option: string): string | undefined => (typeof o[option] === 'string' && o[option] !== '' ? (o[option] as string) : undefined);
  const problems: string[] = [];
  const add = (label: string, problem: string) => problems.push(`${label}: ${problem}`);
  const missing = (name: SettingName, hint = '') => add(name, `not set — ${holds(name)}${hint}`);

  // Run-wide settings.
  const format = globalSetting('logFormat', input.command, o, env);
  if (format.value && !['json', 'text'].includes(format.value)) add(format.label, `"${format.value}" is not a log format — json or text`);
  const level = globalSetting('logLevel', input.command, o, env);
  if (level.value && !['debug', 'info', 'warn', 'error'].includes(level.value)) add(level.label, `"${level.value}" is not a log level — debug, info, warn or error`);
  const metrics = globalSetting('metricsFile', input.command, o, env);
  if (metrics.value) checkMetricsFile(metrics, add);
  const pingUrl = globalSetting('pingUrl', input.command, o, env);
  // The URL is a credential of the check: never echoed.
  if (pingUrl.value && !isHttpUrl(pingUrl.value)) add(pingUrl.label, `not an http(s) URL — ${holds('COPYCAT_PING_URL')}`);

  // Where the backups are.
  const locOption = input.command === 'backup' ? 'to' : 'from';
  const locFlag = `--${locOption}`;
  const locLabel = cli(locOption) ? locFlag : 'COPYCAT_DESTINATION';
  let location: Location | undefined;
  const locText = text(locOption);
  if (!locText) {
    const stdio = input.command === 'backup' ? '; - is standard output' : input.command === 'restore' ? '; - is standard input' : '';
    add(locLabel, `not set — ${holds('COPYCAT_DESTINATION')} (or pass ${locFlag}${stdio})`);
  } else {
    try {
      location = parseLocation(locText);
      if ((input.command === 'list' || input.command === 'prune' || input.command === 'verify') && location.kind !== 's3' && location.kind !== 'dir') {
        add(locLabel, `"${locText}" is not a backup repository — ${input.command} works on s3://BUCKET/PREFIX or file:DIR (an existing directory)`);
        location = undefined;
      }
    } catch (err) {
      add(locLabel, (err as Error).message);
    }
  }
  const lockDir = env.COPYCAT_LOCK_DIR;
  if ((input.command === 'backup' || input.command === 'prune') && lockDir && existsSync(lockDir) && !isWritableDir(lockDir)) {
    add('COPYCAT_LOCK_DIR', `"${lockDir}" is not a writable directory — ${holds('COPYCAT_LOCK_DIR')}`);
  }

  // The key: required to write a backup unless --no-encrypt; to read one, only when the stored form does not say.
  if ((input.command === 'backup' || input.command === 'restore' || input.command === 'verify') && o.encrypt !== false) {
    const keyLabel = cli('keyFile') ? '--key-file' : 'COPYCAT_KEY_FILE';
    const keyFile = text('keyFile');
    // A repository's manifest says whether the backup is encrypted; a plain stream says nothing.
    const required = input.command === 'backup' || location?.kind === 'file' || location?.kind === 'stdio';
    if (keyFile) checkKeyFile(keyLabel, keyFile, add);
    else if (required) add(keyLabel, `not set — ${holds('COPYCAT_KEY_FILE')} (or --key-file PATH, or --no-encrypt)`);
  }

  // S3 credentials and endpoint.
  if (location?.kind === 's3') {
    if (!env.AWS_ACCESS_KEY_ID) missing('AWS_ACCESS_KEY_ID');
    if (!env.AWS_SECRET_ACCESS_KEY) missing('AWS_SECRET_ACCESS_KEY', ' (credentials come only from the environment, never from flags)');
    const endpoint = text('s3Endpoint') !== undefined
      ? { value: text('s3Endpoint')!, label: cli('s3Endpoint') ? '--s3-endpoint' : 'AWS_ENDPOINT_URL_S3' }
      : env.AWS_ENDPOINT_URL ? { value: env.AWS_ENDPOINT_URL, label: 'AWS_ENDPOINT_URL' } : undefined;
    if (endpoint && !isHttpUrl(endpoint.value)) add(endpoint.label, `"${endpoint.value}" is not an http(s) URL — ${holds('AWS_ENDPOINT_URL_S3')}`);
    const region = text('s3Region') !== undefined
      ? { value: text('s3Region')!, label: cli('s3Region') ? '--s3-region' : 'AWS_REGION' }
      : env.AWS_DEFAULT_REGION ? { value: env.AWS_DEFAULT_REGION, label: 'AWS_DEFAULT_REGION' } : undefined;
    if (region && !/^[a-z0-9][a-z0-9_-]*$/i.test(region.value)) add(region.label, `"${region.value}" is not a region name — ${holds('AWS_REGION')}`);
  }

  // Checked here, before any dump, because a retention the server cannot take fails only after the whole upload and
  // leaves a locked object without a manifest. Whole days: a typo like 0.0000001 must not lock a backup for 9 ms.
  // The bound: radosgw stores retain-until in unsigned 32-bit seconds, so a date after 2106-02-07 wraps around
  // (36,500 days from 2026 reads back as 1990); 50 years stays clear of that until 2056.
  if (input.command === 'backup' && o.retainDays !== undefined) {
    const days = o.retainDays;
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > MAX_RETAIN_DAYS) {
      add('--retain-days', `${JSON.stringify(String(days))} is not a whole number of days from 1 to ${MAX_RETAIN_DAYS} — pass the Object Lock retention in days, e.g. --retain-days 30`);
    }
  }

  // The database side.
  const mode = input.command === 'backup' ? (text('mode') ?? defaultMode(text('scwInstance'))) : undefined;
  const usesLibpq = input.command === 'restore' || input.command === 'verify' || mode === 'pgdump' || mode === 'snapshot-pgdump';
  if (usesLibpq) {
    const port = env.PGPORT;
    if (port && !(/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) add('PGPORT', `"${port}" is not a port number — ${holds('PGPORT')}`);
    const ssl = env.PGSSLMODE;
    if (ssl && !PG_SSL_MODES.includes(ssl)) add('PGSSLMODE', `"${ssl}" is not an sslmode — ${holds('PGSSLMODE')}`);
  }
  const needs = mode ? modeNeeds(mode) : [];
  const need = { instance: ['scwInstance', '--scw-instance', 'SCW_RDB_INSTANCE_ID', holds('SCW_RDB_INSTANCE_ID')],
    database: ['database', '--database', 'PGDATABASE', 'the name of the database to back up on the Scaleway instance'],
    privateNetwork: ['scwPrivateNetwork', '--scw-private-network', 'SCW_PRIVATE_NETWORK_ID', holds('SCW_PRIVATE_NETWORK_ID')] } as const;
  for (const n of needs) {
    const [option, flag, variable, what] = need[n];
    if (!text(option)) add(cli(option) ? flag : variable, `not set — ${what} (needed by --mode ${mode})`);
  }
  if (needs.length) {
    try {
      loadScalewayCredentials({ env });
    } catch (err) {
      if (err instanceof CopycatError && err.detail?.missing === 'SCW_SECRET_KEY') missing('SCW_SECRET_KEY');
      else add('Scaleway settings', (err as Error).message);
    }
  }
  return problems;
}

/** Throws one CopycatError listing every problem on one line (journald and Loki keep it whole). */
export function assertConfig(input: ConfigInput): void {
  const problems = configProblems(input);
  if (problems.length === 0) return;
  const n = problems.length;
  throw new CopycatError('CONFIG_INVALID', `${n} setting${n === 1 ? ' is' : 's are'} missing or invalid: ${problems.join('; ')}`);
}

/** The location as a stable text for lock keys and metric labels: absolute file paths, s3://bucket/prefix. */
function realFile(path: string): string {
  try {
    return join(realpathSync(dirname(path)), basename(path));
  } catch {
    return path;
  }
}

export function normalizeLocation(location: Location): string {
  if (location.kind === 's3') return `s3://${location.bucket}/${location.prefix}`;
  // The real path, so a symlinked directory or a relative path names the same file and so the same lock.
  if (location.kind === 'file' || location.kind === 'dir') return `file:${realFile(resolve(location.path))}`;
  return '-';
}

function checkKeyFile(label: string, path: string, add: (label: string, problem: string) => void): void {
  const what = holds('COPYCAT_KEY_FILE');
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) return add(label, `${path} is not a file — ${what}`);
    size = st.size;
    accessSync(path, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return add(label, code === 'ENOENT' ? `${path} does not exist — ${what}` : `cannot read ${path} (${code ?? err}) — ${what}, readable by this user`);
  }
  if (size !== 32) add(label, `key file ${path} is ${size} bytes, not 32 — use the file written by copycat-db keygen`);
}

function checkMetricsFile(setting: Sourced, add: (label: string, problem: string) => void): void {
  const problem = metricsFileProblem(setting.value!);
  if (problem) add(setting.label, `${problem} — ${holds('COPYCAT_METRICS_FILE')}`);
}

/** Why the metrics file cannot be written, or undefined; a run with such a setting writes none (the check reports it). */
export function metricsFileProblem(path: string): string | undefined {
  if (!basename(path).endsWith('.prom')) return `"${path}" does not end in .prom (node_exporter's textfile collector reads only *.prom)`;
  const dir = dirname(resolve(path));
  if (!existsSync(dir)) return `the directory ${dir} does not exist`;
  if (!isWritableDir(dir)) return `the directory ${dir} is not writable by this user`;
  try {
    if (statSync(path).isDirectory()) return `${path} is a directory`;
  } catch {
    // Not there yet: it is created after the first run.
  }
  return undefined;
}

export function isWritableDir(dir: string): boolean {
  try {
    if (!statSync(dir).isDirectory()) return false;
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
