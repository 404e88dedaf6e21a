// backup --globals and restore --globals: the server's roles, memberships and grants travel with a database, through
// the real CLI, from one real PostgreSQL into another, empty one, by a directory repository and a locked radosgw
// bucket; and what a damaged, missing or absent globals object does.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GetObjectRetentionCommand } from '@aws-sdk/client-s3';
import { CopycatError } from '../src/errors.js';
import type { Manifest } from '../src/formats/manifest.js';
import { globalsContents } from '../src/operations/verify/globals.js';
import { splitStatements } from '../src/pg/globals-apply.js';
import { dirRepository, listBackups } from '../src/repository/index.js';
import { globalsKey, manifestKey } from '../src/repository/layout.js';
import { executePrune, planPrune } from '../src/repository/prune.js';
import { s3Repository } from '../src/repository/s3-store.js';
import { bucketVersions } from './helpers/backup-objects.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';
import { startS3Server, type S3TestServer } from '../testkit/s3-server.js';

let source: PgCluster;
let target: PgCluster;
let s3: S3TestServer;
let work: string;
let keyFile: string;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The roles of the application, a membership, and a table owned by one role with a grant to another. */
const ROLES = ['app_owner', 'app_reader', 'app_analyst'];

before(async () => {
  [source, target, s3] = await Promise.all([startPgCluster(), startPgCluster(), startS3Server()]);
  work = mkdtempSync(join(tmpdir(), 'copycat-globals-'));
  keyFile = join(work, 'key');
  writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
  await source.query(`CREATE ROLE app_owner LOGIN PASSWORD 'owner-secret'; CREATE ROLE app_reader NOLOGIN;
    CREATE ROLE app_analyst LOGIN CONNECTION LIMIT 7; GRANT app_reader TO app_analyst;
    CREATE ROLE backup_user LOGIN PASSWORD 'backup-secret'`);
  await source.createDatabase('app');
  await source.query(`CREATE TABLE public.orders (id int PRIMARY KEY, total numeric);
    INSERT INTO public.orders SELECT g, g * 1.5 FROM generate_series(1, 300) g;
    ALTER TABLE public.orders OWNER TO app_owner; GRANT SELECT ON public.orders TO app_reader;
    GRANT SELECT ON public.orders TO backup_user;`, 'app');
});

