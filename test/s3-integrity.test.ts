// What someone with write access to a locked bucket, a dead server or a cut connection can do to backups, against a
// real radosgw (testkit/s3-server.ts), with the fault proxy (test/helpers/fault-proxy.ts) in front of it where a
// server must hang or cut a body. Every wait is bounded by the test, so a regression fails instead of hanging.
import { s3Repository } from '../src/repository/s3-store.js';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  GetObjectCommand,
  GetObjectRetentionCommand,
  ListObjectVersionsCommand,
  PutObjectLegalHoldCommand,
  PutObjectRetentionCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CopycatError } from '../src/errors.js';
import type { LogFields, Logger, LogLevel } from '../src/log.js';
import { silentLogger } from '../src/log.js';
import { pipeline } from '../src/pipeline.js';
import { findBackup, latestComplete, listBackups } from '../src/repository/index.js';
import { CONNECTION_TIMEOUT_MS, IDLE_TIMEOUT_MS, createS3Client, type S3Settings } from '../src/s3/driver/client.js';
import { ABORT_UPLOAD_TIMEOUT_MS } from '../src/s3/driver/errors.js';
import { dataKey, manifestKey, newBackupId } from '../src/repository/layout.js';
import { MAX_MANIFEST_BYTES, serializeManifest } from '../src/formats/manifest.js';
import { MIB } from '../src/units.js';
import { preflight } from '../src/s3/driver/preflight.js';
import { executePrune, planPrune } from '../src/repository/prune.js';
import { chooseBackup } from '../src/repository/index.js';
import { s3Sink } from '../src/sinks/s3.js';
import { s3Object } from '../src/sources/s3-object.js';
import { addDeleteMarker, bucketVersions, fakeManifest, multipartKeys, putFakeBackup, putObject } from './helpers/backup-objects.js';
import { runCli } from './helpers/cli.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { generatedSource } from './helpers/generated-source.js';
import { startS3Server, type S3TestServer } from '../testkit/s3-server.js';

const DAY = 24 * 60 * 60 * 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let server: S3TestServer;
let proxy: FaultProxy;
let dir: string;

before(async () => {
  server = await startS3Server();
  proxy = await startFaultProxy(server.endpoint);
  dir = mkdtempSync(join(tmpdir(), 'copycat-integrity-'));
});

after(async () => {
  await proxy?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

afterEach(() => proxy.clear());

function settings(endpoint: string, extra: Partial<S3Settings> = {}): S3Settings {
  return { endpoint, region: server.region, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, ...extra };
}

/** Settles `promise` or fails the test after `ms`: the old code hung forever in these cases. */
async function within<T>(ms: number, promise: Promise<T>): Promise<{ value?: T; error?: unknown; elapsedMs: number }> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new assert.AssertionError({ message: `still pending after ${ms} ms` })), ms);
  });
  try {
    const value = await Promise.race([promise, bound]);
    return { value, elapsedMs: performance.now() - start };
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    return { error, elapsedMs: performance.now() - start };
  } finally {
    clearTimeout(timer);
  }
}

