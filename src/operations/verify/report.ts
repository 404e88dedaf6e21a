import type { Manifest } from '../../formats/manifest.js';

export type CheckStatus = 'ok' | 'failed' | 'skipped';

export interface VerifyCheck {
  /** integrity (digests, decryption), restore, contents (table lists), table, scrub, check (--check), cleanup. */
  readonly kind: 'integrity' | 'restore' | 'contents' | 'table' | 'scrub' | 'check' | 'cleanup';
  /** `stored sha256`, `billing.invoices`, the SQL of a check, … */
  readonly name: string;
  readonly status: CheckStatus;
  /** What was found, or why it failed or was skipped: `expected 6000 rows, found 5999`. */
  readonly detail: string;
  readonly durationMs?: number;
  /** Rows expected (from the manifest) and found, for table checks. */
  readonly expectedRows?: number;
  readonly rows?: number;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly backup: {
    readonly id: string;
    readonly location: string;
    readonly key: string;
    readonly versionId: string;
    readonly startedAt: string;
    readonly source: Manifest['source'];
    readonly dumpFormat: Manifest['dumpFormat'];
    readonly encrypted: boolean;
    /** Where the expected tables came from: the manifest (with rows), the archive's table of contents, or nowhere. */
    readonly tableList: 'manifest' | 'archive' | 'none';
  };
  readonly scratch: {
    readonly database: string;
    readonly server: string;
    readonly outcome: 'dropped' | 'kept' | 'drop-failed';
  };
  readonly checks: readonly VerifyCheck[];
  /** One line per failed check: `table billing.invoices: expected 6000 rows, found 5999`. */
  readonly failures: readonly string[];
  readonly sizes: { readonly stored: number; readonly plaintext: number; readonly restoredDatabase?: number };
  readonly tables: { readonly restored: number; readonly rows: number };
  readonly timings: {
    readonly totalMs: number;
    readonly tocMs?: number;
    readonly restoreMs: number;
    readonly tablesMs: number;
    readonly scrubMs: number;
    readonly checksMs: number;
    readonly dropMs: number;
  };
}

/** Milliseconds since a `performance.now()` reading, rounded: every duration in the report. */
export const ms = (since: number): number => Math.round(performance.now() - since);

/** The verdict's reasons: one line per failed check, `table billing.invoices: expected 6000 rows, found 5999`. */
export function failureLines(checks: readonly VerifyCheck[]): string[] {
  return checks.filter((c) => c.status === 'failed').map((c) => `${checkLabel(c)}: ${c.detail}`);
}

/** How a check is named in one-line failures: `table billing.invoices`, `check "SELECT …"`. */
export function checkLabel(c: VerifyCheck): string {
  if (c.kind === 'check' || c.kind === 'scrub') return c.name === 'checks' || c.name === 'scrub' ? c.name : `${c.kind} ${JSON.stringify(shorten(c.name))}`;
  if (c.kind === 'table') return `table ${c.name}`;
  return c.name;
}

function shorten(sql: string, max = 80): string {
  const one = sql.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** The text report: one line per check, then the verdict. */
export function formatVerifyReport(report: VerifyReport): string {
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const s = (n: number) => `${(n / 1000).toFixed(1)} s`;
  const b = report.backup;
  const lines = [
    `backup ${b.id} from ${b.location} (${b.source.kind}${b.source.database ? ` of ${b.source.database}` : ''}, ${b.dumpFormat}, ` +
      `${mb(report.sizes.stored)} stored, ${mb(report.sizes.plaintext)} dump${b.encrypted ? ', encrypted' : ''})`,
    `scratch database ${report.scratch.database} on ${report.scratch.server}: ${report.scratch.outcome}` +
      (report.sizes.restoredDatabase !== undefined ? ` (${mb(report.sizes.restoredDatabase)} restored, ${report.tables.restored} tables, ${report.tables.rows} rows)` : ''),
  ];
  const width = Math.max(...report.checks.map((c) => c.kind.length));
  for (const c of report.checks) {
    const status = c.status === 'ok' ? 'ok' : c.status === 'failed' ? 'FAILED' : 'skipped';
    const name = c.kind === 'check' || c.kind === 'scrub' ? (c.name === 'checks' || c.name === 'scrub' ? c.name : shorten(c.name, 60)) : c.name;
    lines.push(`${status.padEnd(7)} ${c.kind.padEnd(width)}  ${name}: ${c.detail}`);
  }
  const t = report.timings;
  const failed = report.failures.length;
  lines.push(`${report.ok ? 'verified' : `FAILED: ${failed} of ${report.checks.length} checks failed`} in ${s(t.totalMs)} ` +
    `(${t.tocMs !== undefined ? `contents ${s(t.tocMs)}, ` : ''}restore ${s(t.restoreMs)}, tables ${s(t.tablesMs)}, scrub ${s(t.scrubMs)}, checks ${s(t.checksMs)}, drop ${s(t.dropMs)})`);
  return lines.join('\n') + '\n';
}
