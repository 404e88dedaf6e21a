// The README's first command: a real backup → list → verify → restore through a locked S3 bucket on local throwaway
// servers, printing each command as an operator would type it. Everything is removed at the end.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../test/helpers/cli.js';
import { seedVariedDatabase } from '../test/helpers/fixtures.js';
import { startPgCluster } from '../testkit/pg-cluster.js';
import { startS3Server } from '../testkit/s3-server.js';

// The SDK's Node 22 notice is in the README; here it would only interrupt the walkthrough.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const dir = mkdtempSync(join(tmpdir(), 'copycat-quickstart-'));
const say = (text: string) => process.stdout.write(`\n== ${text}\n`);
say('starting a throwaway PostgreSQL and a throwaway S3 server (Ceph radosgw) on loopback');
const [pg, s3] = await Promise.all([startPgCluster(), startS3Server()]);
try {
  const env = {
    ...process.env, ...pg.env,
    COPYCAT_KEY_FILE: join(dir, 'backup.key'),
    ...s3.env,
  };
  const copycat = (...args: string[]) => {
    process.stdout.write(`$ copycat-db ${args.join(' ')}\n`);
    const r = spawnSync(process.execPath, [CLI, ...args], { env, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`copycat-db ${args[0]} failed (exit ${r.status})`);
  };
  say(`PostgreSQL on 127.0.0.1:${pg.port} with a sample database "shop"; S3 at ${s3.endpoint}`);
  await seedVariedDatabase(pg, 'shop');
  const bucket = await s3.createBucket({ objectLock: true });
  const to = `s3://${bucket}/shop`;
  say(`a bucket with Object Lock: ${bucket}; a new encryption key`);
  copycat('keygen', env.COPYCAT_KEY_FILE);
  say('backup: pg_dump → zstd → AES-256-GCM → multipart upload, locked for 1 day (COMPLIANCE), manifest, prune');
  copycat('backup', '--database', 'shop', '--to', to, '--retain-days', '1');
  say('list');
  copycat('list', '--from', to);
  say('verify: restore the latest backup into a scratch database, check digests, tables and row counts, drop it');
  copycat('verify', '--from', to, '--check', 'SELECT count(*) = 2000 FROM customers');
  say('restore the latest complete backup into a new database "shop_restored"');
  await pg.createDatabase('shop_restored');
  copycat('restore', '--from', to, '--to-database', 'shop_restored');
  const count = async (db: string) =>
    (await pg.query<{ n: string }>('SELECT (SELECT count(*) FROM customers) || \'/\' || (SELECT count(*) FROM billing.invoices) AS n', db))[0]!.n;
  const [before, after] = [await count('shop'), await count('shop_restored')];
  say(`customers/invoices: source ${before}, restored ${after}: ${before === after ? 'identical' : 'DIFFERENT'}`);
  if (before !== after) process.exitCode = 1;
} finally {
  await Promise.all([pg.stop(), s3.stop()]);
  rmSync(dir, { recursive: true, force: true });
}
