import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { backupTransforms, restoreTransforms } from '../src/chain.js';
import { restoreSink } from '../src/restore-sink.js';
import { silentLogger } from '../src/log.js';
import { pipeline } from '../src/pipeline.js';
import { fileSink } from '../src/sinks/file.js';
import { pgParallelRestore } from '../src/sinks/pg-parallel-restore/index.js';
import { sniffArchiveFormat } from '../src/formats/archive.js';
import { fileSource } from '../src/sources/file.js';
import { FrameReader, PARALLEL_MAGIC, pgParallel, type ContainerHeader } from '../src/sources/pg-parallel/index.js';
import { FrameType, frameHeader, preamble, sectionOf } from '../src/formats/parallel-container.js';
import { runCli } from './helpers/cli.js';
import { digestDatabase, seedVariedDatabase, type DatabaseDigest } from './helpers/fixtures.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';

let cluster: PgCluster;
let dir: string;
let before_: DatabaseDigest;
/** The source once the concurrent writer of the library test has stopped. */
let afterWrites: DatabaseDigest;
let matviewBefore: string;
const key = randomBytes(32);

/** What the varied fixture lacks and a parallel dump must get right. */
const EXTRAS = `
  CREATE TABLE public.events (id bigint GENERATED ALWAYS AS IDENTITY, happened date NOT NULL, kind text, payload jsonb)
    PARTITION BY RANGE (happened);
  CREATE TABLE public.events_2023 PARTITION OF public.events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
  CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  CREATE TABLE public.events_other PARTITION OF public.events DEFAULT;
  INSERT INTO public.events (happened, kind, payload)
    SELECT date '2023-06-01' + g % 700, 'k' || g % 5, jsonb_build_object('g', g) FROM generate_series(1, 3000) g;
  CREATE INDEX events_kind ON public.events (kind);
  CREATE TABLE billing.line_items (
    id serial PRIMARY KEY,
    invoice_id bigint NOT NULL REFERENCES billing.invoices (id),
    qty int NOT NULL,
    doomed int,
    unit_price numeric(12, 2) NOT NULL,
    total numeric GENERATED ALWAYS AS (qty * unit_price) STORED,
    note text);
  ALTER TABLE billing.line_items DROP COLUMN doomed;
  INSERT INTO billing.line_items (invoice_id, qty, unit_price, note)
    SELECT 1 + g % 6000, 1 + g % 9, (g % 1000) / 7.0,
           CASE g % 4 WHEN 0 THEN E'multi\\nline\\r\\nwith \\\\ backslash\\tand tab' WHEN 1 THEN NULL WHEN 2 THEN '\\N' ELSE '' END
    FROM generate_series(1, 5000) g;
  -- Created in post-data, so it must not fire on the restored rows.
  CREATE FUNCTION billing.stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := 'stamped'; RETURN NEW; END $$;
  CREATE TRIGGER line_items_stamp BEFORE INSERT ON billing.line_items FOR EACH ROW EXECUTE FUNCTION billing.stamp();
  CREATE MATERIALIZED VIEW billing.revenue AS
    SELECT customer_id, sum(amount) AS total, count(*) AS n FROM billing.invoices GROUP BY customer_id;
  CREATE UNIQUE INDEX revenue_customer ON billing.revenue (customer_id);
  CREATE TABLE public.empty_table (id int PRIMARY KEY, t text);
  CREATE UNLOGGED TABLE public.scratch (k text, v float8, d interval, ts timestamp, r int4range, x xml);
  INSERT INTO public.scratch SELECT 'k' || g, g / 3.0, g * interval '61.5 seconds', timestamp '2020-02-29 12:00' + g * interval '1 day',
    int4range(g, g + 10), ('<a n="' || g || '">é</a>')::xml FROM generate_series(1, 500) g;
  CREATE SCHEMA "Mixed Case";
  CREATE TABLE "Mixed Case"."Odd ""Name""" ("Col A" int, "select" text);
  INSERT INTO "Mixed Case"."Odd ""Name""" SELECT g, 'v' || g FROM generate_series(1, 50) g;`;

