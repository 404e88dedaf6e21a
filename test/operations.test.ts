/**
 * Operating copycat-db, through the real CLI: the start-up check, JSON logs without secrets, the Prometheus textfile,
 * the one-run-per-destination lock and the healthcheck pings.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { acquireLock, lockPath } from '../src/cli/lock.js';
import { createLogger, Redactor } from '../src/cli/logger.js';
import { writeMetricsFile } from '../src/cli/metrics.js';
import { runCli } from './helpers/cli.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';

let cluster: PgCluster;
let dir: string;
let lockDir: string;
let keyFile: string;
const key = randomBytes(32);
const AWS_SECRET = 'aws-Secret-' + randomBytes(12).toString('hex');
const SCW_SECRET = 'scw-secret-' + randomBytes(12).toString('hex');

before(async () => {
  cluster = await startPgCluster();
  dir = mkdtempSync(join(tmpdir(), 'copycat-ops-'));
  lockDir = join(dir, 'locks');
  keyFile = join(dir, 'backup.key');
  writeFileSync(keyFile, key, { mode: 0o600 });
  await cluster.createDatabase('app');
  await cluster.query(`CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g`, 'app');
});

after(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The runner's own environment may carry settings: blank them (empty counts as unset), then add the test's. */
function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    COPYCAT_DESTINATION: '', COPYCAT_METRICS_FILE: '', COPYCAT_PING_URL: '', COPYCAT_LOG_FORMAT: '', COPYCAT_LOG_LEVEL: '',
    INVOCATION_ID: '', JOURNAL_STREAM: '', SCW_RDB_INSTANCE_ID: '',
    ...cluster.env, PGDATABASE: 'app', COPYCAT_KEY_FILE: keyFile, COPYCAT_LOCK_DIR: lockDir,
    AWS_ACCESS_KEY_ID: 'AKIATESTTEST', AWS_SECRET_ACCESS_KEY: AWS_SECRET, SCW_SECRET_KEY: SCW_SECRET,
    ...extra,
  };
}

const secretsIn = (text: string) => [AWS_SECRET, SCW_SECRET, cluster.password, key.toString('hex'), key.toString('base64'), key.toString('base64url')]
  .filter((s) => text.includes(s));

function jsonLines(text: string): Record<string, unknown>[] {
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', 'the output ends with a newline');
  return lines.map((line, i) => {
    const record = JSON.parse(line) as Record<string, unknown>;
    assert.equal(typeof record.time, 'string', `line ${i + 1} has a time`);
    assert.ok(!Number.isNaN(Date.parse(record.time as string)), `line ${i + 1}: time is ISO 8601`);
    assert.ok(['debug', 'info', 'warn', 'error'].includes(record.level as string), `line ${i + 1} has a level`);
    assert.equal(typeof record.event, 'string', `line ${i + 1} has an event`);
    return record;
  });
}

// ------------------------------------------------------------------------------------------------ start-up check

test('start-up check: every missing or invalid setting at once, by name, on one line, before any work', async () => {
  const target = join(dir, 'never.backup');
  const r = await runCli(['backup', '--metrics-file', join(dir, 'no-such-dir', 'm.prom')], {
    // HOME: no ~/.aws of the machine's, whose default profile would be a source of credentials.
    env: env({ HOME: dir, COPYCAT_KEY_FILE: '', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', PGPORT: 'abc', COPYCAT_DESTINATION: 's3://copycat-bucket/app', COPYCAT_LOG_LEVEL: 'loud' }),
  });
  assert.equal(r.code, 1);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  const line = lines[0]!;
  assert.match(line, /^copycat-db: error: 5 settings are missing or invalid: /);
  assert.match(line, /COPYCAT_KEY_FILE: not set — path of the 32-byte key from copycat-db keygen/);
  assert.match(line, /AWS_ACCESS_KEY_ID: not set — the S3 access key id \(with AWS_SECRET_ACCESS_KEY\), or another source of credentials: AWS_PROFILE /);
  assert.match(line, /PGPORT: "abc" is not a port number/);
  assert.match(line, /COPYCAT_LOG_LEVEL: "loud" is not a log level — debug, info, warn or error/);
  assert.match(line, /--metrics-file: the directory .*no-such-dir does not exist/, 'a value given as a flag is named by its flag');
  assert.ok(!existsSync(target));
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('no-such-dir')), []);

  const none = await runCli(['backup'], { env: env() });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /1 setting is missing or invalid: COPYCAT_DESTINATION: not set — the backup location: s3:\/\/BUCKET\/PREFIX, or file:PATH \(or pass --to/);

  const list = await runCli(['list', '--from', '-'], { env: env({ AWS_SECRET_ACCESS_KEY: '' }) });
  assert.equal(list.code, 1);
  assert.match(list.stderr, /1 setting is missing or invalid: --from: "-" is not a backup repository — list works on s3:\/\/BUCKET\/PREFIX or file:DIR \(an existing directory\)\n$/);

  const wrongSize = join(dir, 'short.key');
  writeFileSync(wrongSize, 'short');
  const badKey = await runCli(['backup', '--to', `file:${target}`], { env: env({ COPYCAT_KEY_FILE: wrongSize, PGSSLMODE: 'sometimes' }) });
  assert.equal(badKey.code, 1);
  assert.match(badKey.stderr, /2 settings are missing or invalid: .*COPYCAT_KEY_FILE: key file .*short\.key is 5 bytes, not 32.*; PGSSLMODE: "sometimes" is not an sslmode/);
  assert.ok(!existsSync(target));
});

