import { s3Repository } from '../src/repository/s3-store.js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DeleteObjectCommand, GetObjectCommand, GetObjectRetentionCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { listBackups } from '../src/repository/index.js';
import { dataKey, manifestKey } from '../src/repository/layout.js';
import { parseManifest, type Manifest } from '../src/formats/manifest.js';
import { restore } from '../src/operations/restore.js';
import { bucketVersions, multipartKeys } from './helpers/backup-objects.js';
import { runCli } from './helpers/cli.js';
import { digestDatabase, seedVariedDatabase, type DatabaseDigest } from './helpers/fixtures.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';
import { startS3Server, type S3TestServer } from '../testkit/s3-server.js';

let pg: PgCluster;
let s3: S3TestServer;
let dir: string;
let keyFile: string;
let source: DatabaseDigest;
let env: Record<string, string>;

before(async () => {
  [pg, s3] = await Promise.all([startPgCluster(), startS3Server()]);
  dir = mkdtempSync(join(tmpdir(), 'copycat-s3-backup-'));
  keyFile = join(dir, 'key');
  writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
  await seedVariedDatabase(pg, 'app');
  await pg.query(`CREATE TABLE bulk AS SELECT g AS id, md5(g::text) || repeat(md5((g * 3)::text), 6) AS payload
    FROM generate_series(1, 200000) g`, 'app');
  source = await digestDatabase(pg, 'app');
  env = {
    ...pg.env,
    COPYCAT_KEY_FILE: keyFile,
    ...s3.env,
  };
});

after(async () => {
  await Promise.all([pg?.stop(), s3?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

async function readManifest(bucket: string, key: string): Promise<Manifest> {
  const got = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return parseManifest(await got.Body!.transformToString(), key);
}

test('backup → list → restore through a locked bucket, with verified locks and a manifest', async () => {
  const bucket = await s3.createBucket({ objectLock: true });
  const to = `s3://${bucket}/prod/app`;
  const backup = await runCli(['backup', '-d', 'app', '--to', to, '--retain-days', '1', '--level', '1'], { env });
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(backup.stderr, /backup\.done id=\d{8}T\d{6}Z-[0-9a-f]{4}/);

  const list = await runCli(['list', '--from', to, '--json'], { env });
  assert.equal(list.code, 0, list.stderr);
  const rows = JSON.parse(list.stdout.toString()) as { id: string; status: string; ratio: number; lockedUntil: string }[];
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.status, 'complete');
  assert.ok(rows[0]!.ratio > 1.5, 'zstd compressed the dump');
  const table = await runCli(['list', '--from', to], { env });
  // COPYCAT_KEY_FILE is set, so list also says whether that key opens each backup.
  assert.match(table.stdout.toString(), new RegExp(`^ID +TIME +SIZE +RATIO +LOCKED UNTIL +KEYS +READABLE +STATUS\\n${rows[0]!.id} .* [0-9a-f]{16} +yes +complete\\n$`));

  const id = rows[0]!.id;
  const manifest = await readManifest(bucket, manifestKey('prod/app', id));
  assert.equal(manifest.source.database, 'app');
  assert.match(manifest.source.serverVersion ?? '', /^15\./);
  assert.equal(manifest.dumpFormat, 'custom');
  assert.equal((manifest.encryption as { keyId: string } | null)?.keyId.length, 16);
  assert.ok(!JSON.stringify(manifest).includes(randomBytes(0).toString('hex') + 'customer 1'), 'no table data in the manifest');
  for (const key of [dataKey('prod/app', id), manifestKey('prod/app', id)]) {
    const versionId = key === manifest.object.key ? manifest.object.versionId : undefined;
    const retention = await s3.client.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
    assert.equal(retention.Retention?.Mode, 'COMPLIANCE', `${key} is locked`);
    assert.ok(retention.Retention!.RetainUntilDate!.getTime() > Date.now());
  }
  await assert.rejects(s3.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: manifest.object.key, VersionId: manifest.object.versionId })),
    (err: Error) => err.name === 'AccessDenied', 'the server refuses to delete a locked backup');

  await pg.createDatabase('restored');
  const restore = await runCli(['restore', '--from', to, '--to-database', 'restored'], { env });
  assert.equal(restore.code, 0, restore.stderr);
  assert.match(restore.stderr, new RegExp(`restore\\.done id=${id}`));
  assert.deepEqual(await digestDatabase(pg, 'restored'), source);
});

test('a bucket without Object Lock is refused before anything is dumped', async () => {
  const bucket = await s3.createBucket({ versioning: true });
  // The database does not exist: if the dump started first, pg_dump's error would be the one reported.
  const r = await runCli(['backup', '-d', 'no_such_db', '--to', `s3://${bucket}/x`], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Object Lock/);
  assert.match(r.stderr, /--allow-unlocked/);
  assert.doesNotMatch(r.stderr, /pg_dump exited|does not exist/);
  assert.deepEqual(await bucketVersions(s3.client, bucket), []);
});

