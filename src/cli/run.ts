import type { Command } from 'commander';
import { killAllChildren } from '../pg/child.js';
import { CopycatError, describeError } from '../errors.js';
import { parseLocation } from '../location.js';
import type { LogFields, Logger, LogFormat, LogLevel } from '../log.js';
import { DESTINATION } from '../settings/catalog/backup.js';
import { LOG_FORMAT, LOG_LEVEL, METRICS_FILE, PING_URL, PUSHGATEWAY_URL, WEBHOOK_URL } from '../settings/catalog/run.js';
import { assertConfig, given, type CheckInput } from '../settings/check.js';
import { normalizeLocation } from '../settings/location.js';
import type { Setting } from '../settings/setting.js';
import { isHttpUrl, metricsFileProblem } from '../settings/values.js';
import type { MeterReading } from '../transforms/meter.js';
import { acquireLock, type DestinationLock } from './lock.js';
import { createLogger, isLogFormat, isLogLevel, Redactor, stderrLines, stdoutLines, type LineSink } from './logger.js';
import { writeMetricsFile, type RunRecord } from './metrics.js';
import { checkInput } from './options.js';
import { PROGRESS_REDRAW_MS, ProgressBar } from './progress.js';
import type { RunSummary } from '../operations/summary.js';

export interface ActionContext {
  /** Aborted on SIGINT/SIGTERM, so every stage stops, children are killed and partial output is removed. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** The command's name (backup, restore, …). */
  readonly command: string;
  /** RunOptions.onProgress: drives the terminal progress bar, periodic progress log lines and the metrics. */
  readonly onProgress: (reading: MeterReading) => void;
  readonly progressIntervalMs: number;
  /**
   * Call first, with the command's options: reports every missing or invalid setting at once (CONFIG_INVALID), then,
   * for backup and prune, takes the destination's lock so a second run against it is refused.
   */
  begin(options: object): Promise<void>;
  /** Logs the run's closing event; its summary is what the metrics file and the success ping report. */
  done(event: string, summary: RunSummary, fields?: LogFields): void;
}

/** How long stopping may take after SIGINT/SIGTERM (aborting an upload, killing children) before the process exits anyway. */
const STOP_GRACE_MS = 8_000;
const EXIT_GRACE_MS = 3_000;

/**
 * The way out when stopping cleanly took too long: children are killed (a restore program left without its last bytes
 * rolls back), and the exit code says a signal ended the run.
 */
