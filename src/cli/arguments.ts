/**
 * What happens to the command line before commander reads it: the environment file is loaded (commander takes each
 * flag's default from its variable), and COPYCAT_BACKUP_OPTIONS becomes flags of backup and check.
 */
import { SETTINGS } from '../settings/catalog/index.js';
import { BACKUP_OPTIONS, ENV_FILE } from '../settings/catalog/run.js';
import { loadEnvFile } from '../settings/env-file.js';
import { commandsOf, longFlag, takesValue } from '../settings/setting.js';

/** The program's flags that take a value: the word after one of them is not the command. */
const PROGRAM_VALUE_FLAGS = new Set(SETTINGS.filter((s) => s.program && takesValue(s.flag!)).map((s) => longFlag(s.flag!)));

/**
 * Loads the environment file into `env` and returns the arguments (after the program's name) for commander to parse.
 * Throws a CopycatError for a file that cannot be read or is not one systemd would read the same way.
 */
export function prepareArguments(args: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const path = flagValue(args, longFlag(ENV_FILE.flag!)) ?? (env[ENV_FILE.env!] || undefined);
  if (path !== undefined) loadEnvFile(path, env);
  return withBackupOptions(args, env[BACKUP_OPTIONS.env!]);
}

/** The value of the last `--flag VALUE` or `--flag=VALUE` before `--`, as commander would take it. */
function flagValue(args: readonly string[], flag: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    if (args[i] === flag && i + 1 < args.length) value = args[++i];
    else if (args[i]!.startsWith(`${flag}=`)) value = args[i]!.slice(flag.length + 1);
  }
  return value;
}

/**
 * The words of COPYCAT_BACKUP_OPTIONS, split on whitespace as systemd splits an unbraced $VARIABLE, right after the
 * command word of the commands that read it: the command line's own flags come later, so they win.
 */
function withBackupOptions(args: readonly string[], options: string | undefined): string[] {
  const words = options?.split(/\s+/).filter(Boolean) ?? [];
  const at = commandIndex(args);
  if (words.length === 0 || at === undefined || !(commandsOf(BACKUP_OPTIONS) as string[]).includes(args[at]!)) return [...args];
  return [...args.slice(0, at + 1), ...words, ...args.slice(at + 1)];
}

/** Where the command word is: the first word that is neither a program flag nor a program flag's value. */
function commandIndex(args: readonly string[]): number | undefined {
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    if (!args[i]!.startsWith('-')) return i;
    if (PROGRAM_VALUE_FLAGS.has(args[i]!)) i++;
  }
  return undefined;
}
