// The zstd addon is native code, which can fail to build or load where copycat-db is installed. Without it, what
// does not compress must still work, and what does must fail at once with one line that says what to do.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { backup } from '../src/operations/backup.js';
import { dirRepository } from '../src/repository/index.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';
import { runCli } from './helpers/cli.js';

const HOOK = new URL('./helpers/no-zstd-addon.js', import.meta.url).href;
const LIBRARY = new URL('../src/index.js', import.meta.url).href;
const withoutAddon = { NODE_OPTIONS: `--import=${HOOK}` };
const UNAVAILABLE = /^copycat-db: error: zstd is unavailable: its native addon zstd-napi did not load \(.*zstd-napi.*: invalid ELF header \(simulated\)\) — rebuild it .*npm rebuild zstd-napi.*--compression none$/;

/** The run's error is its last stderr line, and the only one (the lines before it are info logs). */
function assertOneErrorLine(stderr: string): void {
  const lines = stderr.trimEnd().split('\n');
  assert.match(lines.at(-1)!, UNAVAILABLE);
  assert.deepEqual(lines.filter((l) => /error/.test(l)), [lines.at(-1)], stderr);
}

let cluster: PgCluster;
let dir: string;
let repo: string;

before(async () => {
  cluster = await startPgCluster();
  await cluster.createDatabase('app');
  await cluster.query('CREATE TABLE t AS SELECT g, md5(g::text) AS h FROM generate_series(1, 1000) g', 'app');
  dir = mkdtempSync(join(tmpdir(), 'copycat-zstd-addon-'));
  repo = join(dir, 'repo');
  mkdirSync(repo);
  // A zstd backup made where the addon works (this process), to be listed and restored where it does not.
  const dump = Buffer.from('PGDMP not really a dump, but bytes to compress\n'.repeat(1000));
  await backup({ source: { name: 'bytes', create: () => Readable.from([dump]) }, chain: { compression: 'zstd' },
    to: { repository: dirRepository(repo) } });
});

after(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('without the zstd addon, --help, keygen, list and prune work', async () => {
  const help = await runCli(['--help'], { env: withoutAddon });
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout.toString(), /^Usage: copycat-db/);
  assert.equal(help.stderr, '');

  const keygen = await runCli(['keygen', join(dir, 'key')], { env: withoutAddon });
  assert.equal(keygen.code, 0, keygen.stderr);

  const list = await runCli(['list', '--from', `file:${repo}/`], { env: withoutAddon });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout.toString(), /complete/, 'the zstd backup is listed');

  const prune = await runCli(['prune', '--from', `file:${repo}/`, '--dry-run'], { env: withoutAddon });
  assert.equal(prune.code, 0, prune.stderr);
  assert.match(prune.stderr, /within keep-last/, 'the backup was judged');
});

test('without the zstd addon, a backup with --compression none and its restore work', async () => {
  const env = { ...withoutAddon, ...cluster.env };
  const file = join(dir, 'plain.backup');
  const backupRun = await runCli(['backup', '-d', 'app', '--to', `file:${file}`, '--compression', 'none', '--no-encrypt'], { env });
  assert.equal(backupRun.code, 0, backupRun.stderr);
  await cluster.createDatabase('app_copy');
  const restoreRun = await runCli(['restore', '--from', `file:${file}`, '--compression', 'none', '--no-encrypt', '--to-database', 'app_copy'], { env });
  assert.equal(restoreRun.code, 0, restoreRun.stderr);
  assert.deepEqual(await cluster.query('SELECT count(*)::int AS n, sum(g)::int AS s FROM t', 'app_copy'), [{ n: 1000, s: 500500 }]);
});

test('without the zstd addon, a zstd backup or restore fails with one line before anything starts', async () => {
  const out = join(dir, 'app.backup');
  // No PostgreSQL here: pg_dump would fail differently, so the addon's error proves nothing was started first.
  const backupRun = await runCli(['backup', '-d', 'app', '--to', `file:${out}`, '--key-file', join(dir, 'key')],
    { env: { ...withoutAddon, PGHOST: '127.0.0.1', PGPORT: '1' } });
  assert.equal(backupRun.code, 1);
  assertOneErrorLine(backupRun.stderr);
  assert.ok(!existsSync(out) && !readdirSync(dir).some((f) => f.endsWith('.partial')), 'no output was started');

  const restoreRun = await runCli(['restore', '--from', `file:${repo}/`, '--to-database', 'app_copy'],
    { env: { ...withoutAddon, PGHOST: '127.0.0.1', PGPORT: '1' } });
  assert.equal(restoreRun.code, 1);
  assertOneErrorLine(restoreRun.stderr);
});

test('without the zstd addon, the library loads, and only asking for a zstd stage fails', async () => {
  const script = `const lib = await import(${JSON.stringify(LIBRARY)});
    lib.backupChain({ compression: 'none' });
    try { lib.zstdCompress(); } catch (err) { console.log(err.code); }`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', HOOK, '--input-type=module', '-e', script]);
  assert.equal(stdout, 'ZSTD_UNAVAILABLE\n');
});

test('the hook is what breaks zstd: without it the same library call succeeds', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e',
    `const lib = await import(${JSON.stringify(LIBRARY)}); console.log(lib.zstdCompress().name);`]);
  assert.equal(stdout, 'zstd-compress\n');
});

