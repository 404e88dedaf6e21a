// The migration from the bash service copycat-db replaces: real `rclone copy` backups of real pg_dump archives and SQL
// dumps, to a crypt remote over a local directory and over an object-locked radosgw bucket, listed, restored and
// verified through the CLI the same way from both; damaged objects and wrong passwords refused with nothing restored.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PutObjectLockConfigurationCommand } from '@aws-sdk/client-s3';
import type { LegacyRow } from '../src/operations/list-legacy.js';
import type { VerifyReport } from '../src/operations/verify/index.js';
import { RCLONE_BLOCK_SIZE, RCLONE_HEADER_SIZE } from '../src/formats/rclone-crypt.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { digestDatabase, seedVariedDatabase, type DatabaseDigest } from './helpers/fixtures.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';
import { startS3Server, type S3TestServer } from '../testkit/s3-server.js';

let pg: PgCluster;
let s3: S3TestServer;
let work: string;
let conf: string;
let bucket: string;
let source: DatabaseDigest;
/** The dumps the bash service would have taken, by the name rclone stored them under. */
const dumps = new Map<string, Buffer>();
const PASSWORD = 'legacy crypt password';
const PASSWORD2 = 'legacy salt';
let env: Record<string, string>;

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const obscure = (secret: string): string => execFileSync('rclone', ['obscure', secret], { encoding: 'utf8' }).trim();
// A CA bundle meant for the sandbox's outbound proxy makes rclone refuse a plain-HTTP endpoint.
const rclone = (...args: string[]): void => {
  execFileSync('rclone', ['--config', conf, ...args], { env: { ...process.env, AWS_CA_BUNDLE: '' }, stdio: 'pipe' });
};

before(async () => {
  [pg, s3] = await Promise.all([startPgCluster(), startS3Server()]);
  work = mkdtempSync(join(tmpdir(), 'copycat-legacy-'));
  await seedVariedDatabase(pg, 'app', 3000);
  source = await digestDatabase(pg, 'app');
  const dumpDir = join(work, 'dumps');
  mkdirSync(dumpDir);
  const pgDump = (format: string, name: string, mtime: Date) => {
    const path = join(dumpDir, name);
    execFileSync('pg_dump', [`-F${format}`, '-d', 'app', '-f', path], { env: { ...process.env, ...pg.env } });
    utimesSync(path, mtime, mtime); // rclone keeps a local file's mtime: the dir remote's TIME
    dumps.set(name, readFileSync(path));
  };
  pgDump('c', 'app.dump', new Date('2025-01-01T03:00:00Z'));
  pgDump('p', 'app.sql', new Date('2025-01-02T03:00:00Z'));
  for (const [name, bytes] of dumps) assert.ok(bytes.length > 3 * RCLONE_BLOCK_SIZE, `${name} spans several crypt blocks`);

  // The production bucket: versioned, locked by default, written by rclone's S3 backend.
  bucket = await s3.createBucket({ objectLock: true });
  await s3.client.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: {
    ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 30 } } } }));
  conf = join(work, 'rclone.conf');
  writeFileSync(conf, `[s3remote]
type = s3
provider = Ceph
endpoint = ${s3.endpoint}
access_key_id = ${s3.accessKeyId}
secret_access_key = ${s3.secretAccessKey}
region = ${s3.region}
no_check_bucket = true

[old-s3]
type = crypt
remote = s3remote:${bucket}/old
filename_encryption = off
directory_name_encryption = false
password = ${obscure(PASSWORD)}
password2 = ${obscure(PASSWORD2)}

[old-dir]
type = crypt
remote = ${join(work, 'old-dir')}
filename_encryption = off
password = ${obscure(PASSWORD)}

[wrong-password]
type = crypt
remote = s3remote:${bucket}/old
filename_encryption = off
password = ${obscure('not the password')}
password2 = ${obscure(PASSWORD2)}
`, { mode: 0o600 });
  for (const remote of ['old-dir', 'old-s3']) {
    rclone('copy', join(dumpDir, 'app.dump'), `${remote}:`);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // S3 LastModified has whole seconds: app.sql is the newer
    rclone('copy', join(dumpDir, 'app.sql'), `${remote}:`);
  }
  // Nothing but the remote's settings: no S3 variables, no destination, no passwords in the environment.
  env = { ...pg.env, COPYCAT_DESTINATION: '', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_ENDPOINT_URL_S3: '', AWS_ENDPOINT_URL: '',
    COPYCAT_RCLONE_PASSWORD: '', COPYCAT_RCLONE_PASSWORD2: '', RCLONE_CONFIG: conf, COPYCAT_KEY_FILE: '' };
});

