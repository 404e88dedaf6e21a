/**
 * The benchmark's database: three tables filled by COPY with the same rows the stage benchmark's pool is made of
 * (bench/stages.ts DumpLikeRows), to a target size of table data (heap + TOAST), then indexed and vacuumed so every
 * measured dump reads the same, settled pages.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { DumpLikeRows } from './stages.js';

export interface DatabaseInfo {
  readonly name: string;
  /** pg_database_size: tables, TOAST, indexes and catalogs. */
  readonly databaseBytes: number;
  /** Heap + TOAST of the three tables (what `--size` asks for). */
  readonly tableBytes: number;
  readonly indexBytes: number;
  readonly rows: Record<string, number>;
  readonly seconds: number;
}

const TABLES = {
  wide: { share: 0.5, ddl: 'id bigint PRIMARY KEY, created_at timestamptz NOT NULL, customer text NOT NULL, description text, attrs jsonb' },
  narrow: { share: 0.25, ddl: 'id bigint PRIMARY KEY, sensor int NOT NULL, bucket int NOT NULL, value numeric(12,2), reading float8, day date' },
  blob: { share: 0.25, ddl: 'id bigint PRIMARY KEY, kind smallint NOT NULL, payload bytea' },
} as const;

type TableName = keyof typeof TABLES;
const BATCH_BYTES = 32 << 20;

export interface PgConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

/** Creates database `name` holding about `tableBytes` of table data. */
export async function createBenchDatabase(conn: PgConnection, name: string, tableBytes: number, log: (line: string) => void = () => {}): Promise<DatabaseInfo> {
  const started = performance.now();
  const admin = new pg.Client({ ...conn, database: 'postgres' });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const client = new pg.Client({ ...conn, database: name });
  await client.connect();
  try {
    const rows = new DumpLikeRows(7);
    const counts: Record<string, number> = {};
    for (const [table, spec] of Object.entries(TABLES) as [TableName, (typeof TABLES)[TableName]][]) {
      await client.query(`CREATE TABLE ${table} (${spec.ddl})`);
      const target = tableBytes * spec.share;
      let count = 0;
      for (;;) {
        const size = Number((await client.query<{ s: string }>(`SELECT pg_table_size('${table}')::text AS s`)).rows[0]!.s);
        if (size >= target) break;
        // Text is a little larger than the heap it makes for numbers and dates, and twice the bytea it holds.
        const batch = Math.min(BATCH_BYTES, Math.max(1 << 20, (target - size) * (table === 'blob' ? 2 : 1.1)));
        count += await copyBatch(client, table, () => rows[table](), batch);
        log(`  ${name}.${table}: ${(size / 1e6).toFixed(0)} of ${(target / 1e6).toFixed(0)} MB`);
      }
      counts[table] = count;
    }
    log(`  ${name}: indexes and VACUUM FREEZE`);
    await client.query('CREATE INDEX wide_created ON wide (created_at)');
    await client.query('CREATE INDEX wide_customer ON wide (customer)');
    await client.query('CREATE INDEX narrow_sensor_day ON narrow (sensor, day)');
    await client.query('CREATE INDEX blob_kind ON blob (kind)');
    await client.query('VACUUM (FREEZE, ANALYZE)');
    await client.query('CHECKPOINT');
    const sizes = (await client.query<{ db: string; tables: string; indexes: string }>(
      `SELECT pg_database_size(current_database())::text AS db,
              (SELECT sum(pg_table_size(c.oid)) FROM pg_class c WHERE c.relname IN ('wide', 'narrow', 'blob'))::text AS tables,
              (SELECT sum(pg_indexes_size(c.oid)) FROM pg_class c WHERE c.relname IN ('wide', 'narrow', 'blob'))::text AS indexes`)).rows[0]!;
    return {
      name,
      databaseBytes: Number(sizes.db),
      tableBytes: Number(sizes.tables),
      indexBytes: Number(sizes.indexes),
      rows: counts,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await client.end();
  }
}

async function copyBatch(client: pg.Client, table: TableName, row: () => string, bytes: number): Promise<number> {
  let sent = 0;
  let count = 0;
  const source = new Readable({
    highWaterMark: 1 << 20,
    read() {
      if (sent >= bytes) return void this.push(null);
      let chunk = '';
      while (chunk.length < 256 * 1024) {
        chunk += row();
        count++;
      }
      sent += chunk.length;
      this.push(chunk, 'latin1');
    },
  });
  await pipeline(source, client.query(copyFrom(`COPY ${table} FROM STDIN`)));
  return count;
}
