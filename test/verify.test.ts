import { s3Repository } from '../src/repository/s3-store.js';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { pipeline } from '../src/pipeline.js';
import { backup } from '../src/operations/backup.js';
import { listBackups } from '../src/repository/index.js';
import { dataKey, manifestKey } from '../src/repository/layout.js';
import type { Manifest } from '../src/formats/manifest.js';
import { parsePattern } from '../src/pg/dump-selection.js';
import { pgDump } from '../src/sources/pg-dump.js';
import type { SinkStage, SourceStage } from '../src/stage.js';
import { verify, type VerifyReport } from '../src/operations/verify/index.js';
import { runCli } from './helpers/cli.js';
import { seedVariedDatabase } from './helpers/fixtures.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';
import { startS3Server, type S3TestServer } from '../testkit/s3-server.js';

let pg: PgCluster;
let s3: S3TestServer;
let dir: string;
let keyFile: string;
let key: Buffer;
let env: Record<string, string>;
let bucket: string;
let backupId: string;

/** What the census must record for the seeded database: every leaf table (partitions, not their parent). */
const EXPECTED_TABLES = [
  { name: 'billing.invoices', rows: 6000 },
  { name: 'public."Odd Name"', rows: 2 },
  { name: 'public.customers', rows: 2000 },
  { name: 'public.events_2024', rows: 36 },
  { name: 'public.events_2025', rows: 6 },
  { name: 'public.race', rows: 0 },
  { name: 'public.tokens', rows: 5 },
];

before(async () => {
  [pg, s3] = await Promise.all([startPgCluster(), startS3Server()]);
  dir = mkdtempSync(join(tmpdir(), 'copycat-verify-'));
  keyFile = join(dir, 'key');
  key = randomBytes(32);
  writeFileSync(keyFile, key, { mode: 0o600 });
  await seedVariedDatabase(pg, 'app');
  await pg.query(`
    CREATE TABLE public.tokens (id int PRIMARY KEY, secret text NOT NULL);
    INSERT INTO public.tokens SELECT g, md5(g::text) FROM generate_series(1, 5) g;
    CREATE TABLE public.events (id int, at date NOT NULL) PARTITION BY RANGE (at);
    CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
    INSERT INTO public.events SELECT g, date '2024-01-01' + g * 10 FROM generate_series(1, 42) g;
    CREATE TABLE public."Odd Name" (x int);
    INSERT INTO public."Odd Name" VALUES (1), (2);
    CREATE TABLE public.race (id int);
  `, 'app');
  env = {
    ...pg.env,
    COPYCAT_KEY_FILE: keyFile,
    ...s3.env,
  };
  bucket = await s3.createBucket({ objectLock: true });
  const backup = await runCli(['backup', '-d', 'app', '--to', `s3://${bucket}/app`, '--retain-days', '1', '--level', '1'], { env });
  assert.equal(backup.code, 0, backup.stderr);
  const [entry] = await listBackups(s3Repository({ client: s3.client, bucket: bucket, prefix: 'app' }));
  backupId = entry!.id;
});

after(async () => {
  await Promise.all([pg?.stop(), s3?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

async function scratchDatabases(): Promise<string[]> {
  return (await pg.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1', 'app') ORDER BY 1`))
    .map((r) => r.datname);
}

function put(objectKey: string, body: Buffer) {
  return s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: objectKey, Body: body, ContentMD5: createHash('md5').update(body).digest('base64') }));
}

/** Copies the backup under another prefix: the same bytes (or one flipped bit), and a manifest edited by `edit`. */
async function copyBackup(prefix: string, edit: (m: Manifest) => Manifest, corrupt = false): Promise<void> {
  const [entry] = await listBackups(s3Repository({ client: s3.client, bucket: bucket, prefix: 'app' }));
  const got = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: entry!.dataVersion!.key }));
  const bytes = Buffer.from(await got.Body!.transformToByteArray());
  if (corrupt) bytes[bytes.length >> 1]! ^= 0x20;
  const objectKey = dataKey(prefix, entry!.id);
  const { VersionId } = await put(objectKey, bytes);
  const manifest = edit({ ...entry!.manifest!, object: { ...entry!.manifest!.object, key: objectKey, versionId: VersionId! } });
  await put(manifestKey(prefix, entry!.id), Buffer.from(JSON.stringify(manifest)));
}