function isCopycat(err: unknown, code: string, message?: RegExp): void {
  assert.ok(err instanceof CopycatError, `expected CopycatError ${code}, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (message) assert.match(err.message, message);
  assert.doesNotMatch(err.message, /\n/);
}

async function readAll(client: S3Client, bucket: string, key: string, versionId?: string): Promise<Buffer> {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

/** What restore streams: s3Object on the entry's pinned data version. */
async function streamed(client: S3Client, bucket: string, key: string, versionId: string): Promise<Buffer> {
  const body = await s3Object({ client, bucket, key, versionId }).create({ signal: new AbortController().signal, log: silentLogger });
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function recordingLogger(): Logger & { events: { level: LogLevel; event: string; fields: LogFields }[] } {
  const events: { level: LogLevel; event: string; fields: LogFields }[] = [];
  return { events, log: (level, event, fields = {}) => events.push({ level, event, fields }) };
}

// ------------------------------------------------------------------------------------------------ version pinning
describe('version pinning', () => {
  test("a newer data version and a forged manifest over backup B: B still names and streams its own bytes", async () => {
    const { client } = server;
    const bucket = await server.createBucket({ objectLock: true });
    const now = Date.now();
    const a = await putFakeBackup(client, bucket, 'p', { time: new Date(now - 2 * DAY), storedBytes: 3000 });
    const b = await putFakeBackup(client, bucket, 'p', { time: new Date(now - DAY), storedBytes: 2000 });
    const bBytes = await readAll(client, bucket, b.dataKey, b.dataVersionId);
    // The attack: A's data copied over B's key, and a manifest for B that vouches for that copy.
    const aBytes = await readAll(client, bucket, a.dataKey);
    const forgedData = (await putObject(client, bucket, b.dataKey, aBytes))!;
    const forged = fakeManifest({ id: b.id, bucket, key: b.dataKey, versionId: forgedData, stored: aBytes, plaintextBytes: 1, retention: null, time: new Date(now - DAY) });
    const forgedManifest = (await putObject(client, bucket, b.manifestKey, JSON.stringify(forged)))!;

    const eb = findBackup(await listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' })), b.id);
    assert.equal(eb.status, 'complete');
    assert.equal(eb.dataVersion?.versionId, b.dataVersionId, 'the data version the backup wrote');
    assert.equal(eb.manifestVersion?.versionId, b.manifestVersionId, 'the manifest the backup wrote');
    assert.equal(eb.manifest?.sha256.stored, sha256(bBytes));
    assert.equal(eb.size, 2000);
    assert.deepEqual(eb.warnings, [
      `s3://${bucket}/${b.dataKey} has 1 newer version not written by this backup (VersionId ${forgedData})`,
      `s3://${bucket}/${b.manifestKey} has 1 newer version not written by this backup (VersionId ${forgedManifest})`,
    ]);
    // restore picks the entry the same way, and streams exactly that version.
    const chosen = await chooseBackup(s3Repository({ client: client, bucket: bucket, prefix: 'p' }), b.id);
    assert.equal(chosen.dataVersion?.versionId, b.dataVersionId);
    assert.ok((await streamed(client, bucket, chosen.dataVersion!.key, chosen.dataVersion!.versionId)).equals(bBytes));
  });

  test('garbage over every data key and delete markers over both keys: every backup stays complete and --backup ID finds it', async () => {
    const { client } = server;
    const bucket = await server.createBucket({ objectLock: true });
    const now = Date.now();
    const backups = [];
    for (const days of [3, 2, 1]) backups.push(await putFakeBackup(client, bucket, 'p', { time: new Date(now - days * DAY) }));
    for (const b of backups) await putObject(client, bucket, b.dataKey, 'garbage');
    const [first, middle, last] = backups as [typeof backups[0], typeof backups[0], typeof backups[0]];
    const markers = [await addDeleteMarker(client, bucket, middle.dataKey), await addDeleteMarker(client, bucket, middle.manifestKey)];

    const entries = await listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' }));
    assert.deepEqual(entries.map((e) => e.status), ['complete', 'complete', 'complete']);
    assert.equal(latestComplete(entries).id, last.id);
    const em = findBackup(entries, middle.id);
    assert.equal(em.dataVersion?.versionId, middle.dataVersionId);
    assert.equal(em.warnings.length, 3);
    assert.match(em.warnings[0]!, /has 1 newer version not written by this backup/);
    assert.equal(em.warnings[1], `a delete marker hides s3://${bucket}/${middle.dataKey} (VersionId ${markers[0]}) from plain S3 reads; the backup's own version remains, and is what restore reads`);
    assert.match(em.warnings[2]!, new RegExp(`^a delete marker hides s3://${bucket}/${middle.manifestKey} `));
    assert.equal((await chooseBackup(s3Repository({ client: client, bucket: bucket, prefix: 'p' }), first.id)).dataVersion?.versionId, first.dataVersionId);
  });

  test('a manifest whose recorded size is not the data version\'s is incomplete', async () => {
    const { client } = server;
    const bucket = await server.createBucket({ objectLock: true });
    const id = newBackupId(new Date(Date.now() - DAY));
    const stored = randomBytes(64);
    const versionId = (await putObject(client, bucket, dataKey('p', id), stored))!;
    const manifest = fakeManifest({ id, bucket, key: dataKey('p', id), versionId, stored: randomBytes(65), plaintextBytes: 1, retention: null, time: new Date() });
    await putObject(client, bucket, manifestKey('p', id), JSON.stringify(manifest));
    const [entry] = await listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' }));
    assert.equal(entry!.status, 'incomplete');
    assert.equal(entry!.problem, `data version ${versionId} holds 64 bytes, but the manifest says 65`);
  });

  test('prune deletes every version of an expired backup, foreign ones too, and keeps the newest complete one despite garbage over it', async () => {
    const { client } = server;
    const bucket = await server.createBucket({ objectLock: true });
    const now = Date.now();
    const x = await putFakeBackup(client, bucket, 'p', { time: new Date(now - 60 * DAY) });
    const y = await putFakeBackup(client, bucket, 'p', { time: new Date(now - 40 * DAY) });
    await putObject(client, bucket, x.dataKey, 'garbage');
    await putObject(client, bucket, x.manifestKey, '{"garbage": true}');
    await putObject(client, bucket, y.dataKey, 'garbage');

    const report = await executePrune(s3Repository({ client: client, bucket: bucket, prefix: 'p' }), planPrune(await listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' })), { keepLast: 1, olderThanDays: 30 }));
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.backups.map((o) => [o.id, o.status, o.action, o.reason]), [
      [x.id, 'complete', 'deleted', 'no retention; deleted 4 versions'],
      [y.id, 'complete', 'kept', 'within keep-last 1'],
    ]);
    const left = await bucketVersions(client, bucket);
    assert.ok(!left.some((line) => line.startsWith(`p/${x.id}`)), 'nothing of x is left');
    assert.equal(left.filter((line) => line.startsWith(`p/${y.id}`)).length, 3, 'y keeps its versions, the foreign one too');
  });
});