const matviewDigest = async (db: string) =>
  (await cluster.query<{ d: string }>(`SELECT md5(string_agg(r::text, ',' ORDER BY customer_id)) AS d FROM billing.revenue r`, db))[0]!.d;

before(async () => {
  cluster = await startPgCluster();
  dir = mkdtempSync(join(tmpdir(), 'copycat-parallel-'));
  await seedVariedDatabase(cluster, 'source');
  await cluster.query(EXTRAS, 'source');
  before_ = await digestDatabase(cluster, 'source');
  matviewBefore = await matviewDigest('source');
});

after(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes from another session, from the moment the snapshot is taken until stopped: none of it may be in the dump. */
function concurrentWriter(): { start: () => Promise<void>; stop: () => Promise<number> } {
  let running = true;
  let rounds = 0;
  let loop: Promise<void> = Promise.resolve();
  const client = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password, database: 'source' });
  return {
    async start() {
      await client.connect();
      // One burst that touches every kind of object, committed before any table is read…
      await client.query(`
        INSERT INTO public.customers (name) VALUES ('late customer');
        UPDATE billing.invoices SET amount = -1 WHERE id <= 100;
        DELETE FROM public.events WHERE kind = 'k1';
        INSERT INTO public.events (happened, kind) VALUES ('2024-02-02', 'late');
        INSERT INTO billing.line_items (invoice_id, qty, unit_price) VALUES (1, 1, 1);
        UPDATE public.scratch SET v = 0 WHERE k < 'k3';
        SELECT nextval('public.ticket_seq');
        SELECT lo_from_bytea(0, 'late large object');`);
      // …then a stream of commits while the tables are being read.
      loop = (async () => {
        while (running) {
          await client.query(`INSERT INTO public.events (happened, kind) VALUES (date '2024-03-01' + ${rounds % 90}, 'during');
            UPDATE public.customers SET balance = balance + 1 WHERE id = ${1 + (rounds % 2000)}`);
          rounds++;
        }
      })();
    },
    async stop() {
      running = false;
      await loop;
      await client.end();
      return rounds;
    },
  };
}

test('the fixture has a partitioned table, a generated column, a materialized view and odd names', () => {
  assert.match(before_.tables['public.events']!, /^3000:/);
  assert.match(before_.tables['billing.line_items']!, /^5000:/);
  assert.match(before_.tables['"Mixed Case"."Odd ""Name"""']!, /^50:/);
  assert.match(before_.schema, /CREATE MATERIALIZED VIEW billing\.revenue/);
  assert.match(before_.schema, /GENERATED ALWAYS AS/);
});

