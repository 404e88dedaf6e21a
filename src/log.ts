/** Structured logging: an event name plus fields, so JSON and human renderers see the same facts. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
}

export const silentLogger: Logger = { log() {} };