// ------------------------------------------------------------------------------------------------ manifest bound
describe('manifest size bound', () => {
  test('a manifest over the bound is not read: its backup is incomplete; a huge newer version over a good one changes nothing', async () => {
    const { client } = server;
    const bucket = await server.createBucket({ objectLock: true });
    const huge = Buffer.alloc(MAX_MANIFEST_BYTES + MIB, 0x20);
    const good = await putFakeBackup(client, bucket, 'p', { time: new Date(Date.now() - 2 * DAY) });
    await putObject(client, bucket, good.manifestKey, huge);
    const bad = newBackupId(new Date(Date.now() - DAY));
    await putObject(client, bucket, dataKey('p', bad), 'x');
    await putObject(client, bucket, manifestKey('p', bad), huge);

    const entries = await listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' }));
    assert.equal(findBackup(entries, good.id).status, 'complete');
    assert.match(findBackup(entries, good.id).warnings[0]!, /manifest\.json has 1 newer version/);
    const eb = findBackup(entries, bad);
    assert.equal(eb.status, 'incomplete');
    assert.equal(eb.problem, 'manifest is 17 MiB, more than the 16 MiB a manifest may be: copycat-db did not write it, so it is not read');
  });

  test('the read itself stops at the bound when the listing understates the size', async () => {
    const id = newBackupId(new Date());
    let served = 0;
    // A stand-in for a server whose listing says 100 bytes and whose body never ends.
    const client = {
      async send(command: object) {
        if (command instanceof ListObjectVersionsCommand) {
          return {
            Versions: [
              { Key: `p/${id}.manifest.json`, VersionId: 'm1', IsLatest: true, Size: 100 },
              { Key: `p/${id}.backup`, VersionId: 'd1', IsLatest: true, Size: 1 },
            ],
          };
        }
        if (command instanceof GetObjectCommand) {
          return {
            Body: new Readable({
              read() {
                served += MIB;
                this.push(Buffer.alloc(MIB, 0x20));
              },
            }),
          };
        }
        return {}; // GetObjectRetention: none
      },
    } as unknown as S3Client;
    const [entry] = await listBackups(s3Repository({ client: client, bucket: 'b', prefix: 'p' }));
    assert.equal(entry!.status, 'incomplete');
    assert.match(entry!.problem ?? '', /^manifest is over 16 MiB, more than the 16 MiB a manifest may be/);
    assert.ok(served <= MAX_MANIFEST_BYTES + 3 * MIB, `read ${served} bytes`);
  });
});