function tableChecks(report: VerifyReport): Record<string, string> {
  return Object.fromEntries(report.checks.filter((c) => c.kind === 'table').map((c) => [c.name, `${c.status}: ${c.detail}`]));
}

test('backup to S3 records every table with its exact rows, in the dump\'s snapshot', async () => {
  const [entry] = await listBackups(s3Repository({ client: s3.client, bucket: bucket, prefix: 'app' }));
  assert.deepEqual(entry!.manifest!.tables, EXPECTED_TABLES);
});

test('verify restores the latest backup, checks digests, tables and rows, scrubs, checks, and drops the scratch database', async (t) => {
  const r = await runCli(['verify', '--from', `s3://${bucket}/app`, '--json',
    '--scrub', 'DELETE FROM public.tokens', '--check', 'SELECT count(*) = 0 FROM public.tokens',
    '--check', 'SELECT count(*) = 2000 FROM public.customers'], { env });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout.toString()) as VerifyReport;
  assert.equal(report.ok, true);
  assert.equal(report.backup.id, backupId);
  assert.equal(report.backup.tableList, 'manifest');
  assert.equal(report.scratch.database, `copycat_verify_${backupId.toLowerCase().replace('-', '_')}`);
  assert.equal(report.scratch.outcome, 'dropped');
  assert.deepEqual(tableChecks(report), Object.fromEntries(EXPECTED_TABLES.map((x) => [x.name, `ok: ${x.rows} rows`])));
  const byKind = (kind: string) => report.checks.filter((c) => c.kind === kind).map((c) => `${c.name} ${c.status}: ${c.detail}`);
  assert.deepEqual(byKind('integrity').map((l) => l.replace(/[0-9a-f]{16}…/, 'H')), ['stored sha256 ok: H matches the manifest', 'plaintext sha256 ok: H matches the manifest']);
  assert.match(byKind('restore')[0]!, /^restore ok: pg_restore --exit-on-error --single-transaction exited 0/);
  assert.deepEqual(byKind('scrub'), ['DELETE FROM public.tokens ok: DELETE: 5 rows']);
  assert.deepEqual(byKind('check'), ['SELECT count(*) = 0 FROM public.tokens ok: returned true', 'SELECT count(*) = 2000 FROM public.customers ok: returned true']);
  assert.equal(report.tables.rows, EXPECTED_TABLES.reduce((sum, x) => sum + x.rows, 0));
  assert.deepEqual(await scratchDatabases(), [], 'the scratch database was dropped');
  t.diagnostic(`verify took ${report.timings.totalMs} ms (restore ${report.timings.restoreMs} ms, tables ${report.timings.tablesMs} ms) ` +
    `for ${report.sizes.stored} stored / ${report.sizes.plaintext} dump bytes, ${report.sizes.restoredDatabase} bytes restored`);
});

test('a failing --check fails verify with its reason, on stdout and in one line on stderr', async () => {
  const r = await runCli(['verify', '--from', `s3://${bucket}/app`, '--backup', backupId, '--check', 'SELECT count(*) > 1000000 FROM public.customers'], { env });
  assert.equal(r.code, 1);
  assert.match(r.stdout.toString(), /^FAILED +check +SELECT count\(\*\) > 1000000 FROM public\.customers: returned false$/m);
  assert.match(r.stdout.toString(), /^ok +table +billing\.invoices: 6000 rows$/m);
  assert.match(r.stdout.toString(), /^FAILED: 1 of \d+ checks failed in /m);
  const errLines = r.stderr.split('\n').filter((l) => l.startsWith('copycat-db: error:'));
  assert.deepEqual(errLines, [`copycat-db: error: backup ${backupId} failed verification: 1 of ${r.stdout.toString().split('\n').filter((l) => /^(ok|FAILED|skipped) /.test(l)).length} checks failed: ` +
    'check "SELECT count(*) > 1000000 FROM public.customers": returned false']);
  assert.deepEqual(await scratchDatabases(), [], 'dropped on failure too');
});

