import type pg from 'pg';
import { countSql, USER_TABLES_SQL } from '../../pg/catalog.js';
import type { TableOfContents } from '../../sinks/table-of-contents.js';
import type { TableFact } from '../../stage.js';
import type { VerifyCheck } from './report.js';

interface RestoredTable {
  readonly name: string;
  readonly nspname: string;
  readonly relname: string;
}

/**
 * Every table the manifest lists (`tables`) must exist with exactly its rows; without a manifest list, every TABLE DATA entry
 * of the archive's table of contents must exist; without either, at least one table must (unless allowEmpty).
 */
export async function checkTables(db: pg.Client, tables: readonly TableFact[] | undefined, toc: TableOfContents | undefined, allowEmpty: boolean,
  checks: VerifyCheck[]): Promise<{ tables: number; rows: number }> {
  const restored = (await db.query<RestoredTable>(USER_TABLES_SQL)).rows;
  const byName = new Map(restored.map((t) => [t.name, t]));
  const counted = new Map<string, number>();
  const countRows = async (name: string): Promise<number> => {
    const n = Number((await db.query<{ n: string }>(countSql(name))).rows[0]!.n);
    counted.set(name, n);
    return n;
  };
  const listed = new Set<string>();

  if (tables) {
    checks.push({ kind: 'contents', name: 'tables', status: 'ok',
      detail: `${tables.length} recorded in the manifest with their rows, ${restored.length} restored` });
    for (const t of tables) {
      listed.add(t.name);
      // Only names read from the restored catalog are ever put into SQL, never a manifest's text.
      const found = byName.get(t.name);
      if (!found) {
        checks.push({ kind: 'table', name: t.name, status: 'failed', detail: 'missing', expectedRows: t.rows });
        continue;
      }
      const rows = await countRows(found.name);
      checks.push(rows === t.rows
        ? { kind: 'table', name: t.name, status: 'ok', detail: `${rows} rows`, expectedRows: t.rows, rows }
        : { kind: 'table', name: t.name, status: 'failed', detail: `expected ${t.rows} rows, found ${rows}`, expectedRows: t.rows, rows });
    }
  } else if (toc?.format === 'custom') {
    checks.push({ kind: 'contents', name: 'tables', status: 'ok',
      detail: `no table list in the manifest: ${toc.tableData.length} tables with data in the archive's table of contents, ${restored.length} restored` });
    for (const entry of toc.tableData) {
      const found = restored.find((t) => entry.rest === `${t.nspname} ${t.relname}` || entry.rest.startsWith(`${t.nspname} ${t.relname} `));
      if (!found) {
        const parts = entry.rest.split(' ');
        checks.push({ kind: 'table', name: parts.length >= 2 ? `${parts[0]}.${parts.slice(1, -1).join(' ') || parts[1]}` : entry.rest, status: 'failed',
          detail: 'missing (listed in the archive)' });
        continue;
      }
      listed.add(found.name);
      const rows = await countRows(found.name);
      checks.push({ kind: 'table', name: found.name, status: 'ok', detail: `${rows} rows (no count recorded)`, rows });
    }
  } else {
    const empty = restored.length === 0 && !allowEmpty;
    checks.push({ kind: 'contents', name: 'tables', status: empty ? 'failed' : 'ok',
      detail: `no table list recorded; ${restored.length} tables restored${empty ? ' — a backup with no table is taken for a failed one (--allow-empty accepts it)' : ''}` });
  }
  for (const t of restored) {
    if (listed.has(t.name)) continue;
    const rows = await countRows(t.name);
    checks.push({ kind: 'table', name: t.name, status: 'ok', detail: `${rows} rows${tables || toc?.format === 'custom' ? ' (restored, not in the list)' : ''}`, rows });
  }
  return { tables: restored.length, rows: [...counted.values()].reduce((a, b) => a + b, 0) };
}
