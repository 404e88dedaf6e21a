// Fault injection: S3 that fails, hangs, resets or corrupts (through test/helpers/fault-proxy.ts), signals at the
// worst moments, damaged local files and tampered objects in a locked bucket. Every case asserts the end state — what
// the target database holds, what the bucket holds, the exit code, how long it took and the one error line — never
// the exit code alone.
import { s3Repository } from '../src/repository/s3-store.js';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { listBackups, type BackupEntry } from '../src/repository/index.js';
import { bucketVersions, multipartKeys, putObject } from './helpers/backup-objects.js';
import { CLI } from './helpers/cli.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { digestDatabase, seedVariedDatabase, type DatabaseDigest } from './helpers/fixtures.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';
import pgDriver from 'pg';
import { startS3Server, type S3TestServer } from '../testkit/s3-server.js';

let pg: PgCluster;
let s3: S3TestServer;
let proxy: FaultProxy;
let dir: string;
let keyFile: string;
/** libpq + S3 straight to radosgw (no proxy). */
let direct: Record<string, string>;
/** libpq + S3 through the fault proxy. */
let proxied: Record<string, string>;
let small: DatabaseDigest;
let smallB: DatabaseDigest;
let big: DatabaseDigest;
/** Extra arguments that give S3 requests a short timeout, if the CLI offers one (see s3TimeoutArgs). */
let timeoutArgs: string[] = [];
let timeoutNote = '';

const BIG_ROWS = Number(process.env.FAULTS_BIG_ROWS ?? 350_000);

before(async () => {
  [pg, s3] = await Promise.all([startPgCluster(), startS3Server()]);
  proxy = await startFaultProxy(s3.endpoint);
  dir = mkdtempSync(join(tmpdir(), 'copycat-faults-'));
  keyFile = join(dir, 'key');
  writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
  mkdirSync(join(dir, 'locks'));
  const common = {
    ...pg.env,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    COPYCAT_LOG_FORMAT: 'text',
    COPYCAT_LOCK_DIR: join(dir, 'locks'),
  };
  direct = { ...common, ...s3.env };
  proxied = { ...common, ...s3.env, AWS_ENDPOINT_URL_S3: proxy.endpoint };
  await seedVariedDatabase(pg, 'small', 2000);
  await seedVariedDatabase(pg, 'small_b', 500);
  // The big one: ~50 MB of dump, mostly hex that zstd halves, so an S3 backup spans several 5 MiB parts and a restore
  // runs long enough (seconds) for a signal to land in the middle of it.
  await seedVariedDatabase(pg, 'big', 2000);
  await pg.query(`CREATE TABLE bulk (id int PRIMARY KEY, payload text NOT NULL);
    INSERT INTO bulk SELECT g, md5(g::text) || md5((g * 3)::text) || md5((g * 7)::text) || md5((g * 11)::text)
    FROM generate_series(1, ${BIG_ROWS}) g;`, 'big');
  [small, smallB, big] = await Promise.all([digestDatabase(pg, 'small'), digestDatabase(pg, 'small_b'), digestDatabase(pg, 'big')]);
  ({ args: timeoutArgs, note: timeoutNote } = s3TimeoutArgs());
});

after(async () => {
  await proxy?.close();
  await Promise.all([pg?.stop(), s3?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  elapsedMs: number;
  /** The bound passed and the run was SIGKILLed by the test. */
  killedAtBound: boolean;
  /** The test's signal was sent (killWhen held). */
  signalled: boolean;
  /** Time from the test's signal to the process's exit. */
  exitAfterSignalMs: number | undefined;
  /** Pids of the CLI's descendants (pg_restore, psql, pg_dump) at the moment of the signal. */
  children: number[];
}

function descendants(pid: number): number[] {
  let out: string;
  try {
    out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)]).toString();
  } catch {
    return [];
  }
  const kids = out.split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
  return kids.flatMap((k) => [k, ...descendants(k)]);
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Runs the real CLI; SIGKILLs it at `boundMs` (killedAtBound). With killWhen, polls it and sends `signal` once it
 * holds, so the signal lands at a known point whatever the machine's load.
 */
function cli(args: string[], opts: { env: Record<string, string>; boundMs: number; killWhen?: () => Promise<boolean>; signal?: NodeJS.Signals }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.resume();
    let killedAtBound = false;
    let signalledAt: number | undefined;
    let children: number[] = [];
    const hard = setTimeout(() => {
      killedAtBound = true;
      child.kill('SIGKILL');
    }, opts.boundMs);
    const running = () => child.exitCode === null && child.signalCode === null;
    if (opts.killWhen) {
      void (async () => {
        while (running() && !killedAtBound) {
          if (await opts.killWhen!().catch(() => false)) {
            if (!running()) return;
            children = descendants(child.pid!);
            signalledAt = Date.now();
            child.kill(opts.signal ?? 'SIGTERM');
            return;
          }
          await sleep(20);
        }
      })();
    }
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(hard);
      const now = Date.now();
      resolve({ code, signal, stderr, elapsedMs: now - started, killedAtBound, signalled: signalledAt !== undefined,
        exitAfterSignalMs: signalledAt === undefined ? undefined : now - signalledAt, children });
    });
  });
}

/** The one `copycat-db: error: …` line; fails unless there is exactly one. */
function errorLine(r: Run): string {
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('copycat-db: error: '));
  assert.equal(lines.length, 1, `exactly one error line on stderr, got ${lines.length}:\n${r.stderr.slice(-3000)}`);
  return lines[0]!;
}

