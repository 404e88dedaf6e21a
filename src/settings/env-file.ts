/**
 * The environment file a run by hand reads (`--env-file PATH`, COPYCAT_ENV_FILE): the same file a systemd unit loads
 * with EnvironmentFile=, read the same way. Values never appear in messages: the file holds secrets.
 */
import { readFileSync, statSync } from 'node:fs';
import { CopycatError } from '../errors.js';

const ONLY_WHITESPACE = /^[ \t]*$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The characters a backslash escapes inside double quotes, as in POSIX shell; before any other it stays. */
const DOUBLE_QUOTE_ESCAPES = '"\\`$';

/**
 * The assignments of an environment file, in order (a later one of the same name wins, as in systemd). Read as
 * systemd.exec(5) describes EnvironmentFile=: `#` and `;` lines are comments, leading and trailing whitespace goes,
 * `KEY = value` is `KEY=value`, a backslash escapes the next character of an unquoted value, a value may be wholly
 * in single quotes (verbatim) or double quotes (\" \\ \` \$ escaped), and `#` after a value is part of it. What
 * systemd reads in ways a file of simple lines never needs — a line continued by a trailing backslash (in a comment
 * too), quotes spanning lines or joined to more text, a line without `=` or with an invalid name (which systemd skips
 * with a warning) — is refused, naming the line, so that a file read here is never read differently by the unit.
 */
export function parseEnvFile(text: string, path: string): Map<string, string> {
  const refuse = (line: number, why: string) => new CopycatError('ENV_FILE_INVALID', `${path} line ${line}: ${why} — write plain KEY=value lines (see deploy/copycat-db.env.sample)`);
  if (text.startsWith('\uFEFF')) throw refuse(1, 'the file starts with a byte-order mark, which systemd does not accept');
  const values = new Map<string, string>();
  text.split(/[\n\r]/).forEach((raw, index) => {
    const n = index + 1;
    const line = raw.replace(/^[ \t]+/, '');
    if (line === '') return;
    if (line.startsWith('#') || line.startsWith(';')) {
      if (/(^|[^\\])(\\\\)*\\$/.test(line)) throw refuse(n, 'a comment ending in a backslash continues onto the next line in systemd');
      return;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw refuse(n, 'no "=" (systemd ignores such a line)');
    const name = line.slice(0, eq).replace(/[ \t]+$/, '');
    if (!NAME.test(name)) {
      throw refuse(n, `"${name.slice(0, 40)}" is not a variable name (letters, digits and _, not starting with a digit${name.startsWith('export ') ? '; no "export"' : ''})`);
    }
    values.set(name, parseValue(line.slice(eq + 1).replace(/^[ \t]+/, ''), (why) => refuse(n, `${name}: ${why}`)));
  });
  return values;
}

function parseValue(text: string, refuse: (why: string) => CopycatError): string {
  const quote = text[0];
  if (quote === "'" || quote === '"') {
    let value = '';
    let i = 1;
    for (; i < text.length && text[i] !== quote; i++) {
      if (quote === '"' && text[i] === '\\') {
        i++;
        if (i === text.length) throw refuse('a backslash at the end of the line continues the value onto the next line in systemd');
        value += DOUBLE_QUOTE_ESCAPES.includes(text[i]!) ? text[i] : `\\${text[i]}`;
      } else {
        value += text[i];
      }
    }
    if (i === text.length) throw refuse(`the ${quote === '"' ? 'double' : 'single'} quote is not closed on this line`);
    if (!ONLY_WHITESPACE.test(text.slice(i + 1))) throw refuse('text after the closing quote (systemd would join it to the value)');
    return value;
  }
  let value = '';
  /** Where trailing unescaped whitespace began, as systemd trims it. */
  let trailing: number | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') {
      i++;
      if (i === text.length) throw refuse('a backslash at the end of the line continues the value onto the next line in systemd');
      value += text[i];
      trailing = undefined;
    } else {
      if (c !== ' ' && c !== '\t') trailing = undefined;
      else trailing ??= value.length;
      value += c;
    }
  }
  return trailing === undefined ? value : value.slice(0, trailing);
}

/**
 * Loads an environment file into `env`. A variable the environment already sets (not empty) keeps its value, as with
 * Node's --env-file and dotenv: one run can override a setting of the file. The file must not be readable by others
 * nor writable by group or others: it holds the database and bucket secrets, and whoever may edit it chooses where
 * backups go.
 */
export function loadEnvFile(path: string, env: NodeJS.ProcessEnv = process.env): void {
  let text: string;
  let mode: number;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CopycatError('ENV_FILE_UNREADABLE', `cannot read the environment file ${path} (--env-file, COPYCAT_ENV_FILE): ` +
      `${(err as NodeJS.ErrnoException).code ?? err} — check the path, and run as a user who may read it`, { cause: err });
  }
  if (mode & 0o026) {
    throw new CopycatError('ENV_FILE_UNSAFE', `the environment file ${path} is ${mode & 0o004 ? 'readable by every user' : 'writable by others than its owner'} ` +
      `(mode ${(mode & 0o777).toString(8)}): it holds secrets — chmod 600 ${path} (or 640 for a group that runs copycat-db)`);
  }
  for (const [name, value] of parseEnvFile(text, path)) {
    if (!env[name]) env[name] = value;
  }
}
