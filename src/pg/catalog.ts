/** The tables a dump carries rows of, as pg_dump chooses them: shared by the census at backup and by verify after restore. */
export const USER_TABLES_FROM = `
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND c.relpersistence <> 't'
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`;

/**
 * The tables whose rows a dump carries, as `format('%I.%I')` names (`billing.invoices`, `public."Odd Name"`) with
 * their raw parts: ordinary tables and partitions (relkind r), never a partitioned parent (its rows are its
 * partitions' rows, counted there), a temporary or foreign table, or a table an extension owns (pg_dump leaves those
 * to CREATE EXTENSION). The same query lists a restored database, so a backup's list and a restore's compare.
 */
export const USER_TABLES_SQL = `SELECT format('%I.%I', n.nspname, c.relname) AS name, n.nspname, c.relname
  ${USER_TABLES_FROM} ORDER BY 1`;

/** Exact rows of one table: its own rows only (ONLY), as pg_dump's COPY reads them, never its inheritance children's. */
export function countSql(name: string): string {
  return `SELECT count(*)::text AS n FROM ONLY ${name}`;
}
