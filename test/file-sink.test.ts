// A file destination never holds a half-written file under a backup's name, whatever races or fills the disk.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { pipeline } from '../src/pipeline.js';
import { fileSink } from '../src/sinks/file.js';
import type { SourceStage } from '../src/stage.js';
import { runCli } from './helpers/cli.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';

let cluster: PgCluster;
let dir: string;
let keyFile: string;

before(async () => {
  cluster = await startPgCluster();
  dir = mkdtempSync(join(tmpdir(), 'copycat-file-sink-'));
  keyFile = join(dir, 'key');
  writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
  await cluster.createDatabase('app');
  await cluster.query(`CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 300000) g`, 'app');
});

after(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const bytes = (n: number): SourceStage => ({ name: 'bytes', create: () => Readable.from([randomBytes(n)]) });

test('two backups to one file through a symlinked directory: the lock is the real path\'s, the second is refused', async () => {
  const real = join(dir, 'real');
  mkdirSync(real);
  symlinkSync(real, join(dir, 'link'));
  const args = (through: string) => ['backup', '-d', 'app', '--to', `file:${join(dir, through, 'app.backup')}`, '--key-file', keyFile, '--level', '9'];
  const [a, b] = await Promise.all([runCli(args('real'), { env: cluster.env }), delay(300).then(() => runCli(args('link'), { env: cluster.env }))]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /copycat-db: error: another copycat-db backup to file:.*real\/app\.backup is running/);
  assert.deepEqual(readdirSync(real), ['app.backup']);
});

test('two backups to one file with different lock directories: one keeps the name, the other fails clearly, no partial is left', async () => {
  const out = join(dir, 'race');
  mkdirSync(out);
  const run = (lockDir: string) => runCli(['backup', '-d', 'app', '--to', `file:${join(out, 'app.backup')}`, '--key-file', keyFile, '--level', '9'],
    { env: { ...cluster.env, COPYCAT_LOCK_DIR: join(dir, lockDir) } });
  const results = await Promise.all([run('lock-a'), run('lock-b')]);
  const codes = results.map((r) => r.code).sort();
  assert.deepEqual(codes, [0, 1], results.map((r) => r.stderr).join('\n'));
  const loser = results.find((r) => r.code === 1)!;
  assert.match(loser.stderr, /copycat-db: error: .*app\.backup (appeared while this backup was written|already exists)/);
  assert.doesNotMatch(loser.stderr, /ENOENT/);
  assert.deepEqual(readdirSync(out), ['app.backup']);
});

// The second case fills the disk only in the last write, which the sink holds back (less than its batch) until the end.
for (const [size, total] of [['1m', 4 << 20], ['256k', 900 << 10]] as const) {
  test(`a full disk (${size}, ${total} bytes written) names the file and the fix, and leaves no partial file`, { skip: process.getuid?.() !== 0 && 'mounting a small tmpfs needs root' }, async () => {
    const small = join(dir, `small-${size}`);
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', small]);
    try {
      await assert.rejects(pipeline(bytes(total)).to(fileSink(join(small, 'x.backup'))).run(),
        (err: Error & { code?: string }) => err.code === 'DISK_FULL' && err.message.includes(join(small, 'x.backup')) && /free space/.test(err.message));
      assert.deepEqual(readdirSync(small), []);
    } finally {
      execFileSync('umount', [small]);
    }
  });
}

test('every byte reaches the file, in order, whatever the sizes of the writes around the sink\'s 1 MiB batches', async () => {
  const random = randomBytes(5 << 20);
  for (const sizes of [[0], [1], [(1 << 20) - 1], [1 << 20], [(1 << 20) + 1], [7, 1 << 20, 3], Array.from({ length: 300 }, (_, i) => 1 + (i * 7919) % 33000)]) {
    const total = sizes.reduce((a, b) => a + b, 0);
    const pieces: Buffer[] = [];
    for (let at = 0, i = 0; i < sizes.length; at += sizes[i]!, i++) pieces.push(random.subarray(at, at + sizes[i]!));
    const path = join(dir, `batches-${sizes.length}-${total}.out`);
    await pipeline({ name: 'pieces', create: () => Readable.from(pieces) }).to(fileSink(path)).run();
    assert.ok(readFileSync(path).equals(random.subarray(0, total)), `sizes ${sizes.slice(0, 5).join(',')}…`);
  }
});

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
