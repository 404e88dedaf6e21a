// Public-key encryption end to end, through the real CLI, a real PostgreSQL and a locked bucket on radosgw: the
// backup host holds only recipients and cannot read what it wrote; identities restore; rotation keeps old backups
// readable; a wrong identity is refused before a byte of the backup is read.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadIdentityFile } from '../src/key.js';
import { restore } from '../src/operations/restore.js';
import type { Repository } from '../src/repository/index.js';
import { s3Repository } from '../src/repository/s3-store.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { digestDatabase, seedVariedDatabase, type DatabaseDigest } from './helpers/fixtures.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';
import { startS3Server, type S3TestServer } from '../testkit/s3-server.js';

let pg: PgCluster;
let s3: S3TestServer;
let dir: string;
let source: DatabaseDigest;
let env: Record<string, string>;
/** Two key pairs: the identity files (secret) and the recipients keygen printed (public). */
const pairs: { identity: string; recipient: string; id: string }[] = [];

before(async () => {
  [pg, s3] = await Promise.all([startPgCluster(), startS3Server()]);
  dir = mkdtempSync(join(tmpdir(), 'copycat-public-key-'));
  await seedVariedDatabase(pg, 'app', 300);
  source = await digestDatabase(pg, 'app');
  // No key file anywhere: the backup host's environment has only what a recipients file setup gives it.
  env = { ...pg.env, ...s3.env, COPYCAT_KEY_FILE: '', COPYCAT_LOCK_DIR: join(dir, 'locks') };
  for (const name of ['old', 'new']) {
    const identity = join(dir, `${name}.identity`);
    const r = await runCli(['keygen', '--identity', identity], { env });
    assert.equal(r.code, 0, r.stderr);
    const recipient = r.stdout.toString().trim();
    assert.match(recipient, /^ccdb1[02-9ac-hj-np-z]+$/);
    const again = await runCli(['keygen', '--recipient-of', identity], { env });
    assert.equal(again.stdout.toString().trim(), recipient, 'keygen --recipient-of prints the same recipient');
    const [loaded] = await loadIdentityFile(identity);
    pairs.push({ identity, recipient, id: loaded!.recipient.id });
  }
});