/** One line for the TAP output: how the run ended and its error line, so a passing run's outcome is on record too. */
function outcome(r: Run): string {
  const line = r.stderr.split('\n').find((l) => l.startsWith('copycat-db: error: '));
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''} after ${(r.elapsedMs / 1000).toFixed(1)} s` +
    `${r.exitAfterSignalMs !== undefined ? ` (${(r.exitAfterSignalMs / 1000).toFixed(1)} s after the signal)` : ''}${line ? `: ${line}` : ''}`;
}

function describeRun(r: Run): string {
  return `exit ${r.code}${r.signal ? ` (signal ${r.signal})` : ''} after ${(r.elapsedMs / 1000).toFixed(1)} s` +
    `${r.killedAtBound ? ' — SIGKILLed by the test at its time bound' : ''}; stderr tail:\n${r.stderr.slice(-2500)}`;
}

/** Asserts a run failed by itself (not killed at the bound), with exit 1 and one error line matching `pattern`. */
function assertFailed(r: Run, pattern: RegExp, boundMs: number): string {
  assert.ok(!r.killedAtBound && r.elapsedMs < boundMs, `finished within ${boundMs / 1000} s: ${describeRun(r)}`);
  assert.equal(r.code, 1, `exit 1: ${describeRun(r)}`);
  const line = errorLine(r);
  assert.match(line, pattern);
  return line;
}

function assertSucceeded(r: Run, boundMs: number): void {
  assert.ok(!r.killedAtBound && r.elapsedMs < boundMs, `finished within ${boundMs / 1000} s: ${describeRun(r)}`);
  assert.equal(r.code, 0, `exit 0: ${describeRun(r)}`);
}

let dbSeq = 0;
async function freshDatabase(label: string): Promise<string> {
  const name = `t${++dbSeq}_${label}`.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 60);
  await pg.createDatabase(name);
  return name;
}

/** Waits until no session but ours is connected to the database (a killed restore's programs finish on their own). */
async function quiet(database: string, timeoutMs = 30_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await pg.query<{ who: string }>(`SELECT coalesce(application_name, '') || ' pid ' || pid || ' ' || coalesce(state, '') || ': ' || left(query, 80) AS who
      FROM pg_stat_activity WHERE datname = '${database}' AND pid <> pg_backend_pid()`);
    if (rows.length === 0 || Date.now() > deadline) return rows.map((r) => r.who);
    await sleep(100);
  }
}

/** Everything a restore could have left in the database: relations, schemas, types, functions, large objects. */
async function contents(database: string): Promise<string[]> {
  const rows = await pg.query<{ what: string }>(`
    SELECT 'relation ' || n.nspname || '.' || c.relname || ' (' || c.relkind::text || ')' AS what FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
    UNION ALL SELECT 'schema ' || nspname FROM pg_namespace
      WHERE nspname NOT IN ('public', 'pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg_toast%' AND nspname NOT LIKE 'pg_temp%'
    UNION ALL SELECT 'type ' || typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND t.typtype IN ('e', 'd', 'r', 'm')
    UNION ALL SELECT 'function ' || proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
    UNION ALL SELECT 'large object ' || oid FROM pg_largeobject_metadata
    ORDER BY 1`, database);
  return rows.map((r) => r.what);
}

/** Asserts the target holds nothing of the backup, after the restore's sessions are gone. */
async function assertEmpty(database: string, what: string, run?: Run): Promise<void> {
  const still = await quiet(database);
  const left = await contents(database);
  const rows: string[] = [];
  for (const rel of left.filter((l) => / \(r\)$/.test(l))) {
    const name = rel.replace(/^relation /, '').replace(/ \(r\)$/, '');
    const [row] = await pg.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${name}`, database).catch(() => [{ n: '?' }]);
    rows.push(`${name}: ${row!.n} rows`);
  }
  assert.deepEqual(left, [], `${what}: the target database must hold nothing of the backup, it holds ${left.length} objects ` +
    `(${rows.join(', ') || 'no tables'}): ${left.slice(0, 12).join('; ')}${still.length ? `; sessions still connected: ${still.join('; ')}` : ''}` +
    `${run ? `\nthe run: ${describeRun(run)}` : ''}`);
}

/**
 * What a stopped parallel restore may leave (README, "What a restore guarantees"): the schema it restored first, on
 * its own connection, but no table row and no large object's bytes.
 */
async function assertNoData(database: string, what: string, run?: Run): Promise<void> {
  await quiet(database);
  const tables = (await contents(database)).filter((l) => / \(r\)$/.test(l)).map((l) => l.replace(/^relation /, '').replace(/ \(r\)$/, ''));
  const withRows: string[] = [];
  for (const name of tables) {
    const [row] = await pg.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${name}`, database);
    if (row!.n !== '0') withRows.push(`${name}: ${row!.n} rows`);
  }
  const [lo] = await pg.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_largeobject', database);
  assert.deepEqual(withRows, [], `${what}: no table may hold committed rows${run ? `\nthe run: ${describeRun(run)}` : ''}`);
  assert.equal(lo!.n, '0', `${what}: no large object may hold committed bytes`);
}

/**
 * A restore is deep into its data: a COPY in the database has loaded more than 20,000 rows, which only the big
 * table (bulk) has, so the smaller tables' rows were already sent.
 */
async function copying(database: string): Promise<boolean> {
  const rows = await pg.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_stat_progress_copy
    WHERE datname = '${database}' AND tuples_processed > 20000`);
  return Number(rows[0]!.n) > 0;
}

/**
 * Holds ACCESS SHARE on `table` from the moment the restore's schema creates it: its COPY (ROW EXCLUSIVE) goes
 * through, but its primary key (`ALTER TABLE … ADD CONSTRAINT`, ACCESS EXCLUSIVE) waits in the table's COPY
 * transaction until `release`. `when` holds once the restore waits there: a kill point inside the build phase, long
 * before any commit, whatever the machine's load.
 */
