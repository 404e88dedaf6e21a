/**
 * The start-up check: walks the command's declared settings and reports every missing or invalid one at once, each
 * named by its flag when the value came from the command line, else by its variable, before any work starts.
 */
import { CopycatError } from '../errors.js';
import { defaultRcloneConfigPath, loadCryptRemote, type RcloneCryptRemote } from '../formats/rclone-config.js';
import type { Location } from '../location.js';
import { defaultMode, modeNeeds, type BackupMode } from '../sources/scaleway/modes.js';
import { DESTINATION, ENCRYPT, IDENTITY, RECIPIENT, RECIPIENTS_FILE } from './catalog/backup.js';
import { SETTINGS } from './catalog/index.js';
import { ALL_DATABASES } from './catalog/database.js';
import { LEGACY_RCLONE, RCLONE_CONFIG, RCLONE_REMOTE } from './catalog/legacy.js';
import { MODE, SCW_INSTANCE } from './catalog/scaleway.js';
import { acceptedLocation } from './location.js';
import { commandsOf, longFlag, optionKey, settingsOf, useOf, type CommandName, type Env, type Labelled, type RunFacts, type Setting } from './setting.js';

export interface CheckInput {
  readonly command: CommandName;
  /** The command's parsed options, program-level ones included (commander's keys, variables and defaults applied). */
  readonly options: Readonly<Record<string, unknown>>;
  /** Whether an option's value came from the command line: its problems are then reported under the flag's name. */
  readonly fromCommandLine?: (key: string) => boolean;
  readonly env?: Env;
}

export interface Given {
  /** Undefined when unset; an empty value (an `X=` line in an environment file) is unset. */
  readonly value?: unknown;
  /** The flag when the value came from the command line, else the variable it came from (else the flag). */
  readonly label: string;
}

/** A setting as this run was given it. */
export function given(setting: Setting, input: CheckInput): Given {
  const env = input.env ?? process.env;
  const flag = useOf(setting, input.command)?.flag;
  const key = flag === undefined ? undefined : optionKey(flag);
  if (key !== undefined && input.fromCommandLine?.(key)) return { value: unset(input.options[key]), label: longFlag(flag!) };
  // Commander applies a command's variable to its flag; a program-level flag's variable is read here, and only by
  // the commands that read it.
  const readsEnv = setting.env !== undefined && (setting.program?.envCommands.includes(input.command) ?? true);
  const value = unset(key !== undefined && !setting.program ? input.options[key] : readsEnv ? env[setting.env!] : undefined);
  const fallback = setting.fallbackEnv === undefined ? undefined : unset(env[setting.fallbackEnv]);
  if (value === undefined && fallback !== undefined) return { value: fallback, label: setting.fallbackEnv! };
  return { value, label: setting.env ?? longFlag(flag!) };
}

function unset(value: unknown): unknown {
  return value === '' ? undefined : value;
}

/** Every missing or invalid setting for this command, each as `NAME: what is wrong — what it should hold`. */
export function configProblems(input: CheckInput): string[] {
  const command = settingsOf(input.command);
  if (command !== input.command) return configProblems({ ...input, command });
  const values = new Map(SETTINGS.filter((s) => commandsOf(s).includes(command)).map((s) => [s, given(s, input)] as const));
  const run = runFacts(input, (setting) => values.get(setting)?.value);
  const problems: string[] = [];
  for (const [setting, { value, label }] of values) {
    if (setting.applies && !setting.applies(run)) continue;
    const problem = value === undefined ? missing(setting, run) : setting.check?.(value, run, setting.holds);
    if (problem !== undefined) problems.push(typeof problem === 'string' ? `${label}: ${problem}` : `${problem.label}: ${problem.problem}`);
  }
  return problems;
}

/** Throws one CopycatError listing every problem on one line (journald and Loki keep it whole). */
export function assertConfig(input: CheckInput): void {
  const problems = configProblems(input);
  if (problems.length === 0) return;
  const n = problems.length;
  throw new CopycatError('CONFIG_INVALID', `${n} setting${n === 1 ? ' is' : 's are'} missing or invalid: ${problems.join('; ')}`);
}

function missing(setting: Setting, run: RunFacts): string | Labelled | undefined {
  if (setting.required === undefined || setting.required === 'flag') return undefined;
  const why = setting.required.when(run);
  return typeof why === 'string' ? `not set — ${setting.holds}${why}` : why;
}

function runFacts(input: CheckInput, value: (setting: Setting) => unknown): RunFacts {
  const { command } = input;
  const env = input.env ?? process.env;
  const destination = value(DESTINATION);
  const mode = command === 'backup' ? (value(MODE) as BackupMode | undefined) ?? defaultMode(value(SCW_INSTANCE) as string | undefined) : undefined;
  const legacy = value(LEGACY_RCLONE) === true ? legacyFacts(value(RCLONE_CONFIG) as string | undefined, value(RCLONE_REMOTE) as string | undefined, env) : undefined;
  return {
    command,
    location: legacy?.remoteNamed ? remoteLocation(legacy.remote)
      : typeof destination === 'string' ? acceptedLocation(command, destination, { legacy: !!legacy }) : undefined,
    legacy,
    mode,
    needs: mode ? modeNeeds(mode) : [],
    allDatabases: value(ALL_DATABASES) === true,
    encrypt: value(ENCRYPT) !== false,
    recipients: ((value(RECIPIENT) as string[] | undefined)?.length ?? 0) > 0 || value(RECIPIENTS_FILE) !== undefined,
    identities: ((value(IDENTITY) as string[] | undefined)?.length ?? 0) > 0,
    libpq: command === 'restore' || command === 'verify' || mode === 'pgdump' || mode === 'snapshot-pgdump',
    env,
  };
}

/** The crypt remote is resolved here so that its S3 location's settings are checked; its own problems, by RCLONE_REMOTE. */
function legacyFacts(config: string | undefined, remote: string | undefined, env: Env): RunFacts['legacy'] {
  const path = config ?? defaultRcloneConfigPath(env);
  let resolved: RcloneCryptRemote | undefined;
  try {
    resolved = remote === undefined ? undefined : loadCryptRemote(path, remote);
  } catch {
    resolved = undefined;
  }
  return { config: path, configGiven: config !== undefined, remoteNamed: remote !== undefined, ...(resolved ? { remote: resolved } : {}) };
}

function remoteLocation(remote: RcloneCryptRemote | undefined): Location | undefined {
  if (!remote) return undefined;
  const { target } = remote;
  return target.kind === 'dir' ? target : { kind: 's3', bucket: target.bucket, prefix: target.prefix };
}