// ------------------------------------------------------------------------------------------------ logs

test('JSON logs under systemd: one object per line on stdout, and no secret ever (field values, messages, errors)', async () => {
  // The secrets are made to reach the logs on purpose: the AWS secret in a path, the PG password as a database name.
  const path = join(dir, `${AWS_SECRET}.backup`);
  const ok = await runCli(['backup', '--to', `file:${path}`, '--log-level', 'debug'], { env: env({ INVOCATION_ID: 'abc', JOURNAL_STREAM: '8:1234' }) });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stderr, '', 'JSON logs go to stdout when stdout carries no data');
  const records = jsonLines(ok.stdout.toString());
  assert.equal(records[0]!.event, 'backup.start');
  assert.equal(records.at(-1)!.event, 'backup.done');
  assert.equal(records[0]!.to, 'file:' + join(dir, '[redacted].backup'), 'the AWS secret inside a value is masked');
  assert.equal(typeof records.at(-1)!.stored_bytes, 'number');
  assert.ok(existsSync(path), 'the backup itself was written where asked');
  assert.deepEqual(secretsIn(ok.stdout.toString() + ok.stderr), []);

  const failed = await runCli(['backup', '--to', `file:${join(dir, 'x.backup')}`, '-d', cluster.password, '--log-format', 'json'], { env: env() });
  assert.equal(failed.code, 1);
  const fail = jsonLines(failed.stdout.toString()).at(-1);
  assert.equal(fail!.event, 'run.failed');
  assert.equal(fail!.level, 'error');
  assert.match(fail!.error as string, /database "\[redacted\]" does not exist/);
  assert.match(failed.stderr, /^copycat-db: error: pg_dump exited with code 1: .*database "\[redacted\]" does not exist/m);
  assert.deepEqual(secretsIn(failed.stdout.toString() + failed.stderr), []);
});

test('the redaction layer: secret-named fields, secret values anywhere, URL passwords, raw bytes', () => {
  const lines: string[] = [];
  const log = createLogger({ format: 'json', level: 'debug', sink: { writeLine: (l) => lines.push(l) },
    redactor: Redactor.fromEnv({ AWS_SECRET_ACCESS_KEY: AWS_SECRET, PGPASSWORD: 'pg-pass-123', SCW_SECRET_KEY: SCW_SECRET }) });
  log.log('info', 'x', {
    password: 'hunter2', apiToken: 'tok', secretKey: 'k', accessKey: 'SCWABC', key: 'backups/2025/id.dump', keyId: 'abcd',
    message: `failed with ${SCW_SECRET} in it`, url: 'postgres://backup:pg-pass-123@db/app', dsn: 'https://u:p4ss@host/x',
    nested: { list: [AWS_SECRET, { token: 'x' }] }, material: key, empty: '',
  });
  const record = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.deepEqual(record, {
    time: record.time, level: 'info', event: 'x',
    password: '[redacted]', apiToken: '[redacted]', secretKey: '[redacted]', accessKey: '[redacted]',
    key: 'backups/2025/id.dump', keyId: 'abcd', message: 'failed with [redacted] in it', url: 'postgres://backup:[redacted]@db/app',
    dsn: 'https://u:[redacted]@host/x', nested: { list: ['[redacted]', { token: '[redacted]' }] }, material: '<32 bytes>', empty: '',
  });
});

test('JSON logs with --to -: the data alone on stdout, the log lines on stderr', async () => {
  const r = await runCli(['backup', '--to', '-', '--log-format', 'json'], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.subarray(0, 8).toString('ascii'), 'CCDBAEAD', 'stdout is exactly the encrypted backup');
  assert.ok(!r.stdout.includes('"event"'));
  const events = jsonLines(r.stderr).map((l) => l.event);
  assert.deepEqual([events[0], events.at(-1)], ['backup.start', 'backup.done']);
  assert.deepEqual(secretsIn(r.stderr), []);
  assert.ok(!r.stdout.includes(key), 'the key bytes are not in the output');
});

