/** Commander's options, built from the declarations in src/settings/catalog: no command declares a flag by hand. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { SETTINGS } from '../settings/catalog/index.js';
import type { CheckInput } from '../settings/check.js';
import { COMMANDS, defaultText, InvalidValue, list, longFlag, optionKey, REQUIRED, takesValue, useOf, type CommandName, type Setting, type Use } from '../settings/setting.js';
import { parserOf } from '../settings/values.js';

/**
 * The program's run-wide flags, and --help showing each description as built here. Call before adding commands:
 * they copy the help settings when created.
 */
export function addProgramSettings(program: Command): Command {
  program.configureHelp({ optionDescription: (option) => option.description });
  for (const setting of SETTINGS.filter((s) => s.program)) program.addOption(option(setting, setting));
  return program;
}

/** The command's flags, in the declarations' order. */
export function addSettings(command: Command, name: CommandName): Command {
  const switches: Setting[] = [];
  for (const setting of SETTINGS) {
    const use = useOf(setting, name);
    if (use?.flag === undefined || setting.program) continue;
    command.addOption(option(setting, use));
    if (!takesValue(use.flag) && setting.env !== undefined) switches.push(setting);
  }
  return command.hook('preAction', (_, action) => {
    // An empty value is unset, as for every setting (an `X=` line in an environment file, or `--flag ''`).
    for (const [key, value] of Object.entries(action.opts())) {
      // A repeatable flag's variable arrives as [''].
      const empty = value === '' || (Array.isArray(value) && value.every((v) => v === ''));
      if (empty) action.setOptionValueWithSource(key, undefined, action.getOptionValueSource(key)!);
    }
    for (const setting of switches) applySwitchVariable(action, setting, useOf(setting, name)!.flag!);
  });
}

/**
 * A switch's variable (COPYCAT_PRUNE=false for --no-prune), read here rather than by commander, which would turn the
 * switch on for any value at all, `false` included. The command line wins.
 */
function applySwitchVariable(action: Command, setting: Setting, flag: string): void {
  const key = optionKey(flag);
  const text = process.env[setting.env!];
  if (!text || action.getOptionValueSource(key) === 'cli') return;
  if (text !== 'true' && text !== 'false') {
    action.error(`error: option '${flag}' value '${text}' from env '${setting.env}' is invalid. ${setting.env} takes true or false`,
      { code: 'commander.invalidArgument', exitCode: 2 });
  }
  action.setOptionValueWithSource(key, text === 'true', 'env');
}


/** What the settings see of a parsed command: its options and the program's, and where each came from. */
export function checkInput(command: Command): Required<CheckInput> {
  return {
    command: command.name() as CommandName,
    options: command.optsWithGlobals(),
    fromCommandLine: (key) => command.getOptionValueSourceWithGlobals(key) === 'cli',
    env: process.env,
  };
}

function option(setting: Setting, use: Use): Option {
  const option = new Option(use.flag!, description(setting, use));
  // A program-level flag's variable is read by the commands that read it (src/settings/check.ts, given).
  if (setting.env !== undefined && !setting.program && takesValue(use.flag!)) option.env(setting.env);
  const parse = parser(setting, longFlag(use.flag!));
  // An empty value is unset here too (`COPYCAT_IDENTITY_FILE=` in an environment file): no element.
  if (setting.repeatable) option.argParser((text: string, previous: unknown[] | undefined) => (text === '' ? previous : [...(previous ?? []), parse ? parse(text) : text]));
  else if (parse) option.argParser((text: string) => (text === '' ? undefined : parse(text)));
  if (setting.default !== undefined) option.default(setting.default);
  if (setting.required === 'flag') option.makeOptionMandatory();
  return option;
}

/** The declared parser, its problems as commander's usage errors. */
function parser(setting: Setting, flag: string): ((text: string) => unknown) | undefined {
  const parse = parserOf(setting);
  return parse && ((text) => {
    try {
      return parse(text);
    } catch (err) {
      throw err instanceof InvalidValue ? new InvalidArgumentError(`${flag} ${err.message}`) : err;
    }
  });
}

/** `HELP (CHOICES; required; default: D; env: VARIABLE)`; a switch shows the value of its variable that turns it on. */
function description(setting: Setting, use: Use): string {
  const required = setting.required === 'flag' || (setting.required !== undefined && setting.required.doc === REQUIRED);
  const envCommands = setting.program?.envCommands ?? COMMANDS;
  const switched = !takesValue(use.flag!) && `=${use.flag!.startsWith('--no-') ? 'false' : 'true'}`;
  const variable = setting.env && [
    `env: ${setting.env}`,
    switched,
    setting.fallbackEnv && ` or ${setting.fallbackEnv}`,
    envCommands.length < COMMANDS.length && `, read by ${list(envCommands)}`,
  ].filter(Boolean).join('');
  const byDefault = !switched && defaultText(setting, use);
  const notes = [setting.choices && list(setting.choices), required && REQUIRED, byDefault && `default: ${byDefault}`, variable].filter(Boolean);
  const text = use.help ?? setting.holds;
  return notes.length ? `${text} (${notes.join('; ')})` : text;
}