function holdTable(database: string, table: string): { when: () => Promise<boolean>; release: () => Promise<void> } {
  let holder: pgDriver.Client | undefined;
  return {
    async when() {
      if (!holder) {
        const client = new pgDriver.Client({ host: pg.host, port: pg.port, user: pg.user, password: pg.password, database });
        await client.connect();
        try {
          await client.query(`BEGIN; LOCK TABLE ${table} IN ACCESS SHARE MODE`);
        } catch {
          await client.end(); // not created yet
          return false;
        }
        holder = client;
      }
      const [row] = (await holder.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_locks WHERE relation = '${table}'::regclass AND NOT granted`)).rows;
      return row!.n !== '0';
    },
    release: async () => {
      await holder?.end();
    },
  };
}

async function completeBackups(bucket: string, prefix: string): Promise<BackupEntry[]> {
  return (await listBackups(s3Repository({ client: s3.client, bucket: bucket, prefix: prefix }))).filter((e) => e.status === 'complete');
}

/**
 * The CLI's option for a short S3 request timeout, if it has one: `backup --help` is searched for an option whose
 * name mentions a timeout. Without one, hanging requests are bounded by the test only, and the note says so.
 */
function s3TimeoutArgs(): { args: string[]; note: string } {
  const help = execFileSync(process.execPath, [CLI, 'backup', '--help'], { env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } }).toString();
  const m = /(--[a-z0-9-]*time-?out[a-z0-9-]*) <[^>]+>([^\n]*(?:\n {20,}[^\n]*)*)/i.exec(help);
  if (!m) return { args: [], note: 'the CLI offers no S3 timeout option: hanging requests are bounded only by the test (SIGKILL)' };
  const text = m[2]!.replace(/\s+/g, ' ');
  // 5 s: with the SDK's 6 attempts and its backoff, a request that never answers then fails the run in ~40 s.
  const value = /\bms\b|millisecond/i.test(text) ? '5000' : /\bduration\b|e\.g\. \d+s\b/i.test(text) ? '5s' : '5';
  return { args: [m[1]!, value], note: `using ${m[1]} ${value} (${text.trim()})` };
}

async function backupToS3(database: string, bucket: string, prefix: string, extra: string[] = [], env = direct): Promise<Run> {
  const r = await cli(['backup', '-d', database, '--to', `s3://${bucket}/${prefix}`, '--retain-days', '1', '--no-prune', ...extra],
    { env: { ...env, COPYCAT_KEY_FILE: keyFile }, boundMs: 180_000 });
  return r;
}

async function readObject(bucket: string, key: string, versionId?: string): Promise<Buffer> {
  const got = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

/**
 * Offset of a letter b–e at or after `from`: XOR 1 swaps b↔c and d↔e, which are letters in text and digits in hex, so
 * SQL, COPY text and bytea hex still parse — only a digest can tell.
 */
function letterAt(bytes: Buffer, from: number): number {
  for (let i = from; i < bytes.length; i++) if (bytes[i]! >= 0x62 && bytes[i]! <= 0x65) return i;
  throw new Error('no letter to flip');
}

// ---------------------------------------------------------------------------------------------------------------
// a. S3 faults during backup

const BACKUP_BOUND = 120_000;
const partArgs = ['--part-size', '5MiB', '--level', '1'];

async function assertOneCompleteBackup(bucket: string, prefix: string): Promise<BackupEntry> {
  const entries = await listBackups(s3Repository({ client: s3.client, bucket: bucket, prefix: prefix }));
  assert.deepEqual(entries.map((e) => `${e.id} ${e.status}${e.problem ? ` (${e.problem})` : ''}`).filter((l) => !l.endsWith(' complete')), [],
    'no incomplete backup is left');
  assert.equal(entries.length, 1, 'exactly one backup');
  assert.deepEqual(await multipartKeys(s3.client, bucket), [], 'no multipart upload is left pending');
  const versions = await bucketVersions(s3.client, bucket);
  assert.equal(versions.length, 2, `one data version and one manifest version: ${versions.join(', ')}`);
  return entries[0]!;
}

async function assertNoCompleteBackup(bucket: string, prefix: string, what: string): Promise<void> {
  const entries = await listBackups(s3Repository({ client: s3.client, bucket: bucket, prefix: prefix }));
  assert.deepEqual(entries.filter((e) => e.status === 'complete').map((e) => e.id), [], `${what}: no backup is listed as complete`);
  assert.deepEqual(await multipartKeys(s3.client, bucket), [], `${what}: no multipart upload is left pending`);
}

describe('a. S3 faults during a backup (through the fault proxy)', () => {
  test('a1. 500 and 503 on part uploads are retried: one complete backup that restores to the source', { timeout: 300_000 }, async () => {
    const bucket = await s3.createBucket({ objectLock: true });
    const parts = { method: 'PUT', path: [`/${bucket}/`, 'partNumber='] };
    const f1 = proxy.fault({ ...parts, path: [...parts.path, 'partNumber=1&'] }, { kind: 'status', status: 503 }, { times: 2 });
    const f2 = proxy.fault({ ...parts, nth: 3 }, { kind: 'status', status: 500 }, { times: 1 });
    try {
      const r = await backupToS3('big', bucket, 'a1', partArgs, proxied);
      assertSucceeded(r, BACKUP_BOUND);
      assert.equal(f1.applied, 2, 'part 1 was refused twice');
      assert.equal(f2.applied, 1, 'a later part was refused once');
      const entry = await assertOneCompleteBackup(bucket, 'a1');
      assert.ok(proxy.seen(parts).length >= 3 + 3, 'at least three parts, three of them retried');
      const target = await freshDatabase('a1');
      const restore = await cli(['restore', '--from', `s3://${bucket}/a1`, '--backup', entry.id, '--to-database', target, '--key-file', keyFile],
        { env: direct, boundMs: 180_000 });
      assertSucceeded(restore, 180_000);
      assert.deepEqual(await digestDatabase(pg, target), big);
    } finally {
      proxy.clear(f1);
      proxy.clear(f2);
    }
  });

  test('a2. 500/503 on HeadBucket, CreateMultipartUpload, CompleteMultipartUpload and the manifest PUT are retried', { timeout: 300_000 }, async () => {
    const bucket = await s3.createBucket({ objectLock: true });
    const faults = [
      proxy.fault({ method: 'HEAD', test: (req) => req.url === `/${bucket}` || req.url === `/${bucket}/` }, { kind: 'status', status: 503 }),
      proxy.fault({ method: 'POST', path: [`/${bucket}/`, '?uploads'] }, { kind: 'status', status: 500 }),
      proxy.fault({ method: 'POST', path: [`/${bucket}/`, 'uploadId='] }, { kind: 'status', status: 503 }),
      proxy.fault({ method: 'PUT', path: [`/${bucket}/`, '.manifest.json'] }, { kind: 'status', status: 500 }),
    ];
    try {
      const r = await backupToS3('big', bucket, 'a2', partArgs, proxied);
      assertSucceeded(r, BACKUP_BOUND);
      assert.deepEqual(faults.map((f) => f.applied), [1, 1, 1, 1], 'every fault fired');
      await assertOneCompleteBackup(bucket, 'a2');
    } finally {
      for (const f of faults) proxy.clear(f);
    }
  });

  test('a3. connections reset mid-response (a part\'s answer lost, CompleteMultipartUpload and GetObjectRetention cut): retried, one complete backup', { timeout: 300_000 }, async () => {
    const bucket = await s3.createBucket({ objectLock: true });
    const faults = [
      proxy.fault({ method: 'PUT', path: [`/${bucket}/`, 'partNumber='], nth: 2 }, { kind: 'reset' }),
      proxy.fault({ method: 'POST', path: [`/${bucket}/`, 'uploadId='] }, { kind: 'reset', afterBytes: 20 }),
      proxy.fault({ method: 'GET', path: [`/${bucket}/`, 'retention'] }, { kind: 'reset', afterBytes: 10 }),
    ];
    try {
      const r = await backupToS3('big', bucket, 'a3', partArgs, proxied);
      assertSucceeded(r, BACKUP_BOUND);
      assert.deepEqual(faults.map((f) => f.applied), [1, 1, 1], 'every fault fired');
      await assertOneCompleteBackup(bucket, 'a3');
    } finally {
      for (const f of faults) proxy.clear(f);
    }
  });

  // Requests that never answer: each case gets its own bucket, so they run side by side.
  // FAULTS_HANG_BOUND_MS raises the bound for a manual run that watches the product's own timeouts end the run.
  const HANG_BOUND = Number(process.env.FAULTS_HANG_BOUND_MS ?? 90_000);
  describe('a4. a request that never answers fails the backup within 90 s, aborting the upload', { concurrency: true }, () => {
    const hangCases: { name: string; aborts?: boolean; fault: (bucket: string) => Parameters<FaultProxy['fault']>[0] }[] = [
      { name: 'HeadBucket (preflight)', fault: (bucket) => ({ method: 'HEAD', test: (req) => req.url === `/${bucket}` || req.url === `/${bucket}/` }) },
      { name: 'CreateMultipartUpload', fault: (bucket) => ({ method: 'POST', path: [`/${bucket}/`, '?uploads'] }) },
      { name: 'the second part upload', aborts: true, fault: (bucket) => ({ method: 'PUT', path: [`/${bucket}/`, 'partNumber='], nth: 2 }) },
      { name: 'the manifest PUT', fault: (bucket) => ({ method: 'PUT', path: [`/${bucket}/`, '.manifest.json'] }) },
    ];
    for (const c of hangCases) {
      test(`a4. ${c.name} hangs`, { timeout: HANG_BOUND + 60_000 }, async (t) => {
        if (timeoutNote) t.diagnostic(timeoutNote);
        const bucket = await s3.createBucket({ objectLock: true });
        const f = proxy.fault(c.fault(bucket), { kind: 'hang' }, { times: Infinity });
        let r: Run;
        try {
          r = await cli(['backup', '-d', 'big', '--to', `s3://${bucket}/hang`, '--retain-days', '1', '--no-prune', ...partArgs, ...timeoutArgs],
            { env: { ...proxied, COPYCAT_KEY_FILE: keyFile }, boundMs: HANG_BOUND });
        } finally {
          proxy.clear(f);
        }
        t.diagnostic(outcome(r));
        assert.ok(f.applied >= 1, 'the request was held');
        // What is left is checked first (it is what an operator finds), then how the run ended.
        await assertNoCompleteBackup(bucket, 'hang', c.name);
        assertFailed(r, /time(d)? ?out|timeout|no answer|did not answer|not respond/i, HANG_BOUND);
        if (c.aborts) assert.match(r.stderr, /s3\.upload\.aborted/, 'the multipart upload was aborted');
      });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// b. S3 faults during a restore: truncated, reset and corrupted GetObject bodies

interface Variant {
  readonly name: string;
  readonly format: 'custom' | 'plain';
  readonly encrypt: boolean;
  readonly compression: 'zstd' | 'none';
}
const VARIANTS: Variant[] = [
  { name: 'custom-enc-zstd', format: 'custom', encrypt: true, compression: 'zstd' },
  { name: 'custom-noenc-none', format: 'custom', encrypt: false, compression: 'none' },
  { name: 'custom-noenc-zstd', format: 'custom', encrypt: false, compression: 'zstd' },
  { name: 'plain-enc-zstd', format: 'plain', encrypt: true, compression: 'zstd' },
  { name: 'plain-enc-none', format: 'plain', encrypt: true, compression: 'none' },
  { name: 'plain-noenc-none', format: 'plain', encrypt: false, compression: 'none' },
];
const variantArgs = (v: Variant): string[] => [
  '--format', v.format, '--compression', v.compression, ...(v.encrypt ? ['--key-file', keyFile] : ['--no-encrypt']), ...(v.compression === 'zstd' ? ['--level', '1'] : []),
];

describe('b. S3 faults during a restore: the target holds nothing of the backup', () => {
  let bucket: string;
  const stored = new Map<string, { entry: BackupEntry; size: number; bytes: Buffer }>();

  before(async () => {
    bucket = await s3.createBucket({ objectLock: true });
    for (const v of VARIANTS) {
      const r = await cli(['backup', '-d', 'small', '--to', `s3://${bucket}/${v.name}`, '--retain-days', '1', '--no-prune', ...variantArgs(v)],
        { env: direct, boundMs: 120_000 });
      assert.equal(r.code, 0, describeRun(r));
      const [entry] = await completeBackups(bucket, v.name);
      const bytes = await readObject(bucket, entry!.dataVersion!.key, entry!.dataVersion!.versionId);
      stored.set(v.name, { entry: entry!, size: bytes.length, bytes });
    }
  });

  const RESTORE_BOUND = 60_000;
  const faults = [
    { fault: 'truncated body', action: (size: number) => ({ kind: 'truncate' as const, afterBytes: Math.floor(size * 0.6) }),
      error: /truncat|cut|short|ended (early|before)|premature|incomplete|fewer|expected \d+ bytes|aborted|reset|socket|closed|digest|sha256|chunk/i },
    { fault: 'connection reset mid-body', action: (size: number) => ({ kind: 'reset' as const, afterBytes: Math.floor(size * 0.6) }),
      error: /reset|ECONNRESET|aborted|socket|closed|truncat|cut|premature|incomplete/i },
    { fault: 'one flipped byte', action: (size: number) => ({ kind: 'flip' as const, offset: Math.floor(size * 0.5) }),
      error: /digest|sha256|chunk|decrypt|authenticat|corrupt|zstd|decompress|integrity|mismatch/i },
  ];

  for (const v of VARIANTS) {
    for (const f of faults) {
      test(`b. ${v.name}: ${f.fault} → exit 1, target empty`, { timeout: 120_000 }, async (t) => {
        const { entry, size, bytes } = stored.get(v.name)!;
        let action = f.action(size);
        // For unencrypted, uncompressed dumps, flip a letter so that the dump still parses: only a digest can tell.
        if (action.kind === 'flip' && !v.encrypt && v.compression === 'none') action = { ...action, offset: letterAt(bytes, action.offset) };
        const fault = proxy.fault({ method: 'GET', path: [`/${bucket}/${v.name}/`, '.backup'] }, action, { times: Infinity });
        const target = await freshDatabase(`b_${v.name}_${f.fault.split(' ')[0]}`);
        let r: Run;
        try {
          r = await cli(['restore', '--from', `s3://${bucket}/${v.name}`, '--backup', entry.id, '--to-database', target, '--key-file', keyFile],
            { env: proxied, boundMs: RESTORE_BOUND + 30_000 });
        } finally {
          proxy.clear(fault);
        }
        t.diagnostic(outcome(r));
        assert.ok(fault.applied >= 1, 'the fault fired');
        await assertEmpty(target, `${v.name}, ${f.fault}`, r);
        assertFailed(r, f.error, RESTORE_BOUND);
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------------------------
// c. Kill points: SIGTERM and SIGKILL during a dump to S3 and during restores

describe('c. kill points', () => {
  const files = new Map<string, string>();
  const KILL_VARIANTS = [
    { name: 'custom-enc', format: 'custom', encrypt: true },
    { name: 'custom-noenc', format: 'custom', encrypt: false },
    { name: 'plain-enc', format: 'plain', encrypt: true },
    { name: 'plain-noenc', format: 'plain', encrypt: false },
    { name: 'parallel-enc', format: 'parallel', encrypt: true },
    { name: 'parallel-noenc', format: 'parallel', encrypt: false },
  ] as const;
  const chain = (encrypt: boolean) => (encrypt ? ['--key-file', keyFile, '--level', '1'] : ['--no-encrypt', '--compression', 'none']);
  const restoreChain = (encrypt: boolean) => (encrypt ? ['--key-file', keyFile] : ['--no-encrypt', '--compression', 'none']);

  before(async () => {
    for (const v of KILL_VARIANTS) {
      const path = join(dir, `kill-${v.name}.backup`);
      const r = await cli(['backup', '-d', 'big', '--to', `file:${path}`, '--format', v.format, ...(v.format === 'parallel' ? ['--jobs', '2'] : []), ...chain(v.encrypt)],
        { env: pg.env, boundMs: 180_000 });
      assert.equal(r.code, 0, describeRun(r));
      files.set(v.name, path);
    }
  });

  const dumping = async () => Number((await pg.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = 'big' AND application_name = 'pg_dump' AND state = 'active'`))[0]!.n) > 0;

  // Controls: the backups the kill points interrupt do restore whole when left alone, and the time it takes is the
  // window the signals land in.
  for (const name of ['custom-enc', 'plain-noenc', 'parallel-enc'] as const) {
    test(`c. control: an uninterrupted ${name} restore is complete`, { timeout: 200_000 }, async (t) => {
      const v = KILL_VARIANTS.find((k) => k.name === name)!;
      const target = await freshDatabase(`c_control_${name}`);
      const r = await cli(['restore', '--from', `file:${files.get(name)!}`, '--to-database', target, ...restoreChain(v.encrypt),
        ...(v.format === 'parallel' ? ['--jobs', '2'] : [])], { env: pg.env, boundMs: 180_000 });
      t.diagnostic(`${outcome(r)} (${(readFileSync(files.get(name)!).length / 1e6).toFixed(1)} MB stored)`);
      assertSucceeded(r, 180_000);
      assert.deepEqual(await digestDatabase(pg, target), big);
    });
  }

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    test(`c. ${signal} during the dump of a backup to S3: no complete backup${signal === 'SIGTERM' ? ', no pending upload, exit ≠ 0 within 15 s' : ''}`, { timeout: 200_000 }, async (t) => {
      const bucket = await s3.createBucket({ objectLock: true });
      // Signal once pg_dump is reading and an upload is in progress, so both the dump and the upload are cut.
      const r = await cli(['backup', '-d', 'big', '--to', `s3://${bucket}/kill`, '--retain-days', '1', '--no-prune', '--part-size', '5MiB', '--level', '6', '--key-file', keyFile],
        { env: direct, boundMs: 180_000, signal, killWhen: async () => (await dumping()) && (await multipartKeys(s3.client, bucket)).length > 0 });
      t.diagnostic(outcome(r));
      assert.ok(r.signalled, `the signal came during the dump: ${describeRun(r)}`);
      if (signal === 'SIGTERM') {
        await sleep(500);
        assert.deepEqual(await multipartKeys(s3.client, bucket), [], 'no multipart upload is left pending');
        assert.deepEqual(await bucketVersions(s3.client, bucket), [], 'nothing is left in the bucket');
        assert.ok(r.exitAfterSignalMs! < 15_000, `exited within 15 s of the signal: ${describeRun(r)}`);
        assert.notEqual(r.code, 0, describeRun(r));
        assert.match(errorLine(r), /interrupted by SIGTERM/);
      } else {
        for (const pid of r.children) for (let i = 0; i < 100 && alive(pid); i++) await sleep(100);
        assert.deepEqual((await completeBackups(bucket, 'kill')).map((e) => e.id), [], 'no backup is listed as complete');
        const list = await cli(['list', '--from', `s3://${bucket}/kill`, '--json'], { env: direct, boundMs: 60_000 });
        assert.equal(list.code, 0, describeRun(list));
      }
    });
  }

  // Where a restore is stopped: deep in its data; and, in a parallel container (version 2), while a table's primary
  // key is being added in its COPY transaction.
  const KILL_POINTS = [
    { id: '', title: 'during', what: 'copying rows', arm: (target: string) => ({ when: () => copying(target), release: async () => {} }),
      formats: ['custom', 'plain', 'parallel'] },
    { id: '_index', title: 'while building a table\'s primary key in', what: 'adding bulk\'s primary key', arm: (target: string) => holdTable(target, 'public.bulk'),
      formats: ['parallel'] },
  ];
  for (const v of KILL_VARIANTS) for (const point of KILL_POINTS.filter((p) => p.formats.includes(v.format))) {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      test(`c. ${signal} ${point.title} a ${v.name} restore: the target is left ${v.format === 'parallel' ? 'without data' : 'empty'}${signal === 'SIGTERM' ? ', exit ≠ 0 within 15 s' : ''}`, { timeout: 200_000 }, async (t) => {
        const target = await freshDatabase(`c_${v.name}${point.id}_${signal}`);
        const killPoint = point.arm(target);
        const r = await cli(['restore', '--from', `file:${files.get(v.name)!}`, '--to-database', target, ...restoreChain(v.encrypt),
          ...(v.format === 'parallel' ? ['--jobs', '2'] : [])],
        { env: pg.env, boundMs: 180_000, signal, killWhen: killPoint.when }).finally(killPoint.release);
        t.diagnostic(outcome(r));
        assert.ok(r.signalled, `the signal came while the restore was ${point.what}: ${describeRun(r)}`);
        // After SIGKILL, pg_restore/psql see EOF on stdin and finish on their own: wait for them.
        const orphans: number[] = [];
        for (const pid of r.children) {
          for (let i = 0; i < 300 && alive(pid); i++) await sleep(100);
          if (alive(pid)) {
            orphans.push(pid);
            process.kill(pid, 'SIGKILL');
          }
        }
        if (v.format === 'parallel') await assertNoData(target, `${signal} during a ${v.name} restore`, r);
        else await assertEmpty(target, `${signal} during a ${v.name} restore`, r);
        assert.deepEqual(orphans, [], 'the restore programs exited by themselves within 30 s');
        if (signal === 'SIGTERM') {
          assert.ok(r.exitAfterSignalMs! < 15_000, `exited within 15 s of the signal: ${describeRun(r)}`);
          assert.notEqual(r.code, 0, describeRun(r));
          assert.match(errorLine(r), /interrupted by SIGTERM/);
        }
      });
    }
  }
});

describe('c. SIGTERM while an S3 request hangs (default timeouts): the run ends within seconds', { concurrency: true }, () => {
  const cases: { name: string; fault: (bucket: string) => Parameters<FaultProxy['fault']>[0] }[] = [
    { name: 'HeadBucket (preflight)', fault: (bucket) => ({ method: 'HEAD', test: (req) => req.url === `/${bucket}` || req.url === `/${bucket}/` }) },
    { name: 'CreateMultipartUpload', fault: (bucket) => ({ method: 'POST', path: [`/${bucket}/`, '?uploads'] }) },
    { name: 'CompleteMultipartUpload', fault: (bucket) => ({ method: 'POST', path: [`/${bucket}/`, 'uploadId='] }) },
    { name: 'the manifest PUT', fault: (bucket) => ({ method: 'PUT', path: [`/${bucket}/`, '.manifest.json'] }) },
  ];
  for (const c of cases) {
    test(`c. SIGTERM while ${c.name} hangs: exit ≠ 0 within 12 s, no complete backup, no pending upload`, { timeout: 120_000 }, async (t) => {
      const bucket = await s3.createBucket({ objectLock: true });
      const f = proxy.fault(c.fault(bucket), { kind: 'hang' }, { times: Infinity });
      let r: Run;
      try {
        r = await cli(['backup', '-d', 'big', '--to', `s3://${bucket}/stop`, '--retain-days', '1', '--no-prune', ...partArgs],
          { env: { ...proxied, COPYCAT_KEY_FILE: keyFile }, boundMs: 90_000, killWhen: async () => f.applied >= 1 });
      } finally {
        proxy.clear(f);
      }
      t.diagnostic(outcome(r));
      assert.ok(r.signalled, `the signal came while the request was held: ${describeRun(r)}`);
      assert.ok(r.exitAfterSignalMs! < 12_000, `exited within 12 s of SIGTERM: ${describeRun(r)}`);
      assert.notEqual(r.code, 0, describeRun(r));
      assert.match(errorLine(r), /interrupted by SIGTERM/);
      await assertNoCompleteBackup(bucket, 'stop', c.name);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// d. Local file restores of damaged unencrypted, uncompressed backups; f. a plain dump cut at a statement boundary

describe('d/f. damaged local files (--no-encrypt --compression none)', () => {
  const dumps = new Map<string, Buffer>();
  before(async () => {
    for (const format of ['custom', 'plain'] as const) {
      for (const compression of ['none', 'zstd'] as const) {
        const path = join(dir, `local-${format}-${compression}.backup`);
        const r = await cli(['backup', '-d', 'small', '--to', `file:${path}`, '--format', format, '--no-encrypt', '--compression', compression],
          { env: pg.env, boundMs: 120_000 });
        assert.equal(r.code, 0, describeRun(r));
        dumps.set(compression === 'none' ? format : `${format}-zstd`, readFileSync(path));
      }
    }
  });

  const restoreFile = async (label: string, bytes: Buffer, t?: { diagnostic(m: string): void }, compression = 'none'): Promise<{ r: Run; target: string }> => {
    const path = join(dir, `${label}.damaged`);
    writeFileSync(path, bytes);
    const target = await freshDatabase(label);
    const r = await cli(['restore', '--from', `file:${path}`, '--to-database', target, '--no-encrypt', '--compression', compression],
      { env: pg.env, boundMs: 90_000 });
    t?.diagnostic(outcome(r));
    return { r, target };
  };

  for (const format of ['custom', 'plain'] as const) {
    test(`d. ${format}, zstd, not encrypted: one flipped byte → exit 1 (zstd's frame checksum), target empty`, { timeout: 120_000 }, async (t) => {
      const bytes = Buffer.from(dumps.get(`${format}-zstd`)!);
      const at = Math.floor(bytes.length * 0.5);
      bytes[at]! ^= 0x01;
      const { r, target } = await restoreFile(`d_flip_${format}`, bytes, t, 'zstd');
      await assertEmpty(target, `${format} (zstd) with a flipped byte at ${at} of ${bytes.length}`, r);
      assertFailed(r, /zstd could not decompress|checksum|corrupt/i, 60_000);
    });

    test(`d. ${format}, neither compressed nor encrypted: a stream with no checksum is restored with a restore.unverified warning`, { timeout: 120_000 }, async (t) => {
      // The narrowed guarantee (README, "What a restore guarantees"): the end is proven, damage inside is not detectable.
      const { r } = await restoreFile(`d_raw_${format}`, dumps.get(format)!, t);
      assert.equal(r.code, 0, describeRun(r));
      assert.match(r.stderr, /restore\.unverified .*carries no checksum/);
    });

    test(`d. ${format}: truncated at 60 % → exit 1, target empty`, { timeout: 120_000 }, async (t) => {
      const bytes = dumps.get(format)!;
      const { r, target } = await restoreFile(`d_trunc_${format}`, bytes.subarray(0, Math.floor(bytes.length * 0.6)), t);
      await assertEmpty(target, `${format} truncated`, r);
      assertFailed(r, /truncat|end of file|EOF|incomplete|cut|ended|short/i, 60_000);
    });
  }

  test('d. plain: a `\\! touch FILE` meta-command added to a local dump is never run, nothing is committed', { timeout: 120_000 }, async (t) => {
    const marker = join(tmpdir(), `copycat-faults-pwned-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      const sql = dumps.get('plain')!.toString('utf8');
      // First line (before pg_dump's own \restrict, which would make psql refuse it anyway) and after the first COPY
      // block, where a tamperer would hide it.
      const at = sql.indexOf('\n\\.\n') + 4;
      const bytes = Buffer.from(`\\! touch ${marker}\n${sql.slice(0, at)}\\! touch ${marker}\n${sql.slice(at)}`);
      const { r, target } = await restoreFile('d_meta', bytes, t);
      assert.equal(existsSync(marker), false, `the meta-command ran: ${describeRun(r)}`);
      await assertEmpty(target, 'plain dump with a meta-command', r);
      assertFailed(r, /meta-command|\\\\!|backslash|damaged|altered/i, 60_000);
    } finally {
      rmSync(marker, { force: true });
    }
  });

  test('f. a plain dump cut exactly after a complete statement (the end of the first COPY block) is refused, not committed', { timeout: 120_000 }, async (t) => {
    const sql = dumps.get('plain')!.toString('utf8');
    const endOfCopy = sql.indexOf('\n\\.\n');
    assert.ok(endOfCopy > 0, 'the plain dump has a COPY block');
    const cut = Buffer.from(sql.slice(0, endOfCopy + 4));
    const { r, target } = await restoreFile('f_boundary', cut, t);
    await assertEmpty(target, `plain dump cut after byte ${cut.length} of ${Buffer.byteLength(sql)}`, r);
    assertFailed(r, /truncat|incomplete|cut|ended|end of|trailer|not complete|missing/i, 60_000);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// e. Tampered objects in a locked bucket: newer versions written over a backup's keys

describe('e. tampered objects in a locked bucket', () => {
  let bucket: string;
  const RESTORE_BOUND = 90_000;

  /** Backup A (of `small`) then backup B (of `small_b`) under the prefix. */
  async function twoBackups(prefix: string, extra: string[] = []): Promise<{ a: BackupEntry; b: BackupEntry }> {
    for (const db of ['small', 'small_b']) {
      const r = await backupToS3(db, bucket, prefix, ['--level', '1', ...extra]);
      assert.equal(r.code, 0, describeRun(r));
      await sleep(1100); // ids carry the second
    }
    const entries = await completeBackups(bucket, prefix);
    assert.equal(entries.length, 2);
    const a = entries.find((e) => e.manifest!.source.database === 'small')!;
    const b = entries.find((e) => e.manifest!.source.database === 'small_b')!;
    return { a, b };
  }

  const restore = async (prefix: string, label: string, backupId?: string) => {
    const target = await freshDatabase(label);
    const r = await cli(['restore', '--from', `s3://${bucket}/${prefix}`, ...(backupId ? ['--backup', backupId] : []), '--to-database', target, '--key-file', keyFile],
      { env: direct, boundMs: RESTORE_BOUND + 30_000 });
    return { r, target };
  };

  before(async () => {
    bucket = await s3.createBucket({ objectLock: true });
  });

  test('e1. a newer version of B\'s data key holding A\'s bytes: restore --backup B restores B, never A', { timeout: 300_000 }, async (t) => {
    const { a, b } = await twoBackups('swap');
    const aBytes = await readObject(bucket, a.dataVersion!.key, a.dataVersion!.versionId);
    await putObject(s3.client, bucket, b.dataVersion!.key, aBytes);
    const { r, target } = await restore('swap', 'e1', b.id);
    t.diagnostic(outcome(r));
    await quiet(target);
    const got = await digestDatabase(pg, target);
    assert.notDeepEqual(got.tables, small.tables, 'A\'s rows were restored in place of B\'s');
    assertSucceeded(r, RESTORE_BOUND);
    assert.deepEqual(got, smallB, 'B, as its manifest recorded it, was restored');
  });

  test('e2. a garbage newer version over every data key leaves every backup complete and restorable', { timeout: 300_000 }, async (t) => {
    const { a, b } = await twoBackups('garbage');
    for (const e of [a, b]) await putObject(s3.client, bucket, e.dataVersion!.key, randomBytes(4096));
    const list = await cli(['list', '--from', `s3://${bucket}/garbage`, '--json'], { env: direct, boundMs: 60_000 });
    assert.equal(list.code, 0, describeRun(list));
    const statuses = (await listBackups(s3Repository({ client: s3.client, bucket: bucket, prefix: 'garbage' }))).map((e) => `${e.id} ${e.status}${e.problem ? ` (${e.problem})` : ''}`);
    assert.deepEqual(statuses, [`${a.id} complete`, `${b.id} complete`], 'both backups are still complete');
    const { r, target } = await restore('garbage', 'e2');
    t.diagnostic(outcome(r));
    assertSucceeded(r, RESTORE_BOUND);
    assert.deepEqual(await digestDatabase(pg, target), smallB, 'the latest backup (B) was restored');
  });

  test('e3. a newer manifest version (garbage over A\'s, a forgery naming A\'s bytes over B\'s) does not replace the original', { timeout: 300_000 }, async (t) => {
    const { a, b } = await twoBackups('manifest');
    await putObject(s3.client, bucket, a.manifestVersion!.key, '{"formatVersion": 1, "id": "trunc');
    // The forgery: A's bytes as a newer version of B's data key, and a manifest for B that names that version with A's digests.
    const aBytes = await readObject(bucket, a.dataVersion!.key, a.dataVersion!.versionId);
    const injected = await putObject(s3.client, bucket, b.dataVersion!.key, aBytes);
    const forged = { ...a.manifest!, id: b.id, source: b.manifest!.source, object: { ...a.manifest!.object, key: b.dataVersion!.key, versionId: injected! } };
    await putObject(s3.client, bucket, b.manifestVersion!.key, JSON.stringify(forged));
    const statuses = (await listBackups(s3Repository({ client: s3.client, bucket: bucket, prefix: 'manifest' }))).map((e) => `${e.id} ${e.status}${e.problem ? ` (${e.problem})` : ''}`);
    const ra = await restore('manifest', 'e3_a', a.id);
    const rb = await restore('manifest', 'e3_b', b.id);
    t.diagnostic(`A: ${outcome(ra.r)}; B: ${outcome(rb.r)}`);
    await quiet(rb.target);
    const gotB = await digestDatabase(pg, rb.target);
    assert.notDeepEqual(gotB.tables, small.tables, 'the forged manifest made restore --backup B restore A\'s rows');
    assert.deepEqual(statuses, [`${a.id} complete`, `${b.id} complete`], 'both backups are still complete under their original manifests');
    assertSucceeded(ra.r, RESTORE_BOUND);
    assert.deepEqual(await digestDatabase(pg, ra.target), small, 'A restored from its original manifest');
    assertSucceeded(rb.r, RESTORE_BOUND);
    assert.deepEqual(gotB, smallB, 'B restored from its original manifest and data version');
  });

  test('e4. a newer version of a --no-encrypt plain backup holding `\\! touch FILE` never runs it', { timeout: 300_000 }, async (t) => {
    const r0 = await backupToS3('small', bucket, 'meta', ['--format', 'plain', '--no-encrypt', '--compression', 'none']);
    assert.equal(r0.code, 0, describeRun(r0));
    const [entry] = await completeBackups(bucket, 'meta');
    const marker = join(tmpdir(), `copycat-faults-pwned-${process.pid}-${randomBytes(4).toString('hex')}`);
    rmSync(marker, { force: true });
    try {
      const original = await readObject(bucket, entry!.dataVersion!.key, entry!.dataVersion!.versionId);
      await putObject(s3.client, bucket, entry!.dataVersion!.key, Buffer.concat([Buffer.from(`\\! touch ${marker}\n`), original]));
      const { r, target } = await restore('meta', 'e4', entry!.id);
      t.diagnostic(outcome(r));
      await quiet(target);
      assert.equal(existsSync(marker), false, `the injected \\! touch ran (${marker} exists): ${describeRun(r)}`);
      if (r.code === 0) assert.deepEqual(await digestDatabase(pg, target), small, 'a successful restore restored the original');
      else await assertEmpty(target, 'a refused restore', r);
      assert.ok(!r.killedAtBound, describeRun(r));
    } finally {
      rmSync(marker, { force: true });
    }
  });
});