test('text logs without a terminal stay readable lines on stderr', async () => {
  const r = await runCli(['backup', '--to', `file:${join(dir, 'text.backup')}`], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.length, 0);
  assert.match(r.stderr, /^\S+Z info  backup\.start source=pg_dump database=app /m);
  assert.match(r.stderr, /^\S+Z info  backup\.done dump_bytes=\d+ stored_bytes=\d+/m);
});

// ------------------------------------------------------------------------------------------------ metrics

interface Family { help: string; type: string; samples: { labels: Record<string, string>; value: number }[] }

/** A strict reader of the Prometheus text format as node_exporter's textfile collector expects it. */
function parsePrometheus(text: string): Map<string, Family> {
  assert.ok(text.endsWith('\n'), 'the file ends with a newline');
  const families = new Map<string, Family>();
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const seen = new Set<string>();
  let current: string | undefined;
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${i + 1}: ${line}`;
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^# HELP (${name}) (.+)$`).exec(line))) {
      assert.ok(!families.has(m[1]!), `${where}: HELP once per family`);
      families.set(m[1]!, { help: m[2]!, type: '', samples: [] });
      current = m[1];
    } else if ((m = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`).exec(line))) {
      assert.equal(m[1], current, `${where}: TYPE follows its HELP`);
      assert.equal(families.get(m[1]!)!.type, '', `${where}: TYPE once`);
      assert.equal(families.get(m[1]!)!.samples.length, 0, `${where}: TYPE before the samples`);
      families.get(m[1]!)!.type = m[2]!;
    } else if ((m = new RegExp(`^(${name})(?:\\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*",?)*)\\})? (\\S+)(?: (-?\\d+))?$`).exec(line))) {
      assert.equal(m[1], current, `${where}: a sample belongs to the family just declared`);
      assert.notEqual(families.get(m[1]!)!.type, '', `${where}: TYPE before samples`);
      const labels: Record<string, string> = {};
      for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        assert.ok(!(lm[1]! in labels), `${where}: label ${lm[1]} once`);
        labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      }
      const raw = m[3]!;
      assert.match(raw, /^(?:NaN|[+-]Inf|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$/, `${where}: a float value`);
      const series = `${m[1]}${JSON.stringify(Object.entries(labels).sort())}`;
      assert.ok(!seen.has(series), `${where}: duplicate series`);
      seen.add(series);
      families.get(m[1]!)!.samples.push({ labels, value: raw === 'NaN' ? NaN : raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw) });
    } else {
      assert.fail(`${where}: not a HELP, TYPE or sample line`);
    }
  }
  return families;
}

const METRIC_NAMES = ['copycat_db_last_run_timestamp_seconds', 'copycat_db_last_success_timestamp_seconds', 'copycat_db_duration_seconds',
  'copycat_db_bytes_read', 'copycat_db_bytes_stored', 'copycat_db_compression_ratio', 'copycat_db_last_run_success'];

function valueOf(families: Map<string, Family>, metric: string, destination: string): number | undefined {
  return families.get(metric)?.samples.find((s) => s.labels.destination === destination && s.labels.command === 'backup')?.value;
}

