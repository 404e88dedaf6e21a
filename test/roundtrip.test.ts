import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { backupTransforms, restoreTransforms } from '../src/chain.js';
import { restoreSink } from '../src/restore-sink.js';
import { pipeline } from '../src/pipeline.js';
import { fileSink } from '../src/sinks/file.js';
import { fileSource } from '../src/sources/file.js';
import { pgDump } from '../src/sources/pg-dump.js';
import { ENCRYPTION_MAGIC } from '../src/formats/encrypted-stream.js';
import { ChildOutput } from '../src/pg/child.js';
import { runCli } from './helpers/cli.js';
import { digestDatabase, seedVariedDatabase, type DatabaseDigest } from './helpers/fixtures.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';

let cluster: PgCluster;
let dir: string;
let source: DatabaseDigest;
const key = randomBytes(32);

before(async () => {
  cluster = await startPgCluster();
  dir = mkdtempSync(join(tmpdir(), 'copycat-roundtrip-'));
  await seedVariedDatabase(cluster, 'source');
  source = await digestDatabase(cluster, 'source');
});

after(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the varied fixture really has content to compare', () => {
  assert.equal(Object.keys(source.tables).length, 2);
  assert.match(source.tables['public.customers']!, /^2000:/);
  assert.equal(source.sequences['public.ticket_seq'], '4242/true');
  assert.match(source.schema, /CREATE VIEW billing\.customer_totals/);
});

for (const format of ['custom', 'plain'] as const) {
  test(`library: ${format} dump → zstd → encrypt → file, and back into a new database, is identical`, async () => {
    const path = join(dir, `lib-${format}.backup`);
    const chain = { compression: 'zstd' as const, level: 3, key };
    const dump = pgDump({ database: 'source', format, env: cluster.env });
    const backup = await pipeline(dump)
      .through(...backupTransforms(chain))
      .to(fileSink(path))
      .run();
    assert.ok(backup.bytesRead > 100_000, 'the dump has the data');
    const serverVersion = (await cluster.query<{ server_version: string }>('SHOW server_version'))[0]!.server_version;
    const dumpVersion = (await dump.facts!()).dumpVersion;
    assert.deepEqual(await dump.facts!(), { kind: 'pg_dump', database: 'source', serverVersion, dumpVersion, format },
      'the server version is learned even though nothing asked for the expected size');
    assert.equal(dumpVersion?.split(' ')[0], serverVersion.split(' ')[0], 'the pg_dump of the server\'s own version');
    assert.equal(backup.stages.length, 4);
    assert.equal(backup.bytesWritten, readFileSync(path).length);
    assert.ok(readFileSync(path).subarray(0, 8).equals(ENCRYPTION_MAGIC), 'stored bytes are encrypted');

    const target = `restored_lib_${format}`;
    await cluster.createDatabase(target);
    const restore = await pipeline(fileSource(path))
      .through(...restoreTransforms(chain))
      .to(restoreSink({ database: target, env: cluster.env }))
      .run();
    assert.equal(restore.bytesWritten, backup.bytesRead, 'restore fed the exact dump to the restore program');
    assert.equal(restore.stages.at(-1)!.info!.program, format === 'custom' ? 'pg_restore' : 'psql');
    assert.deepEqual(await digestDatabase(cluster, target), source);
  });
}

test('CLI: keygen, backup --to file:, restore --from file: round trip', async () => {
  const keyFile = join(dir, 'cli.key');
  const keygen = await runCli(['keygen', keyFile]);
  assert.equal(keygen.code, 0, keygen.stderr);
  assert.match(keygen.stdout.toString(), /key id [0-9a-f]{16}/);
  assert.equal((await runCli(['keygen', keyFile])).code, 1, 'keygen refuses to overwrite');

  const path = join(dir, 'cli.backup');
  // A file backup and restore never load the AWS SDK or undici (README, Performance): a preloaded probe says which did.
  const probe = join(dir, 'probe.cjs');
  writeFileSync(probe, `process.on('exit', () => process.stderr.write('loaded: ' + Object.keys(require.cache)
    .filter((k) => k.includes('@aws-sdk') || k.includes('/undici/')).length + ' SDK or undici modules\\n'));`);
  const env = { ...cluster.env, COPYCAT_KEY_FILE: keyFile, NODE_OPTIONS: `--require ${probe}` };
  const backup = await runCli(['backup', '--database', 'source', '--to', `file:${path}`, '--level', '1'], { env });
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(backup.stderr, /backup\.done/);
  assert.match(backup.stderr, /loaded: 0 SDK or undici modules/);
  assert.ok(existsSync(path) && !readdirSync(dirname(path)).some((f) => f.endsWith(".partial")));

  await cluster.createDatabase('restored_cli');
  const restore = await runCli(['restore', '--from', `file:${path}`, '--to-database', 'restored_cli'], { env });
  assert.equal(restore.code, 0, restore.stderr);
  assert.match(restore.stderr, /loaded: 0 SDK or undici modules/);
  assert.deepEqual(await digestDatabase(cluster, 'restored_cli'), source);
});

