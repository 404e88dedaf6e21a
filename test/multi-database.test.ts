// Many databases in one run (issue #15): --database repeated and --all-databases through the real CLI, from a real
// PostgreSQL into a locked radosgw bucket and a directory repository, each database under PREFIX/DBNAME/; a failing
// database named while the others are kept; list grouped, prune per database, restore refusing to guess; and the
// Scaleway export modes through the emulator.
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pgClient from 'pg';
import { after, before, test } from 'node:test';
import { databaseOfSegment, databaseSegment } from '../src/repository/layout.js';
import { withDatabase, databaseTarget } from '../src/pg/conninfo.js';
import { bucketVersions, multipartKeys } from './helpers/backup-objects.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';
import { startS3Server, type S3TestServer } from '../testkit/s3-server.js';
import { startScalewayEmulator, type ScalewayEmulator } from './helpers/scaleway-emulator.js';

const SECRET = '5ca1eway-0000-4000-8000-5ec2e7000015';
/** Each database's rows, so a restore shows which database it came from. */
const ROWS: Record<string, number> = { app: 100, billing: 200, crm: 300, 'odd name/ü': 7 };

let pg: PgCluster;
let s3: S3TestServer;
let emu: ScalewayEmulator;
let work: string;
let keyFile: string;

before(async () => {
  [pg, s3] = await Promise.all([startPgCluster(), startS3Server()]);
  work = mkdtempSync(join(tmpdir(), 'copycat-multidb-'));
  keyFile = join(work, 'key');
  writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
  for (const [name, rows] of Object.entries(ROWS)) {
    await pg.createDatabase(name);
    await pg.query(`CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items SELECT g, 'row ' || g FROM generate_series(1, ${rows}) g`, name);
  }
  // Skipped by --all-databases: a template, and a database that refuses connections.
  await pg.query('CREATE DATABASE tmpl IS_TEMPLATE true');
  await pg.query('CREATE DATABASE closed ALLOW_CONNECTIONS false');
  // A role that reads everything but may not connect to crm: --all-databases lists crm, and its backup fails.
  await pg.query(`CREATE ROLE limited LOGIN PASSWORD 'limited-secret'; GRANT pg_read_all_data TO limited;
    REVOKE CONNECT ON DATABASE crm FROM PUBLIC`);
  const dumps = new Map<string, Buffer>();
  const dumpOf = async (database: string): Promise<Buffer> => {
    if (!dumps.has(database)) {
      const { stdout } = await promisify(execFile)('pg_dump', ['-Fc'], { env: { ...process.env, ...pg.env, PGDATABASE: database }, encoding: 'buffer' });
      dumps.set(database, stdout as unknown as Buffer);
    }
    return dumps.get(database)!;
  };
  // No delays: the CLI polls every 5 s, and a status that is already there is seen at the first poll.
  emu = await startScalewayEmulator({ secretKey: SECRET, dump: (req) => dumpOf(req.databaseName), delays: { backupCreate: 0, backupExport: 0 } });
});

