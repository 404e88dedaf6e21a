import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Redactor } from '../src/cli/logger.js';
import { databaseTarget, parseConnectionString } from '../src/pg/conninfo.js';
import { CopycatError } from '../src/errors.js';
import { loadKeyFile } from '../src/key.js';
import { parseManifest, type Manifest } from '../src/formats/manifest.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { seedVariedDatabase } from './helpers/fixtures.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';
import { sharedS3Server, stopSharedS3Server, type S3TestServer } from '../testkit/s3-server.js';

/** Every form a leak could take (raw, percent-encoded, quoted) contains this run of letters and digits. */
const MARK = 'Zq8vK3';
/** Needs percent-encoding in a URI (space, @, /, %) and quoting in key=value form (space, '). */
const PASSWORD = `${MARK} p@ss/w'rd%x`;
const ROLE = 'backup_user';

let pg: PgCluster;
let s3: S3TestServer;
let dir: string;
let keyFile: string;
let argvLog: string;
let env: Record<string, string>;

const uri = (database: string) =>
  `postgresql://${ROLE}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${pg.port}/${database}?sslmode=disable&application_name=copycat%20test`;
const keywordValue = (database: string) =>
  `host=127.0.0.1 port = ${pg.port} user=${ROLE} dbname='${database}' password='${PASSWORD.replace(/['\\]/g, '\\$&')}' sslmode=disable`;

before(async () => {
  [pg, s3] = await Promise.all([startPgCluster(), sharedS3Server()]);
  dir = mkdtempSync(join(tmpdir(), 'copycat-secrets-'));
  keyFile = join(dir, 'backup.key');
  writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
  await seedVariedDatabase(pg, 'app', 200);
  await pg.query(`CREATE ROLE ${ROLE} LOGIN SUPERUSER PASSWORD '${PASSWORD.replace(/'/g, "''")}'`);

  // pg_dump, pg_restore and psql are wrappers (chosen with COPYCAT_PG_BIN_DIR) that record the argv they were given
  // (what `ps` and /proc/PID/cmdline show every user) and whether a password came in the environment, then run the
  // real program.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  argvLog = join(dir, 'argv.log');
  for (const program of ['pg_dump', 'pg_restore', 'psql']) {
    const real = execFileSync('sh', ['-c', `command -v ${program}`]).toString().trim();
    writeFileSync(join(bin, program), `#!/bin/sh
{ printf '%s' '${program}'; for a in "$@"; do printf ' [%s]' "$a"; done; [ -n "$PGPASSWORD" ] && printf ' (PGPASSWORD set)'; echo; } >> '${argvLog}'
exec '${real}' "$@"
`, { mode: 0o755 });
  }
  env = {
    ...s3.env,
    COPYCAT_PG_BIN_DIR: bin,
    COPYCAT_KEY_FILE: keyFile,
    COPYCAT_LOG_LEVEL: 'debug',
    // Nothing but the connection string may supply the connection: these would all fail.
    PGHOST: '127.0.0.1', PGPORT: '1', PGUSER: 'nobody', PGPASSWORD: '', PGDATABASE: '', PGPASSFILE: join(dir, 'no-pgpass'),
  };
});

after(async () => {
  await Promise.all([pg?.stop(), stopSharedS3Server()]);
  rmSync(dir, { recursive: true, force: true });
});

function assertNoPassword(where: string, text: string): void {
  assert.ok(!text.includes(MARK), `the password is in ${where}:\n${text}`);
}

/** Runs the CLI and checks its output and the argv of every PostgreSQL program it started. */
async function run(args: string[], format: 'text' | 'json'): Promise<CliResult> {
  writeFileSync(argvLog, '');
  const r = await runCli(args, { env: { ...env, COPYCAT_LOG_FORMAT: format } });
  assert.equal(r.code, 0, r.stderr);
  assertNoPassword(`the ${format} log on stderr`, r.stderr);
  assertNoPassword(`the ${format} log on stdout`, r.stdout.toString());
  const argv = readFileSync(argvLog, 'utf8');
  assert.match(argv, /^(pg_dump|pg_restore|psql) /m, 'a PostgreSQL program ran');
  assertNoPassword('a PostgreSQL program\'s argv', argv);
  // Asked only its version, a program gets no connection at all.
  for (const line of argv.trim().split('\n').filter((l) => !l.endsWith(' [--version]'))) {
    assert.match(line, /\(PGPASSWORD set\)$/, `the password came in the environment: ${line}`);
  }
  return r;
}

