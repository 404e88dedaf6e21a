import type pg from 'pg';
import { describeError } from '../../errors.js';
import { ms, type VerifyCheck } from './report.js';

/** Scrub statements in order, each committed on its own; the first failure skips the rest. */
export async function scrub(db: pg.Client, statements: readonly string[], checks: VerifyCheck[], signal?: AbortSignal): Promise<void> {
  let failed = false;
  for (const sql of statements) {
    if (failed || signal?.aborted) {
      checks.push({ kind: 'scrub', name: sql, status: 'skipped', detail: failed ? 'an earlier scrub failed' : 'aborted' });
      continue;
    }
    const started = performance.now();
    try {
      const result = lastResult(await db.query(sql));
      checks.push({ kind: 'scrub', name: sql, status: 'ok', durationMs: ms(started),
        detail: result?.rowCount != null ? `${result.command ?? 'done'}: ${result.rowCount} rows` : 'done' });
    } catch (err) {
      failed = true;
      checks.push({ kind: 'scrub', name: sql, status: 'failed', durationMs: ms(started), detail: `failed: ${describeError(err)}` });
    }
  }
}

/** Each check in a read-only transaction, rolled back: it must return a row whose first column is true. */
export async function userChecks(db: pg.Client, statements: readonly string[], checks: VerifyCheck[], signal?: AbortSignal): Promise<void> {
  for (const sql of statements) {
    if (signal?.aborted) {
      checks.push({ kind: 'check', name: sql, status: 'skipped', detail: 'aborted' });
      continue;
    }
    const started = performance.now();
    let detail: string;
    let ok = false;
    try {
      await db.query('BEGIN READ ONLY');
      try {
        const result = lastResult(await db.query(sql));
        const row = result?.rows[0] as Record<string, unknown> | undefined;
        const value = row ? Object.values(row)[0] : undefined;
        ok = value === true;
        detail = !result || !result.fields?.length ? 'returned no result'
          : !row ? 'returned no rows'
            : value === true ? 'returned true'
              : value === false ? 'returned false'
                : `returned ${JSON.stringify(value) ?? String(value)}, not true`;
      } finally {
        await db.query('ROLLBACK').catch(() => {});
      }
    } catch (err) {
      detail = `failed: ${describeError(err)}`;
    }
    checks.push({ kind: 'check', name: sql, status: ok ? 'ok' : 'failed', detail, durationMs: ms(started) });
  }
}

/** A multi-statement query answers with one result per statement: the last one is what the SQL "returns". */
function lastResult(result: pg.QueryResult | pg.QueryResult[]): pg.QueryResult | undefined {
  return Array.isArray(result) ? result[result.length - 1] : result;
}