after(async () => {
  await Promise.all([pg?.stop(), s3?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => runCli(args, { env: { ...env, ...extra } });
const ok = (r: CliResult): CliResult => {
  assert.equal(r.code, 0, r.stderr);
  return r;
};
const remoteArgs = (remote: string): string[] => ['--legacy-rclone', '--rclone-remote', remote];

async function tablesIn(database: string): Promise<number> {
  return Number((await pg.query<{ n: string }>(`SELECT count(*) AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`, database))[0]!.n);
}

/** The restore.done line of a JSON-logged restore. */
function doneLine(r: CliResult): Record<string, unknown> {
  const lines = r.stdout.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return lines.find((l) => l.event === 'restore.done')!;
}

async function restoreInto(database: string, args: string[], extra: Record<string, string> = {}): Promise<CliResult> {
  await pg.createDatabase(database);
  return cli(['restore', ...args, '--to-database', database, '--log-format', 'json'], extra);
}

test('rclone crypt backups in a local directory remote and in S3 list, restore and verify the same way', async () => {
  const seen = new Map<string, unknown>();
  for (const remote of ['old-dir', 'old-s3']) {
    const rows = JSON.parse(ok(await cli(['list', ...remoteArgs(remote), '--json'])).stdout.toString()) as LegacyRow[];
    assert.deepEqual(rows.map((r) => r.id), ['app.dump', 'app.sql'], `${remote}: oldest first`);
    for (const row of rows) {
      assert.equal(row.dumpSize, dumps.get(row.id)!.length, `${remote}: ${row.id}'s dump size, from its stored size`);
      assert.equal(row.size, RCLONE_HEADER_SIZE + row.dumpSize! + 16 * Math.ceil(row.dumpSize! / 65_536));
      assert.equal(row.problem, undefined);
      if (remote === 'old-s3') assert.ok(Date.parse(row.lockedUntil!) > Date.now() + 29 * 86_400_000, 'the bucket\'s default lock, as the server reports it');
      else assert.equal(row.lockedUntil, null);
    }
    if (remote === 'old-dir') assert.deepEqual(rows.map((r) => r.time), ['2025-01-01T03:00:00.000Z', '2025-01-02T03:00:00.000Z'], 'the dumps\' mtimes, kept by rclone');
    const table = ok(await cli(['list', ...remoteArgs(remote)])).stdout.toString();
    assert.match(table, /^NAME +TIME +SIZE +DUMP +LOCKED UNTIL +STATUS\napp\.dump +\S+ +[\d.]+ KiB +[\d.]+ KiB +\S+ +size ok\napp\.sql /);

    const results: Record<string, unknown> = {};
    for (const name of ['app.dump', 'app.sql']) {
      const database = `${remote.replace('-', '_')}_${name.replace('.', '_')}`;
      const r = ok(await restoreInto(database, [...remoteArgs(remote), '--backup', name]));
      const done = doneLine(r);
      assert.equal(done.id, name);
      assert.equal(done.sha256_plaintext, sha256(dumps.get(name)!), 'the dump\'s own digest, computed while streaming');
      assert.deepEqual(await digestDatabase(pg, database), source, `${remote}: ${name} restores the source exactly`);
      results[name] = { dump_bytes: done.dump_bytes, sha256_plaintext: done.sha256_plaintext };
    }

    // Without --backup, the newest: the plain dump.
    const latest = JSON.parse(ok(await cli(['verify', ...remoteArgs(remote), '--json'])).stdout.toString()) as VerifyReport;
    assert.equal(latest.backup.id, 'app.sql');
    assert.equal(latest.backup.dumpFormat, 'plain');
    const report = JSON.parse(ok(await cli(['verify', ...remoteArgs(remote), '--backup', 'app.dump', '--json'])).stdout.toString()) as VerifyReport;
    assert.equal(report.ok, true);
    assert.deepEqual({ source: report.backup.source, format: report.backup.dumpFormat, tableList: report.backup.tableList, encrypted: report.backup.encrypted, scratch: report.scratch.outcome },
      { source: { kind: 'rclone-crypt' }, format: 'custom', tableList: 'archive', encrypted: true, scratch: 'dropped' });
    const integrity = report.checks.filter((c) => c.kind === 'integrity');
    assert.match(integrity.find((c) => c.name === 'plaintext sha256')!.detail, new RegExp(`^${sha256(dumps.get('app.dump')!)} \\(computed; no manifest to check it against\\)$`));
    assert.match(integrity.find((c) => c.name === 'stored sha256')!.detail, /every rclone crypt block authenticated/);
    assert.ok(report.checks.some((c) => c.kind === 'table' && c.name === 'billing.invoices' && c.rows === 9000));
    seen.set(remote, { results, checks: report.checks.map((c) => `${c.kind} ${c.name} ${c.status}`), tables: report.tables, latest: latest.backup.id });
  }
  assert.deepEqual(seen.get('old-dir'), seen.get('old-s3'), 'the same backups, the same results, from either store');
});

test('--from with the passwords in the environment reads the same backups, from a directory and from S3', async () => {
  const passwords = { COPYCAT_RCLONE_PASSWORD: PASSWORD };
  const rows = JSON.parse(ok(await cli(['list', '--legacy-rclone', '--from', `file:${join(work, 'old-dir')}`, '--json'])).stdout.toString()) as LegacyRow[];
  assert.deepEqual(rows.map((r) => r.id), ['app.dump', 'app.sql'], 'list needs no password');
  ok(await restoreInto('from_dir', ['--legacy-rclone', '--from', `file:${join(work, 'old-dir')}`, '--backup', 'app.dump'], passwords));
  assert.deepEqual(await digestDatabase(pg, 'from_dir'), source);

  const s3Env = { ...s3.env, COPYCAT_RCLONE_PASSWORD: PASSWORD, COPYCAT_RCLONE_PASSWORD2: PASSWORD2 };
  ok(await restoreInto('from_s3', ['--legacy-rclone', '--from', `s3://${bucket}/old`, '--backup', 'app.dump'], s3Env));
  assert.deepEqual(await digestDatabase(pg, 'from_s3'), source);

  const r = await restoreInto('from_s3_unsalted', ['--legacy-rclone', '--from', `s3://${bucket}/old`, '--backup', 'app.dump'], { ...s3Env, COPYCAT_RCLONE_PASSWORD2: '' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /copycat-db: error: the first block of the rclone crypt object fails authentication: the password \(or password2\) is wrong/);
  assert.equal(await tablesIn('from_s3_unsalted'), 0);

  const missing = await cli(['restore', '--legacy-rclone', '--from', `file:${join(work, 'old-dir')}`, '--to-database', 'x']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /1 setting is missing or invalid: COPYCAT_RCLONE_PASSWORD: not set — .* \(or --rclone-remote NAME, which has it\)/);
});

test('a flipped byte, a truncated object and a wrong password are refused, and nothing is restored', async () => {
  const damaged = join(work, 'damaged');
  mkdirSync(damaged);
  const original = (name: string) => readFileSync(join(work, 'old-dir', `${name}.bin`));
  const block = (n: number) => RCLONE_HEADER_SIZE + n * RCLONE_BLOCK_SIZE;
  const flipped = Buffer.from(original('app.dump'));
  flipped[block(2) + 1000]! ^= 0x40;
  const objects: Record<string, Buffer> = {
    'flipped.dump': flipped,
    'cut-inside.dump': original('app.dump').subarray(0, block(2) + 777),
    // Every block left is authentic: only the dump's own end shows the cut.
    'cut-boundary.dump': original('app.dump').subarray(0, block(3)),
    'cut-boundary.sql': original('app.sql').subarray(0, block(3)),
    'cut-tag.dump': original('app.dump').subarray(0, block(1) + 9),
  };
  for (const [name, bytes] of Object.entries(objects)) writeFileSync(join(damaged, `${name}.bin`), bytes);
  const from = ['--legacy-rclone', '--from', `file:${damaged}`];

  const rows = JSON.parse(ok(await cli(['list', ...from, '--json'])).stdout.toString()) as LegacyRow[];
  assert.deepEqual(rows.filter((r) => r.problem).map((r) => [r.id, r.problem]),
    [['cut-tag.dump', `${block(1) + 9} bytes ends inside the tag of block 2: the object was cut short`]], 'list shows a size no crypt object has');

  const refusals: [string, RegExp][] = [
    ['flipped.dump', /block 3 of the rclone crypt object fails authentication, though the blocks before it opened with the same password: the object is damaged/],
    ['cut-inside.dump', /block 3 \(the last\) of the rclone crypt object fails authentication, .*was cut short inside that block, or is damaged/],
    ['cut-boundary.dump', /pg_restore exited with code 1: pg_restore: error: could not read from input file: end of file/],
    ['cut-boundary.sql', /the plain SQL dump does not end with pg_dump's "-- PostgreSQL database dump complete" line: it is truncated/],
    ['cut-tag.dump', /rclone crypt backup cut-tag\.dump cannot be read: \d+ bytes ends inside the tag of block 2/],
  ];
  for (const [name, pattern] of refusals) {
    const database = `damaged_${name.replace(/\W/g, '_')}`;
    const r = await restoreInto(database, [...from, '--backup', name], { COPYCAT_RCLONE_PASSWORD: PASSWORD });
    assert.equal(r.code, 1, `${name}: ${r.stderr}`);
    assert.match(r.stderr, pattern, name);
    assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('copycat-db: error:')).length, 1, 'one error line');
    assert.equal(await tablesIn(database), 0, `${name}: nothing restored`);
  }

  // A wrong password in the remote: restore refuses at the first block; verify fails and leaves no scratch database.
  const wrong = await restoreInto('wrong_password', [...remoteArgs('wrong-password'), '--backup', 'app.dump']);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /the first block of the rclone crypt object fails authentication: the password \(or password2\) is wrong/);
  assert.equal(await tablesIn('wrong_password'), 0);
  const verify = await cli(['verify', ...remoteArgs('wrong-password'), '--backup', 'app.dump']);
  assert.equal(verify.code, 1);
  assert.match(verify.stderr, /backup app\.dump failed verification: .*the password \(or password2\) is wrong/);
  assert.deepEqual(await pg.query(`SELECT datname FROM pg_database WHERE datname LIKE 'copycat_verify%'`), []);
});

test('an object rclone wrote twice is two backups, NAME@VERSION, and the older one restores', async () => {
  await pg.query('UPDATE billing.invoices SET note = \'changed\' WHERE id <= 10', 'app');
  const dir = join(work, 'second');
  mkdirSync(dir);
  execFileSync('pg_dump', ['-Fc', '-d', 'app', '-f', join(dir, 'app.dump')], { env: { ...process.env, ...pg.env } });
  rclone('copy', dir, 'old-s3:');
  const rows = JSON.parse(ok(await cli(['list', ...remoteArgs('old-s3'), '--json'])).stdout.toString()) as LegacyRow[];
  const versions = rows.filter((r) => r.id.startsWith('app.dump@'));
  assert.equal(versions.length, 2);
  assert.ok(versions.every((v) => v.id === `app.dump@${v.versionId}`));

  const ambiguous = await cli(['restore', ...remoteArgs('old-s3'), '--backup', 'app.dump', '--to-database', 'x']);
  assert.equal(ambiguous.code, 1);
  assert.match(ambiguous.stderr, new RegExp(`app\\.dump has 2 versions: pass one of them to --backup \\(${versions[0]!.id}, ${versions[1]!.id}\\)`));
  ok(await restoreInto('first_version', [...remoteArgs('old-s3'), '--backup', versions[0]!.id]));
  assert.deepEqual(await digestDatabase(pg, 'first_version'), source, 'the older version is the first backup');
  assert.equal(statSync(join(dir, 'app.dump')).size, versions[1]!.dumpSize);
});
