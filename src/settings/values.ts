/**
 * The parsers (flag text to value, run by commander) and start-up checks the declarations in catalog/ share.
 * A parser throws InvalidValue with what follows the flag's name; a check returns the whole problem or undefined.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parseIdentityFile, parseRecipient, parseRecipientsFile } from '../formats/recipients.js';
import { parseSize } from '../units.js';
import { InvalidValue, list, type Setting } from './setting.js';

export function wholeNumber(min: number, max: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidValue(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

/** `unit`: what the number counts, for the message (`takes a positive number of hours`). */
export function positiveNumber(unit: string): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidValue(`takes a positive number of ${unit}`);
    return n;
  };
}

export function size(text: string): number {
  const bytes = parseSize(text);
  if (bytes === undefined || bytes <= 0) throw new InvalidValue('takes a size like 64MiB, 20GiB or a number of bytes');
  return bytes;
}

/** How a flag's text becomes its value: the declared parser, or one of the declared choices. */
export function parserOf(setting: Setting): ((text: string) => unknown) | undefined {
  const choices = setting.choices;
  if (!choices) return setting.parse;
  return (text) => {
    if (!choices.includes(text)) throw new InvalidValue(`takes ${list(choices)}`);
    return text;
  };
}

/** A check that the value is one of `choices`; `what` names the kind (`a log level`). */
export function isOneOf(choices: readonly string[], what: string): (value: string, _run: unknown, holds: string) => string | undefined {
  return (value, _run, holds) => (choices.includes(value) ? undefined : `"${value}" is not ${what} — ${holds}`);
}

export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

export function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
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

/** Why a --recipient is not one (a typo fails its checksum), or undefined. */
export function recipientProblem(text: string): string | undefined {
  try {
    parseRecipient(text, '--recipient');
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Why a recipients file cannot be used: unreadable, or a line that is not a recipient (named with its line). */
export function recipientsFileProblem(path: string, holds: string): string | undefined {
  return parsedFileProblem(path, holds, (text) => parseRecipientsFile(text, path));
}

/** Why an identity file cannot be used; its contents are secret and never quoted (parseIdentityFile does not). */
export function identityFileProblem(path: string, holds: string): string | undefined {
  return parsedFileProblem(path, holds, (text) => parseIdentityFile(text, path));
}

function parsedFileProblem(path: string, holds: string, parse: (text: string) => unknown): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${path} does not exist — ${holds}` : `cannot read ${path} (${code ?? err}) — ${holds}, readable by this user`;
  }
  try {
    parse(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export function keyFileProblem(path: string, holds: string): string | undefined {
  let bytes: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) return `${path} is not a file — ${holds}`;
    bytes = st.size;
    accessSync(path, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${path} does not exist — ${holds}` : `cannot read ${path} (${code ?? err}) — ${holds}, readable by this user`;
  }
  return bytes === 32 ? undefined : `key file ${path} is ${bytes} bytes, not 32 — use the file written by copycat-db keygen`;
}