test('library: parallel dump with a concurrent writer → zstd → encrypt → file, restored in parallel, is the snapshot exactly', async () => {
  const path = join(dir, 'lib.backup');
  const chain = { compression: 'zstd' as const, level: 3, key };
  const writer = concurrentWriter();
  let snapshotSeen = '';
  const source = pgParallel({
    database: 'source', env: cluster.env, jobs: 3,
    onSnapshot: async (snapshot) => {
      snapshotSeen = snapshot;
      await writer.start();
    },
  });
  const backup = await pipeline(source).through(...backupTransforms(chain)).to(fileSink(path)).run();
  const rounds = await writer.stop();
  assert.ok(rounds > 0, 'the writer committed while the tables were read');
  afterWrites = await digestDatabase(cluster, 'source');
  assert.notDeepEqual(afterWrites.tables, before_.tables, 'the source changed during the dump');
  assert.notEqual(afterWrites.largeObjects, before_.largeObjects);
  assert.notDeepEqual(afterWrites.sequences, before_.sequences);

  const info = backup.stages[0]!.info!;
  assert.equal(info.format, 'parallel');
  assert.equal(info.snapshot, snapshotSeen);
  assert.equal(info.jobs, 3);
  assert.equal(info.complete, true);
  const tables = info.tables as { name: string; rows: number; bytes: number }[];
  // Leaf partitions carry the rows; the partitioned parent has none of its own, so nothing is counted twice.
  assert.deepEqual(tables.map((t) => t.name).sort(), ['"Mixed Case"."Odd ""Name"""', 'billing.invoices', 'billing.line_items', 'public.customers',
    'public.empty_table', 'public.events_2023', 'public.events_2024', 'public.events_other', 'public.scratch']);
  assert.equal(tables.find((t) => t.name === 'public.empty_table')!.rows, 0);
  assert.equal(info.largeObjects, 1);
  const serverVersion = (await cluster.query<{ server_version: string }>('SHOW server_version'))[0]!.server_version;
  assert.deepEqual(await source.facts!(), { kind: 'pg_parallel', database: 'source', serverVersion, dumpVersion: info.dumpVersion, format: 'parallel', tables });
  assert.equal(String(info.dumpVersion).split(' ')[0], serverVersion.split(' ')[0], 'the schema came from the pg_dump of the server\'s own version');
  assert.ok(readFileSync(path).length < backup.bytesRead, 'compressed');

  await cluster.createDatabase('restored_lib');
  const restore = await pipeline(fileSource(path)).through(...restoreTransforms(chain))
    .to(restoreSink({ database: 'restored_lib', env: cluster.env, jobs: 2 })).run();
  assert.equal(restore.bytesWritten, backup.bytesRead);
  const restored = restore.stages.at(-1)!.info!;
  assert.equal(restored.program, 'pg_parallel_restore');
  assert.equal(restored.verified, true);
  // As many COPY connections as the dump interleaved tables, and as many more while tables' indexes are built.
  assert.ok(Number(restored.copyConnections) >= 3 && Number(restored.copyConnections) <= 6, `${restored.copyConnections} connections`);
  assert.ok(Number(restored.builtWithData) >= 3, `${restored.builtWithData} tables' indexes were built in their COPY transaction`);
  assert.equal(restored.rows, info.rows);

  assert.deepEqual(await digestDatabase(cluster, 'restored_lib'), before_);
  assert.equal(await matviewDigest('restored_lib'), matviewBefore, 'the materialized view was refreshed from the restored rows');
  // The rows the dump counted are the rows restored, and the rows the snapshot held.
  for (const t of tables) {
    const [row] = await cluster.query<{ n: string }>(`SELECT count(*)::text AS n FROM ONLY ${t.name}`, 'restored_lib');
    assert.equal(Number(row!.n), t.rows, t.name);
    assert.equal(before_.tables[t.name]?.split(':')[0] ?? String(t.rows), String(t.rows), t.name);
  }
});

test('CLI: backup --format parallel --jobs 2 and restore --jobs 2 round trip, sniffing the container', async () => {
  const keyFile = join(dir, 'cli.key');
  writeFileSync(keyFile, key, { mode: 0o600 });
  const env = { ...cluster.env, COPYCAT_KEY_FILE: keyFile };
  const path = join(dir, 'cli.backup');
  const backup = await runCli(['backup', '-d', 'source', '--format', 'parallel', '--jobs', '2', '--to', `file:${path}`, '--level', '1'], { env });
  assert.equal(backup.code, 0, backup.stderr);
  assert.ok(existsSync(path) && !readdirSync(dirname(path)).some((f) => f.endsWith(".partial")));

  await cluster.createDatabase('restored_cli');
  const restore = await runCli(['restore', '--from', `file:${path}`, '--to-database', 'restored_cli', '--jobs', '2'], { env });
  assert.equal(restore.code, 0, restore.stderr);
  assert.deepEqual(await digestDatabase(cluster, 'restored_cli'), afterWrites);
});

