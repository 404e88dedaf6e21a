// Webhooks and the Pushgateway, against a real HTTP receiver: what they get on success and on failure, that secrets
// never reach them, and that a receiver that fails never fails the backup.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from './helpers/cli.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';

interface Received {
  readonly method: string;
  readonly url: string;
  readonly type: string;
  readonly body: string;
}

let pg: PgCluster;
let work: string;
let env: Record<string, string>;
let receiver: Server;
let base: string;
let received: Received[] = [];
/** Paths under which the receiver answers 500. */
const failing = new Set<string>();

before(async () => {
  pg = await startPgCluster();
  await pg.createDatabase('app');
  await pg.query('CREATE TABLE t AS SELECT g FROM generate_series(1, 100) g', 'app');
  work = mkdtempSync(join(tmpdir(), 'copycat-notify-'));
  const keyFile = join(work, 'key');
  writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
  env = { ...pg.env, COPYCAT_KEY_FILE: keyFile, COPYCAT_DESTINATION: '', COPYCAT_LOCK_DIR: join(work, 'locks') };
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, type: String(req.headers['content-type']), body: Buffer.concat(chunks).toString() });
      res.statusCode = failing.has(req.url!) ? 500 : 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const address = receiver.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

after(async () => {
  receiver?.close();
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('a backup posts its summary to every webhook and pushes its metrics; a failed one says why, keeping the last success', async () => {
  const repo = join(work, 'repo');
  mkdirSync(repo);
  received = [];
  const hooks = [`${base}/hook/one?token=s3cr3t-token`, `${base}/hook/two`];
  const args = ['backup', '--to', `file:${repo}`, '--level', '1', '--webhook-url', hooks[0]!, '--webhook-url', hooks[1]!, '--pushgateway-url', base];
  const ok = await runCli([...args, '-d', 'app'], { env });
  assert.equal(ok.code, 0, ok.stderr);
  const webhooks = received.filter((r) => r.url.startsWith('/hook/'));
  assert.deepEqual(webhooks.map((r) => r.url).sort(), ['/hook/one?token=s3cr3t-token', '/hook/two']);
  const notice = JSON.parse(webhooks[0]!.body) as { command: string; success: boolean; destination: string; summary: { id: string; dump_bytes: number }; error?: string };
  assert.equal(webhooks[0]!.type, 'application/json');
  assert.equal(notice.command, 'backup');
  assert.equal(notice.success, true);
  assert.equal(notice.destination, `file:${repo}`);
  assert.match(notice.summary.id, /^\d{8}T\d{6}Z-[0-9a-f]{4}$/);
  assert.ok(notice.summary.dump_bytes > 0);
  assert.equal(notice.error, undefined);
  const [push] = received.filter((r) => r.url.startsWith('/metrics/'));
  assert.equal(push!.method, 'POST');
  assert.equal(push!.url, `/metrics/job/copycat_db/command/backup/destination@base64/${Buffer.from(`file:${repo}`).toString('base64url')}`);
  assert.match(push!.body, /^copycat_db_last_run_success 1$/m);
  assert.match(push!.body, /^copycat_db_last_success_timestamp_seconds \d+/m);
  assert.ok(!ok.stderr.includes('s3cr3t-token') && !ok.stdout.toString().includes('s3cr3t-token'), 'the webhook URL is a secret: never logged');

  received = [];
  const bad = await runCli([...args, '-d', 'no_such_database'], { env });
  assert.equal(bad.code, 1);
  const failed = JSON.parse(received.find((r) => r.url === '/hook/two')!.body) as { success: boolean; error: string };
  assert.equal(failed.success, false);
  assert.match(failed.error, /no_such_database/);
  assert.ok(pg.env.PGPASSWORD, 'the test cluster has a password');
  assert.ok(!received.some((r) => r.body.includes(pg.env.PGPASSWORD!)), 'no secret in any notice');
  const failedPush = received.find((r) => r.url.startsWith('/metrics/'))!;
  assert.match(failedPush.body, /^copycat_db_last_run_success 0$/m);
  assert.doesNotMatch(failedPush.body, /last_success_timestamp/, 'POSTed without it, the gateway keeps the previous success');
});

test('a receiver that answers 500 is a warning: the backup succeeds', async () => {
  const repo = join(work, 'repo500');
  mkdirSync(repo);
  failing.add('/hook/broken');
  received = [];
  const r = await runCli(['backup', '--to', `file:${repo}`, '-d', 'app', '--level', '1', '--webhook-url', `${base}/hook/broken`, '--log-format', 'json'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(received.length, 1);
  assert.match(r.stdout.toString(), /"event":"webhook.failed".*"status":500/);
});

test('an invalid webhook URL is refused at start-up, before anything runs', async () => {
  const r = await runCli(['backup', '--to', `file:${join(work, 'never')}/`, '-d', 'app', '--webhook-url', 'ftp://x'], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--webhook-url: not an http\(s\) URL/);
});
