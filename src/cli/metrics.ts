import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * The Prometheus textfile (node_exporter's textfile collector) written after every run, success or failure.
 * One series per (command, destination), so several units can share a file; a failed run keeps the previous
 * last-success time. Written to a temporary file in the same directory and renamed over the old one, so the
 * collector never reads a half-written file.
 */
export const METRICS = {
  copycat_db_last_run_timestamp_seconds: 'Unix time the last run of this command against this destination finished.',
  copycat_db_last_success_timestamp_seconds: 'Unix time the last successful run finished (kept from the previous file when a run fails; 0 = never).',
  copycat_db_duration_seconds: 'Wall-clock duration of the last run, in seconds.',
  copycat_db_bytes_read: 'Bytes the last run read from its source (the dump for backup, the stored object for restore), as far as it got.',
  copycat_db_bytes_stored: 'Size of the stored backup object the last run wrote or read, in bytes (0 when the run failed).',
  copycat_db_compression_ratio: 'Dump bytes per stored byte in the last run (NaN when the run failed or moved no backup).',
  copycat_db_last_run_success: '1 if the last run succeeded, 0 if it failed.',
} as const;
export type MetricName = keyof typeof METRICS;

export interface RunRecord {
  readonly command: string;
  /** The backup location (`--to` of backup, `--from` of the others), never credentials. */
  readonly destination: string;
  readonly finishedAt: Date;
  readonly durationMs: number;
  readonly success: boolean;
  readonly bytesRead?: number;
  readonly bytesStored?: number;
  readonly compressionRatio?: number;
}

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export async function writeMetricsFile(path: string, run: RunRecord): Promise<void> {
  let previous: Sample[] = [];
  try {
    previous = parseSamples(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await writeAtomically(path, renderMetrics(run, previous));
}

/** The whole file: our series for this run, plus the series of other commands/destinations from the previous file. */
export function renderMetrics(run: RunRecord, previous: readonly Sample[] = []): string {
  const labels = { command: run.command, destination: run.destination };
  const mine = (s: Sample) => s.labels.command === labels.command && s.labels.destination === labels.destination && Object.keys(s.labels).length === 2;
  const lastSuccess = run.success ? undefined : previous.find((s) => s.name === 'copycat_db_last_success_timestamp_seconds' && mine(s))?.value ?? 0;
  const values = metricValues(run, lastSuccess);
  const lines: string[] = [];
  for (const name of Object.keys(METRICS) as MetricName[]) {
    const samples = [...previous.filter((s) => s.name === name && !mine(s)), { name, labels, value: values[name] }]
      .map((s) => `${name}${renderLabels(s.labels)} ${formatValue(s.value)}`)
      .sort();
    lines.push(`# HELP ${name} ${METRICS[name]}`, `# TYPE ${name} gauge`, ...samples);
  }
  return lines.join('\n') + '\n';
}

/** This run's value of every metric; `lastSuccess` is the previous one when this run failed. */
function metricValues(run: RunRecord, lastSuccess: number | undefined): Record<MetricName, number> {
  const finished = run.finishedAt.getTime() / 1000;
  return {
    copycat_db_last_run_timestamp_seconds: finished,
    copycat_db_last_success_timestamp_seconds: run.success ? finished : lastSuccess ?? 0,
    copycat_db_duration_seconds: run.durationMs / 1000,
    copycat_db_bytes_read: run.bytesRead ?? 0,
    copycat_db_bytes_stored: run.success ? run.bytesStored ?? 0 : 0,
    copycat_db_compression_ratio: run.success && run.compressionRatio !== undefined ? run.compressionRatio : NaN,
    copycat_db_last_run_success: run.success ? 1 : 0,
  };
}

/**
 * The body pushed to a Prometheus Pushgateway group of this command and destination (the labels are the group's).
 * A failed run leaves out the last-success time: pushed with POST, the gateway keeps the previous one.
 */
export function renderPushedMetrics(run: RunRecord): string {
  const values = metricValues(run, undefined);
  return (Object.keys(METRICS) as MetricName[])
    .filter((name) => run.success || name !== 'copycat_db_last_success_timestamp_seconds')
    .flatMap((name) => [`# HELP ${name} ${METRICS[name]}`, `# TYPE ${name} gauge`, `${name} ${formatValue(values[name])}`])
    .join('\n') + '\n';
}

function renderLabels(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  return pairs.length ? `{${pairs.join(',')}}` : '';
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(6)));
}

/** Reads back the samples of a file this module wrote (lenient: lines it does not understand are dropped). */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line.trim());
    if (!m || !(m[1]! in METRICS)) continue;
    const labels: Record<string, string> = {};
    const labelText = m[2] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;
    let pos = 0;
    let lm: RegExpExecArray | null;
    while (pos < labelText.length && (lm = re.exec(labelText))) {
      labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      pos = re.lastIndex;
    }
    if (pos !== labelText.length) continue;
    const value = m[3] === 'NaN' ? NaN : m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (m[3] !== 'NaN' && Number.isNaN(value)) continue;
    samples.push({ name: m[1]!, labels, value });
  }
  return samples;
}

/** Temporary file in the same directory (so rename is atomic), fsynced, readable by node_exporter, renamed over. */
export async function writeAtomically(path: string, content: string): Promise<void> {
  // node_exporter reads only *.prom files: the temporary name never ends in .prom.
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o644);
  try {
    try {
      await handle.writeFile(content);
      await handle.chmod(0o644);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
