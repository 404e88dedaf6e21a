/** The README's table of variables, generated from the declarations (`npm run docs` rewrites it; a test compares). */
import { SETTINGS } from './catalog/index.js';
import { COMMANDS, commandsOf, defaultText, list, REQUIRED, useOf, type CommandName, type Setting } from './setting.js';

export const TABLE_BEGIN = '<!-- settings:begin -->';
export const TABLE_END = '<!-- settings:end -->';

export function settingsTable(): string {
  return ['| variable | flag | read by | holds | default |', '|---|---|---|---|---|', ...SETTINGS.filter((s) => s.env).map(row)].join('\n');
}

/** The README with the text between the markers replaced by the table. */
export function withSettingsTable(readme: string): string {
  const begin = readme.indexOf(TABLE_BEGIN);
  const end = readme.indexOf(TABLE_END);
  if (begin < 0 || end < begin) throw new Error(`the README has no ${TABLE_BEGIN} … ${TABLE_END} block`);
  return `${readme.slice(0, begin + TABLE_BEGIN.length)}\n${settingsTable()}\n${readme.slice(end)}`;
}

function row(setting: Setting): string {
  const variable = [code(setting.env!), setting.fallbackEnv && `(or ${code(setting.fallbackEnv)})`, setting.secret && '(secret)'];
  const holds = setting.choices ? `${setting.holds}: ${list(setting.choices)}` : setting.holds;
  const required = setting.required === 'flag' ? REQUIRED : setting.required?.doc;
  const cells = [variable.filter(Boolean).join(' '), flags(setting), readBy(setting), holds, [defaultText(setting), required].filter(Boolean).join('; ')];
  return `| ${cells.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`;
}

/** `--key-file`, or one flag per group of commands: `--to` (backup), `--from` (restore, list, prune, verify). */
function flags(setting: Setting): string {
  const commandsByFlag = new Map<string, CommandName[]>();
  for (const command of commandsOf(setting)) {
    const flag = useOf(setting, command)?.flag;
    if (flag) commandsByFlag.set(flag, [...(commandsByFlag.get(flag) ?? []), command]);
  }
  const name = (flag: string) => code(flag.replace(/ <.*>$/, ''));
  if (commandsByFlag.size < 2) return [...commandsByFlag.keys()].map(name).join('');
  return [...commandsByFlag].map(([flag, commands]) => `${name(flag)} (${commands.join(', ')})`).join(', ');
}

function readBy(setting: Setting): string {
  const all = (commands: readonly CommandName[]) => (commands.length === COMMANDS.length ? 'every command' : commands.join(', '));
  const commands = commandsOf(setting);
  const envCommands = setting.program?.envCommands ?? commands;
  return envCommands.length < commands.length ? `${all(envCommands)} (the flag: ${all(commands)})` : all(envCommands);
}

function code(text: string): string {
  return `\`${text}\``;
}
