// A restore commits only after the whole stream was read, every check passed and the end of the stream was proven;
// a failure or a signal at any point leaves the target database as it was. Each case tries to break that.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { after, before, test } from 'node:test';
import { pipeline } from '../src/pipeline.js';
import { fileSink } from '../src/sinks/file.js';
import { plainSqlGate } from '../src/sinks/pg-restore/plain-sql-gate.js';
import { restoreSink } from '../src/restore-sink.js';
import { fileSource } from '../src/sources/file.js';
import { pgDump } from '../src/sources/pg-dump.js';
import type { TransformStage } from '../src/stage.js';
import { sha256 } from '../src/transforms/sha256.js';
import { runCli } from './helpers/cli.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';

let cluster: PgCluster;
let dir: string;
const dumps: Record<'custom' | 'plain', string> = { custom: '', plain: '' };
let targets = 0;

before(async () => {
  cluster = await startPgCluster();
  dir = mkdtempSync(join(tmpdir(), 'copycat-commit-'));
  await cluster.createDatabase('app');
  // ~40 MB of dump: restores take long enough for a signal to land while psql or pg_restore is at work.
  await cluster.query(`CREATE TABLE big AS SELECT g AS id, md5(g::text) || repeat(md5((g * 7)::text), 4) AS payload
    FROM generate_series(1, 200000) g; SELECT lo_from_bytea(0, 'large object')`, 'app');
  for (const format of ['custom', 'plain'] as const) {
    dumps[format] = join(dir, `app.${format}`);
    await pipeline(pgDump({ database: 'app', format, env: cluster.env })).to(fileSink(dumps[format])).run();
  }
});

after(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function newTarget(): Promise<string> {
  const name = `target_${++targets}`;
  await cluster.createDatabase(name);
  return name;
}

/** What a failed restore may leave: nothing of the dump (no table, no large object). */
async function assertUntouched(database: string): Promise<void> {
  const [row] = await cluster.query<{ tables: number; objects: number }>(
    `SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')::int AS tables,
            (SELECT count(*) FROM pg_largeobject_metadata)::int AS objects`, database);
  assert.deepEqual(row, { tables: 0, objects: 0 }, `${database} holds part of the dump`);
}

async function rows(database: string): Promise<number> {
  const [row] = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM big', database);
  return row!.n;
}

function withFlippedByte(path: string, offsetFromEnd: number): string {
  const bytes = readFileSync(path);
  bytes[bytes.length - offsetFromEnd]! ^= 0x01;
  const out = `${path}.flipped-${offsetFromEnd}`;
  writeFileSync(out, bytes);
  return out;
}

for (const format of ['custom', 'plain'] as const) {
  test(`${format}: a digest mismatch found as the stream ends commits nothing, even when the flip is in the last bytes`, async () => {
    const expected = await sha256Of(dumps[format]);
    for (const offset of [1, 200, 64 << 10]) {
      const target = await newTarget();
      const flipped = withFlippedByte(dumps[format], offset);
      await assert.rejects(
        pipeline(fileSource(flipped)).through(sha256({ label: 'plaintext', expect: expected }))
          .to(restoreSink({ database: target, env: cluster.env })).run(),
        (err: Error & { code?: string }) => err.code === 'DIGEST_MISMATCH' || err.code === 'PROGRAM_FAILED',
      );
      await assertUntouched(target);
    }
  });

  test(`${format}: a check that fails only well after every byte was passed on still commits nothing`, async () => {
    // The slowest a last check can be: the program has had every byte but the held-back ones for a whole second.
    const lateCheck: TransformStage = {
      name: 'late-check',
      create: () => new Transform({
        transform: (chunk, _enc, cb) => cb(null, chunk),
        flush: (cb) => void setTimeout(() => cb(new Error('the late check failed')), 1000),
      }),
    };
    const target = await newTarget();
    await assert.rejects(pipeline(fileSource(dumps[format])).through(lateCheck).to(restoreSink({ database: target, env: cluster.env })).run(),
      /the late check failed/);
    await waitForNoSessions(target);
    await assertUntouched(target);
  });

  test(`${format}: the whole dump restores, large objects included`, async () => {
    const target = await newTarget();
    await pipeline(fileSource(dumps[format])).to(restoreSink({ database: target, env: cluster.env })).run();
    assert.equal(await rows(target), 200000);
    const [lo] = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_largeobject_metadata', target);
    assert.equal(lo!.n, 1);
  });

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    test(`${format}: ${signal} while the restore program is at work leaves the target untouched`, async () => {
      const target = await newTarget();
      const started = Date.now();
      let stoppedAt = 0;
      const r = await runCli(['restore', '--from', `file:${dumps[format]}`, '--no-encrypt', '--compression', 'none', '--to-database', target], {
        env: cluster.env,
        onSpawn: (child) => void waitForRestoreActivity(target).then(() => {
          stoppedAt = Date.now();
          child.kill(signal);
        }),
      });
      assert.notEqual(r.code, 0, 'the run must not report success');
      assert.ok(stoppedAt > started, 'the signal landed during the restore');
      assert.ok(Date.now() - stoppedAt < 15_000, `exited ${Date.now() - stoppedAt} ms after ${signal}`);
      await waitForNoSessions(target);
      await assertUntouched(target);
    });
  }
}

