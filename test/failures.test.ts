import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pipeline } from '../src/pipeline.js';
import { fileSink } from '../src/sinks/file.js';
import { restoreSink } from '../src/restore-sink.js';
import { fileSource } from '../src/sources/file.js';
import { pgDump } from '../src/sources/pg-dump.js';
import { zstdCompress } from '../src/transforms/compression/zstd.js';
import { sha256 } from '../src/transforms/sha256.js';
import { runCli } from './helpers/cli.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';

let cluster: PgCluster;
let dir: string;
let keyFile: string;

before(async () => {
  cluster = await startPgCluster();
  dir = mkdtempSync(join(tmpdir(), 'copycat-failures-'));
  keyFile = join(dir, 'key');
  writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
  await cluster.createDatabase('app');
  // Large enough that a slow level-19 compression is still running when the test interrupts it.
  await cluster.query(`CREATE TABLE big AS SELECT g AS id, md5(g::text) || repeat(md5((g * 7)::text), 4) AS payload
    FROM generate_series(1, 300000) g`, 'app');
});

after(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const nothingLeft = (name: string) => readdirSync(dir).filter((f) => f.startsWith(name));

test('pg_dump of an unknown database: exit 1, pg_dump\'s own message, no file left behind', async () => {
  const r = await runCli(['backup', '-d', 'no_such_db', '--to', `file:${join(dir, 'unknown.backup')}`, '--key-file', keyFile], { env: cluster.env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /copycat-db: error: pg_dump exited with code 1: .*database "no_such_db" does not exist/);
  assert.deepEqual(nothingLeft('unknown'), []);
});

test('pg_dump with a wrong password: exit 1, the authentication failure, no file left behind', async () => {
  const r = await runCli(['backup', '-d', 'app', '--to', `file:${join(dir, 'password.backup')}`, '--key-file', keyFile],
    { env: { ...cluster.env, PGPASSWORD: 'wrong' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /password authentication failed for user "postgres"/);
  assert.deepEqual(nothingLeft('password'), []);
});

test('library: a failing source rejects with its cause, not the EPIPE it causes downstream', async () => {
  const path = join(dir, 'lib-fail.backup');
  await assert.rejects(
    pipeline(pgDump({ database: 'no_such_db', env: cluster.env })).through(zstdCompress()).to(fileSink(path)).run(),
    (err: Error & { code?: string }) => err.code === 'PROGRAM_FAILED' && /does not exist/.test(err.message),
  );
  assert.deepEqual(nothingLeft('lib-fail'), []);
});

test('an existing destination file is never overwritten', async () => {
  const path = join(dir, 'exists.backup');
  writeFileSync(path, 'precious');
  const r = await runCli(['backup', '-d', 'app', '--to', `file:${path}`, '--no-encrypt'], { env: cluster.env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /already exists: choose another path/);
});

test('restore into a database where the restore fails: exit 1 with pg_restore\'s error', async () => {
  const path = join(dir, 'conflict.backup');
  await pipeline(pgDump({ database: 'app', env: cluster.env, args: ['--schema-only'] })).to(fileSink(path)).run();
  await cluster.createDatabase('conflict');
  await cluster.query('CREATE TABLE big (other int)', 'conflict');
  const r = await runCli(['restore', '--from', `file:${path}`, '--to-database', 'conflict', '--no-encrypt', '--compression', 'none'], { env: cluster.env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /pg_restore exited with code 1: .*relation "big" already exists/);
});

test('a corrupt backup fails restore with the integrity error and exit 1', async () => {
  const path = join(dir, 'corrupt.backup');
  const backup = await runCli(['backup', '-d', 'app', '--to', `file:${path}`, '--key-file', keyFile, '--level', '1'], { env: cluster.env });
  assert.equal(backup.code, 0, backup.stderr);
  const { readFileSync } = await import('node:fs');
  const bytes = readFileSync(path);
  bytes[bytes.length >> 1]! ^= 0x01;
  writeFileSync(path, bytes);
  await cluster.createDatabase('from_corrupt');
  const r = await runCli(['restore', '--from', `file:${path}`, '--to-database', 'from_corrupt', '--key-file', keyFile], { env: cluster.env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /chunk \d+/i);
});

test('SIGTERM during a backup: exit 1 within 3 s, says it was interrupted, kills pg_dump, leaves no file', async () => {
  const path = join(dir, 'sigterm.backup');
  const dumping = async () => Number((await cluster.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = 'pg_dump'`))[0]!.n);
  let signalled = false;
  let signalledAt = 0;
  const r = await runCli(['backup', '-d', 'app', '--to', `file:${path}`, '--key-file', keyFile, '--level', '9'], {
    env: cluster.env,
    // Signal only once pg_dump is at work on the server, so the interruption is mid-dump whatever the machine's load.
    onSpawn: (child) => void (async () => {
      for (let i = 0; i < 600 && child.exitCode === null; i++) {
        if (await dumping() > 0) {
          signalled = child.kill('SIGTERM');
          signalledAt = Date.now();
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })(),
  });
  assert.ok(signalled, 'pg_dump was running when the signal came');
  // It took 10 s when a paused pg_dump pipe kept the child from closing.
  assert.ok(Date.now() - signalledAt < 3000, `exited ${Date.now() - signalledAt} ms after SIGTERM`);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /interrupted by SIGTERM/);
  assert.deepEqual(nothingLeft('sigterm'), []);
  // The server may take a moment to notice the closed connection.
  let left = await dumping();
  for (let i = 0; i < 50 && left > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = await dumping();
  }
  assert.equal(left, 0, 'pg_dump was stopped');
});

test('library: AbortSignal stops the run with its reason and removes the partial file', async () => {
  const path = join(dir, 'aborted.backup');
  const controller = new AbortController();
  const reason = new Error('operator cancelled');
  setTimeout(() => controller.abort(reason), 300);
  await assert.rejects(
    pipeline(pgDump({ database: 'app', env: cluster.env })).through(zstdCompress({ level: 19 })).to(fileSink(path)).run({ signal: controller.signal }),
    (err) => err === reason,
  );
  assert.deepEqual(nothingLeft('aborted'), []);
});

test('restoring an empty stream says the backup is empty', async () => {
  const path = join(dir, 'empty.backup');
  writeFileSync(path, '');
  await cluster.createDatabase('from_empty');
  await assert.rejects(pipeline(fileSource(path)).to(restoreSink({ database: 'from_empty', env: cluster.env })).run(),
    /the backup is empty/);
  assert.ok(existsSync(path));
});

test('a digest mismatch found at the last byte rolls the whole restore back', async () => {
  const path = join(dir, 'digest.backup');
  await pipeline(pgDump({ database: 'app', env: cluster.env })).to(fileSink(path)).run();
  await cluster.createDatabase('from_bad_digest');
  await assert.rejects(
    pipeline(fileSource(path)).through(sha256({ label: 'stored', expect: '0'.repeat(64) }))
      .to(restoreSink({ database: 'from_bad_digest', env: cluster.env })).run(),
    (err: Error & { code?: string }) => err.code === 'DIGEST_MISMATCH' && /stored bytes have sha256 [0-9a-f]{64}, the manifest says 0+/.test(err.message),
  );
  const tables = await cluster.query(`SELECT 1 FROM pg_tables WHERE schemaname = 'public'`, 'from_bad_digest');
  assert.deepEqual(tables, [], 'nothing was restored');
});