// ------------------------------------------------------------------------------------------ timeouts and signals
describe('timeouts and abort signals', () => {
  test('defaults: 10 s to connect, 60 s idle; a server that never answers fails HeadBucket after the idle timeout, retried', async (t) => {
    assert.equal(CONNECTION_TIMEOUT_MS, 10_000);
    assert.equal(IDLE_TIMEOUT_MS, 60_000);
    const bucket = await server.createBucket({ objectLock: true });
    const plain = createS3Client(settings(server.endpoint));
    await preflight(plain, bucket);
    const handler = plain.config.requestHandler as unknown as { httpHandlerConfigs(): { connectionTimeout?: number; socketTimeout?: number } };
    assert.equal(handler.httpHandlerConfigs().connectionTimeout, CONNECTION_TIMEOUT_MS);
    assert.equal(handler.httpHandlerConfigs().socketTimeout, IDLE_TIMEOUT_MS);
    plain.destroy();

    const client = createS3Client(settings(proxy.endpoint, { idleTimeoutMs: 1000, maxAttempts: 2 }));
    proxy.fault({ method: 'HEAD' }, { kind: 'hang' }, { times: Infinity });
    const r = await within(15_000, preflight(client, bucket));
    isCopycat(r.error, 'S3_UNREACHABLE', /TimeoutError/);
    assert.equal(proxy.seen({ method: 'HEAD' }).length, 2, 'the timed-out request was retried once');
    assert.ok(r.elapsedMs >= 2000, `failed after ${r.elapsedMs} ms`);
    t.diagnostic(`HeadBucket on a hung server, idle timeout 1 s × 2 attempts: failed after ${Math.round(r.elapsedMs)} ms`);
    client.destroy();
  });

  test('a part upload the server never answers fails the backup after the idle timeout, and the upload is aborted', async (t) => {
    const bucket = await server.createBucket({ objectLock: true });
    const client = createS3Client(settings(proxy.endpoint, { idleTimeoutMs: 1500, maxAttempts: 2 }));
    proxy.fault({ method: 'PUT', path: 'partNumber=2' }, { kind: 'hang' }, { times: Infinity });
    const sink = s3Sink({ client, bucket, key: 'p/hang.backup', partSize: 5 * MIB, concurrency: 1, retention: { mode: 'GOVERNANCE', days: 1 } });
    const r = await within(30_000, pipeline(generatedSource(12 * MIB)).to(sink).run());
    isCopycat(r.error, 'S3_UPLOAD_FAILED', /uploading part 2 of s3:\/\/\S+\/p\/hang\.backup failed \(TimeoutError.*check the endpoint and the network/);
    assert.deepEqual(await multipartKeys(server.client, bucket), []);
    t.diagnostic(`part upload on a hung server, idle timeout 1.5 s × 2 attempts: backup failed after ${Math.round(r.elapsedMs)} ms`);
    client.destroy();
  });

  test('an abort signal ends a hung HeadBucket, CreateMultipartUpload, manifest PUT, manifest GET and prune DELETE within seconds', async (t) => {
    const bucket = await server.createBucket({ objectLock: true });
    const old = await putFakeBackup(server.client, bucket, 'p', { time: new Date(Date.now() - 60 * DAY) });
    const client = createS3Client(settings(proxy.endpoint)); // default timeouts: only the signal can end these quickly
    const stop = new Error('stopped by the test');
    const hung = async (what: string, match: Parameters<FaultProxy['fault']>[0], run: (signal: AbortSignal) => Promise<unknown>, boundMs = 3000) => {
      proxy.clear();
      const fault = proxy.fault(match, { kind: 'hang' }, { times: Infinity });
      const controller = new AbortController();
      const started = run(controller.signal);
      for (let i = 0; i < 100 && fault.applied === 0; i++) await sleep(50);
      assert.ok(fault.applied > 0, `${what}: the request reached the hanging server`);
      controller.abort(stop);
      const r = await within(boundMs, started);
      assert.ok(r.error !== undefined, `${what} was stopped`);
      t.diagnostic(`${what} hung: stopped ${Math.round(r.elapsedMs)} ms after the abort`);
      return r;
    };
    const pre = await hung('HeadBucket', { method: 'HEAD' }, (signal) => preflight(client, bucket, { signal }));
    assert.equal(pre.error, stop, 'preflight rethrows the reason the run was stopped');
    // The sink gives CreateMultipartUpload a bounded time to answer after a stop: its upload id lets it abort the upload.
    await hung('CreateMultipartUpload', { method: 'POST', path: '?uploads' }, (signal) =>
      pipeline(generatedSource(12 * MIB)).to(s3Sink({ client, bucket, key: 'p/x.backup', partSize: 5 * MIB, retention: { mode: 'GOVERNANCE', days: 1 } })).run({ signal }),
    ABORT_UPLOAD_TIMEOUT_MS + 3000);
    const manifest = fakeManifest({ id: old.id, bucket, key: old.dataKey, versionId: old.dataVersionId!, stored: Buffer.alloc(64), plaintextBytes: 1, retention: null, time: new Date() });
    await hung('manifest PUT', { method: 'PUT', path: '.manifest.json' }, (signal) =>
      s3Repository({ client, bucket, prefix: 'p' }).store.putSmall('p/y.manifest.json', serializeManifest(manifest), null, signal));
    const list = await hung('manifest GET', { method: 'GET', path: '.manifest.json' }, (signal) => listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' }), { signal }));
    assert.equal(list.error, stop);
    const plan = planPrune(await listBackups(s3Repository({ client: server.client, bucket: bucket, prefix: 'p' })), { keepLast: 0 });
    const prune = await hung('prune DELETE', { method: 'DELETE' }, (signal) => executePrune(s3Repository({ client: client, bucket: bucket, prefix: 'p' }), plan, { signal }));
    assert.equal(prune.error, stop);
    client.destroy();
  });

  test('the abort of a failed multipart upload is bounded: a server that never answers it cannot keep the run alive', async (t) => {
    const bucket = await server.createBucket({ objectLock: true });
    const client = createS3Client(settings(proxy.endpoint));
    proxy.fault({ method: 'PUT', path: 'partNumber=2' }, { kind: 'status', status: 400, code: 'InvalidArgument' }, { times: Infinity });
    proxy.fault({ method: 'DELETE', path: 'uploadId=' }, { kind: 'hang' }, { times: Infinity });
    const log = recordingLogger();
    const sink = s3Sink({ client, bucket, key: 'p/z.backup', partSize: 5 * MIB, concurrency: 1, retention: { mode: 'GOVERNANCE', days: 1 } });
    const r = await within(ABORT_UPLOAD_TIMEOUT_MS + 10_000, pipeline(generatedSource(12 * MIB)).to(sink).run({ log }));
    isCopycat(r.error, 'S3_UPLOAD_FAILED', /InvalidArgument/);
    assert.ok(r.elapsedMs >= ABORT_UPLOAD_TIMEOUT_MS - 500, `the abort was waited for (${r.elapsedMs} ms)`);
    t.diagnostic(`failed upload whose AbortMultipartUpload hangs: run ended after ${Math.round(r.elapsedMs)} ms`);
    const failed = log.events.find((e) => e.event === 's3.upload.abort_failed');
    assert.ok(failed, 'the abandoned upload is logged with its fix');
    assert.match(String(failed.fields['error']), /AbortError/);
    client.destroy();
  });
});

// ------------------------------------------------------------------------------------------------ interrupted reads
describe('interrupted reads', () => {
  test('a GetObject body cut mid-way is S3_READ_INTERRUPTED naming the object, the bytes and the fix', async () => {
    const bucket = await server.createBucket({ objectLock: true });
    const versionId = (await putObject(server.client, bucket, 'p/obj.backup', randomBytes(MIB)))!;
    const client = createS3Client(settings(proxy.endpoint, { maxAttempts: 1 }));
    // Node's HTTP client reports a body shorter than its Content-Length as an error ("aborted"), whether the
    // connection was reset or closed cleanly.
    for (const kind of ['truncate', 'reset'] as const) {
      proxy.clear();
      proxy.fault({ method: 'GET', path: 'obj.backup' }, { kind, afterBytes: 100_000 });
      const r = await within(10_000, streamed(client, bucket, 'p/obj.backup', versionId));
      isCopycat(r.error, 'S3_READ_INTERRUPTED',
        new RegExp(`^reading s3://${bucket}/p/obj\\.backup version ${versionId} stopped after [\\d.]+ KiB of 1 MiB \\(\\d+ of 1048576 bytes\\): `));
      assert.match((r.error as Error).message, /: the connection closed before the body ended \(ECONNRESET: aborted\) — /);
      assert.match((r.error as Error).message, / — retry; if it happens again, check the network and the S3 server$/);
    }
    proxy.clear();
    assert.equal((await streamed(client, bucket, 'p/obj.backup', versionId)).length, MIB, 'a whole body passes');
    client.destroy();
  });

  test('a body that ends cleanly short of its ContentLength is an error too', async () => {
    // A client stack that ends the body without an error (no Node HTTP client in between).
    const client = { send: async () => ({ Body: Readable.from([Buffer.alloc(1000)]), ContentLength: 4096 }) } as unknown as S3Client;
    const r = await within(5000, streamed(client, 'b', 'p/short.backup', 'v1'));
    isCopycat(r.error, 'S3_READ_INTERRUPTED',
      /^reading s3:\/\/b\/p\/short\.backup version v1 stopped after 1000 B of 4 KiB \(1000 of 4096 bytes\): the body ended early — retry/);
  });
});

// ------------------------------------------------------------------------------------------------ prune refusals
describe('prune refusals', () => {
  test('a deletion refused although the retention passed (a legal hold) is an error, the manifest stays, and the CLI exits 1', async () => {
    const { client } = server;
    const bucket = await server.createBucket({ objectLock: true });
    const shortLock = new Date(Math.ceil((Date.now() + 3000) / 1000) * 1000);
    const held = await putFakeBackup(client, bucket, 'p', { time: new Date(Date.now() - 60 * DAY), retainUntil: shortLock });
    const newer = await putFakeBackup(client, bucket, 'p', { time: new Date(Date.now() - 40 * DAY) });
    await client.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: held.dataKey, VersionId: held.dataVersionId, LegalHold: { Status: 'ON' } }));
    await sleep(Math.max(0, shortLock.getTime() - Date.now()) + 1200);

    const report = await executePrune(s3Repository({ client: client, bucket: bucket, prefix: 'p' }), planPrune(await listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' })), { keepLast: 1, olderThanDays: 30 }));
    assert.equal(report.errors.length, 1);
    assert.match(report.errors[0]!, new RegExp(`^backup ${held.id}: deleting version ${held.dataVersionId} of p/${held.id}\\.backup failed: AccessDenied \\(HTTP 403\\)(: forbidden by object lock)? ` +
      `although its retention passed at ${shortLock.toISOString().replace(/\./g, '\\.')} \\(a legal hold\\? credentials without s3:DeleteObjectVersion\\?\\); 1 other version of the backup skipped$`));
    const outcome = report.backups.find((o) => o.id === held.id)!;
    assert.equal(outcome.action, 'kept');
    assert.match(outcome.reason, /^failed: /);
    const entries = await listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' }));
    assert.equal(findBackup(entries, held.id).status, 'complete', 'the manifest was not deleted first');
    assert.equal(findBackup(entries, newer.id).status, 'complete');

    const env = { ...server.env, COPYCAT_LOCK_DIR: dir, COPYCAT_LOG_FORMAT: 'text', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    const cli = await runCli(['prune', '--from', `s3://${bucket}/p`, '--keep-last', '1'], { env });
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stderr, /prune of s3:\/\/\S+ failed for 1 item\(s\): backup \S+: deleting version .* although its retention passed/);
  });
});

// ------------------------------------------------------------------------------------------------ list and retain-days
describe('CLI', () => {
  test('list shows the warnings, in text and in --json', async () => {
    const bucket = await server.createBucket({ objectLock: true });
    const b = await putFakeBackup(server.client, bucket, 'p', { time: new Date(Date.now() - DAY) });
    const extra = (await putObject(server.client, bucket, b.dataKey, 'garbage'))!;
    const env = { ...server.env, COPYCAT_LOG_FORMAT: 'text', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    const warning = `s3://${bucket}/${b.dataKey} has 1 newer version not written by this backup (VersionId ${extra})`;
    const json = await runCli(['list', '--from', `s3://${bucket}/p`, '--json'], { env });
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout.toString()) as { id: string; status: string; warnings: string[] }[];
    assert.deepEqual(rows.map((r) => [r.id, r.status, r.warnings]), [[b.id, 'complete', [warning]]]);
    const text = await runCli(['list', '--from', `s3://${bucket}/p`], { env });
    assert.equal(text.code, 0, text.stderr);
    assert.ok(text.stdout.toString().endsWith(`complete\nwarning: ${b.id}: ${warning}\n`), text.stdout.toString());
  });

  test('SIGTERM stops a list whose manifest GET hangs at once, not at the 8 s stop deadline', async () => {
    const bucket = await server.createBucket({ objectLock: true });
    await putFakeBackup(server.client, bucket, 'p', { time: new Date(Date.now() - DAY) });
    const fault = proxy.fault({ method: 'GET', path: '.manifest.json' }, { kind: 'hang' }, { times: Infinity });
    const env = { ...server.env, AWS_ENDPOINT_URL_S3: proxy.endpoint, COPYCAT_LOG_FORMAT: 'text', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    let signalledAt = 0;
    const r = await within(15_000, runCli(['list', '--from', `s3://${bucket}/p`], {
      env,
      onSpawn: (child) => void (async () => {
        for (let i = 0; i < 200 && fault.applied === 0; i++) await sleep(50);
        signalledAt = performance.now();
        child.kill('SIGTERM');
      })(),
    }));
    const stoppedMs = performance.now() - signalledAt;
    assert.equal(r.value?.code, 1, r.value?.stderr);
    assert.match(r.value!.stderr, /interrupted by SIGTERM: stopped every stage/);
    assert.ok(stoppedMs < 3000, `exited ${Math.round(stoppedMs)} ms after SIGTERM`);
  });

  test('--retain-days takes whole days from 1 to 18250, checked before anything starts', async () => {
    const bucket = await server.createBucket({ objectLock: true });
    const env = { ...server.env, COPYCAT_LOG_FORMAT: 'text', COPYCAT_LOCK_DIR: dir, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    for (const [value, shown] of [['0.0000001', '1e-7'], ['100000', '100000'], ['1.5', '1.5'], ['0', '0'], ['ten', 'NaN']]) {
      const r = await runCli(['backup', '-d', 'nodb', '--no-encrypt', '--to', `s3://${bucket}/p`, '--retain-days', value!], { env });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`1 setting is missing or invalid: --retain-days: "${shown}" is not a whole number of days from 1 to 18250 — pass the Object Lock retention in days, e\\.g\\. --retain-days 30\\n$`));
    }
    assert.deepEqual(await bucketVersions(server.client, bucket), [], 'nothing was written');

    // Why 18250 and not 36500: radosgw keeps retain-until in 32-bit seconds. The bound round-trips; 100 years wraps.
    const put = async (days: number): Promise<[Date, Date | undefined]> => {
      const versionId = (await putObject(server.client, bucket, `probe-${days}`, 'x'))!;
      const until = new Date(Math.ceil((Date.now() + days * DAY) / 1000) * 1000);
      await server.client.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: `probe-${days}`, VersionId: versionId, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: until } }));
      const got = await server.client.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: `probe-${days}`, VersionId: versionId }));
      return [until, got.Retention?.RetainUntilDate];
    };
    const [want, got] = await put(18_250);
    assert.equal(got?.getTime(), want.getTime(), 'radosgw keeps a retention of 18250 days');
    const [want100, got100] = await put(36_500);
    assert.ok(got100!.getTime() < want100.getTime(), `radosgw wraps 36500 days around (${want100.toISOString()} read back as ${got100!.toISOString()})`);
  });
});