test('a truncated container fails the restore before any table data commits', async () => {
  const path = join(dir, 'plain.container');
  await pipeline(pgParallel({ database: 'source', env: cluster.env, jobs: 2 })).to(fileSink(path)).run();
  const whole = readFileSync(path);
  assert.ok(whole.subarray(0, 8).equals(PARALLEL_MAGIC));
  assert.equal(sniffArchiveFormat(whole.subarray(0, 8)), 'parallel');
  // Cut inside the table data.
  const header = readHeader(whole);
  const cutAt = Math.floor(whole.length * 0.6);
  writeFileSync(join(dir, 'cut.container'), whole.subarray(0, cutAt));
  await cluster.createDatabase('restored_cut');
  await assert.rejects(pipeline(fileSource(join(dir, 'cut.container'))).to(pgParallelRestore({ database: 'restored_cut', env: cluster.env })).run(),
    (err: Error & { code?: string }) => err.code === 'TRUNCATED' && /before its trailer/.test(err.message));
  for (const t of header.tables) {
    const [row] = await cluster.query<{ n: string }>(`SELECT count(*)::text AS n FROM ONLY "${t.schema.replace(/"/g, '""')}"."${t.name.replace(/"/g, '""')}"`, 'restored_cut');
    assert.equal(row!.n, '0', `${t.schema}.${t.name} has no committed rows`);
  }

  // A table end whose row count differs from what the server loaded (one row more, frames otherwise intact).
  let bumped = '';
  const rebuilt: Buffer[] = [preamble()];
  let parts: Buffer[] = [];
  for (const piece of new FrameReader().feed(whole)) {
    parts.push(piece.data);
    if (!piece.last) continue;
    let payload = Buffer.concat(parts);
    parts = [];
    const end = piece.type === FrameType.TableEnd ? JSON.parse(payload.toString('utf8')) as { rows: number; bytes: number } : undefined;
    if (end && end.rows > 0 && !bumped) {
      bumped = header.tables.find((t) => t.id === piece.stream)!.name;
      payload = Buffer.from(JSON.stringify({ ...end, rows: end.rows + 1 }));
    }
    if (piece.type === FrameType.Trailer && bumped) {
      const trailer = JSON.parse(payload.toString('utf8')) as { rows: number };
      payload = Buffer.from(JSON.stringify({ ...trailer, rows: trailer.rows + 1 }));
    }
    rebuilt.push(frameHeader(piece.type, piece.stream, payload.length), payload);
  }
  assert.ok(bumped, 'some table has rows');
  writeFileSync(join(dir, 'miscounted.container'), Buffer.concat(rebuilt));
  await cluster.createDatabase('restored_miscounted');
  await assert.rejects(pipeline(fileSource(join(dir, 'miscounted.container'))).to(pgParallelRestore({ database: 'restored_miscounted', env: cluster.env })).run(),
    (err: Error & { code?: string }) => err.code === 'ROW_COUNT_MISMATCH' && err.message.includes(bumped));

  // Bytes after the trailer are refused too.
  await cluster.createDatabase('restored_trailing');
  writeFileSync(join(dir, 'trailing.container'), Buffer.concat([whole, frameHeader(FrameType.TableData, 1, 0)]));
  await assert.rejects(pipeline(fileSource(join(dir, 'trailing.container'))).to(pgParallelRestore({ database: 'restored_trailing', env: cluster.env })).run(),
    (err: Error & { code?: string }) => err.code === 'TRAILING_DATA');
});

