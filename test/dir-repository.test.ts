// A local directory as a repository (file:DIR): the same manifest, list, restore, verify and prune as S3, and the
// same refusals of damaged backups, through the real CLI and a real PostgreSQL.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Manifest } from '../src/formats/manifest.js';
import { dataKey, manifestKey, newBackupId } from '../src/repository/layout.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { digestDatabase, seedVariedDatabase } from './helpers/fixtures.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';

let pg: PgCluster;
let work: string;
let keyFile: string;
let env: Record<string, string>;

before(async () => {
  pg = await startPgCluster();
  work = mkdtempSync(join(tmpdir(), 'copycat-dir-repo-'));
  keyFile = join(work, 'key');
  writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
  await seedVariedDatabase(pg, 'app', 300);
  env = { ...pg.env, COPYCAT_LOCK_DIR: join(work, 'locks'), COPYCAT_KEY_FILE: keyFile, COPYCAT_DESTINATION: '' };
});

after(async () => {
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => runCli(args, { env: { ...env, ...extra } });

/** A fresh repository directory holding one backup of `app`; returns the directory and the backup's id. */
async function repoWithBackup(name: string, args: string[] = []): Promise<{ repo: string; id: string }> {
  const repo = join(work, name);
  mkdirSync(repo);
  const r = await cli(['backup', '--to', `file:${repo}`, '-d', 'app', '--level', '1', ...args]);
  assert.equal(r.code, 0, r.stderr);
  const [id] = ids(repo);
  return { repo, id: id! };
}

function ids(repo: string): string[] {
  return readdirSync(repo).filter((f) => f.endsWith('.manifest.json')).map((f) => f.slice(0, -'.manifest.json'.length)).sort();
}

const manifestOf = (repo: string, id: string): Manifest => JSON.parse(readFileSync(join(repo, manifestKey('', id)), 'utf8')) as Manifest;

async function listJson(repo: string): Promise<{ id: string; status: string; problem?: string; size: number | null; lockedUntil: string | null }[]> {
  const r = await cli(['list', '--from', `file:${repo}`, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.toString()) as never;
}

async function tablesIn(database: string): Promise<string[]> {
  return (await pg.query<{ t: string }>(`SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`, database)).map((r) => r.t);
}

test('file:DIR: backup → list → verify → restore → prune, with the manifest S3 gets', async () => {
  const { repo, id } = await repoWithBackup('roundtrip');
  assert.deepEqual(readdirSync(repo).sort(), [dataKey('', id), manifestKey('', id)], 'a data object and its manifest, nothing partial');
  const manifest = manifestOf(repo, id);
  assert.equal(manifest.id, id);
  assert.deepEqual(manifest.object, { key: dataKey('', id), versionId: 'null', retention: null }, 'no bucket, version or lock');
  assert.equal(manifest.source.kind, 'pg_dump');
  assert.equal(manifest.source.database, 'app');
  assert.equal(manifest.dumpFormat, 'custom');
  assert.equal(manifest.encryption?.algorithm, 'aes-256-gcm-stream-v1');
  assert.equal(manifest.sizes.stored, readFileSync(join(repo, dataKey('', id))).length);
  assert.ok(manifest.tables?.some((t) => t.name === 'billing.invoices' && t.rows === 900), 'the table census is recorded');

  const [row] = await listJson(repo);
  assert.deepEqual({ id: row!.id, status: row!.status, lockedUntil: row!.lockedUntil, size: row!.size }, { id, status: 'complete', lockedUntil: null, size: manifest.sizes.stored });
  const text = await cli(['list', '--from', `file:${repo}`]);
  assert.match(text.stdout.toString(), new RegExp(`^${id} .* complete$`, 'm'));

  const verify = await cli(['verify', '--from', `file:${repo}`, '--json']);
  assert.equal(verify.code, 0, verify.stderr);
  const report = JSON.parse(verify.stdout.toString()) as { ok: boolean; backup: { location: string }; checks: { name: string; status: string }[] };
  assert.equal(report.ok, true);
  assert.equal(report.backup.location, `file:${repo}`);
  assert.ok(report.checks.some((c) => c.name === 'billing.invoices' && c.status === 'ok'), 'row counts checked against the manifest');

  await pg.createDatabase('from_dir');
  const restore = await cli(['restore', '--from', `file:${repo}`, '--to-database', 'from_dir']);
  assert.equal(restore.code, 0, restore.stderr);
  assert.deepEqual(await digestDatabase(pg, 'from_dir'), await digestDatabase(pg, 'app'));

  // Prune: two copies of the backup under ids 40 and 50 days old, and a .partial file two days old.
  for (const days of [40, 50]) {
    const old = newBackupId(new Date(Date.now() - days * 86_400_000));
    cpSync(join(repo, dataKey('', id)), join(repo, dataKey('', old)));
    writeFileSync(join(repo, manifestKey('', old)), JSON.stringify({ ...manifest, id: old, object: { ...manifest.object, key: dataKey('', old) } }));
  }
  const partial = join(repo, `${dataKey('', newBackupId(new Date(Date.now() - 2 * 86_400_000)))}.0123abcd.partial`);
  writeFileSync(partial, 'half a backup');
  utimesSync(partial, new Date(Date.now() - 2 * 86_400_000), new Date(Date.now() - 2 * 86_400_000));
  assert.equal((await listJson(repo)).length, 3);

  const dry = await cli(['prune', '--from', `file:${repo}`, '--dry-run', '--keep-last', '1', '--log-format', 'json']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(ids(repo).length, 3, 'a dry run deletes nothing');
  assert.ok(existsSync(partial));

  const pruned = await cli(['prune', '--from', `file:${repo}`, '--keep-last', '1', '--log-format', 'json']);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.deepEqual(ids(repo), [id], 'the old backups went, the newest stayed');
  assert.deepEqual(readdirSync(repo).sort(), [dataKey('', id), manifestKey('', id)], 'the stale partial file went too');
  const events = pruned.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as { event: string; id?: string; reason?: string });
  assert.match(events.find((e) => e.event === 'prune.keep' && e.id === id)!.reason!, /younger than 30 days|within keep-last 1/);
  assert.equal(events.filter((e) => e.event === 'prune.delete').length, 2);
  assert.match(events.find((e) => e.event === 'prune.delete')!.reason!, /^no retention; deleted 2 versions$/);
});

test('file:DIR: a flipped byte fails the digest check and restores nothing', async () => {
  const { repo, id } = await repoWithBackup('flipped', ['--no-encrypt', '--compression', 'none']);
  const path = join(repo, dataKey('', id));
  const bytes = readFileSync(path);
  bytes[bytes.length >> 1] ^= 0x01;
  writeFileSync(path, bytes);
  await pg.createDatabase('from_flipped');
  const r = await cli(['restore', '--from', `file:${repo}`, '--to-database', 'from_flipped']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /sha256|digest/i);
  assert.deepEqual(await tablesIn('from_flipped'), [], 'nothing was committed');
  const verify = await cli(['verify', '--from', `file:${repo}`, '--json']);
  assert.equal(verify.code, 1);
  const report = JSON.parse(verify.stdout.toString()) as { ok: boolean; checks: { name: string; status: string }[] };
  assert.equal(report.checks.find((c) => c.name === 'stored sha256')?.status, 'failed');
});

test('file:DIR: a truncated object or a missing manifest makes the backup incomplete, never restored', async () => {
  const { repo, id } = await repoWithBackup('damaged');
  const data = join(repo, dataKey('', id));
  const size = readFileSync(data).length;
  truncateSync(data, size - 100);
  let [row] = await listJson(repo);
  assert.equal(row!.status, 'incomplete');
  assert.match(row!.problem!, new RegExp(`holds ${size - 100} bytes, but the manifest says ${size}`));
  await pg.createDatabase('from_damaged');
  let r = await cli(['restore', '--from', `file:${repo}`, '--to-database', 'from_damaged', '--backup', id]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`backup ${id} is incomplete .*it is never restored`));
  r = await cli(['restore', '--from', `file:${repo}`, '--to-database', 'from_damaged']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no complete backup under file:.*damaged/);

  unlinkSync(join(repo, manifestKey('', id)));
  [row] = await listJson(repo);
  assert.equal(row!.status, 'incomplete');
  assert.match(row!.problem!, /no manifest/);
  r = await cli(['verify', '--from', `file:${repo}`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no complete backup under file:/);
  assert.deepEqual(await tablesIn('from_damaged'), []);
});

test('file:DIR: a wrong or missing key is named before anything is read or created', async () => {
  const { repo, id } = await repoWithBackup('keyed');
  const keyId = (manifestOf(repo, id).encryption as { keyId: string }).keyId;
  const other = join(work, 'other.key');
  writeFileSync(other, randomBytes(32), { mode: 0o600 });
  await pg.createDatabase('from_keyed');
  const r = await cli(['restore', '--from', `file:${repo}`, '--to-database', 'from_keyed'], { COPYCAT_KEY_FILE: other });
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`wrong key: backup ${id} was encrypted with key id ${keyId}`));
  const v = await cli(['verify', '--from', `file:${repo}`, '--key-file', other]);
  assert.equal(v.code, 1);
  assert.match(v.stderr, /WRONG_KEY|wrong key/);
  const none = await cli(['restore', '--from', `file:${repo}`, '--to-database', 'from_keyed'], { COPYCAT_KEY_FILE: '' });
  assert.equal(none.code, 1);
  assert.match(none.stderr, new RegExp(`encrypted with key id ${keyId}: pass --key-file`));
  assert.deepEqual(await tablesIn('from_keyed'), []);
  const scratch = await pg.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'copycat_verify_%'`);
  assert.deepEqual(scratch, [], 'verify created no scratch database');
});

test('file:PATH that is not a directory stays a plain stream: one file, no manifest, and not a repository', async () => {
  const path = join(work, 'single.backup');
  const r = await cli(['backup', '--to', `file:${path}`, '-d', 'app', '--level', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(work).filter((f) => f.startsWith('single')), ['single.backup']);
  const list = await cli(['list', '--from', `file:${path}`]);
  assert.equal(list.code, 1);
  assert.match(list.stderr, /is not a backup repository — list works on s3:\/\/BUCKET\/PREFIX or file:DIR/);
  const missing = await cli(['backup', '--to', `file:${join(work, 'nowhere')}/`, '-d', 'app']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read the repository file:.*nowhere: ENOENT — check the path, or create the directory/);
});