after(async () => {
  await Promise.all([pg?.stop(), s3?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => runCli(args, { env: { ...env, ...extra } });

async function backupTo(to: string, recipientsFile: string): Promise<string> {
  const r = await cli(['backup', '-d', 'app', '--to', to, '--retain-days', '1', '--level', '1', '--no-prune'], { COPYCAT_RECIPIENTS_FILE: recipientsFile });
  assert.equal(r.code, 0, r.stderr);
  return /backup\.done id=(\S+)/.exec(r.stderr)![1]!;
}

async function restoreInto(database: string, from: string, args: string[]): Promise<CliResult> {
  await pg.createDatabase(database);
  return cli(['restore', '--from', from, '--to-database', database, ...args]);
}

async function tables(database: string): Promise<number> {
  const [row] = await pg.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`, database);
  return Number(row!.n);
}

test('a backup to a recipient: the backup host cannot restore it, the identity can; the manifest names the recipient', async () => {
  const [old] = pairs;
  const recipients = join(dir, 'recipients-old.txt');
  writeFileSync(recipients, `# the restore host's key\n${old!.recipient}\n`);
  const bucket = await s3.createBucket({ objectLock: true });
  const to = `s3://${bucket}/app`;
  const id = await backupTo(to, recipients);

  const list = JSON.parse((await cli(['list', '--from', to, '--json'])).stdout.toString()) as { id: string; keys: string[] }[];
  assert.deepEqual(list.map((r) => [r.id, r.keys]), [[id, [old!.id]]], 'list names the recipient the backup needs');

  // Everything the backup host has: the recipients file (and, for good measure, a random key file).
  const someKey = join(dir, 'some.key');
  writeFileSync(someKey, randomBytes(32), { mode: 0o600 });
  const hostOnly = await restoreInto('host_only', to, ['--key-file', someKey]);
  assert.equal(hostOnly.code, 1);
  assert.match(hostOnly.stderr, new RegExp(`backup ${id} is encrypted to recipients ${old!.id}: pass --identity`));
  assert.equal(await tables('host_only'), 0);

  const restored = await restoreInto('with_identity', to, ['--identity', old!.identity]);
  assert.equal(restored.code, 0, restored.stderr);
  assert.deepEqual(await digestDatabase(pg, 'with_identity'), source);
});

test('two recipients: either identity restores; rotation keeps older backups readable with the old identity', async () => {
  const [old, fresh] = pairs;
  const bucket = await s3.createBucket({ objectLock: true });
  const to = `s3://${bucket}/app`;
  const first = join(dir, 'recipients-1.txt');
  writeFileSync(first, `${old!.recipient}\n`);
  const a = await backupTo(to, first);
  // Rotation: the new recipient is added, then the old one removed.
  const both = join(dir, 'recipients-2.txt');
  writeFileSync(both, `${old!.recipient}\n# added during the rotation\n${fresh!.recipient}\n`);
  const b = await backupTo(to, both);
  const last = join(dir, 'recipients-3.txt');
  writeFileSync(last, `${fresh!.recipient}\n`);
  const c = await backupTo(to, last);

  for (const [label, pair] of [['old', old!], ['new', fresh!]] as const) {
    const r = await restoreInto(`two_${label}`, to, ['--backup', b, '--identity', pair.identity]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await digestDatabase(pg, `two_${label}`), source);
  }
  // Both identities given, as an operator does until the old backups expire: each backup opens with its own.
  for (const id of [a, c]) {
    const r = await restoreInto(`rotated_${id.slice(-4)}`, to, ['--backup', id, '--identity', old!.identity, '--identity', fresh!.identity]);
    assert.equal(r.code, 0, r.stderr);
  }
  const newOnly = await restoreInto('new_only_old_backup', to, ['--backup', a, '--identity', fresh!.identity]);
  assert.equal(newOnly.code, 1);
  assert.match(newOnly.stderr, new RegExp(old!.id), 'the refusal names the recipient the backup was made for');
  assert.match(newOnly.stderr, new RegExp(fresh!.id), 'and the identity that was given');
  assert.ok(!newOnly.stderr.includes('CCDB-SECRET-KEY'), 'never a secret');

  const listed = await cli(['list', '--from', to, '--json', '--identity', fresh!.identity]);
  const rows = JSON.parse(listed.stdout.toString()) as { id: string; keys: string[]; readable: boolean }[];
  assert.deepEqual(rows.map((r) => [r.id, r.keys.length, r.readable]), [[a, 1, false], [b, 2, true], [c, 1, true]]);
  const text = (await cli(['list', '--from', to, '--identity', fresh!.identity])).stdout.toString();
  assert.match(text, /KEYS +READABLE +STATUS/);
  assert.match(text, new RegExp(`^${a} .* ${old!.id} +no +complete$`, 'm'));

  const verify = await cli(['verify', '--from', to, '--identity', fresh!.identity, '--json']);
  assert.equal(verify.code, 0, verify.stderr);
  assert.equal((JSON.parse(verify.stdout.toString()) as { backup: { id: string } }).backup.id, c);
});

test('a wrong identity is refused before the backup is read', async () => {
  const [old, fresh] = pairs;
  const recipients = join(dir, 'recipients-wrong.txt');
  writeFileSync(recipients, `${old!.recipient}\n`);
  const bucket = await s3.createBucket({ objectLock: true });
  const id = await backupTo(`s3://${bucket}/app`, recipients);
  const real = s3Repository({ client: s3.client, bucket, prefix: 'app' });
  let reads = 0;
  const counted: Repository = { ...real, store: { ...real.store, dataSource: (...args) => (reads++, real.store.dataSource(...args)) } };
  await pg.createDatabase('wrong_identity');
  await assert.rejects(
    restore({ from: { repository: counted, backupId: id }, identities: await loadIdentityFile(fresh!.identity), into: { database: 'wrong_identity', env: pg.env } }),
    (err: Error & { code?: string }) => err.code === 'WRONG_IDENTITY' && err.message.includes(old!.id),
  );
  assert.equal(reads, 0, 'the data object was never opened');
  await restore({ from: { repository: counted, backupId: id }, identities: await loadIdentityFile(old!.identity), into: { database: 'wrong_identity', env: pg.env } });
  assert.equal(reads, 1);
});

test('a recipient with a typo is refused at start-up, and a key file plus recipients is refused', async () => {
  const [old] = pairs;
  const typo = old!.recipient.slice(0, 10) + (old!.recipient[10] === 'q' ? 'p' : 'q') + old!.recipient.slice(11);
  const r = await cli(['backup', '-d', 'app', '--to', `file:${join(dir, 'x.backup')}`, '--recipient', typo]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--recipient/);
  assert.match(r.stderr, /checksum/i);
  const key = join(dir, 'both.key');
  writeFileSync(key, randomBytes(32), { mode: 0o600 });
  const both = await cli(['backup', '-d', 'app', '--to', `file:${join(dir, 'y.backup')}`, '--recipient', old!.recipient, '--key-file', key]);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /a key file or to recipients, not both/);
  assert.deepEqual(readFileSync(join(dir, 'recipients-old.txt'), 'utf8').includes(old!.recipient), true);
});
