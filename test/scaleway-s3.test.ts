/**
 * The Scaleway source end to end: the local emulator serves a real pg_dump archive, copycat-db streams it into the
 * real radosgw with a verified lock and a manifest, and restores it into a real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { backupToS3 } from '../src/s3/backup.js';
import { listBackups } from '../src/s3/catalog/list.js';
import { restoreFromS3 } from '../src/s3/restore.js';
import { scalewayRdb, type ScalewayRdbOptions } from '../src/sources/scaleway/index.js';
import { bucketVersions, multipartKeys } from './helpers/backup-objects.js';
import { runCli } from './helpers/cli.js';
import { digestDatabase, seedVariedDatabase, type DatabaseDigest } from './helpers/fixtures.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';
import { startS3Server, type S3TestServer } from '../testkit/s3-server.js';
import { startScalewayEmulator, type ScalewayEmulator } from './helpers/scaleway-emulator.js';

const SECRET = '5ca1eway-0000-4000-8000-5ec2e7000002';
let pg: PgCluster;
let s3: S3TestServer;
let emu: ScalewayEmulator;
let prodId: string;
let dump: Buffer;
let source: DatabaseDigest;
let home: string;
const key = randomBytes(32);

before(async () => {
  [pg, s3] = await Promise.all([startPgCluster(), startS3Server()]);
  await seedVariedDatabase(pg, 'app');
  source = await digestDatabase(pg, 'app');
  const { stdout } = await promisify(execFile)('pg_dump', ['-Fc', '--dbname=app'], { env: { ...process.env, ...pg.env }, encoding: 'buffer', maxBuffer: 256 << 20 });
  dump = stdout as unknown as Buffer;
  emu = await startScalewayEmulator({ secretKey: SECRET, dump: () => dump });
  prodId = emu.addInstance({ name: 'production-db', databases: ['app'] }).id;
  home = mkdtempSync(join(tmpdir(), 'copycat-scw-s3-'));
});

after(async () => {
  await emu?.close();
  await Promise.all([pg?.stop(), s3?.stop()]);
  rmSync(home, { recursive: true, force: true });
});

const scwEnv = () => ({ SCW_SECRET_KEY: SECRET, SCW_ACCESS_KEY: 'SCWTESTACCESSKEY0000', SCW_API_URL: emu.url, SCW_DEFAULT_REGION: 'fr-par', HOME: home });

function scwSource(over: Partial<ScalewayRdbOptions> = {}) {
  return scalewayRdb({
    mode: 'scw-export', instanceId: prodId, databaseName: 'app', env: scwEnv(),
    pollInitialMs: 3, pollMaxMs: 15, apiRetry: { initialMs: 5, maxMs: 20 }, downloadRetry: { initialMs: 5, maxMs: 20 }, ...over,
  });
}

test('scw-export → zstd → encrypt → locked S3, and back into PostgreSQL: identical data', async () => {
  const bucket = await s3.createBucket({ objectLock: true });
  emu.faults.resetDownloadAfter(dump.length >> 1, 1);
  const { manifest, stats } = await backupToS3({
    client: s3.client, bucket, prefix: 'scw', source: scwSource(),
    chain: { compression: 'zstd', level: 3, key }, retention: { mode: 'COMPLIANCE', days: 0.0002 },
  });
  assert.equal(manifest.sha256.plaintext, createHash('sha256').update(dump).digest('hex'), 'the resumed download is byte-identical');
  assert.equal(manifest.dumpFormat, 'custom', 'the archive format was sniffed');
  // Without the backup's size (known only after the export) the plan would use its 16 MiB default part.
  assert.equal(stats.stages.at(-1)!.info!.partSize, 5 << 20, 'the upload was planned from the Scaleway backup size');
  assert.equal(manifest.source.database, 'app');
  assert.ok(emu.requests.some((r) => r.range), 'the reset download resumed with a Range request');
  const [entry] = await listBackups(s3.client, bucket, 'scw');
  assert.equal(entry!.status, 'complete');

  await pg.createDatabase('from_scaleway');
  await restoreFromS3({ client: s3.client, bucket, prefix: 'scw', key, target: { database: 'from_scaleway', env: pg.env } });
  assert.deepEqual(await digestDatabase(pg, 'from_scaleway'), source);
});

test('a Scaleway wait that times out fails clearly and leaves nothing in the bucket', async () => {
  const bucket = await s3.createBucket({ objectLock: true });
  const slow = await startScalewayEmulator({ secretKey: SECRET, dump: () => dump, delays: { backupCreate: 60_000 } });
  const slowProd = slow.addInstance({ name: 'production-db', databases: ['app'] }).id;
  try {
    await assert.rejects(
      backupToS3({
        client: s3.client, bucket, prefix: 'scw',
        source: scalewayRdb({ mode: 'scw-export', instanceId: slowProd, databaseName: 'app', env: { ...scwEnv(), SCW_API_URL: slow.url },
          pollInitialMs: 3, pollMaxMs: 15, waitTimeoutMs: 300 }),
        chain: { compression: 'zstd', key }, retention: { mode: 'COMPLIANCE', days: 1 },
      }),
      (err: Error & { code?: string }) => err.code === 'SCALEWAY_TIMEOUT' && !err.message.includes(SECRET),
    );
  } finally {
    await slow.close();
  }
  assert.deepEqual(await multipartKeys(s3.client, bucket), []);
  assert.deepEqual(await bucketVersions(s3.client, bucket), []);
});

test('CLI: backup --mode scw-export with SCW_* settings lands a complete backup; a Scaleway mode without an instance is refused', async () => {
  const bucket = await s3.createBucket({ objectLock: true });
  const keyFile = join(home, 'cli.key');
  writeFileSync(keyFile, key, { mode: 0o600 }); // keys open to other users are refused
  const env = {
    ...scwEnv(), ...pg.env, PGDATABASE: 'app', SCW_RDB_INSTANCE_ID: prodId, COPYCAT_KEY_FILE: keyFile,
    ...s3.env,
  };
  const backup = await runCli(['backup', '--to', `s3://${bucket}/cli`, '--retain-days', '1', '--max-parts', '1000'], { env });
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(backup.stderr, /backup\.start source=scaleway-scw-export/);
  assert.ok(!backup.stderr.includes(SECRET), 'the Scaleway secret is never logged');
  const [entry] = await listBackups(s3.client, bucket, 'cli');
  assert.equal(entry!.manifest!.source.kind, 'scaleway-scw-export');

  const missing = await runCli(['backup', '--mode', 'snapshot-pgdump', '--to', `s3://${bucket}/cli`], { env: { ...env, SCW_RDB_INSTANCE_ID: '' } });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /SCW_RDB_INSTANCE_ID/);
});