test('metrics: a valid Prometheus textfile after success and failure, last success kept, replaced atomically', async () => {
  const metricsDir = join(dir, 'textfile');
  mkdirSync(metricsDir);
  const metrics = join(metricsDir, 'copycat-db.prom');
  const path = join(dir, 'metrics.backup');
  const destination = `file:${path}`;

  const ok = await runCli(['backup', '--to', destination], { env: env({ COPYCAT_METRICS_FILE: metrics }) });
  assert.equal(ok.code, 0, ok.stderr);
  const first = parsePrometheus(readFileSync(metrics, 'utf8'));
  assert.deepEqual([...first.keys()], METRIC_NAMES);
  for (const [metric, family] of first) {
    assert.equal(family.type, 'gauge', metric);
    assert.deepEqual(family.samples.map((s) => s.labels), [{ command: 'backup', destination }], metric);
  }
  const storedSize = statSync(path).size;
  assert.equal(valueOf(first, 'copycat_db_last_run_success', destination), 1);
  assert.equal(valueOf(first, 'copycat_db_bytes_stored', destination), storedSize);
  assert.ok(valueOf(first, 'copycat_db_bytes_read', destination)! > storedSize, 'the dump compresses');
  assert.ok(valueOf(first, 'copycat_db_compression_ratio', destination)! > 1);
  assert.ok(valueOf(first, 'copycat_db_duration_seconds', destination)! > 0);
  const success = valueOf(first, 'copycat_db_last_success_timestamp_seconds', destination)!;
  assert.ok(Math.abs(success - Date.now() / 1000) < 60);
  assert.equal(valueOf(first, 'copycat_db_last_run_timestamp_seconds', destination), success);
  const inode = statSync(metrics).ino;

  // A failure against the same destination (flag this time), and a success against another one.
  const failed = await runCli(['backup', '--to', destination, '-d', 'no_such_db', '--metrics-file', metrics], { env: env() });
  assert.equal(failed.code, 1);
  // The old file's inode is still in use when the new one is created, so one rewrite always changes it.
  assert.notEqual(statSync(metrics).ino, inode, 'replaced by rename, never rewritten in place');
  const other = `file:${join(dir, 'other.backup')}`;
  assert.equal((await runCli(['backup', '--to', other], { env: env({ COPYCAT_METRICS_FILE: metrics }) })).code, 0);
  const second = parsePrometheus(readFileSync(metrics, 'utf8'));
  assert.equal(valueOf(second, 'copycat_db_last_run_success', destination), 0);
  assert.equal(valueOf(second, 'copycat_db_last_success_timestamp_seconds', destination), success, 'the last success is kept');
  assert.ok(valueOf(second, 'copycat_db_last_run_timestamp_seconds', destination)! > success);
  assert.equal(valueOf(second, 'copycat_db_bytes_stored', destination), 0);
  assert.ok(Number.isNaN(valueOf(second, 'copycat_db_compression_ratio', destination)));
  assert.equal(valueOf(second, 'copycat_db_last_run_success', other), 1, 'series of other destinations are kept side by side');
  assert.deepEqual(readdirSync(metricsDir), ['copycat-db.prom'], 'no temporary file is left');
  assert.equal(statSync(metrics).mode & 0o777, 0o644, 'readable by node_exporter');

  // COPYCAT_METRICS_FILE belongs to backup: a restore run with the same environment does not report into it.
  const before = readFileSync(metrics, 'utf8');
  await cluster.createDatabase('restored_ops');
  const restore = await runCli(['restore', '--from', other, '--to-database', 'restored_ops'], { env: env({ COPYCAT_METRICS_FILE: metrics }) });
  assert.equal(restore.code, 0, restore.stderr);
  assert.equal(readFileSync(metrics, 'utf8'), before);
});

test('metrics: a reader never sees a partial file while it is rewritten', async () => {
  const metricsDir = join(dir, 'textfile-race');
  mkdirSync(metricsDir);
  const metrics = join(metricsDir, 'race.prom');
  let writing = true;
  const writer = (async () => {
    for (let i = 0; i < 150; i++) {
      await writeMetricsFile(metrics, { command: 'backup', destination: `s3://b/p${i % 7}`, finishedAt: new Date(), durationMs: i, success: i % 3 !== 0, bytesRead: i * 1000, bytesStored: i * 10, compressionRatio: 100 });
    }
    writing = false;
  })();
  let reads = 0;
  while (writing) {
    const text = await readFile(metrics, 'utf8').catch(() => undefined);
    if (text !== undefined) {
      parsePrometheus(text);
      reads++;
    }
    await new Promise((r) => setImmediate(r));
  }
  await writer;
  assert.ok(reads > 10, `read ${reads} times`);
  const final = parsePrometheus(readFileSync(metrics, 'utf8'));
  assert.equal(final.get('copycat_db_last_run_success')!.samples.length, 7, 'one series per destination');
  assert.deepEqual(readdirSync(metricsDir), ['race.prom']);
});

// ------------------------------------------------------------------------------------------------ lock

test('a second backup to the same destination is refused while the first runs, then allowed', async () => {
  const path = join(dir, 'locked.backup');
  const destination = `file:${path}`;
  // Hold the table so the first run's pg_dump waits: a slow backup on demand.
  const holder = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password, database: 'app' });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
  let firstPid = 0;
  const first = runCli(['backup', '--to', destination], { env: env(), onSpawn: (child) => (firstPid = child.pid!) });
  const lockFile = lockPath(destination, { COPYCAT_LOCK_DIR: lockDir });
  try {
    for (let i = 0; !existsSync(lockFile); i++) {
      assert.ok(i < 200, 'the first run takes the lock');
      await new Promise((r) => setTimeout(r, 25));
    }
    const second = await runCli(['backup', '--to', destination], { env: env() });
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`^copycat-db: error: another copycat-db backup to ${destination.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is running \\(pid ${firstPid}, since \\d{4}-\\d\\d-\\d\\dT[^)]+\\): wait for it or stop it`));
  } finally {
    await holder.query('COMMIT');
    await holder.end();
  }
  const done = await first;
  assert.equal(done.code, 0, done.stderr);
  assert.ok(!existsSync(lockFile), 'released at the end');
  rmSync(path);
  assert.equal((await runCli(['backup', '--to', destination], { env: env() })).code, 0, 'free again');
});