test('restore --create recreates the dumped database from a parallel container', async () => {
  await cluster.createDatabase('created_par');
  await cluster.query(`CREATE TABLE t (g int PRIMARY KEY, h text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g;
    CREATE TABLE u (g int REFERENCES t); INSERT INTO u SELECT g FROM generate_series(1, 1000, 3) g`, 'created_par');
  const path = join(dir, 'create.container');
  await pipeline(pgParallel({ database: 'created_par', env: cluster.env, jobs: 2 })).to(fileSink(path)).run();
  await cluster.query('DROP DATABASE created_par');
  await pipeline(fileSource(path)).to(restoreSink({ database: 'postgres', create: true, env: cluster.env, jobs: 1 })).run();
  const [row] = await cluster.query<{ t: string; u: string; fk: string }>(`SELECT
      (SELECT count(*) || ':' || md5(string_agg(h, ',' ORDER BY g)) FROM t) AS t, (SELECT count(*)::text FROM u) AS u,
      (SELECT count(*)::text FROM pg_constraint WHERE contype IN ('p', 'f') AND connamespace = 'public'::regnamespace) AS fk`, 'created_par');
  assert.deepEqual(row, { t: `1000:${(await cluster.query<{ m: string }>(`SELECT md5(string_agg(md5(g::text), ',' ORDER BY g)) AS m FROM generate_series(1, 1000) g`))[0]!.m}`, u: '334', fk: '2' });
});

test('backpressure: a consumer that stops reading stops the COPY streams, with a bounded buffer', async () => {
  await cluster.createDatabase('bulk');
  await cluster.query(`CREATE TABLE a AS SELECT g, repeat(md5(g::text), 6) AS v FROM generate_series(1, 60000) g;
    CREATE TABLE b AS SELECT * FROM a`, 'bulk');
  const source = pgParallel({ database: 'bulk', env: cluster.env, jobs: 2 });
  const stream = await source.create({ signal: new AbortController().signal, log: silentLogger });
  // Nobody reads yet: the dump fills the stream's buffer, then must stop.
  while (stream.readableLength === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setTimeout(resolve, 700));
  // 2 × 12 MB of COPY output waiting to be read; the stream holds about its 1 MiB high-water mark plus a frame per worker.
  assert.ok(stream.readableLength < 3 << 20, `buffered ${stream.readableLength} bytes`);
  let bytes = 0;
  await pipeline({ name: 'already-created', create: () => stream }).to({
    name: 'slow-count',
    create: () => new Writable({ highWaterMark: 1 << 16, write(chunk: Buffer, _e, cb) { bytes += chunk.length; setImmediate(cb); } }),
  }).run();
  assert.ok(bytes > 20 << 20, `read ${bytes} bytes`);
  assert.deepEqual(source.report()!.tables.map((t) => t.rows), [60000, 60000]);
});