test('a manifest listing a table the archive lacks, or other row counts, fails with the table named', async () => {
  await copyBackup('doctored', (m) => ({
    ...m,
    tables: [...m.tables!.map((x) => (x.name === 'billing.invoices' ? { ...x, rows: 5999 } : x)), { name: 'public.ghost', rows: 3 }],
  }));
  const r = await runCli(['verify', '--from', `s3://${bucket}/doctored`, '--json'], { env });
  assert.equal(r.code, 1);
  const report = JSON.parse(r.stdout.toString()) as VerifyReport;
  assert.deepEqual(report.failures, ['table billing.invoices: expected 5999 rows, found 6000', 'table public.ghost: missing']);
  assert.match(r.stderr, /copycat-db: error: backup \S+ failed verification: 2 of \d+ checks failed: table billing\.invoices: expected 5999 rows, found 6000 \(and 1 more\)/);
  assert.deepEqual(await scratchDatabases(), []);
});

test('a corrupted object fails verify with the integrity error and restores nothing', async () => {
  await copyBackup('corrupt', (m) => m, true);
  const report = await verify({ repository: s3Repository({ client: s3.client, bucket, prefix: 'corrupt' }), key, server: pg.env, checks: ['SELECT true'] });
  assert.equal(report.ok, false);
  assert.equal(report.failures.length, 1, report.failures.join('\n'));
  assert.match(report.failures[0]!, /^stored object: .*chunk/i);
  assert.deepEqual(report.checks.filter((c) => c.status === 'skipped').map((c) => c.name), ['plaintext sha256', 'restore', 'tables', 'checks']);
  assert.equal(report.scratch.outcome, 'dropped');
  assert.deepEqual(await scratchDatabases(), []);
});

test('without a table list in the manifest, the tables come from the archive\'s table of contents', async () => {
  await copyBackup('opaque', ({ tables: _tables, ...m }) => m);
  const report = await verify({ repository: s3Repository({ client: s3.client, bucket, prefix: 'opaque' }), key, server: pg.env });
  assert.equal(report.ok, true, report.failures.join('\n'));
  assert.equal(report.backup.tableList, 'archive');
  assert.match(report.checks.find((c) => c.name === 'tables')!.detail, /^no table list in the manifest: 7 tables with data in the archive's table of contents, 7 restored$/);
  assert.deepEqual(tableChecks(report), Object.fromEntries(EXPECTED_TABLES.map((x) => [x.name, `ok: ${x.rows} rows (no count recorded)`])));
  assert.ok(report.timings.tocMs !== undefined && report.timings.tocMs < 5000);
});

test('--keep keeps the scratch database; an existing name is refused, and only a verify-made one is ever replaced', async () => {
  const name = 'drill_copy';
  const kept = await runCli(['verify', '--from', `s3://${bucket}/app`, '--scratch-database', name, '--keep'], { env });
  assert.equal(kept.code, 0, kept.stderr);
  assert.match(kept.stdout.toString(), new RegExp(`^scratch database ${name} on 127\\.0\\.0\\.1:\\d+: kept`, 'm'));
  assert.deepEqual(await scratchDatabases(), [name]);
  assert.equal((await pg.query<{ n: string }>('SELECT count(*)::text AS n FROM public.tokens', name))[0]!.n, '5');

  const again = await runCli(['verify', '--from', `s3://${bucket}/app`, '--scratch-database', name], { env });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /copycat-db: error: database drill_copy already exists: verify never reuses a database, .*--replace/);
  assert.equal(again.stdout.length, 0);
  assert.deepEqual(await scratchDatabases(), [name], 'the existing database was left alone');

  const replaced = await runCli(['verify', '--from', `s3://${bucket}/app`, '--scratch-database', name, '--replace'], { env });
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.deepEqual(await scratchDatabases(), []);

  await pg.createDatabase('precious');
  await pg.query('CREATE TABLE keepme (x int)', 'precious');
  const refused = await runCli(['verify', '--from', `s3://${bucket}/app`, '--scratch-database', 'precious', '--replace'], { env });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /database precious already exists: .*it was not made by copycat-db verify/);
  assert.deepEqual(await pg.query('SELECT 1 FROM keepme', 'precious'), []);
  await pg.query('DROP DATABASE precious');
});