after(async () => {
  await emu?.close();
  await Promise.all([pg?.stop(), s3?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}): Record<string, string> => ({
  ...pg.env, ...s3.env, COPYCAT_KEY_FILE: keyFile, COPYCAT_DESTINATION: '', COPYCAT_ALL_DATABASES: '', PGDATABASE: '',
  COPYCAT_LOCK_DIR: join(work, 'locks'), ...extra,
});
const cli = (args: string[], extra?: Record<string, string>): Promise<CliResult> => runCli(args, { env: env(extra) });

interface Row {
  readonly database?: string | null;
  readonly id: string;
  readonly status: string;
}

async function listed(from: string, extra?: Record<string, string>): Promise<Row[]> {
  const r = await cli(['list', '--from', from, '--json'], extra);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.toString()) as Row[];
}

const byDatabase = (rows: readonly Row[]): Record<string, number> =>
  rows.reduce<Record<string, number>>((n, r) => ({ ...n, [String(r.database)]: (n[String(r.database)] ?? 0) + 1 }), {});

async function restoredRows(from: string, database: string): Promise<number> {
  await pg.createDatabase(database);
  const r = await cli(['restore', '--from', from, '--to-database', database]);
  assert.equal(r.code, 0, r.stderr);
  const [row] = await pg.query<{ n: string }>('SELECT count(*)::text AS n FROM items', database);
  return Number(row!.n);
}

test('database names become key segments one to one, and a connection keeps its other parts for another database', () => {
  for (const name of ['app', 'odd name/ü', '.hidden', '..', 'a%b', 'A.b-c_d', '%2E']) {
    const segment = databaseSegment(name);
    assert.match(segment, /^(?:[A-Za-z0-9_-]|%[0-9A-F]{2})(?:[A-Za-z0-9_.-]|%[0-9A-F]{2})*$/, name);
    assert.equal(databaseOfSegment(segment), name);
  }
  assert.equal(databaseSegment('odd name/ü'), 'odd%20name%2F%C3%BC');
  // Not exactly how a name encodes (lowercase hex, a needless escape, a leading dot): not a database's prefix.
  for (const segment of ['odd%2fname', '%61pp', '.hidden', 'a b', '']) assert.equal(databaseOfSegment(segment), undefined, segment);
  assert.throws(() => databaseSegment(''), /empty database name/);

  const swapped = withDatabase("postgresql://u:p%27w@db.example:6543/app?sslmode=require", "it's");
  assert.deepEqual(databaseTarget(swapped).env, { PGUSER: 'u', PGPASSWORD: "p'w", PGHOST: 'db.example', PGPORT: '6543', PGDATABASE: "it's", PGSSLMODE: 'require' });
  assert.deepEqual(databaseTarget(withDatabase('app', 'crm')).env, { PGDATABASE: 'crm' });
});

test('three databases in one run, one failing: the other two are backed up under PREFIX/DBNAME/ and restorable, the failure named, the exit non-zero', async () => {
  const bucket = await s3.createBucket({ objectLock: true });
  const to = `s3://${bucket}/prod`;
  const r = await cli(['backup', '-d', 'app', '-d', 'nosuch', '-d', 'billing', '--globals', '--to', to, '--retain-days', '1', '--level', '1']);
  assert.equal(r.code, 1, r.stderr);
  // pg_dumpall (--globals) is the first to connect, and says so.
  assert.match(r.stderr, /backup\.database\.failed database=nosuch error=.*could not connect to database "nosuch"/);
  // The run's one summary (what the metrics, pings and webhooks report): totals, and each database's outcome.
  assert.match(r.stderr, /backup\.done databases=3 failed=1 results=\[\{"database":"app","id":"[^"]+","dump_bytes":\d+,"stored_bytes":\d+\},\{"database":"nosuch","error":".*?nosuch.*?"\},\{"database":"billing","id":"[^"]+",.*\] dump_bytes=\d+ stored_bytes=\d+ ratio=/);
  assert.match(r.stderr, /copycat-db: error: 1 of 3 databases failed: nosuch \(.*"nosuch".*\) — the others were backed up/);
  for (const name of ['app', 'billing']) assert.match(r.stderr, new RegExp(`backup\\.database\\.done database=${name} id=\\S+ key=prod/${name}/`));

  // check says the same before a run: one line per database.
  const checked = await cli(['check', '-d', 'app', '-d', 'nosuch', '-d', 'billing', '--to', to]);
  assert.equal(checked.code, 1);
  const lines = checked.stdout.toString().split('\n');
  assert.ok(lines.some((l) => /^ok +database app +app on PostgreSQL/.test(l)), checked.stdout.toString());
  assert.ok(lines.some((l) => /^FAILED +database nosuch +cannot connect to nosuch: .*"nosuch"/.test(l)), checked.stdout.toString());
  assert.ok(lines.some((l) => /^ok +database billing /.test(l)));

  // Each backup holds the globals of its own (self-contained, restorable alone); the failed database left nothing a
  // listing could take for a backup: no manifest, no object at all.
  const keys = (await bucketVersions(s3.client, bucket)).map((v) => v.split(' ')[0]!.replace(/\d{8}T\d{6}Z-[0-9a-f]{4}/, 'ID'));
  assert.deepEqual(keys, ['prod/app/ID.backup', 'prod/app/ID.globals', 'prod/app/ID.manifest.json',
    'prod/billing/ID.backup', 'prod/billing/ID.globals', 'prod/billing/ID.manifest.json']);

  const rows = await listed(to);
  assert.deepEqual(byDatabase(rows), { app: 1, billing: 1 });
  assert.ok(rows.every((row) => row.status === 'complete'));
  const table = await cli(['list', '--from', to]);
  assert.match(table.stdout.toString(), new RegExp(`^database app \\(${to}/app\\)\\nID .*\\n${rows[0]!.id} .*complete\\n\\ndatabase billing \\(${to}/billing\\)\\nID `));
  // One database's own prefix is a repository like any other: list it, restore from it.
  assert.deepEqual((await listed(`${to}/billing`)).map((row) => [row.id, row.database]), [[rows[1]!.id, undefined]]);

  // Which database to restore cannot be guessed: one line naming each prefix.
  for (const command of [['restore', '--to-database', 'anything'], ['show'], ['verify'], ['export', '--to', join(work, 'x.dump')]]) {
    const ambiguous = await cli([command[0]!, '--from', to, ...command.slice(1)]);
    assert.equal(ambiguous.code, 1, command[0]);
    assert.equal(ambiguous.stderr.trim().split('\n').at(-1),
      `copycat-db: error: ${to} holds the backups of 2 databases, each under its own prefix: name one in --from (${to}/app, ${to}/billing)`, command[0]);
  }
  assert.equal(await restoredRows(`${to}/billing`, 'billing_restored'), ROWS.billing);
  assert.equal(await restoredRows(`${to}/app`, 'app_restored'), ROWS.app);
});

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  test(`${signal} during the second database's dump stops the whole run: the first backup kept, nothing of the second or third a listing could take`, async () => {
    const bucket = await s3.createBucket({ objectLock: true });
    const to = `s3://${bucket}/stop`;
    // The second database's backup (its table census, then pg_dump) waits for this lock, so the signal lands inside it
    // whatever the machine's load.
    const holder = new pgClient.Client({ host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: 'billing' });
    await holder.connect();
    await holder.query('BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
    const billingSessions = async (waiting: boolean) => Number((await pg.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = 'billing' AND pid <> pg_backend_pid()${waiting ? " AND wait_event_type = 'Lock'" : ''}`))[0]!.n);
    let signalled = false;
    const stopInSecond = (child: ChildProcess) => void (async () => {
      for (let i = 0; i < 1200 && child.exitCode === null; i++) {
        if (await billingSessions(true) > 0) {
          signalled = child.kill(signal);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    let r: CliResult;
    try {
      r = await runCli(['backup', '-d', 'app', '-d', 'billing', '-d', 'crm', '--to', to, '--retain-days', '1', '--level', '1'],
        { env: env(), onSpawn: stopInSecond });
    } finally {
      await holder.query('ROLLBACK').finally(() => holder.end());
    }
    assert.ok(signalled, `billing's backup never waited for the lock: ${r.stderr}`);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /backup\.database\.done database=app /);
    if (signal === 'SIGTERM') {
      assert.equal(r.code, 1);
      assert.match(r.stderr, /interrupted by SIGTERM/);
      // A stop is not one database's failure: no "the others were backed up", no attempt at crm.
      assert.doesNotMatch(r.stderr, /databases failed|backup\.database\.failed|database=crm/);
      assert.deepEqual(await multipartKeys(s3.client, bucket), [], 'the interrupted upload was aborted');
    }
    const keys = (await bucketVersions(s3.client, bucket)).map((v) => v.split(' ')[0]!.replace(/\d{8}T\d{6}Z-[0-9a-f]{4}/, 'ID'));
    assert.deepEqual(keys.filter((k) => !k.startsWith('stop/app/')), [], 'nothing of billing or crm was stored');
    assert.deepEqual(keys, ['stop/app/ID.backup', 'stop/app/ID.manifest.json']);
    const rows = await listed(to);
    assert.deepEqual(rows.map((row) => [row.database, row.status]), [['app', 'complete']]);
    // No pg_dump or census connection outlives the run (the server may take a moment to see a killed client go).
    let left = await billingSessions(false);
    for (let i = 0; i < 100 && left > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = await billingSessions(false);
    }
    assert.equal(left, 0);
  });
}

test('--all-databases skips templates and databases that refuse connections, names one the role may not connect to, and prunes each database on its own', async () => {
  const repo = join(work, 'all');
  mkdirSync(repo);
  const limited = { PGUSER: 'limited', PGPASSWORD: 'limited-secret' };
  const run = () => cli(['backup', '--all-databases', '--to', `file:${repo}`, '--level', '1', '--keep-last', '1', '--older-than', '0.00001'], limited);
  const first = await run();
  assert.equal(first.code, 1, first.stderr);
  const found = /backup\.databases databases=(\[[^\]]*\])/.exec(first.stderr);
  const all = JSON.parse(found![1]!) as string[];
  assert.ok(!all.includes('tmpl') && !all.includes('closed') && !all.includes('template0') && !all.includes('template1'), all.join(', '));
  for (const name of ['app', 'billing', 'crm', 'odd name/ü', 'postgres']) assert.ok(all.includes(name), name);
  assert.match(first.stderr, /backup\.database\.failed database=crm error=.*permission denied for database "crm"/);
  assert.match(first.stderr, /error: 1 of \d+ databases failed: crm \(/);
  assert.ok(!first.stderr.includes('limited-secret'), 'the password is never logged');

  await new Promise((r) => setTimeout(r, 1100)); // the first run's backups are then older than --older-than
  const second = await run();
  assert.equal(second.code, 1, second.stderr);
  // Per database, keep-last 1 kept this run's backup and deleted the first run's: no database counted another's.
  const rows = await listed(`file:${repo}`);
  const expected = Object.fromEntries(all.filter((d) => d !== 'crm').map((d) => [d, 1]));
  assert.deepEqual(byDatabase(rows), expected);
  const secondIds = [...second.stderr.matchAll(/backup\.database\.done database=.*? id=(\S+)/g)].map((m) => m[1]);
  assert.deepEqual(rows.map((row) => row.id).sort(), secondIds.sort());
  assert.deepEqual(readdirSync(join(repo, 'odd%20name%2F%C3%BC')).length, 2, 'the odd name has its own directory: one data file, one manifest');
  assert.equal(await restoredRows(`file:${join(repo, databaseSegment('odd name/ü'))}`, 'odd_restored'), ROWS['odd name/ü']);

  // prune of the parent prunes each database separately: keep-last 1 leaves each database its one backup.
  const prune = await cli(['prune', '--from', `file:${repo}`, '--keep-last', '1', '--older-than', '0.00001', '--json']);
  assert.equal(prune.code, 0, prune.stderr);
  const report = JSON.parse(prune.stdout.toString()) as { databases: { database: string | null; totals: { backupsKept: number; backupsDeleted: number } }[] };
  assert.deepEqual(report.databases.map((d) => [d.database, d.totals.backupsKept, d.totals.backupsDeleted]), Object.keys(expected).sort().map((d) => [d, 1, 0]));
});

test('a single --database keeps the flat layout; several need a repository; the variable turns --all-databases on only when true', async () => {
  const bucket = await s3.createBucket({ objectLock: true });
  const single = await cli(['backup', '-d', 'app', '--to', `s3://${bucket}/one`, '--retain-days', '1', '--level', '1']);
  assert.equal(single.code, 0, single.stderr);
  assert.ok((await bucketVersions(s3.client, bucket)).every((v) => /^one\/[^/ ]+ /.test(v)), 'no DBNAME level');

  const stream = await cli(['backup', '-d', 'app', '-d', 'billing', '--to', join(work, 'one.dump')]);
  assert.equal(stream.code, 1);
  assert.match(stream.stderr, /several --database need a repository .*: a plain stream holds one dump/);
  const twice = await cli(['backup', '-d', 'app', '-d', 'app', '--to', `s3://${bucket}/twice`]);
  assert.match(twice.stderr, /--database names the database "app" twice/);
  const off = await cli(['backup', '-d', 'app', '-d', 'billing', '--to', join(work, 'off.dump')], { COPYCAT_ALL_DATABASES: 'false' });
  assert.match(off.stderr, /several --database need/, 'false leaves --all-databases off');
  const bad = await cli(['backup', '--to', join(work, 'bad.dump')], { COPYCAT_ALL_DATABASES: 'maybe' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /from env 'COPYCAT_ALL_DATABASES' is invalid\. COPYCAT_ALL_DATABASES takes true or false/);
  const on = await cli(['backup', '--to', join(work, 'on.dump')], { COPYCAT_ALL_DATABASES: 'true' });
  assert.match(on.stderr, /--all-databases need a repository/);
});

test('Scaleway scw-export: several databases of one instance, each its own backup under PREFIX/DBNAME/, a missing one named', async () => {
  const instance = emu.addInstance({ name: 'production-db', databases: ['app', 'billing'] }).id;
  const bucket = await s3.createBucket({ objectLock: true });
  const to = `s3://${bucket}/scw`;
  const scw = { SCW_SECRET_KEY: SECRET, SCW_ACCESS_KEY: 'SCWTESTACCESSKEY0000', SCW_API_URL: emu.url, SCW_DEFAULT_REGION: 'fr-par', HOME: work, SCW_RDB_INSTANCE_ID: instance };
  const named = await cli(['backup', '-d', 'app', '-d', 'ghost', '-d', 'billing', '--to', to, '--retain-days', '1'], scw);
  assert.equal(named.code, 1, named.stderr);
  assert.match(named.stderr, /backup\.database\.failed database=ghost error=.*not_found/);
  assert.match(named.stderr, /error: 1 of 3 databases failed: ghost/);
  // check: one line for the instance, naming the database it lacks, before any backup is asked for.
  const checked = await cli(['check', '-d', 'app', '-d', 'ghost', '-d', 'billing', '--to', to], scw);
  assert.equal(checked.code, 1);
  assert.match(checked.stdout.toString(), /^FAILED +scaleway +.*has no database "ghost" \(it has app, billing\)/m);
  const all = await cli(['backup', '--all-databases', '--to', to, '--retain-days', '1'], scw);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stderr, /backup\.databases databases=\["app","billing"\]/);
  assert.ok(!all.stderr.includes(SECRET));
  assert.deepEqual(byDatabase(await listed(to)), { app: 2, billing: 2 });
  assert.deepEqual(emu.calls(/^POST \/rdb\/v1\/regions\/fr-par\/backups$/).map((c) => (c.body as { database_name: string }).database_name),
    ['app', 'ghost', 'billing', 'app', 'billing']);
  assert.equal(await restoredRows(`${to}/billing`, 'billing_from_scaleway'), ROWS.billing);
});