function exitNow(signal: NodeJS.Signals, why: string): never {
  killAllChildren();
  process.stderr.write(`copycat-db: error: interrupted by ${signal} (${why}): killed every child process and exited; nothing partial was committed\n`);
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

/** Without a terminal, one `progress` line this often keeps a long run visible in the journal. */
const PROGRESS_LOG_MS = 60_000;
const LOCKED_COMMANDS = new Set(['backup', 'prune']);

/**
 * Wraps a command's action: builds the logger from --log-format/--log-level (or COPYCAT_LOG_FORMAT/LEVEL), shows a
 * progress bar on a terminal, sends the start/success/fail pings and writes the metrics file; signals become an abort
 * with a clear reason, and any failure becomes one line on stderr and exit code 1 (commander exits 2 on usage errors).
 */
export function action<A extends unknown[]>(fn: (ctx: ActionContext, ...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const started = performance.now();
    const startedAt = new Date();
    const controller = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      if (controller.signal.aborted) return exitNow(signal, 'a second signal');
      controller.abort(new CopycatError('INTERRUPTED', `interrupted by ${signal}: stopped every stage before the run completed: no backup was completed and no restore committed`));
      // Stopping is bounded: an S3 request or a child that does not react must not keep a stopped unit alive.
      setTimeout(() => exitNow(signal, `still running ${STOP_GRACE_MS / 1000} s later`), STOP_GRACE_MS).unref();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    const input = checkInput(args[args.length - 1] as Command);
    const { command: name, options, env } = input;
    const pingSetting = settingText(PING_URL, input);
    // An invalid URL is reported by the start-up check; there is nothing to ping then.
    const pingUrl = pingSetting && isHttpUrl(pingSetting) ? pingSetting : undefined;
    const metricsSetting = settingText(METRICS_FILE, input);
    const metricsFile = metricsSetting && !metricsFileProblem(metricsSetting) ? metricsSetting : undefined;
    // Invalid URLs are reported by the start-up check; the variable may hold several, space-separated.
    const webhookSetting = given(WEBHOOK_URL, input).value as string | string[] | undefined;
    const webhooks = (typeof webhookSetting === 'string' ? webhookSetting.split(/\s+/).filter(Boolean) : webhookSetting ?? []).filter(isHttpUrl);
    const pushSetting = settingText(PUSHGATEWAY_URL, input);
    const pushgateway = pushSetting && isHttpUrl(pushSetting) ? pushSetting : undefined;
    const redactor = Redactor.fromEnv(env, [...(pingSetting ? [pingSetting] : []), ...webhooks]);
    const output = chooseOutput(input);
    const log: Logger = createLogger({ format: output.format, level: output.level, sink: output.sink, redactor });

    // What the metrics need: progress readings, and the summary the command reports through done().
    let lastReading: MeterReading | undefined;
    let summary: LogFields | undefined;
    let totals: RunSummary | undefined;
    let lastProgressLog = performance.now();
    const onProgress = (reading: MeterReading) => {
      lastReading = reading;
      if (output.bar) return output.bar.update(reading);
      if (performance.now() - lastProgressLog < PROGRESS_LOG_MS) return;
      lastProgressLog = performance.now();
      log.log('info', 'progress', { bytes: reading.bytes, bytes_per_s: Math.round(reading.rate), seconds: Math.round(reading.elapsedMs / 1000) });
    };

    let lock: DestinationLock | undefined;
    const destination = settingText(DESTINATION, input);
    const ctx: ActionContext = {
      signal: controller.signal,
      log,
      command: name,
      onProgress,
      progressIntervalMs: output.bar ? PROGRESS_REDRAW_MS : 1000,
      done(event, runSummary, fields = {}) {
        totals = runSummary;
        summary = { ...fields, ...runSummary };
        log.log('info', event, summary);
      },
      async begin(commandOptions: object) {
        assertConfig({ ...input, options: { ...options, ...(commandOptions as Record<string, unknown>) } });
        if (LOCKED_COMMANDS.has(name) && destination && destination !== '-') {
          lock = await acquireLock({
            command: name,
            destination: normalizeLocation(parseLocation(destination)),
            env,
            onStale: (holder) => log.log('warn', 'lock.stale', { lock_pid: holder?.pid ?? null, since: holder?.since ?? null, action: 'taken over: its process is gone' }),
          });
        }
      },
    };

    const sendPing = pingUrl ? (await import('./ping.js')).ping.bind(undefined, pingUrl) : undefined;
    await sendPing?.('start', log);
    let failure: unknown;
    try {
      await fn(ctx, ...args);
    } catch (err) {
      failure = err;
    } finally {
      output.bar?.stop();
      await lock?.release();
    }
    const message = failure === undefined ? undefined : redactor.string(describeError(failure));
    if (message !== undefined && output.format === 'json') {
      log.log('error', 'run.failed', { error: message, ...(failure instanceof CopycatError ? { code: failure.code } : {}) });
    }
    const record: RunRecord = {
      command: name,
      destination: labelOf(destination ?? '-'),
      finishedAt: new Date(),
      durationMs: performance.now() - started,
      success: failure === undefined,
      // A backup of several databases reads one dump after another: its dump bytes add them all up.
      bytesRead: name === 'backup' && totals ? totals.dump_bytes : lastReading?.bytes,
      bytesStored: totals?.stored_bytes,
      compressionRatio: totals && totals.stored_bytes > 0 ? totals.dump_bytes / totals.stored_bytes : undefined,
    };
    if (metricsFile && destination !== undefined) {
      try {
        await writeMetricsFile(metricsFile, record);
      } catch (err) {
        log.log('warn', 'metrics.failed', { file: metricsFile, error: describeError(err) });
      }
    }
    if (webhooks.length || pushgateway) {
      const { postWebhooks, pushMetrics, runNotice } = await import('./notify.js');
      const fields = redactor.strings(summary ?? {});
      await Promise.all([
        webhooks.length ? postWebhooks(webhooks, runNotice(record, startedAt, fields, message), log) : undefined,
        pushgateway ? pushMetrics(pushgateway, record, log) : undefined,
      ]);
    }
    await sendPing?.(failure === undefined ? 'success' : 'fail', log, message ?? redactor.string(summary ? summaryText(name, summary) : `${name} done`));
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (message !== undefined) {
      process.stderr.write(`copycat-db: error: ${message}\n`);
      process.exitCode = 1;
    }
    // The run is over: a socket or child that still holds the event loop (a server that never answers) must not keep
    // the process, and with it a systemd unit, alive.
    setTimeout(() => {
      killAllChildren();
      process.exit();
    }, EXIT_GRACE_MS).unref();
  };
}

interface Output {
  readonly format: LogFormat;
  readonly level: LogLevel;
  readonly sink: LineSink;
  readonly bar?: ProgressBar;
}

/**
 * Text on stderr for people; JSON (one object per line) under systemd, for journald → promtail/Loki. JSON goes to
 * stdout, except when stdout carries data (`backup --to -`, `list`): then to stderr. An invalid format or level falls
 * back to the default here; the start-up check reports it.
 */
function chooseOutput(input: Required<CheckInput>): Output {
  const { command: name, options, env } = input;
  const formatSetting = settingText(LOG_FORMAT, input);
  const levelSetting = settingText(LOG_LEVEL, input);
  const underSystemd = !process.stderr.isTTY && Boolean(env.INVOCATION_ID || env.JOURNAL_STREAM);
  const format: LogFormat = formatSetting && isLogFormat(formatSetting) ? formatSetting : underSystemd ? 'json' : 'text';
  const level: LogLevel = levelSetting && isLogLevel(levelSetting) ? levelSetting : LOG_LEVEL.default!;
  if (format === 'json') return { format, level, sink: dataOnStdout(name, options) ? stderrLines : stdoutLines };
  const bar = process.stderr.isTTY && level !== 'warn' && level !== 'error' ? new ProgressBar(name) : undefined;
  return { format, level, sink: bar ?? stderrLines, bar };
}

function settingText(setting: Setting, input: CheckInput): string | undefined {
  return given(setting, input).value as string | undefined;
}

/** Only backup (to a file or S3), restore and prune leave stdout free; list and `--to -` print data there. */
export function dataOnStdout(name: string, options: Record<string, unknown>): boolean {
  return !['backup', 'restore', 'prune'].includes(name) || options.to === '-';
}

function labelOf(destination: string): string {
  try {
    return normalizeLocation(parseLocation(destination));
  } catch {
    return destination;
  }
}

function summaryText(name: string, summary: LogFields): string {
  return `${name} done: ${Object.entries(summary).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')}`;
}
