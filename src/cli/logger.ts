import { LOG_FORMATS, LOG_LEVELS, type LogFields, type LogFormat, type Logger, type LogLevel } from '../log.js';
import { SECRET_VARIABLES } from '../settings/catalog/index.js';

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Where rendered lines go; the progress bar provides one that clears itself before each line. */
export interface LineSink {
  writeLine(line: string): void;
}

export const stderrLines: LineSink = { writeLine: (line) => void process.stderr.write(line + '\n') };
export const stdoutLines: LineSink = { writeLine: (line) => void process.stdout.write(line + '\n') };

export interface LoggerOptions {
  readonly format: LogFormat;
  readonly level: LogLevel;
  readonly sink: LineSink;
  /** Masks secrets in every field and message; defaults to one built from the current environment. */
  readonly redactor?: Redactor;
  readonly now?: () => Date;
}

/**
 * `json`: one object per line, `{"time","level","event",...fields}`, for journald → promtail/Loki.
 * `text`: `time level event key=value`, for people. Both pass every field through the redactor first.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const redactor = opts.redactor ?? Redactor.fromEnv();
  const now = opts.now ?? (() => new Date());
  return {
    log(level: LogLevel, event: string, fields: LogFields = {}) {
      if (ORDER[level] < ORDER[opts.level]) return;
      const safe = redactor.fields(fields);
      const time = now().toISOString();
      if (opts.format === 'json') {
        const record: Record<string, unknown> = { time, level, event: redactor.string(event) };
        for (const [k, v] of Object.entries(safe)) record[k in record ? `field_${k}` : k] = v;
        opts.sink.writeLine(JSON.stringify(record));
        return;
      }
      const pairs = Object.entries(safe).filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
      opts.sink.writeLine(`${time} ${level.padEnd(5)} ${redactor.string(event)}${pairs.length ? ' ' + pairs.join(' ') : ''}`);
    },
  };
}

/** Field names whose values are never shown, whatever they hold. `key` alone is an S3 object key and stays. */
const SECRET_NAME = /secret|passw(?:or)?d|pwd|token|credential|authori[sz]ation|cookie|(?:private|api|access|encryption|master|data|signing|session)[_-]?key$|^key[_-]?(?:bytes|material|hex|base64)$/i;
const MASK = '[redacted]';
/** Secrets shorter than this are not searched for inside strings: masking every "a" would destroy the log. */
const MIN_SECRET_LENGTH = 4;

/**
 * The redaction layer between every log call and its output: masks fields named like secrets, every occurrence of the
 * current secret values (AWS_SECRET_ACCESS_KEY, SCW_SECRET_KEY, PGPASSWORD, …), passwords inside URLs
 * (`postgres://u:PASSWORD@h`) and connection strings (`password=PASSWORD`), and raw bytes (a Buffer may be key
 * material; only its length is shown).
 */
export class Redactor {
  private readonly secrets: string[];

  constructor(secrets: readonly (string | undefined)[]) {
    const unique = new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= MIN_SECRET_LENGTH));
    // Longest first, so a secret that contains another one is masked whole.
    this.secrets = [...unique].sort((a, b) => b.length - a.length);
  }

  static fromEnv(env: Record<string, string | undefined> = process.env, extra: readonly string[] = []): Redactor {
    return new Redactor([...SECRET_VARIABLES.map((name) => env[name]), ...extra]);
  }

  string(text: string): string {
    let out = text;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join(MASK);
    return out.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+@/gi, `$1${MASK}@`)
      // libpq key=value strings and URI query parameters (password='a b', password=secret, ?password=secret&…): a bare
      // value is masked up to the next space, so a password holding "&" is never half shown.
      .replace(/\b((?:ssl)?password\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|(?:[^\s\\]|\\.)+)/gi, `$1${MASK}`);
  }

  fields(fields: LogFields): Record<string, unknown> {
    return this.value(fields, 0, true) as Record<string, unknown>;
  }

  /** Every string at any depth with the secrets in it masked, fields named like secrets kept: data that leaves the machine (a webhook's summary). */
  strings(fields: LogFields): Record<string, unknown> {
    return this.value(fields, 0, false) as Record<string, unknown>;
  }

  private value(value: unknown, depth: number, byName: boolean, name?: string): unknown {
    if (byName && name !== undefined && SECRET_NAME.test(name) && value !== undefined && value !== null && value !== '') return MASK;
    if (typeof value === 'string') return this.string(value);
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Uint8Array) return `<${value.length} bytes>`;
    if (value instanceof Error) return this.string(value.message);
    if (value instanceof Date) return value.toISOString();
    if (value === null || typeof value !== 'object') return value;
    if (depth >= 6) return '[nested]';
    if (Array.isArray(value)) return value.map((v) => this.value(v, depth + 1, byName));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.value(v, depth + 1, byName, k)]));
  }
}

export function isLogLevel(text: string): text is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(text);
}

export function isLogFormat(text: string): text is LogFormat {
  return (LOG_FORMATS as readonly string[]).includes(text);
}
