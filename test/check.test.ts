/**
 * `copycat-db check` on real servers: every check a backup needs, one line each, a failure of each named on its own
 * line, nothing left in the bucket (even one whose default retention is COMPLIANCE), no ping and no metrics of its
 * own, the Scaleway modes against the emulator, and a time limit per check.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PutObjectLockConfigurationCommand } from '@aws-sdk/client-s3';
import { check, type CheckReport } from '../src/operations/check.js';
import { PG_CLIENT_SOURCE } from '../src/pg/child.js';
import { dirRepository } from '../src/repository/index.js';
import { bucketVersions } from './helpers/backup-objects.js';
import { runCli } from './helpers/cli.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';
import { startS3Server, type S3TestServer } from '../testkit/s3-server.js';
import { startScalewayEmulator, type ScalewayEmulator } from './helpers/scaleway-emulator.js';

const SECRET = '5ca1eway-0000-4000-8000-5ec2e7000003';
let pg: PgCluster;
let s3: S3TestServer;
let emu: ScalewayEmulator;
let dir: string;
let recipients: string;
let env: Record<string, string>;
let serverVersion: string;

before(async () => {
  [pg, s3] = await Promise.all([startPgCluster(), startS3Server()]);
  await pg.createDatabase('app');
  [{ server_version: serverVersion }] = await pg.query<{ server_version: string }>('SHOW server_version');
  emu = await startScalewayEmulator({ secretKey: SECRET, dump: () => Buffer.from('PGDMP') });
  dir = mkdtempSync(join(tmpdir(), 'copycat-check-'));
  const identity = join(dir, 'identity');
  const keygen = await runCli(['keygen', '--identity', identity]);
  recipients = join(dir, 'recipients.txt');
  writeFileSync(recipients, keygen.stdout);
  env = {
    ...pg.env, ...s3.env, HOME: dir, COPYCAT_LOCK_DIR: join(dir, 'locks'), COPYCAT_KEY_FILE: '', COPYCAT_RECIPIENTS_FILE: '', COPYCAT_DESTINATION: '',
    COPYCAT_METRICS_FILE: '', COPYCAT_PING_URL: '', COPYCAT_ENV_FILE: '', COPYCAT_BACKUP_OPTIONS: '', SCW_RDB_INSTANCE_ID: '', BACKUP_MODE: '',
  };
});

after(async () => {
  await emu?.close();
  await Promise.all([pg?.stop(), s3?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The report's lines as [status, name, detail]. */
function lines(stdout: Buffer): string[][] {
  return stdout.toString().split('\n').map((l) => /^(ok|FAILED|skipped) +(settings|encryption|database|scaleway|repository|destination|lock directory|metrics file) +(.*)$/.exec(l))
    .filter((m) => m !== null).map((m) => [m[1]!, m[2]!, m[3]!]);
}

test('everything a backup needs: one line per check, exit 0, and nothing left in a bucket whose default retention is COMPLIANCE', async () => {
  const bucket = await s3.createBucket({ objectLock: true });
  await s3.client.send(new PutObjectLockConfigurationCommand({
    Bucket: bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 1 } } },
  }));
  const metrics = join(dir, 'metrics', 'copycat.prom');
  mkdirSync(join(dir, 'metrics'));
  const pings: string[] = [];
  const pingServer = createHttpServer((req, res) => void (pings.push(req.url!), res.end()));
  await new Promise<void>((resolve) => pingServer.listen(0, '127.0.0.1', resolve));
  try {
    const r = await runCli(['check', '-d', 'app', '--to', `s3://${bucket}/prod/app`, '--recipients-file', recipients], {
      env: { ...env, COPYCAT_METRICS_FILE: metrics, COPYCAT_PING_URL: `http://127.0.0.1:${(pingServer.address() as { port: number }).port}/uuid` },
    });
    assert.equal(r.code, 0, r.stdout.toString() + r.stderr);
    const report = lines(r.stdout);
    assert.deepEqual(report.map(([status, name]) => `${status} ${name}`),
      ['ok settings', 'ok encryption', 'ok database', 'ok repository', 'ok lock directory', 'ok metrics file']);
    assert.match(report[1]![2]!, /^to 1 recipient: \S+$/);
    assert.match(report[2]![2]!, new RegExp(`^app on PostgreSQL ${escape(serverVersion)}; pg_dump \\d+`));
    assert.match(report[3]![2]!, new RegExp(`^credentials: keys in the environment \\(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\\); locked \\(versioning and Object Lock\\); ` +
      `wrote s3://${bucket}/prod/app/\\.copycat-check/\\S+, locked it for seconds \\(GOVERNANCE\\), read the lock back, and deleted the version once the lock had passed$`));
    assert.equal(report[4]![2], `the lock directory's parent ${dir} is writable, so ${join(dir, 'locks')} can be created`);
    assert.equal(report[5]![2], `its directory ${join(dir, 'metrics')} is writable; written after each backup`);
    assert.match(r.stdout.toString(), /\nready to back up\n$/);
    assert.deepEqual(await bucketVersions(s3.client, bucket), [], 'the test object is gone, version and all, although the bucket locks every new object for a day');
    assert.ok(!existsSync(metrics), 'check writes no metrics of its own');
    assert.deepEqual(pings, [], 'and sends no ping');
    assert.deepEqual(readdirSync(dir).filter((name) => name.startsWith('.copycat-check')), [], 'no probe file left');
  } finally {
    pingServer.close();
  }
});