test('the lock: held by this process refuses the CLI; a lock left by a dead process is taken over', async () => {
  const destination = `file:${join(dir, 'held.backup')}`;
  const lock = await acquireLock({ command: 'backup', destination, env: { COPYCAT_LOCK_DIR: lockDir } });
  const refused = await runCli(['backup', '--to', destination], { env: env() });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`another copycat-db backup to .*held\\.backup is running \\(pid ${process.pid}, since `));
  await lock.release();

  const dead = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['-e', '']);
    child.on('exit', () => resolve(child.pid!));
  });
  writeFileSync(lockPath(destination, { COPYCAT_LOCK_DIR: lockDir }), JSON.stringify({ pid: dead, since: new Date().toISOString(), command: 'backup', destination, host: (await import('node:os')).hostname(), nonce: 'x' }));
  const taken = await runCli(['backup', '--to', destination], { env: env() });
  assert.equal(taken.code, 0, taken.stderr);
  assert.match(taken.stderr, new RegExp(`warn  lock\\.stale lock_pid=${dead} `));
  assert.ok(!existsSync(lockPath(destination, { COPYCAT_LOCK_DIR: lockDir })));
});

// ------------------------------------------------------------------------------------------------ pings

interface Ping { method: string; path: string; body: string }

async function pingServer(status = 200): Promise<{ url: string; pings: Ping[]; server: Server }> {
  const pings: Ping[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => {
      pings.push({ method: req.method!, path: req.url!, body });
      res.writeHead(status).end('OK');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/ping/${randomBytes(8).toString('hex')}`, pings, server };
}

test('pings: URL/start then URL on success; URL/start then URL/fail with the error on failure', async () => {
  const { url, pings, server } = await pingServer();
  const base = new URL(url).pathname;
  try {
    const ok = await runCli(['backup', '--to', `file:${join(dir, 'ping.backup')}`, '--ping-url', url], { env: env() });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(pings.map((p) => `${p.method} ${p.path}`), [`POST ${base}/start`, `POST ${base}`]);
    assert.match(pings[1]!.body, /^backup done: dump_bytes=\d+ stored_bytes=\d+/);

    pings.length = 0;
    const failed = await runCli(['backup', '--to', `file:${join(dir, 'ping-fail.backup')}`, '-d', 'no_such_db'], { env: env({ COPYCAT_PING_URL: url }) });
    assert.equal(failed.code, 1);
    assert.deepEqual(pings.map((p) => `${p.method} ${p.path}`), [`POST ${base}/start`, `POST ${base}/fail`]);
    assert.match(pings[1]!.body, /pg_dump exited with code 1: .*database "no_such_db" does not exist/);
    assert.ok(!failed.stderr.includes(base), 'the ping URL (a credential of the check) is not logged');

    pings.length = 0;
    const config = await runCli(['backup', '--to', 'ftp://nowhere', '--ping-url', url], { env: env() });
    assert.equal(config.code, 1);
    assert.deepEqual(pings.map((p) => p.path), [`${base}/start`, `${base}/fail`], 'a configuration error is reported to the check too');
    assert.match(pings[1]!.body, /setting is missing or invalid: --to: unsupported location "ftp:\/\/nowhere"/);
  } finally {
    server.close();
  }
});

test('pings: an unreachable or failing ping server is a warning, never a failed backup', async () => {
  const { url, server } = await pingServer(500);
  try {
    const r = await runCli(['backup', '--to', `file:${join(dir, 'ping-500.backup')}`, '--ping-url', url], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warn  ping\.failed kind=start host=127\.0\.0\.1:\d+ status=500/);
    assert.match(r.stderr, /warn  ping\.failed kind=success /);
  } finally {
    server.close();
  }
  const closed = await pingServer();
  await new Promise<void>((resolve) => closed.server.close(() => resolve()));
  const r = await runCli(['backup', '--to', `file:${join(dir, 'ping-down.backup')}`, '--ping-url', closed.url], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warn  ping\.failed kind=start host=127\.0\.0\.1:\d+ error=/);
  assert.ok(!r.stderr.includes(new URL(closed.url).pathname));
});