async function manifests(bucket: string): Promise<{ text: string; manifest: Manifest }[]> {
  const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket }));
  const keys = (listed.Contents ?? []).map((o) => o.Key!).filter((k) => k.endsWith('.manifest.json'));
  return Promise.all(keys.map(async (key) => {
    const text = await (await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
    return { text, manifest: parseManifest(text, key) };
  }));
}

for (const [form, connection] of [['URI', uri], ['key=value', keywordValue]] as const) {
  test(`backup -d <${form} connection string with a password> to S3: census runs, the password is nowhere`, async () => {
    const bucket = await s3.createBucket({ objectLock: true });
    await run(['backup', '-d', connection('app'), '--to', `s3://${bucket}/app`, '--retain-days', '1', '--level', '1'],
      form === 'URI' ? 'json' : 'text');
    const [only, ...more] = await manifests(bucket);
    assert.equal(more.length, 0);
    assertNoPassword('the manifest', only!.text);
    assert.equal(only!.manifest.source.database, 'app', 'the manifest records the database name alone');
    const tables = only!.manifest.tables ?? [];
    assert.deepEqual(tables.map((t) => [t.name, t.rows]), [['billing.invoices', 600], ['public.customers', 200]],
      'the census connected with the connection string and counted every table');
  });

  test(`backup -d <${form} connection string> to a file and restore --to-database <the other form>: the password is nowhere`, async () => {
    const file = join(dir, `${form === 'URI' ? 'uri' : 'kv'}.backup`);
    const target = `restored_${form === 'URI' ? 'uri' : 'kv'}`;
    const backup = await run(['backup', '-d', connection('app'), '--to', `file:${file}`, '--level', '1'], form === 'URI' ? 'text' : 'json');
    assert.match(backup.stderr + backup.stdout.toString(), /backup\.start.*"?database"?[=:]"?app\b/);
    assert.ok(existsSync(file));
    await pg.createDatabase(target);
    const other = form === 'URI' ? keywordValue : uri;
    await run(['restore', '--from', `file:${file}`, '--to-database', other(target)], form === 'URI' ? 'json' : 'text');
    const [row] = await pg.query<{ n: string }>('SELECT count(*)::text AS n FROM billing.invoices', target);
    assert.equal(row!.n, '600');
  });
}

test('backup --format parallel -d <URI connection string> to S3: every connection gets the password, nothing shows it', async () => {
  const bucket = await s3.createBucket({ objectLock: true });
  await run(['backup', '-d', uri('app'), '--format', 'parallel', '--jobs', '2', '--to', `s3://${bucket}/par`, '--retain-days', '1'], 'json');
  const [only] = await manifests(bucket);
  assertNoPassword('the manifest', only!.text);
  assert.equal(only!.manifest.source.database, 'app');
  assert.deepEqual((only!.manifest.tables ?? []).map((t) => [t.name, t.rows]).sort(), [['billing.invoices', 600], ['public.customers', 200]]);
});

test('a malformed connection string is refused with an error that does not repeat it', async () => {
  for (const bad of [`host=127.0.0.1 password='${MARK} unterminated`, `postgresql://${ROLE}:${MARK}%zz@127.0.0.1/app`,
    `host=127.0.0.1 ${MARK}`, `host=127.0.0.1 keepalives=1 password=${MARK}`]) {
    const r = await runCli(['backup', '-d', bad, '--to', `file:${join(dir, 'never.backup')}`], { env });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr.trim(), /^copycat-db: error: --database: .*connection/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assertNoPassword('the error', r.stderr);
  }
});

test('parseConnectionString follows libpq: percent-decoding, quoting, escapes, several hosts, later keywords win', () => {
  const parse = (s: string) => Object.fromEntries(parseConnectionString(s));
  assert.deepEqual(parse('postgresql://u%40x:p%2Fw%3A@[::1]:5433,db2/app%20db?sslmode=require&ssl=true&host=%2Frun'), {
    user: 'u@x', password: 'p/w:', host: '/run', port: '5433,', dbname: 'app db', sslmode: 'require' });
  assert.deepEqual(parse('postgres://h1:1,h2:2'), { host: 'h1,h2', port: '1,2' });
  assert.deepEqual(parse('postgresql:///app'), { dbname: 'app' });
  assert.deepEqual(parse('postgresql://@h/?'), { host: 'h' });
  assert.deepEqual(parse(`  host = h  password='it\\'s a \\\\ secret' dbname=a\\ b user=x user=y`), {
    host: 'h', password: "it's a \\ secret", dbname: 'a b', user: 'y' });
  assert.deepEqual(parse("password='' dbname=app"), { password: '', dbname: 'app' });
  for (const bad of ['postgresql://h/db?sslmode', 'postgresql://[]/db', 'postgresql://h/db?x=%00', 'host', "password='x", 'bogus=1', 'sslpassword=x']) {
    assert.throws(() => parseConnectionString(bad), (err: unknown) => err instanceof CopycatError && err.code === 'OPTION_INVALID', bad);
  }
});

test('databaseTarget: the connection string\'s parts become PG* variables over the caller\'s, the name alone is the database', () => {
  assert.deepEqual(databaseTarget('app', { PGHOST: 'h' }), { database: 'app', env: { PGHOST: 'h', PGDATABASE: 'app' } });
  assert.deepEqual(databaseTarget(`postgresql://u:${MARK}@db.internal:6432/app?sslmode=verify-full`, { PGHOST: 'h', PGPORT: '5' }), {
    database: 'app',
    env: { PGHOST: 'db.internal', PGPORT: '6432', PGUSER: 'u', PGPASSWORD: MARK, PGDATABASE: 'app', PGSSLMODE: 'verify-full' },
  });
  // Without dbname, libpq's default: PGDATABASE when it is a plain name, else the user.
  assert.equal(databaseTarget(`user=u password=${MARK}`, { PGDATABASE: 'fromenv' }).database, 'fromenv');
  assert.equal(databaseTarget(undefined, { PGDATABASE: `user=u password=${MARK}` }).database, 'u');
});

test('the log redactor masks passwords in key=value connection strings and URI query parameters', () => {
  const r = new Redactor([]);
  for (const text of [`host=h password=${MARK}&x dbname=a`, `host=h password = '${MARK} \\' x' dbname=a`,
    `postgresql://h/a?password=${MARK}&sslmode=require`, `postgresql://u:${MARK}@h/a`, `sslpassword=${MARK}`]) {
    const masked = r.string(text);
    assert.ok(!masked.includes(MARK) && masked.includes('[redacted]'), masked);
  }
  assert.match(r.string(`host=h password='${MARK}' dbname=a`), /dbname=a$/, 'what follows a quoted password stays');
});

test('a key file other users may read is refused with the file, its mode and the fix; 0600 and 0400 are accepted', async () => {
  const open = join(dir, 'open.key');
  writeFileSync(open, randomBytes(32), { mode: 0o600 });
  chmodSync(open, 0o644);
  const r = await runCli(['backup', '-d', 'app', '--to', `file:${join(dir, 'refused.backup')}`, '--key-file', open], { env: pg.env });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^copycat-db: error: key file \S+open\.key has mode 0644, .*chmod 600 \S+open\.key/);
  assert.ok(!existsSync(join(dir, 'refused.backup')));

  for (const mode of [0o600, 0o400]) {
    chmodSync(open, mode);
    assert.equal((await loadKeyFile(open)).length, 32);
  }
  for (const mode of [0o640, 0o604, 0o620, 0o440, 0o606]) {
    chmodSync(open, mode);
    await assert.rejects(loadKeyFile(open), (err: unknown) => err instanceof CopycatError && err.code === 'KEY_PERMISSIONS'
      && err.message.includes(`mode 0${mode.toString(8)}`) && err.message.includes(`chmod 600 ${open}`), mode.toString(8));
  }
});