test('each failure is its own line; the first is named on stderr and the exit code is 1; --json has the same report', async () => {
  const unlocked = await s3.createBucket();
  const file = join(dir, 'a-file');
  writeFileSync(file, '');
  const args = ['check', '-d', 'nope', '--to', `s3://${unlocked}/app`, '--no-encrypt'];
  const r = await runCli(args, { env: { ...env, COPYCAT_LOCK_DIR: join(file, 'locks') } });
  assert.equal(r.code, 1);
  const report = lines(r.stdout);
  assert.deepEqual(report.map(([status, name]) => `${status} ${name}`),
    ['ok settings', 'ok encryption', 'FAILED database', 'FAILED repository', 'FAILED lock directory', 'skipped metrics file']);
  assert.match(report[2]![2]!, /^cannot connect to nope: database "nope" does not exist — check PGHOST, PGPORT, PGUSER, PGPASSWORD/);
  assert.match(report[3]![2]!, new RegExp(`^bucket ${unlocked} at ${s3.endpoint} cannot keep backups immutable: versioning is not enabled and Object Lock is not enabled`));
  assert.match(report[4]![2]!, new RegExp(`^cannot create a file in the lock directory's parent ${file}: ENOTDIR`));
  assert.equal(report[5]![2], 'none set (COPYCAT_METRICS_FILE, --metrics-file)');
  assert.match(r.stdout.toString(), /\nFAILED: 3 of 6 checks failed\n$/);
  assert.match(r.stderr, /^copycat-db: error: 3 of 6 checks failed: database: cannot connect to nope: .* \(and 2 more\)\n$/m);

  const json = await runCli([...args, '--json', '--allow-unlocked'], { env });
  assert.equal(json.code, 1);
  const parsed = JSON.parse(json.stdout.toString()) as CheckReport;
  assert.equal(parsed.ok, false);
  assert.deepEqual(parsed.checks.map((c) => `${c.status} ${c.name}`),
    ['ok settings', 'ok encryption', 'failed database', 'ok repository', 'ok lock directory', 'skipped metrics file']);
  assert.match(parsed.checks[3]!.detail, new RegExp(`^credentials: .*; UNLOCKED BUCKET: .*; wrote s3://${unlocked}/app/\\.copycat-check/\\S+ and deleted it \\(the bucket has no lock\\)$`));
  assert.deepEqual(await bucketVersions(s3.client, unlocked), []);
});

test('the settings come first: when they fail, nothing else is tried', async () => {
  const r = await runCli(['check', '--to', 's3://some-bucket/app', '--jobs', '2'], { env: { ...env, AWS_ACCESS_KEY_ID: '' } });
  assert.equal(r.code, 1);
  assert.deepEqual(lines(r.stdout).map(([status, name]) => `${status} ${name}`), ['FAILED settings']);
  assert.match(r.stdout.toString(), /^FAILED +settings +COPYCAT_KEY_FILE: not set .*; AWS_ACCESS_KEY_ID: not set/);
  assert.match(r.stdout.toString(), /\nnothing else was checked: fix the settings first\nFAILED: 1 of 1 checks failed\n$/);
  // A source rule is a setting too.
  const jobs = await runCli(['check', '--to', '-', '--no-encrypt', '--jobs', '2'], { env });
  assert.match(lines(jobs.stdout)[0]!.join(' '), /^FAILED settings --jobs applies to --format parallel only$/);
});