after(async () => {
  await Promise.all([source?.stop(), target?.stop(), s3?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

const env = (cluster: PgCluster, extra: Record<string, string> = {}): Record<string, string> =>
  ({ ...cluster.env, ...s3.env, COPYCAT_KEY_FILE: keyFile, COPYCAT_DESTINATION: '', COPYCAT_LOCK_DIR: join(work, 'locks'), ...extra });
const fromSource = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => runCli(args, { env: env(source, extra) });
const intoTarget = (args: string[]): Promise<CliResult> => runCli(args, { env: env(target) });

function newRepo(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  return dir;
}

async function backupGlobals(to: string, extra: string[] = [], envExtra: Record<string, string> = {}): Promise<string> {
  const r = await fromSource(['backup', '--globals', '-d', 'app', '--to', to, '--level', '1', ...extra], envExtra);
  assert.equal(r.code, 0, r.stderr);
  return /backup\.done id=(\S+)/.exec(r.stderr)![1]!;
}

/** Owners, grants, memberships and rows of the application as `cluster` has them in `database`. */
async function appState(cluster: PgCluster, database: string) {
  const [owner] = await cluster.query<{ tableowner: string }>(`SELECT tableowner FROM pg_tables WHERE tablename = 'orders'`, database);
  const [grants] = await cluster.query<{ reader: boolean; analyst: boolean; rows: string }>(`SELECT
    has_table_privilege('app_reader', 'public.orders', 'SELECT') AS reader,
    has_table_privilege('app_analyst', 'public.orders', 'SELECT') AS analyst, (SELECT count(*) FROM public.orders)::text AS rows`, database);
  const members = await cluster.query<{ m: string }>(`SELECT r.rolname || ' in ' || g.rolname AS m FROM pg_auth_members a
    JOIN pg_roles r ON r.oid = a.member JOIN pg_roles g ON g.oid = a.roleid WHERE r.rolname LIKE 'app_%' ORDER BY 1`, database);
  return { owner: owner?.tableowner, ...grants, members: members.map((x) => x.m) };
}

const roles = async (cluster: PgCluster) => cluster.query<{ rolname: string; rolcanlogin: boolean; rolconnlimit: number; rolpassword: string | null }>(
  `SELECT rolname, rolcanlogin, rolconnlimit, rolpassword FROM pg_authid WHERE rolname LIKE 'app_%' ORDER BY 1`);

test('a database with its own roles round-trips into an empty server with owners, grants, memberships and passwords intact', async () => {
  const repo = newRepo('roundtrip');
  const id = await backupGlobals(`file:${repo}`);
  assert.deepEqual(readdirSync(repo).sort(), [`${id}.backup`, `${id}.globals`, `${id}.manifest.json`]);
  const manifest = JSON.parse(readFileSync(join(repo, manifestKey('', id)), 'utf8')) as Manifest;
  assert.equal(manifest.globals?.key, globalsKey('', id));
  assert.equal(manifest.globals?.rolePasswords, true);
  assert.equal(manifest.globals?.sizes.stored, readFileSync(join(repo, `${id}.globals`)).length);
  // Encrypted and compressed like the data: the role names are not readable in the stored bytes.
  assert.ok(!readFileSync(join(repo, `${id}.globals`)).includes('app_owner'));

  const show = await intoTarget(['show', '--from', `file:${repo}`]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout.toString(), new RegExp(`^globals +${id}\\.globals version null: .*, with role passwords`, 'm'));

  await target.createDatabase('app');
  const r = await intoTarget(['restore', '--from', `file:${repo}`, '--to-database', 'app', '--globals', '--keep-owners']);
  assert.equal(r.code, 0, r.stderr);
  // The restoring superuser exists on every server: reported and left alone, its password untouched.
  assert.match(r.stderr, /globals\.role-exists .*role=postgres/);
  assert.doesNotMatch(r.stderr, /role=app_/);
  assert.deepEqual(await appState(target, 'app'), {
    owner: 'app_owner', reader: true, analyst: true, rows: '300', members: ['app_analyst in app_reader'],
  });
  assert.deepEqual(await roles(target), await roles(source), 'attributes and password hashes as on the source');
});

test('S3: the globals object is locked like the data and pinned; existing roles are reported and left as they are', async () => {
  const bucket = await s3.createBucket({ objectLock: true });
  const id = await backupGlobals(`s3://${bucket}/app`, ['--retain-days', '2']);
  const repository = s3Repository({ client: s3.client, bucket, prefix: 'app' });
  const [entry] = await listBackups(repository);
  assert.equal(entry!.status, 'complete', entry!.problem);
  assert.equal(entry!.globalsVersion?.key, globalsKey('app', id));
  assert.equal(entry!.globalsVersion?.versionId, entry!.manifest!.globals!.versionId);
  const lockOf = async (key: string, versionId: string) =>
    (await s3.client.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: key, VersionId: versionId }))).Retention;
  const dataLock = await lockOf(entry!.dataVersion!.key, entry!.dataVersion!.versionId);
  assert.deepEqual(await lockOf(entry!.globalsVersion!.key, entry!.globalsVersion!.versionId), dataLock);

  // The target already has the roles (the first test), one of them changed there: it must stay as it is.
  await target.query('ALTER ROLE app_owner NOLOGIN CONNECTION LIMIT 3');
  await target.createDatabase('app_s3');
  const r = await intoTarget(['restore', '--from', `s3://${bucket}/app`, '--to-database', 'app_s3', '--globals', '--keep-owners']);
  assert.equal(r.code, 0, r.stderr);
  for (const role of ROLES) assert.match(r.stderr, new RegExp(`globals\\.role-exists .*role=${role}\\b`));
  const [owner] = (await roles(target)).filter((x) => x.rolname === 'app_owner');
  assert.equal(owner!.rolcanlogin, false);
  assert.equal(owner!.rolconnlimit, 3);
  assert.deepEqual(await appState(target, 'app_s3'), {
    owner: 'app_owner', reader: true, analyst: true, rows: '300', members: ['app_analyst in app_reader'],
  });
  await target.query('ALTER ROLE app_owner LOGIN CONNECTION LIMIT -1');

  // A GFS promotion extends the lock of all three versions, the globals' included.
  const plan = planPrune(await listBackups(repository), { gfs: { weekly: 3 } });
  const extend = plan.decisions[0]!.extendLock!;
  assert.deepEqual(extend.versions.map((v) => v.kind), ['data', 'globals', 'manifest']);
  const report = await executePrune(repository, plan);
  assert.deepEqual(report.errors, []);
  const extended = await lockOf(entry!.globalsVersion!.key, entry!.globalsVersion!.versionId);
  assert.equal(extended?.RetainUntilDate?.getTime(), extend.until.getTime());
});

test('a flipped byte in the globals fails the restore before anything is applied; a missing or cut globals object makes the backup incomplete', async () => {
  await source.query('CREATE ROLE tamper_probe');
  const repo = newRepo('tampered');
  const id = await backupGlobals(`file:${repo}`);
  await source.query('DROP ROLE tamper_probe');
  const path = join(repo, `${id}.globals`);
  const good = readFileSync(path);
  // verify reads the globals as restore would, applies nothing: the server's roles are not the drill's to change.
  const globalsCheck = async () => {
    const v = await intoTarget(['verify', '--from', `file:${repo}`, '--json']);
    const report = JSON.parse(v.stdout.toString()) as { ok: boolean; checks: { name: string; status: string; detail: string }[] };
    return { code: v.code, ok: report.ok, check: report.checks.find((c) => c.name === 'globals') };
  };
  const verified = await globalsCheck();
  assert.deepEqual([verified.code, verified.ok, verified.check?.status], [0, true, 'ok'], verified.check?.detail);
  assert.match(verified.check!.detail, /^\d+ statements, \d+ roles; digests match/);
  assert.deepEqual(await target.query(`SELECT 1 FROM pg_roles WHERE rolname = 'tamper_probe'`), [], 'verify created no role');
  const flipped = Buffer.from(good);
  flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
  writeFileSync(path, flipped);
  const tampered = await globalsCheck();
  assert.deepEqual([tampered.code, tampered.ok, tampered.check?.status], [1, false, 'failed']);
  assert.match(tampered.check!.detail, /authentication|sha256|digest/i);
  await target.createDatabase('tampered');
  const r = await intoTarget(['restore', '--from', `file:${repo}`, '--to-database', 'tampered', '--globals', '--keep-owners']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /copycat-db: error: .*(authentication|sha256|digest)/i);
  assert.deepEqual(await target.query(`SELECT 1 FROM pg_roles WHERE rolname = 'tamper_probe'`), [], 'no role was created');
  assert.deepEqual(await target.query(`SELECT 1 FROM pg_tables WHERE schemaname = 'public'`, 'tampered'), [], 'nothing was restored');

  // One byte short: the size the manifest records is not there, so the backup is incomplete and never restored.
  writeFileSync(path, good.subarray(0, good.length - 1));
  const cut = await intoTarget(['list', '--from', `file:${repo}`, '--json']);
  assert.match(JSON.parse(cut.stdout.toString())[0].problem, new RegExp(`globals version null holds ${good.length - 1} bytes, but the manifest says ${good.length}`));
  unlinkSync(path);
  const [entry] = await listBackups(dirRepository(repo));
  assert.equal(entry!.status, 'incomplete');
  assert.match(entry!.problem!, /manifest names globals version null: .*\.globals is missing/);
  const missing = await intoTarget(['restore', '--from', `file:${repo}`, '--backup', id, '--to-database', 'tampered', '--globals']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /copycat-db: error: backup \S+ is incomplete \(manifest names globals version/);
  assert.deepEqual(await target.query(`SELECT 1 FROM pg_tables WHERE schemaname = 'public'`, 'tampered'), []);
});

test('--globals is refused before anything runs: a backup without globals, a plain stream', async () => {
  const repo = newRepo('without');
  const plain = await fromSource(['backup', '-d', 'app', '--to', `file:${repo}`, '--level', '1']);
  assert.equal(plain.code, 0, plain.stderr);
  await target.createDatabase('refused');
  const r = await intoTarget(['restore', '--from', `file:${repo}`, '--to-database', 'refused', '--globals']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /copycat-db: error: backup \S+ was taken without --globals: it holds no roles or tablespaces — restore it without --globals/);
  assert.deepEqual(await target.query(`SELECT 1 FROM pg_tables WHERE schemaname = 'public'`, 'refused'), []);

  const stream = await fromSource(['backup', '--globals', '-d', 'app', '--to', join(work, 'app.dump')]);
  assert.equal(stream.code, 1);
  assert.match(stream.stderr, /copycat-db: error: --globals needs a repository/);
  assert.doesNotMatch(stream.stderr, /backup\.start/);
});

test('a server that refuses role passwords: the globals are taken without them, and the log, the manifest and show say so', async () => {
  const repo = newRepo('no-passwords');
  const id = await backupGlobals(`file:${repo}`, [], { PGUSER: 'backup_user', PGPASSWORD: 'backup-secret' });
  const manifest = JSON.parse(readFileSync(join(repo, manifestKey('', id)), 'utf8')) as Manifest;
  assert.equal(manifest.globals?.rolePasswords, false);
  const show = await intoTarget(['show', '--from', `file:${repo}`]);
  assert.match(show.stdout.toString(), /^globals .*WITHOUT role passwords/m);
  const again = await fromSource(['backup', '--globals', '-d', 'app', '--to', `file:${repo}`, '--level', '1'], { PGUSER: 'backup_user', PGPASSWORD: 'backup-secret' });
  assert.match(again.stderr, /globals\.no-role-passwords .*permission denied for table pg_authid/);
});

test('prune deletes the globals with their backup: data, globals, then the manifest', async () => {
  const bucket = await s3.createBucket({ versioning: true });
  const to = `s3://${bucket}/p`;
  const first = await backupGlobals(to, ['--allow-unlocked', '--no-prune']);
  await sleep(1100); // ids name the second: the second backup must be the newer one
  const second = await backupGlobals(to, ['--allow-unlocked', '--no-prune']);
  const repository = s3Repository({ client: s3.client, bucket, prefix: 'p' });
  const plan = planPrune(await listBackups(repository), { olderThanDays: 0, keepLast: 1 });
  const doomed = plan.decisions.find((d) => d.id === first)!;
  assert.equal(doomed.action, 'delete');
  assert.deepEqual(doomed.versions.map((v) => v.kind), ['data', 'globals', 'manifest']);

  const r = await fromSource(['prune', '--from', to, '--older-than', '0.000001', '--keep-last', '1']);
  assert.equal(r.code, 0, r.stderr);
  const left = (await bucketVersions(s3.client, bucket)).map((line) => line.split(' ')[0]);
  assert.deepEqual(left, [`p/${second}.backup`, `p/${second}.globals`, `p/${second}.manifest.json`]);

  const repo = newRepo('prune');
  const old = await backupGlobals(`file:${repo}`);
  await sleep(1100);
  const kept = await backupGlobals(`file:${repo}`);
  const d = await fromSource(['prune', '--from', `file:${repo}`, '--older-than', '0.000001', '--keep-last', '1']);
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual(readdirSync(repo).sort(), [`${kept}.backup`, `${kept}.globals`, `${kept}.manifest.json`]);
  assert.notEqual(old, kept);
});

test('globals SQL splits at semicolons outside quotes and comments; pg_dumpall\'s \\restrict lines go, any other meta-command is refused', () => {
  const sql = [
    '\\restrict abc123', 'SET client_encoding = \'UTF8\';', '--', '-- Roles; with a semicolon', '--', '',
    'CREATE ROLE "we;ird""name";', "COMMENT ON ROLE \"we;ird\"\"name\" IS 'it''s; fine\nacross lines';", 'GRANT a TO b -- trailing; comment', ';',
    '\\unrestrict abc123', '',
  ].join('\n');
  assert.deepEqual(splitStatements(sql), [
    "SET client_encoding = 'UTF8';", 'CREATE ROLE "we;ird""name";', "COMMENT ON ROLE \"we;ird\"\"name\" IS 'it''s; fine\nacross lines';",
    'GRANT a TO b -- trailing; comment\n;',
  ]);
  assert.throws(() => splitStatements('CREATE ROLE x;\n\\! touch /tmp/owned\n'),
    (err: unknown) => err instanceof CopycatError && err.code === 'GLOBALS_INVALID' && /psql meta-command \(\\! touch \/tm…\)/.test(err.message));
  // verify's reading: pg_dumpall's last line proves the globals whole, even where every digest matches a cut dump.
  const done = '--\n-- PostgreSQL database cluster dump complete\n--\n\n';
  assert.deepEqual(globalsContents(`${sql}${done}`), { statements: 4, roles: 1 });
  assert.throws(() => globalsContents(sql), /ends before its "cluster dump complete" line/);
});
