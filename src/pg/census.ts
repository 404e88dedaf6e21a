import type pg from 'pg';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { countSql } from './catalog.js';
import { pgClient } from './client.js';
import { parseDumpSelection, selectedTablesSql, type DumpSelection } from './dump-selection.js';

/** One table as a manifest records it: `schema.table` (each part quoted only where SQL needs it) and its rows. */
export interface TableCount {
  readonly name: string;
  readonly rows: number;
}

export interface CensusOptions {
  /** libpq settings that reach pg_dump's server; `database` is the one it dumps. */
  readonly env: Record<string, string | undefined>;
  readonly database?: string;
  /** pg_dump's own arguments: the tables they select are the tables counted. */
  readonly args: readonly string[];
  /** The run's signal: a failed or cancelled run takes the census transaction with it. */
  readonly signal: AbortSignal;
  readonly log: Logger;
}

export interface TableCensus {
  /** The snapshot pg_dump must dump (`--snapshot`), so the counts describe exactly what it dumps. */
  readonly snapshot: string;
  /**
   * Once the dump ended successfully: waits for the counts, ends the census transaction and returns every table
   * with its exact rows, sorted by name. Undefined when they could not be taken (logged as a warning, the backup
   * goes on without them). Never rejects; asked again, gives the same answer.
   */
  tables(): Promise<TableCount[] | undefined>;
}

/**
 * Starts a row count of every table pg_dump will dump, in the snapshot it will dump: one connection opens a
 * `REPEATABLE READ READ ONLY` transaction, exports its snapshot for pg_dump, and counts each table in that
 * transaction while the dump runs. Counting reads every table once more: on a large database, the backup reads
 * twice as much from the server (in parallel with the dump, so it takes little longer). Undefined, with a warning,
 * when pg_dump's arguments make the count unreliable or no snapshot can be exported: the dump then runs without one.
 */
export async function startCensus(opts: CensusOptions): Promise<TableCensus | undefined> {
  const skip = (reason: string): undefined => {
    opts.log.log('warn', 'backup.census.skipped', {
      reason, effect: 'no table list in the manifest: verify will check the tables in the archive instead' });
    return undefined;
  };
  const selection = parseDumpSelection(opts.args);
  if ('unsupported' in selection) return skip(selection.unsupported);

  const client = pgClient(opts.env, opts.database);
  client.on('error', () => {}); // a lost connection surfaces as the failure of the next query
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= client.end().catch(() => {}));
  let snapshot: string;
  try {
    await client.connect();
    // pg_dump's own session settings: nothing may time the census out, and row security must not hide rows.
    await client.query('SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0; SET row_security = off');
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows } = await client.query<{ snapshot: string }>('SELECT pg_catalog.pg_export_snapshot() AS snapshot');
    snapshot = rows[0]!.snapshot;
  } catch (err) {
    await close();
    return skip(`cannot export a snapshot for pg_dump: ${describeError(err)}`);
  }
  const counting = count(client, selection, opts.signal);
  counting.catch(() => {});
  opts.signal.addEventListener('abort', () => void close(), { once: true });

  const finish = async (): Promise<TableCount[] | undefined> => {
    const started = performance.now();
    try {
      const tables = await counting;
      await client.query('COMMIT');
      opts.log.log('info', 'backup.census', { tables: tables.length, rows: tables.reduce((sum, t) => sum + t.rows, 0),
        wait_after_dump_seconds: Number(((performance.now() - started) / 1000).toFixed(2)) });
      return tables;
    } catch (err) {
      // After a failed run the census was closed on purpose: that is no news.
      return opts.signal.aborted ? undefined : skip(`counting rows failed: ${describeError(err)}`);
    } finally {
      await close();
    }
  };
  let result: Promise<TableCount[] | undefined> | undefined;
  return { snapshot, tables: () => (result ??= finish()) };
}

/**
 * Counts each selected table in the census transaction. Each count runs under a savepoint, so a failure (no
 * SELECT privilege, a table dropped meanwhile) never aborts the transaction whose snapshot pg_dump may still be
 * importing; the first failure ends the census.
 */
async function count(client: pg.Client, selection: DumpSelection, signal: AbortSignal): Promise<TableCount[]> {
  const { sql, values } = selectedTablesSql(selection);
  const { rows } = await client.query<{ name: string; with_data: boolean }>(sql, values);
  const tables: TableCount[] = [];
  for (const { name, with_data } of rows) {
    if (signal.aborted) throw new Error('the dump was stopped');
    if (!with_data) {
      tables.push({ name, rows: 0 });
      continue;
    }
    try {
      const results = (await client.query(`SAVEPOINT census; ${countSql(name)}; RELEASE SAVEPOINT census`)) as unknown as pg.QueryResult[];
      const n = (results[1]!.rows[0] as { n: string }).n;
      tables.push({ name, rows: Number(n) });
    } catch (err) {
      await client.query('ROLLBACK TO SAVEPOINT census').catch(() => {});
      throw new Error(`table ${name}: ${describeError(err)}`);
    }
  }
  return tables;
}