test('a directory repository, a single file, standard output; a pg_dump older than the server', async () => {
  const repo = join(dir, 'repo');
  mkdirSync(repo);
  const ok = await runCli(['check', '-d', 'app', '--to', `file:${repo}/`, '--no-encrypt'], { env });
  assert.equal(ok.code, 0, ok.stdout.toString() + ok.stderr);
  assert.equal(lines(ok.stdout)[3]!.join(' '), `ok repository wrote, synced and removed a test file in ${repo}`);
  assert.deepEqual(readdirSync(repo), []);

  const taken = join(dir, 'taken.backup');
  writeFileSync(taken, 'x');
  const file = await runCli(['check', '-d', 'app', '--to', `file:${taken}`, '--no-encrypt'], { env });
  assert.equal(file.code, 1);
  assert.equal(lines(file.stdout)[3]!.join(' '), `FAILED destination ${taken} already exists: a backup never replaces a file — choose another path`);
  const stdout = await runCli(['check', '-d', 'app', '--to', '-', '--no-encrypt'], { env });
  assert.equal(stdout.code, 0);
  assert.equal(lines(stdout.stdout)[3]!.join(' '), 'skipped destination standard output');

  const bin = join(dir, 'old-bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 9.6.24"\n');
  chmodSync(join(bin, 'pg_dump'), 0o755);
  // First on PATH, but a newer one is found: check picks the pg_dump a backup would pick.
  const passedOver = await runCli(['check', '-d', 'app', '--to', '-', '--no-encrypt'], { env: { ...env, PATH: `${bin}:${process.env.PATH}` } });
  assert.equal(passedOver.code, 0, passedOver.stdout.toString());
  assert.doesNotMatch(lines(passedOver.stdout)[2]!.join(' '), /9\.6\.24/);
  const old = await runCli(['check', '-d', 'app', '--to', '-', '--no-encrypt', '--pg-bin-dir', bin], { env });
  assert.equal(old.code, 1);
  const major = serverVersion.split('.')[0];
  assert.equal(lines(old.stdout)[2]!.join(' '), `FAILED database pg_dump 9.6.24 (${bin}/pg_dump) cannot dump a PostgreSQL ` +
    `${serverVersion.split(' ')[0]} server (pg_dump must be at least as new as the server): install postgresql-client-${major} or newer ` +
    `(${PG_CLIENT_SOURCE}) and point --pg-bin-dir at its bin directory`);
});

test('the Scaleway modes: the instance, its database and (snapshot modes) a ready snapshot, through the API', async () => {
  const instance = emu.addInstance({ name: 'production-db', databases: ['app', 'other'] });
  const scw = { ...env, SCW_SECRET_KEY: SECRET, SCW_API_URL: emu.url, SCW_DEFAULT_REGION: 'fr-par', SCW_CONFIG_PATH: '', SCW_RDB_INSTANCE_ID: instance.id };
  const run = (...args: string[]) => runCli(['check', '--to', `file:${dir}/`, '--no-encrypt', ...args], { env: scw });
  const scaleway = (stdout: Buffer) => lines(stdout).find(([, name]) => name === 'scaleway')!.join(' ');

  const ok = await run('-d', 'app');
  assert.equal(ok.code, 0, ok.stdout.toString() + ok.stderr);
  assert.equal(scaleway(ok.stdout), `ok scaleway instance ${instance.id} (PostgreSQL-15, ready) has database app`);
  const wrongDb = await run('-d', 'ap');
  assert.equal(scaleway(wrongDb.stdout), `FAILED scaleway instance ${instance.id} has no database "ap" (it has app, other) — check --database (PGDATABASE)`);
  const noSnapshot = await run('-d', 'app', '--mode', 'snapshot-scw-export');
  assert.match(scaleway(noSnapshot.stdout), new RegExp(`^FAILED scaleway instance ${instance.id} has no ready snapshot; take one first`));
  const snapshot = emu.addSnapshot({ instanceId: instance.id, createdAt: new Date('2026-01-02T03:04:05Z') });
  const withSnapshot = await run('-d', 'app', '--mode', 'snapshot-scw-export');
  assert.equal(withSnapshot.code, 0, withSnapshot.stdout.toString());
  assert.match(scaleway(withSnapshot.stdout), new RegExp(`; newest ready snapshot ${snapshot.id} of 2026-01-02T03:04:05`));
  const wrongKey = await runCli(['check', '--to', `file:${dir}/`, '--no-encrypt', '-d', 'app'], { env: { ...scw, SCW_SECRET_KEY: 'not-the-key' } });
  assert.match(scaleway(wrongKey.stdout), /^FAILED scaleway Scaleway API GET \/rdb\/v1\/regions\/fr-par\/instances\/\S+: .*check SCW_SECRET_KEY/);
  assert.ok(!wrongKey.stdout.toString().includes('not-the-key') && !wrongKey.stderr.includes('not-the-key'));
});

test('a server that never answers fails its own line when the time limit passes', async () => {
  const silent = createServer(() => {}); // accepts connections, never answers
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const port = (silent.address() as { port: number }).port;
    const started = Date.now();
    const report = await check({
      settings: [],
      timeoutMs: 1500,
      backup: {
        source: { kind: 'pg_dump', databases: [`host=127.0.0.1 port=${port} dbname=app`] },
        destination: { repository: dirRepository(dir) },
        lockDir: join(dir, 'locks'),
      },
    });
    assert.ok(Date.now() - started < 10_000);
    assert.equal(report.ok, false);
    assert.deepEqual(report.checks.map((c) => `${c.status} ${c.name}: ${c.status === 'failed' ? c.detail : ''}`), [
      'ok settings: ', 'ok encryption: ', 'failed database: no answer within 1.5 s', 'ok repository: ', 'ok lock directory: ', 'skipped metrics file: ',
    ]);
  } finally {
    silent.close();
  }
});