test('--allow-unlocked writes to a plain versioned bucket and says so loudly', async () => {
  const bucket = await s3.createBucket({ versioning: true });
  const r = await runCli(['backup', '-d', 'app', '--to', `s3://${bucket}/x`, '--allow-unlocked', '--level', '1'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warn .*s3\.unlocked/);
  const [entry] = await listBackups(s3Repository({ client: s3.client, bucket: bucket, prefix: 'x' }));
  assert.equal(entry!.status, 'complete');
  assert.equal(entry!.manifest!.object.retention, null);
});

test('SIGTERM mid-upload aborts the multipart upload: no upload, object or manifest is left', async () => {
  const bucket = await s3.createBucket({ objectLock: true });
  let uploadSeen = false;
  const r = await runCli(['backup', '-d', 'app', '--to', `s3://${bucket}/x`, '--level', '9', '--part-size', '5MiB'], {
    env,
    // Signal only once the server holds an upload in progress, so the abort path is what is tested.
    onSpawn: (child) => void (async () => {
      for (let i = 0; i < 600 && child.exitCode === null; i++) {
        if ((await multipartKeys(s3.client, bucket)).length > 0) {
          uploadSeen = true;
          child.kill('SIGTERM');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })(),
  });
  assert.ok(uploadSeen, 'a multipart upload was in progress when the signal came');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /interrupted by SIGTERM/);
  assert.match(r.stderr, /s3\.upload\.aborted/);
  assert.deepEqual(await multipartKeys(s3.client, bucket), []);
  assert.deepEqual(await bucketVersions(s3.client, bucket), []);
});

test('a corrupted copy of a stored backup fails restore with the integrity error, and restores nothing', async () => {
  const bucket = await s3.createBucket({ objectLock: true });
  for (const encrypted of [true, false]) {
    const prefix = encrypted ? 'enc' : 'plain';
    const r = await runCli(['backup', '-d', 'app', '--to', `s3://${bucket}/${prefix}`, '--retain-days', '1', '--level', '1',
      ...(encrypted ? [] : ['--no-encrypt'])], { env });
    assert.equal(r.code, 0, r.stderr);
    const [entry] = await listBackups(s3Repository({ client: s3.client, bucket: bucket, prefix: prefix }));
    const original = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: entry!.dataVersion!.key }));
    const bytes = Buffer.from(await original.Body!.transformToByteArray());
    bytes[bytes.length >> 1]! ^= 0x20;
    // The copy: the flipped object under a new prefix, with a manifest that points at it but keeps the digests.
    const copyPrefix = `${prefix}-copy`;
    const key = dataKey(copyPrefix, entry!.id);
    const put = await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes,
      ContentMD5: (await import('node:crypto')).createHash('md5').update(bytes).digest('base64') }));
    const manifest = { ...entry!.manifest!, object: { ...entry!.manifest!.object, key, versionId: put.VersionId! } };
    const manifestBody = Buffer.from(JSON.stringify(manifest));
    await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey(copyPrefix, entry!.id), Body: manifestBody,
      ContentMD5: (await import('node:crypto')).createHash('md5').update(manifestBody).digest('base64') }));

    const target = `from_corrupt_${prefix}`;
    await pg.createDatabase(target);
    await assert.rejects(
      restore({ from: { repository: s3Repository({ client: s3.client, bucket, prefix: copyPrefix }) },
        key: encrypted ? (await import('node:fs')).readFileSync(keyFile) : undefined, into: { database: target, env: pg.env } }),
      (err: Error & { code?: string }) => (encrypted ? /^CHUNK_/.test(err.code ?? '') : err.code === 'DIGEST_MISMATCH' || err.code === 'DECOMPRESS_FAILED'),
    );
    assert.deepEqual(await pg.query(`SELECT 1 FROM pg_tables WHERE schemaname = 'public'`, target), [], 'nothing was restored');
  }
});

test('restore with the wrong key names both key ids before reading anything', async () => {
  const bucket = await s3.createBucket({ objectLock: true });
  const backup = await runCli(['backup', '-d', 'app', '--to', `s3://${bucket}/k`, '--retain-days', '1', '--level', '1'], { env });
  assert.equal(backup.code, 0, backup.stderr);
  const otherKey = join(dir, 'other.key');
  writeFileSync(otherKey, randomBytes(32), { mode: 0o600 }); // a key open to others is refused before its id is compared
  const r = await runCli(['restore', '--from', `s3://${bucket}/k`, '--to-database', 'postgres', '--key-file', otherKey], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /wrong key: backup \S+ was encrypted with key id [0-9a-f]{16}, the key given has id [0-9a-f]{16}/);
});