test('plain: a dump cut exactly at a statement boundary is refused, not committed', async () => {
  const text = readFileSync(dumps.plain, 'latin1');
  const cut = text.indexOf('\n--\n-- Data for Name: BLOBS') + 1;
  assert.ok(cut > 0);
  const path = join(dir, 'cut.sql');
  writeFileSync(path, text.slice(0, cut), 'latin1');
  const target = await newTarget();
  const r = await runCli(['restore', '--from', `file:${path}`, '--no-encrypt', '--compression', 'none', '--to-database', target], { env: cluster.env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /copycat-db: error: the plain SQL dump does not end with pg_dump's .*truncated/);
  await assertUntouched(target);
});

test('plain: psql meta-commands in a dump are refused and never run', async () => {
  const marker = join(dir, 'meta-command-ran');
  const text = readFileSync(dumps.plain, 'latin1').replace('SET statement_timeout = 0;', `SET statement_timeout = 0;\n\\! touch ${marker}`);
  const path = join(dir, 'meta.sql');
  writeFileSync(path, text, 'latin1');
  const target = await newTarget();
  const r = await runCli(['restore', '--from', `file:${path}`, '--no-encrypt', '--compression', 'none', '--to-database', target], { env: cluster.env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /copycat-db: error: the plain dump holds a psql meta-command .*never runs: nothing was committed/);
  assert.equal(existsSync(marker), false, 'the meta-command ran');
  await assertUntouched(target);
});

test('plain: a COMMIT inside the dump cannot commit part of it', async () => {
  const text = readFileSync(dumps.plain, 'latin1').replace('--\n-- Data for Name: big;', 'COMMIT;\n--\n-- Data for Name: big;');
  const path = join(dir, 'commit.sql');
  writeFileSync(path, text, 'latin1');
  const target = await newTarget();
  const r = await runCli(['restore', '--from', `file:${path}`, '--no-encrypt', '--compression', 'none', '--to-database', target], { env: cluster.env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /commits by itself before its end was verified/);
  await assertUntouched(target);
});

test('an encrypted backup restored with --no-encrypt says it is encrypted', async () => {
  const keyFile = join(dir, 'key');
  writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  const path = join(dir, 'encrypted.backup');
  const b = await runCli(['backup', '-d', 'app', '--to', `file:${path}`, '--key-file', keyFile, '--compression', 'none'], { env: cluster.env });
  assert.equal(b.code, 0, b.stderr);
  const target = await newTarget();
  const r = await runCli(['restore', '--from', `file:${path}`, '--no-encrypt', '--compression', 'none', '--to-database', target], { env: cluster.env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /copycat-db: error: the backup is encrypted .*--key-file/);
  await assertUntouched(target);
});

test('children get libpq variables, never the S3 or Scaleway secrets or the ping URL', async () => {
  const bin = join(dir, 'env-dump-bin');
  mkdirSync(bin);
  const seen = join(dir, 'env-seen');
  writeFileSync(join(bin, 'pg_dump'), `#!/bin/sh\n[ "$1" = --version ] && { echo 'pg_dump (PostgreSQL) 99.0'; exit 0; }\n` +
    `env > ${seen}\necho '-- PostgreSQL database dump complete'\n`, { mode: 0o755 });
  const env = { ...process.env, AWS_SECRET_ACCESS_KEY: 'aws-secret-value', SCW_SECRET_KEY: 'scw-secret-value', COPYCAT_PING_URL: 'https://hc.example/secret-uuid' };
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    await pipeline(pgDump({ database: 'app', programs: { binDir: bin }, env: cluster.env })).to(fileSink(join(dir, 'env.out'))).run();
  } finally {
    for (const k of Object.keys(env)) if (!(k in saved)) delete process.env[k];
  }
  const text = readFileSync(seen, 'utf8');
  assert.match(text, /^PGPORT=/m);
  assert.match(text, /^PATH=/m);
  for (const secret of ['aws-secret-value', 'scw-secret-value', 'secret-uuid']) assert.doesNotMatch(text, new RegExp(secret));
});

async function sha256Of(path: string): Promise<string> {
  const d = sha256();
  await pipeline(fileSource(path)).through(d).to(fileSink(join(dir, `digest-${randomBytes(4).toString('hex')}`))).run();
  return d.digest()!;
}

/** Resolves once a restore session is working in the target (a COPY or another statement), polled every 50 ms. */
async function waitForRestoreActivity(database: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const [row] = await cluster.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${database}' AND query ILIKE 'COPY%'`);
    if (row!.n > 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no restore activity in ${database}`);
}

/** A killed client's backend rolls back as it notices the closed connection: wait for that before looking. */
async function waitForNoSessions(database: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const [row] = await cluster.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${database}'`);
    if (row!.n === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sessions still open in ${database}`);
}

test('plain gate: the same output whatever the chunking, COPY rows untouched, only pg_dump\'s own framing lines dropped', () => {
  const dump = [
    '--', '-- PostgreSQL database dump', '--', '', '\\restrict abc123', '', 'SET statement_timeout = 0;',
    'COPY public.t (a) FROM stdin;', 'BEGIN;', 'COMMIT;', '\\unrestrict other', '-- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -', 'x'.repeat(5000), '\\.', '',
    '--', '-- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -', '--', '', 'BEGIN;', '', "SELECT pg_catalog.lo_open('1', 131072);", 'COMMIT;', '',
    'CREATE PROCEDURE p() LANGUAGE plpgsql AS $$', 'BEGIN', 'COMMIT;', 'END $$;', '',
    '--', '-- PostgreSQL database dump complete', '--', '', '\\unrestrict abc123', '', '',
  ].join('\n');
  const expected = dump.replace('\\restrict abc123\n', '').replace('\\unrestrict abc123\n', '')
    .replace('--\n\nBEGIN;\n', '--\n\n').replace("131072);\nCOMMIT;\n", '131072);\n');
  const run = (size: number): string => {
    const gate = plainSqlGate();
    const start = gate.start().toString('latin1');
    assert.match(start, /^\\restrict [0-9a-f]+\nBEGIN;\n/);
    const bytes = Buffer.from(dump, 'latin1');
    let out = '';
    for (let i = 0; i < bytes.length; i += size) out += Buffer.concat(gate.write(bytes.subarray(i, i + size))).toString('latin1');
    const end = gate.end().toString('latin1');
    assert.match(end, /SET LOCAL copycat\.restore_gate = '[0-9a-f]+';\nCOMMIT;\n$/);
    return out + end.replace(/\nSET LOCAL[^]*$/, '');
  };
  for (const size of [1, 2, 3, 7, 100, 4096, 1 << 20]) assert.equal(run(size), expected, `chunks of ${size} bytes`);
  const cut = plainSqlGate();
  cut.write(Buffer.from(dump.slice(0, dump.indexOf('-- PostgreSQL database dump complete')), 'latin1'));
  assert.throws(() => cut.end(), (err: Error & { code?: string }) => err.code === 'TRUNCATED');
});