test('the census counts in the snapshot pg_dump dumps: rows committed after it are in neither', async () => {
  const census = pgDump({ database: 'app', env: pg.env, countTables: true });
  const racing: SourceStage = {
    ...census,
    async create(ctx) {
      const stream = await census.create(ctx);
      await pg.query('INSERT INTO public.race SELECT generate_series(1, 100)', 'app');
      return stream;
    },
  };
  const repository = s3Repository({ client: s3.client, bucket, prefix: 'race', upload: { retention: { mode: 'COMPLIANCE', days: 0.0002 } } });
  const { manifest } = await backup({ source: racing, chain: { compression: 'zstd', level: 1, key }, to: { repository } });
  assert.deepEqual(manifest!.tables, EXPECTED_TABLES);
  const report = await verify({ repository, key, server: pg.env, checks: ['SELECT count(*) = 0 FROM public.race'] });
  assert.equal(report.ok, true, report.failures.join('\n'));
  await pg.query('TRUNCATE public.race', 'app');
});

test('the census follows pg_dump\'s table selection arguments', async () => {
  const discard: SinkStage = { name: 'discard', create: () => new Writable({ write: (_c, _e, cb) => cb() }) };
  const census = pgDump({ database: 'app', env: pg.env, countTables: true,
    args: ['--exclude-table=public.tokens', '-T', 'public."Odd Name"', '--exclude-table-data=billing.*', '--exclude-schema', 'nothing_here'] });
  await pipeline(census).to(discard).run();
  assert.deepEqual((await census.facts!()).tables, EXPECTED_TABLES
    .filter((x) => x.name !== 'public.tokens' && x.name !== 'public."Odd Name"')
    .map((x) => (x.name.startsWith('billing.') ? { ...x, rows: 0 } : x)));

  const unsupported = pgDump({ database: 'app', env: pg.env, countTables: true, args: ['--data-only'] });
  await pipeline(unsupported).to(discard).run();
  assert.equal((await unsupported.facts!()).tables, undefined);

  assert.deepEqual(parsePattern('Public."Odd.Name"*', false), { schema: '^(public)$', name: '^(Odd\\.Name.*)$' });
  assert.deepEqual(parsePattern('app.billing.inv?ices', false), { schema: '^(billing)$', name: '^(inv.ices)$' });
  assert.deepEqual(parsePattern('Bill*', true), { name: '^(bill.*)$' });
});

test('a key that is not the backup\'s is refused before any database is created', async () => {
  await assert.rejects(verify({ repository: s3Repository({ client: s3.client, bucket, prefix: 'app' }), key: randomBytes(32), server: pg.env }),
    (err: Error & { code?: string }) => err.code === 'WRONG_KEY');
  await assert.rejects(verify({ repository: s3Repository({ client: s3.client, bucket, prefix: 'app' }), server: pg.env }),
    (err: Error & { code?: string }) => err.code === 'KEY_MISSING');
  assert.deepEqual(await scratchDatabases(), []);
  assert.ok(readFileSync(keyFile).equals(key));
});

test('an abort mid-restore stops the drill, still drops the scratch database, and rejects with the reason', async () => {
  const controller = new AbortController();
  const watching = (async () => {
    // Abort as soon as the scratch database exists: the restore is then starting or running.
    for (let i = 0; i < 500 && !controller.signal.aborted; i++) {
      if ((await scratchDatabases()).length) return controller.abort(new Error('stop the drill'));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  await assert.rejects(verify({ repository: s3Repository({ client: s3.client, bucket, prefix: 'app' }), key, server: pg.env }, { signal: controller.signal }),
    /stop the drill/);
  await watching;
  assert.deepEqual(await scratchDatabases(), []);
});
