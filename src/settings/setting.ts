/**
 * The shape of one setting's declaration. Everything about a setting is said once, in src/settings/catalog: the CLI
 * builds its flags and --help from it, the start-up check walks it, and the README's settings table is generated from
 * it. Nothing here knows commander: only src/cli does.
 */
import type { RcloneCryptRemote } from '../formats/rclone-config.js';
import type { Location } from '../location.js';
import type { BackupMode, modeNeeds } from '../sources/scaleway/modes.js';

export const COMMANDS = ['backup', 'restore', 'list', 'prune', 'verify', 'show', 'export', 'check'] as const;
export type CommandName = (typeof COMMANDS)[number];

/**
 * The command whose settings `command` takes besides its own: `check` proves what a backup needs, so it takes every
 * setting of backup, as backup takes it, and the start-up check judges them as for backup.
 */
export function settingsOf(command: CommandName): CommandName {
  return command === 'check' ? 'backup' : command;
}

export type Env = Readonly<Record<string, string | undefined>>;
export type ModeNeed = ReturnType<typeof modeNeeds>[number];

/** What the start-up check knows of the run before it looks at each setting: what some requirements depend on. */
export interface RunFacts {
  readonly command: CommandName;
  /** The backup location, when it is one this command accepts. */
  readonly location?: Location;
  /** backup: the mode of this run (--mode or BACKUP_MODE, else defaultMode). */
  readonly mode?: BackupMode;
  /** What that mode needs besides libpq's settings (modeNeeds). */
  readonly needs: readonly ModeNeed[];
  /** backup: --all-databases, so no database needs naming. */
  readonly allDatabases: boolean;
  /** False with --no-encrypt. */
  readonly encrypt: boolean;
  /** backup: recipients were given (--recipient, --recipients-file), so no key file is needed. */
  readonly recipients: boolean;
  /** restore, verify, list: identity files were given. */
  readonly identities: boolean;
  /** list, restore, verify with --legacy-rclone: the rclone config, and the crypt remote when one is named and resolves. */
  readonly legacy?: {
    readonly config: string;
    /** The config's path was given (--rclone-config, RCLONE_CONFIG), rather than rclone's default. */
    readonly configGiven: boolean;
    readonly remoteNamed: boolean;
    readonly remote?: RcloneCryptRemote;
  };
  /** Whether the run connects with libpq (pg_dump, pg_restore, psql, verify's connections), so PG* apply. */
  readonly libpq: boolean;
  readonly env: Env;
}

/** A problem reported under another name than the setting's own (the Scaleway config file's, for instance). */
export interface Labelled {
  readonly label: string;
  readonly problem: string;
}

export type Requirement =
  /** A flag commander refuses the command without: a usage error (exit 2), before the start-up check. */
  | 'flag'
  | {
      /** When it is required, as the README says it; exactly REQUIRED when always (--help then says so). */
      readonly doc: string;
      /** Undefined when this run does not need it; else what follows "not set — HOLDS" (another way to give it). */
      readonly when: (run: RunFacts) => string | Labelled | undefined;
    };

export const REQUIRED = 'required';

/** How a command takes a setting; a setting's own fields, overridden per command where commands differ. */
export interface Use {
  /** Commander's flag text: `--key-file <path>`, `-d, --database <name>`, `--no-encrypt`. */
  readonly flag?: string;
  /** The --help text, when it says more than `holds`. */
  readonly help?: string;
  /** The default as people read it, when the value alone does not say it (or the value depends on the machine). */
  readonly defaultDoc?: string;
}

export interface Setting<T = unknown> extends Use {
  /** The environment variable; the flag's value defaults to it. */
  readonly env?: string;
  /** Read when neither the flag nor `env` is set (AWS_ENDPOINT_URL behind AWS_ENDPOINT_URL_S3). */
  readonly fallbackEnv?: string;
  /** What it holds: the README's text, the --help text unless `help` says more, and what "not set" problems say. */
  readonly holds: string;
  readonly commands: readonly CommandName[];
  readonly variants?: { readonly [C in CommandName]?: Use };
  /** A flag of the program, accepted before or after any command; its variable is read only by `envCommands`. */
  readonly program?: { readonly envCommands: readonly CommandName[] };
  /** Masked in logs wherever its value appears. */
  readonly secret?: boolean;
  readonly default?: T;
  readonly choices?: readonly T[];
  /** A flag given once per value, collected into a list. */
  readonly repeatable?: boolean;
  readonly required?: Requirement;
  /** A flag's text to its value, run by commander: a thrown InvalidValue is a usage error (exit 2). */
  parse?(text: string): T;
  /** Whether the start-up check looks at it in this run at all. */
  applies?(run: RunFacts): boolean;
  /** The start-up check of a value given: the whole problem after the label, or undefined. */
  check?(value: T, run: RunFacts, holds: string): string | Labelled | undefined;
}

/** A value a flag cannot take; its message follows the flag's name (`--level must be a whole number from 1 to 19`). */
export class InvalidValue extends Error {}

/** The commands that take `setting`: its own, and check wherever backup is one. */
export function commandsOf(setting: Setting): CommandName[] {
  return COMMANDS.filter((command) => setting.commands.includes(command) || setting.commands.includes(settingsOf(command)));
}

/** How `command` takes `setting`, or undefined when it does not. */
export function useOf(setting: Setting, command: CommandName): Use | undefined {
  if (!commandsOf(setting).includes(command)) return undefined;
  return { flag: setting.flag, help: setting.help, defaultDoc: setting.defaultDoc, ...(setting.variants?.[command] ?? setting.variants?.[settingsOf(command)]) };
}

/** `--level <n>` takes a value; `--no-prune` and `--allow-unlocked` are switches. */
export function takesValue(flag: string): boolean {
  return /[<[]/.test(flag);
}

/** `--key-file` of `--key-file <path>`, `--database` of `-d, --database <name>`. */
export function longFlag(flag: string): string {
  return /--[a-z0-9-]+/.exec(flag)![0];
}

/** Commander's key for a flag: `keyFile` for --key-file, `encrypt` for --no-encrypt. */
export function optionKey(flag: string): string {
  return longFlag(flag).slice(2).replace(/^no-/, '').replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function defaultText(setting: Setting, use: Use = setting): string | undefined {
  if (use.defaultDoc !== undefined) return use.defaultDoc;
  return typeof setting.default === 'string' || typeof setting.default === 'number' ? String(setting.default) : undefined;
}

/** `a, b or c`. */
export function list(items: readonly unknown[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}
