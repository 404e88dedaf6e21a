import type pg from 'pg';
import type { ContainerTable, SequenceValue } from '../../formats/parallel-container.js';
import { qualifiedName } from '../../pg/quote.js';

/** What the coordinating connection learns about the database, all under the exported snapshot. */
export interface Catalog {
  readonly serverVersion: string;
  readonly serverVersionNum: number;
  readonly encoding: string;
  readonly tables: ContainerTable[];
  /** Each table's `format('%I.%I')` name (quoted only where SQL needs it), by id: how manifests and verify name tables. */
  readonly idents: ReadonlyMap<number, string>;
  readonly sequences: SequenceValue[];
  readonly largeObjects: number;
}

// The objects pg_dump itself dumps the data of by default: no system or temporary schemas, no extension members,
// no foreign tables (pg_dump skips their data), no views; materialized views are refreshed by the post-data archive.
const USER_RELATION = `
  n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
  AND c.relpersistence <> 't'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')`;

// A table's own post-data objects, named by catalog ids as pg_dump's table of contents names them: what a restore can
// build in the table's COPY transaction, since nothing in it touches another table. Left out: foreign keys (they read
// the referenced table) and everything of a table with inheritance children (a CHECK … NOT VALID on it recurses into
// theirs, locked by other COPY transactions). Indexes backing a constraint are listed too but are no archive entry.
const POST_DATA_OBJECTS = `CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhparent = c.oid) THEN ARRAY[]::text[] ELSE ARRAY(
    SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::oid || ' ' || i.indexrelid FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid
    UNION ALL SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass::oid || ' ' || k.oid FROM pg_catalog.pg_constraint k
      WHERE k.conrelid = c.oid AND k.contype <> 'f'
    UNION ALL SELECT 'pg_catalog.pg_trigger'::pg_catalog.regclass::oid || ' ' || g.oid FROM pg_catalog.pg_trigger g
      WHERE g.tgrelid = c.oid AND NOT g.tgisinternal) END`;

export async function readCatalog(client: pg.Client): Promise<Catalog> {
  const [facts] = (await client.query<{ version: string; num: string; encoding: string; los: string }>(`
    SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num,
           pg_catalog.pg_encoding_to_char(d.encoding) AS encoding,
           (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata)::text AS los
    FROM pg_catalog.pg_database d WHERE d.datname = current_database()`)).rows;
  const serverVersionNum = Number(facts!.num);
  // Generated columns (PostgreSQL 12+) are computed again on restore and cannot be COPYed into.
  const notGenerated = serverVersionNum >= 120000 ? `AND a.attgenerated = ''` : '';
  const tables = (await client.query<{ schema: string; name: string; ident: string; columns: string[]; bytes: string; post: string[] }>(`
    SELECT ${POST_DATA_OBJECTS} AS post, n.nspname AS schema, c.relname AS name, format('%I.%I', n.nspname, c.relname) AS ident, pg_catalog.pg_table_size(c.oid)::text AS bytes,
           ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ${notGenerated}
                 ORDER BY a.attnum) AS columns
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND ${USER_RELATION}
    ORDER BY pg_catalog.pg_table_size(c.oid) DESC, n.nspname, c.relname`)).rows;
  const sequenceNames = (await client.query<{ schema: string; name: string }>(`
    SELECT n.nspname AS schema, c.relname AS name
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'S' AND ${USER_RELATION}
    ORDER BY n.nspname, c.relname`)).rows;
  return {
    serverVersion: facts!.version,
    serverVersionNum,
    encoding: facts!.encoding,
    tables: tables.map((t, i) => ({ id: i + 1, schema: t.schema, name: t.name, columns: t.columns, estimatedBytes: Number(t.bytes), postData: t.post })),
    idents: new Map(tables.map((t, i) => [i + 1, t.ident])),
    sequences: await readSequences(client, sequenceNames),
    largeObjects: Number(facts!.los),
  };
}

/**
 * Sequence values are not transactional: like pg_dump, read them with a plain SELECT, but as early as possible (right
 * after the snapshot), so every id the dumped rows hold is at most the value restored.
 */
async function readSequences(client: pg.Client, names: { schema: string; name: string }[]): Promise<SequenceValue[]> {
  const values: SequenceValue[] = [];
  for (let i = 0; i < names.length; i += 500) {
    const batch = names.slice(i, i + 500);
    const sql = batch.map((s, j) => `SELECT ${j} AS i, last_value::text AS v, is_called AS c FROM ${qualifiedName(s)}`).join(' UNION ALL ');
    const rows = (await client.query<{ i: number; v: string; c: boolean }>(sql)).rows.sort((a, b) => a.i - b.i);
    rows.forEach((r, j) => values.push({ schema: batch[j]!.schema, name: batch[j]!.name, lastValue: r.v, isCalled: r.c }));
  }
  return values;
}