test('CLI: backup to stdout and restore from stdin, unencrypted and uncompressed, is the plain pg_dump archive', async () => {
  const backup = await runCli(['backup', '-d', 'source', '--to', '-', '--no-encrypt', '--compression', 'none'], { env: cluster.env });
  assert.equal(backup.code, 0, backup.stderr);
  assert.equal(backup.stdout.subarray(0, 5).toString(), 'PGDMP');
  await cluster.createDatabase('restored_stdin');
  const restore = await runCli(['restore', '--from', '-', '--to-database', 'restored_stdin', '--no-encrypt', '--compression', 'none'],
    { env: cluster.env, stdin: backup.stdout });
  assert.equal(restore.code, 0, restore.stderr);
  assert.deepEqual(await digestDatabase(cluster, 'restored_stdin'), source);
});

test('a program\'s output comes through a FIFO gone from TMPDIR before it starts; without a usable TMPDIR, the socket pair', async () => {
  const kindOfStdout = async () => {
    const out = new ChildOutput({ name: 'sh', command: 'sh', args: ['-c', 'stat -L -c %F /dev/stdout; ls -A "$TMPDIR" | wc -l; head -c 300000 /dev/zero'] });
    const text = Buffer.concat(await out.toArray()).toString();
    return { kind: text.split('\n')[0], listed: text.split('\n')[1], bytes: text.length };
  };
  const saved = process.env.TMPDIR;
  const temp = mkdtempSync(join(dir, 'tmp-'));
  try {
    process.env.TMPDIR = temp;
    // The child lists TMPDIR while it runs: the FIFO is already unlinked.
    assert.deepEqual(await kindOfStdout(), { kind: 'fifo', listed: '0', bytes: 'fifo\n0\n'.length + 300000 });
    assert.deepEqual(readdirSync(temp), []);
    process.env.TMPDIR = join(dir, 'missing');
    assert.equal((await kindOfStdout()).kind, 'socket');
  } finally {
    process.env.TMPDIR = saved;
    if (saved === undefined) delete process.env.TMPDIR;
  }
  const backup = await runCli(['backup', '-d', 'source', '--to', '-', '--no-encrypt', '--compression', 'none'], { env: { ...cluster.env, TMPDIR: temp } });
  assert.equal(backup.code, 0, backup.stderr);
  assert.equal(backup.stdout.subarray(0, 5).toString(), 'PGDMP');
  assert.deepEqual(readdirSync(temp), []);
});

test('restore --create recreates the dumped database by name', async () => {
  await cluster.createDatabase('created_src');
  await cluster.query('CREATE TABLE t AS SELECT g FROM generate_series(1, 10) g', 'created_src');
  const path = join(dir, 'create.backup');
  await pipeline(pgDump({ database: 'created_src', env: cluster.env })).to(fileSink(path)).run();
  await cluster.query('DROP DATABASE created_src');
  await pipeline(fileSource(path)).to(restoreSink({ database: 'postgres', create: true, env: cluster.env })).run();
  const [row] = await cluster.query<{ n: string }>('SELECT count(*)::text AS n FROM t', 'created_src');
  assert.equal(row!.n, '10');
});

test('a key file of the wrong size is refused with the fix', async () => {
  const bad = join(dir, 'bad.key');
  writeFileSync(bad, 'not a key\n');
  const r = await runCli(['backup', '-d', 'source', '--to', `file:${join(dir, 'never.backup')}`, '--key-file', bad], { env: cluster.env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /key file .*bad\.key.*10 bytes, not 32.*copycat-db keygen/);
  assert.ok(!existsSync(join(dir, 'never.backup')));
});