test('under $CREDENTIALS_DIRECTORY (systemd LoadCredential=), a group-readable 0440 key is accepted, nothing wider', async () => {
  const credentials = join(dir, 'credentials');
  mkdirSync(credentials, { mode: 0o700 });
  const key = join(credentials, 'copycat-db.key');
  writeFileSync(key, randomBytes(32), { mode: 0o440 });
  const saved = process.env.CREDENTIALS_DIRECTORY;
  process.env.CREDENTIALS_DIRECTORY = credentials;
  try {
    assert.equal((await loadKeyFile(key)).length, 32);
    chmodSync(key, 0o444);
    await assert.rejects(loadKeyFile(key), /mode 0444/);
    chmodSync(key, 0o460);
    await assert.rejects(loadKeyFile(key), /mode 0460/);
    const outside = join(dir, 'outside.key');
    writeFileSync(outside, randomBytes(32), { mode: 0o440 });
    await assert.rejects(loadKeyFile(outside), /mode 0440/, 'only inside the credentials directory');
    await assert.rejects(loadKeyFile(join(credentials, '..', 'outside.key')), /mode 0440/);
  } finally {
    if (saved === undefined) delete process.env.CREDENTIALS_DIRECTORY;
    else process.env.CREDENTIALS_DIRECTORY = saved;
  }
});