test('failures stop everything: a failing sink ends every dump connection; a failing pre-data names the cause', async () => {
  let seen = 0;
  await assert.rejects(pipeline(pgParallel({ database: 'bulk', env: cluster.env, jobs: 2 })).to({
    name: 'failing',
    create: () => new Writable({ write(chunk: Buffer, _e, cb) { seen += chunk.length; cb(seen > 2 << 20 ? new Error('disk full') : null); } }),
  }).run(), /disk full/);
  for (let i = 0; ; i++) {
    const [row] = await cluster.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = 'bulk'`);
    if (row!.n === '0') break;
    assert.ok(i < 50, `${row!.n} connections to bulk are left`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  await cluster.createDatabase('restored_conflict');
  await cluster.query('CREATE TABLE public.empty_table (x int)', 'restored_conflict');
  await assert.rejects(pipeline(fileSource(join(dir, 'plain.container'))).to(pgParallelRestore({ database: 'restored_conflict', env: cluster.env })).run(),
    (err: Error & { code?: string }) => err.code === 'PROGRAM_FAILED' && /pg_restore exited with code 1: .*"empty_table" already exists/.test(err.message));
});

test('container reader: wrong magic, newer version and unknown frame types are refused with their own errors', () => {
  const read = (bytes: Buffer) => () => [...new FrameReader().feed(bytes)];
  assert.throws(read(Buffer.from('PGDMP\x01\x0e\x00\x00')), { code: 'NOT_PARALLEL' });
  assert.throws(read(Buffer.concat([PARALLEL_MAGIC, Buffer.from([3])])), { code: 'FORMAT_VERSION' });
  assert.throws(read(Buffer.concat([preamble(), frameHeader(0x7f as FrameType, 0, 0)])), { code: 'FRAME_INVALID' });
  // A frame split across any chunk boundary reads the same.
  const payload = Buffer.from('{"a":1}');
  const whole = Buffer.concat([preamble(), frameHeader(FrameType.Header, 0, payload.length), payload]);
  const reader = new FrameReader();
  const pieces = [...whole].flatMap((byte) => [...reader.feed(Buffer.from([byte]))]);
  assert.equal(Buffer.concat(pieces.map((p) => p.data)).toString(), '{"a":1}');
  assert.ok(pieces[0]!.first && pieces.at(-1)!.last && reader.atFrameBoundary);
});

/** A container's frames, whole. */
function frames(container: Buffer): { type: FrameType; stream: number; payload: Buffer }[] {
  const out: { type: FrameType; stream: number; payload: Buffer }[] = [];
  let parts: Buffer[] = [];
  for (const piece of new FrameReader().feed(container)) {
    parts.push(piece.data);
    if (!piece.last) continue;
    out.push({ type: piece.type, stream: piece.stream, payload: Buffer.concat(parts) });
    parts = [];
  }
  return out;
}

/**
 * The version-1 container of the same dump, as copycat-db wrote it before version 2: the post-data archive after the
 * large objects, and no table's post-data objects in the header.
 */
function asVersion1(container: Buffer): Buffer {
  const all = frames(container);
  // Version 2's sections, with the post-data archive moved to version 1's place (6, before the trailer's 7).
  const order = (type: FrameType) => (type === FrameType.PostData ? 6 : sectionOf(type, 2));
  const v1 = all.map((f, i) => ({ f, i })).sort((a, b) => order(a.f.type) - order(b.f.type) || a.i - b.i).map(({ f }) => {
    if (f.type !== FrameType.Header) return f;
    const header = JSON.parse(f.payload.toString('utf8')) as ContainerHeader;
    const payload = Buffer.from(JSON.stringify({ ...header, formatVersion: 1, tables: header.tables.map(({ postData: _, ...t }) => t) }));
    return { ...f, payload };
  });
  return Buffer.concat([PARALLEL_MAGIC, Buffer.from([1]), ...v1.flatMap((f) => [frameHeader(f.type, f.stream, f.payload.length), f.payload])]);
}

test('container version 2: each table\'s indexes and constraints are built in its COPY transaction; a version-1 container still restores', async () => {
  await cluster.createDatabase('indexed');
  // guard() fails an index build where copycat.refuse is on: a fault in the new phase, on demand.
  await cluster.query(`
    CREATE FUNCTION public.guard(int) RETURNS int IMMUTABLE LANGUAGE plpgsql
      AS $$ BEGIN IF current_setting('copycat.refuse', true) = 'on' THEN RAISE EXCEPTION 'index build refused'; END IF; RETURN $1; END $$;
    CREATE TABLE parent (id int PRIMARY KEY, code text UNIQUE, qty int CHECK (qty > 0));
    ALTER TABLE parent ADD CONSTRAINT qty_small CHECK (qty < 1000000) NOT VALID;
    CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent (id), n int,
      EXCLUDE USING btree (n WITH =));
    CREATE INDEX child_parent ON child (parent_id);
    CREATE INDEX child_guard ON child (public.guard(n));
    CREATE TABLE lonely (id int PRIMARY KEY);
    -- A NOT VALID check recurses into inheritance children, which other connections load: built after the commit.
    CREATE TABLE base (id int, qty int);
    CREATE TABLE derived (note text) INHERITS (base);
    ALTER TABLE base ADD CONSTRAINT base_qty CHECK (qty > 0) NOT VALID;
    INSERT INTO base SELECT g, g FROM generate_series(1, 100) g;
    INSERT INTO derived SELECT g, g, 'd' FROM generate_series(1, 100) g;
    INSERT INTO parent SELECT g, 'c' || g, g FROM generate_series(1, 20000) g;
    INSERT INTO child SELECT g, 1 + g % 20000, g FROM generate_series(1, 30000) g;`, 'indexed');
  const source = await digestDatabase(cluster, 'indexed');
  const path = join(dir, 'indexed.container');
  await pipeline(pgParallel({ database: 'indexed', env: cluster.env, jobs: 2 })).to(fileSink(path)).run();
  const container = readFileSync(path);
  const header = readHeader(container);
  assert.equal(container[PARALLEL_MAGIC.length], 2);
  assert.equal(header.formatVersion, 2);
  assert.deepEqual(header.tables.filter((t) => !t.postData!.length).map((t) => t.name), ['base'], 'every table but base lists its own post-data objects');
  const types = frames(container).map((f) => f.type);
  assert.ok(types.indexOf(FrameType.PostData) < types.indexOf(FrameType.TableData), 'the post-data archive comes before the table data');

  const constraints = (db: string) => cluster.query<{ c: string }>(`SELECT conrelid::regclass || ' ' || contype::text || ' ' || conname || ' ' || convalidated AS c
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1`, db);
  const restoreInto = async (db: string, file: string) => {
    const sink = pgParallelRestore({ database: db, env: cluster.env });
    await pipeline(fileSource(file)).to(sink).run();
    return sink.report()!;
  };
  await cluster.createDatabase('indexed_v2');
  const report = await restoreInto('indexed_v2', path);
  assert.equal(report.builtWithData, 3, 'parent, child and (with no data, in the first connection) lonely');
  assert.deepEqual(await digestDatabase(cluster, 'indexed_v2'), source);
  assert.deepEqual(await constraints('indexed_v2'), await constraints('indexed'));
  assert.equal((await constraints('indexed')).length, 10);

  writeFileSync(join(dir, 'indexed-v1.container'), asVersion1(container));
  await cluster.createDatabase('indexed_v1');
  const v1 = await restoreInto('indexed_v1', join(dir, 'indexed-v1.container'));
  assert.equal(v1.builtWithData, 0, 'a version-1 container builds everything after the commit');
  assert.deepEqual(await digestDatabase(cluster, 'indexed_v1'), source);

  // An index build that fails in a table's transaction: no table keeps a row, not even one whose own build succeeded.
  await cluster.createDatabase('indexed_refused');
  await cluster.query(`ALTER DATABASE indexed_refused SET copycat.refuse = 'on'`);
  await assert.rejects(restoreInto('indexed_refused', path),
    (err: Error & { code?: string }) => err.code === 'POST_DATA_FAILED' && /"public"\."child" failed: index build refused — nothing was committed/.test(err.message));
  for (const table of ['parent', 'child', 'lonely', 'base', 'derived']) {
    assert.deepEqual(await cluster.query(`SELECT count(*)::int AS n FROM ${table}`, 'indexed_refused'), [{ n: 0 }], table);
  }
  assert.deepEqual(await cluster.query(`SELECT indexrelid::regclass::text AS i FROM pg_index WHERE indrelid = 'public.parent'::regclass`, 'indexed_refused'), [],
    'the indexes built before the failure were rolled back with the data');
});

function readHeader(container: Buffer): ContainerHeader {
  const reader = new FrameReader();
  const parts: Buffer[] = [];
  for (const piece of reader.feed(container)) {
    assert.equal(piece.type, FrameType.Header);
    parts.push(piece.data);
    if (piece.last) break;
  }
  return JSON.parse(Buffer.concat(parts).toString()) as ContainerHeader;
}
