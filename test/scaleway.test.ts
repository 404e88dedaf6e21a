/**
 * The scalewayRdb source against the local Scaleway emulator, with a real PostgreSQL cluster behind it: the emulator
 * serves the bytes of a real `pg_dump -Fc`, and in snapshot-pgdump mode its private endpoint points at the cluster.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { inspect, promisify } from 'node:util';
import { after, afterEach, before, test } from 'node:test';
import { CopycatError, describeError } from '../src/errors.js';
import type { Logger, LogLevel } from '../src/log.js';
import { pipeline } from '../src/pipeline.js';
import type { SinkStage } from '../src/stage.js';
import { ScalewayApi } from '../src/sources/scaleway/api.js';
import { scalewayRdb, TEMP_INSTANCE_NAME, guardedDeleteTempInstance, type ScalewayRdbOptions } from '../src/sources/scaleway/index.js';
import { digestDatabase, seedVariedDatabase } from './helpers/fixtures.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';
import { startScalewayEmulator, type ScalewayEmulator, type ScalewayEmulatorOptions } from './helpers/scaleway-emulator.js';
import { standIn, standInCalls } from './helpers/pg-stand-ins.js';

const SECRET = 'f00dcafe-5ec2-4e7a-9b1d-5ec2e7000001';
const REGION = 'fr-par';
const PREFIX = `/rdb/v1/regions/${REGION}`;

let cluster: PgCluster;
let dump: Buffer;
let home: string;
/** Every log line and error message of every test, checked for the secret at the end. */
const everything: string[] = [];
let emu: ScalewayEmulator | undefined;

before(async () => {
  cluster = await startPgCluster();
  await seedVariedDatabase(cluster, 'app', 2000);
  // The system pg_dump, as Scaleway's export would produce: a custom-format archive (starts with PGDMP).
  const { stdout } = await promisify(execFile)('pg_dump', ['-Fc', '--dbname=app'], {
    env: { ...process.env, ...cluster.env }, encoding: 'buffer', maxBuffer: 256 << 20,
  });
  dump = stdout as unknown as Buffer;
  assert.ok(dump.length > 200_000, `fixture dump is ${dump.length} bytes; resume tests want several chunks`);
  // An empty HOME, so no real ~/.config/scw/config.yaml leaks into the tests.
  home = mkdtempSync(join(tmpdir(), 'copycat-scw-home-'));
});

afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

after(async () => {
  await cluster?.stop();
  rmSync(home, { recursive: true, force: true });
  const leaked = everything.filter((l) => l.includes(SECRET));
  assert.deepEqual(leaked, [], 'the Scaleway secret key appeared in a log line or error');
  assert.ok(everything.length > 50, 'the secret check saw the logs');
});

interface Captured {
  logger: Logger;
  lines: { level: LogLevel; event: string; fields: Record<string, unknown> }[];
}

function capture(): Captured {
  const lines: Captured['lines'] = [];
  return {
    lines,
    logger: {
      log(level, event, fields = {}) {
        lines.push({ level, event, fields });
        everything.push(JSON.stringify({ level, event, ...fields }));
      },
    },
  };
}

function recordError(err: unknown): unknown {
  everything.push(describeError(err), inspect(err, { depth: 8 }));
  return err;
}

async function emulator(extra: Partial<ScalewayEmulatorOptions> = {}): Promise<{ emu: ScalewayEmulator; prodId: string }> {
  emu = await startScalewayEmulator({ secretKey: SECRET, dump: () => dump, ...extra });
  const prod = emu.addInstance({ name: 'production-db', databases: ['app'] });
  return { emu, prodId: prod.id };
}

/** Credentials through the environment, the way the CLI gets them. */
function options(e: ScalewayEmulator, prodId: string, over: Partial<ScalewayRdbOptions> = {}): ScalewayRdbOptions {
  return {
    mode: 'scw-export',
    instanceId: prodId,
    databaseName: 'app',
    env: { SCW_SECRET_KEY: SECRET, SCW_ACCESS_KEY: 'SCWTESTACCESSKEY0000', SCW_API_URL: e.url, SCW_DEFAULT_REGION: REGION, HOME: home },
    pollInitialMs: 3,
    pollMaxMs: 15,
    progressIntervalMs: 40,
    apiRetry: { initialMs: 5, maxMs: 20 },
    downloadRetry: { initialMs: 5, maxMs: 20 },
    ...over,
  };
}

/** A sink that keeps every byte; optionally slow (to make backpressure real) or with a hook per chunk. */
function collect(opts: { slow?: boolean; onChunk?: (chunk: Buffer, total: number) => void } = {}): { sink: SinkStage; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  let total = 0;
  return {
    bytes: () => Buffer.concat(chunks),
    sink: {
      name: 'collect',
      create: () => new Writable({
        highWaterMark: 16 * 1024,
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk);
          total += chunk.length;
          try {
            opts.onChunk?.(chunk, total);
          } catch (err) {
            return cb(err as Error);
          }
          if (opts.slow) setImmediate(cb);
          else cb();
        },
      }),
    },
  };
}

async function runSource(o: ScalewayRdbOptions, log: Logger, sinkOpts: Parameters<typeof collect>[0] = {}) {
  const source = scalewayRdb(o);
  const { sink, bytes } = collect(sinkOpts);
  try {
    const stats = await pipeline(source).to(sink).run({ log });
    return { stats, bytes: bytes(), info: source.info!(), source };
  } catch (err) {
    throw recordError(err);
  }
}

async function rejects(p: Promise<unknown>, code: string): Promise<CopycatError> {
  try {
    await p;
  } catch (err) {
    recordError(err);
    assert.ok(err instanceof CopycatError, `expected CopycatError ${code}, got ${inspect(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

const downloads = (e: ScalewayEmulator) => e.calls('GET /download/');

test('scw-export: backup, export and download give the dump byte for byte', async () => {
  const { emu: e, prodId } = await emulator();
  const cap = capture();
  const o = options(e, prodId);
  const t0 = Date.now();
  const { bytes, info, source } = await runSource(o, cap.logger, { slow: true });
  assert.ok(bytes.equals(dump), 'downloaded bytes differ from the dump');
  assert.equal(info.archiveFormat, 'custom');
  assert.equal(info.firstBytes, dump.subarray(0, 16).toString('hex'));
  assert.equal(info.bytes, dump.length);
  assert.equal(info.resumes, 0);
  assert.equal(await source.expectedSize!(), dump.length, 'the backup size feeds expectedSize()');
  assert.deepEqual(await source.facts!(), { kind: 'scaleway-scw-export', database: 'app', format: 'custom' }, 'the format is the sniffed one');

  const [create] = e.calls(`POST ${PREFIX}/backups`);
  const body = create!.body as Record<string, string>;
  assert.equal(body.instance_id, prodId);
  assert.equal(body.database_name, 'app');
  assert.doesNotMatch(body.name!, /\./);
  const expires = Date.parse(body.expires_at!);
  assert.ok(Math.abs(expires - (t0 + 30 * 86400_000)) < 60_000, `expires_at ${body.expires_at} is not now + 30 days`);
  assert.equal(e.calls(`POST ${PREFIX}/backups/${info.backupId}/export`).length, 1);
  assert.ok(e.requests.filter((r) => r.path.startsWith('/rdb/')).every((r) => r.hadToken));
  assert.ok(downloads(e).every((r) => !r.hadToken), 'the API token must not be sent to the download host');
  assert.equal(e.requests.filter((r) => r.method === 'DELETE').length, 0);

  const waits = cap.lines.filter((l) => l.event === 'scaleway.wait');
  assert.ok(waits.length >= 1, 'a progress line while waiting');
  for (const w of waits) {
    assert.equal(w.level, 'info');
    assert.equal(typeof w.fields.status, 'string');
    assert.equal(typeof w.fields.elapsedMs, 'number');
    assert.equal(typeof w.fields.elapsed, 'string');
  }
});

test('a connection reset mid-download resumes with Range and stays byte-identical', async () => {
  const { emu: e, prodId } = await emulator();
  e.faults.resetDownloadAfter(70_000, 2);
  const cap = capture();
  const { bytes, info } = await runSource(options(e, prodId), cap.logger, { slow: true });
  assert.ok(bytes.equals(dump), 'resumed download differs from the dump');
  assert.equal(info.resumes, 2);
  const gets = downloads(e);
  assert.deepEqual(gets.map((g) => g.range), [undefined, 'bytes=70000-', 'bytes=140000-']);
  assert.deepEqual(gets.map((g) => g.status), [200, 206, 206]);
  assert.equal(e.calls('/export').length, 1, 'a reset alone needs no new export');
  assert.ok(cap.lines.some((l) => l.event === 'scaleway.download.retry' && l.fields.offset === 70_000));
});

test('a download_url that stops working (403) triggers a new export and continues from the same byte', async () => {
  const { emu: e, prodId } = await emulator();
  e.faults.resetDownloadAfter(100_000, 1);
  let revoked = false;
  const cap = capture();
  const { bytes, info } = await runSource(options(e, prodId), cap.logger, {
    onChunk: () => {
      if (!revoked) {
        revoked = true;
        e.faults.revokeDownloadUrls();
      }
    },
  });
  assert.ok(bytes.equals(dump));
  assert.equal(info.reexports, 1);
  const gets = downloads(e);
  assert.deepEqual(gets.map((g) => [g.status, g.range]), [[200, undefined], [403, 'bytes=100000-'], [206, 'bytes=100000-']]);
  assert.notEqual(gets[1]!.path, gets[2]!.path, 'the continuation used the new export\'s URL');
  assert.equal(e.calls('/export').length, 2);
});

test('a download_url whose download_url_expires_at has passed is re-exported before it is used again', async () => {
  const { emu: e, prodId } = await emulator({ downloadUrlTtlMs: 400 });
  e.faults.resetDownloadAfter(50_000, 1);
  const cap = capture();
  // The pause before resuming outlasts the URL's 400 ms life, so the client must notice expires_at itself.
  const { bytes, info } = await runSource(options(e, prodId, { downloadRetry: { initialMs: 700, maxMs: 700 } }), cap.logger);
  assert.ok(bytes.equals(dump));
  assert.ok(Number(info.reexports) >= 1);
  assert.ok(cap.lines.some((l) => l.event === 'scaleway.download.reexport' && /expires_at/.test(String(l.fields.reason))));
  const resumed = downloads(e).filter((g) => g.range);
  assert.ok(resumed.length >= 1 && resumed.every((g) => g.range === 'bytes=50000-' && g.status === 206));
});

test('a bare 429 (no Retry-After) waits a backoff, 5xx and broken downloads are retried', async () => {
  const { emu: e, prodId } = await emulator();
  e.faults.rateLimitNext(`POST ${PREFIX}/backups`, 2);
  e.faults.failNext(new RegExp(`^GET ${PREFIX}/backups/[^/]+$`), 3, { status: 503, body: '<html>upstream</html>', contentType: 'text/html' });
  e.faults.failNext('GET /download/', 2, { status: 500 });
  const cap = capture();
  const { bytes } = await runSource(options(e, prodId), cap.logger);
  assert.ok(bytes.equals(dump));
  const posts = e.calls(`POST ${PREFIX}/backups`).filter((r) => r.path === `${PREFIX}/backups`);
  assert.deepEqual(posts.map((p) => p.status), [429, 429, 200]);
  // The backoff (here initialMs 5 ms, doubling, ±10 %) is the only pacing: nothing in the answer says how long to wait.
  const waits = cap.lines.filter((l) => l.event === 'scaleway.api.rate_limited').map((l) => l.fields.waitMs as number);
  assert.equal(waits.length, 2);
  assert.ok(waits[0]! >= 4 && waits[0]! <= 6 && waits[1]! >= 9 && waits[1]! <= 11, `waits ${waits}`);
  assert.ok(posts[1]!.at - posts[0]!.at >= waits[0]! - 50 && posts[2]!.at - posts[1]!.at >= waits[1]! - 50, 'each retry waited its backoff');
  assert.equal(cap.lines.filter((l) => l.event === 'scaleway.api.retry' && l.fields.status === 503).length, 3);
  assert.deepEqual(downloads(e).map((g) => g.status), [500, 500, 200]);
});

test('5xx that never stops ends in one clear SCALEWAY_API line', async () => {
  const { emu: e, prodId } = await emulator();
  e.faults.failNext(`POST ${PREFIX}/backups`, 10);
  const err = await rejects(runSource(options(e, prodId, { apiRetry: { attempts: 3, initialMs: 2, maxMs: 5 } }), capture().logger), 'SCALEWAY_API');
  assert.equal(err.message, `Scaleway API POST ${PREFIX}/backups: internal_error: internal server error (after 3 attempts)`);
});

test('Scaleway error bodies become one line: invalid_arguments names the field', async () => {
  const { emu: e, prodId } = await emulator();
  const err = await rejects(runSource(options(e, prodId, { backupName: 'nightly.dump' }), capture().logger), 'SCALEWAY_API');
  assert.equal(err.message, `Scaleway API POST ${PREFIX}/backups: invalid_arguments: name: must not contain dots`);
  const missing = await rejects(runSource(options(e, prodId, { instanceId: 'no-such-instance' }), capture().logger), 'SCALEWAY_API');
  assert.equal(missing.message, `Scaleway API GET ${PREFIX}/instances/no-such-instance: not_found: instance no-such-instance: resource is not found`);
});

test('a wrong secret key is denied_authentication, and the key is in no message', async () => {
  const { emu: e, prodId } = await emulator();
  const wrong = `${SECRET.slice(0, -1)}2`;
  const cap = capture();
  const o = options(e, prodId);
  const err = await rejects(runSource({ ...o, env: { ...o.env, SCW_SECRET_KEY: wrong } }, cap.logger), 'SCALEWAY_API');
  assert.match(err.message, /denied_authentication: authentication is denied; check SCW_SECRET_KEY/);
  for (const text of [err.message, inspect(err, { depth: 8 }), ...cap.lines.map((l) => JSON.stringify(l))]) {
    assert.ok(!text.includes(wrong) && !text.includes(SECRET), `secret leaked: ${text}`);
  }
});

test('a wait that outlasts waitTimeoutMs is SCALEWAY_TIMEOUT naming the backup, its status and the option', async () => {
  const { emu: e, prodId } = await emulator({ delays: { backupCreate: 60_000 } });
  const t0 = Date.now();
  const err = await rejects(runSource(options(e, prodId, { waitTimeoutMs: 250 }), capture().logger), 'SCALEWAY_TIMEOUT');
  assert.ok(Date.now() - t0 < 3000);
  const id = [...e.backups.keys()][0]!;
  assert.match(err.message, new RegExp(`backup ${id} \\(database "app" of instance ${prodId}\\)`));
  assert.match(err.message, /still "creating" after \d+ms/);
  assert.match(err.message, /raise the waitTimeoutMs option \(now 250ms\)/);
});

test('aborting the run stops a wait at once', async () => {
  const { emu: e, prodId } = await emulator({ delays: { backupCreate: 60_000 } });
  const ac = new AbortController();
  const reason = new CopycatError('CANCELLED', 'operator pressed Ctrl-C');
  setTimeout(() => ac.abort(reason), 150);
  const t0 = Date.now();
  const { sink } = collect();
  await assert.rejects(pipeline(scalewayRdb(options(e, prodId, { pollInitialMs: 5_000, pollMaxMs: 5_000 }))).to(sink)
    .run({ log: capture().logger, signal: ac.signal }), (err: unknown) => err === reason);
  assert.ok(Date.now() - t0 < 1500, 'the 5 s poll pause was not cut short');
});

test('an export that ends in status error fails the run', async () => {
  const { emu: e, prodId } = await emulator();
  e.faults.failNextExport();
  const err = await rejects(runSource(options(e, prodId), capture().logger), 'SCALEWAY_FAILED');
  assert.match(err.message, /backup is "error" \(the export failed\)/);
});

/** A production instance with snapshots: the newest is still being taken, so the one before must be used. */
function withSnapshots(e: ScalewayEmulator, prodId: string) {
  const base = Date.now() - 3 * 3600_000;
  const oldest = e.addSnapshot({ instanceId: prodId, name: 'oldest', createdAt: new Date(base) });
  const wanted = e.addSnapshot({ instanceId: prodId, name: 'newest-ready', createdAt: new Date(base + 3600_000) });
  e.addSnapshot({ instanceId: prodId, name: 'in-progress', status: 'creating', createdAt: new Date(base + 2 * 3600_000) });
  return { oldest, wanted };
}

function instanceDeletes(e: ScalewayEmulator) {
  return e.requests.filter((r) => r.method === 'DELETE' && r.path.startsWith(`${PREFIX}/instances/`));
}

test('snapshot-scw-export: temp instance from the newest ready snapshot, fenced, dumped, then deleted', async () => {
  const { emu: e, prodId } = await emulator();
  const { wanted } = withSnapshots(e, prodId);
  const cap = capture();
  const { bytes, info } = await runSource(options(e, prodId, { mode: 'snapshot-scw-export' }), cap.logger);
  assert.ok(bytes.equals(dump));

  const [create] = e.calls('/create-instance');
  assert.equal(create!.path, `${PREFIX}/snapshots/${wanted.id}/create-instance`);
  assert.deepEqual(create!.body, { instance_name: 'copycat-db-temp', is_ha_cluster: false });
  const tempId = String(info.tempInstanceId);
  assert.notEqual(tempId, prodId);
  assert.equal(info.snapshotId, wanted.id);
  assert.equal(info.tempInstanceDeleted, true);

  const lbDeletes = e.calls(`DELETE ${PREFIX}/endpoints/`);
  assert.equal(lbDeletes.length, 1, 'the public endpoint was removed');
  const backup = e.backups.get(String(info.backupId))!;
  assert.equal(backup.instance_id, tempId, 'the backup was taken of the temporary instance, not production');
  const firstBackup = e.requests.findIndex((r) => r.method === 'POST' && r.path === `${PREFIX}/backups`);
  assert.ok(e.requests.findIndex((r) => r === lbDeletes[0]) < firstBackup, 'fenced before any data left it');

  assert.deepEqual(instanceDeletes(e).map((r) => r.path), [`${PREFIX}/instances/${tempId}`]);
  const del = e.requests.findIndex((r) => r.method === 'DELETE' && r.path.endsWith(tempId));
  assert.equal(e.requests[del - 1]!.method, 'GET', 'checked by GET right before DELETE');
  assert.equal(e.requests[del - 1]!.path, `${PREFIX}/instances/${tempId}`);
  assert.ok(!cap.lines.some((l) => l.event === 'scaleway.temp_instance.left'));
});

test('snapshot-scw-export: after a failure the temp instance stays, with a warning naming it', async () => {
  const { emu: e, prodId } = await emulator();
  withSnapshots(e, prodId);
  e.faults.failNextExport();
  const cap = capture();
  await rejects(runSource(options(e, prodId, { mode: 'snapshot-scw-export' }), cap.logger), 'SCALEWAY_FAILED');
  assert.deepEqual(instanceDeletes(e), [], 'no cleanup in error paths');
  const temp = [...e.instances.values()].find((i) => i.name === TEMP_INSTANCE_NAME)!;
  assert.equal(temp.status, 'ready');
  const warn = cap.lines.find((l) => l.event === 'scaleway.temp_instance.left')!;
  assert.equal(warn.level, 'warn');
  assert.equal(warn.fields.id, temp.id);
  assert.equal(warn.fields.name, TEMP_INSTANCE_NAME);
  assert.match(String(warn.fields.message), new RegExp(`${temp.id} \\(copycat-db-temp\\) was left in place`));
});

test('snapshot-scw-export: a downstream failure mid-download also leaves the temp instance, with a warning', async () => {
  const { emu: e, prodId } = await emulator();
  withSnapshots(e, prodId);
  const cap = capture();
  await assert.rejects(runSource(options(e, prodId, { mode: 'snapshot-scw-export' }), cap.logger, {
    onChunk: (_c, total) => {
      if (total > 50_000) throw new CopycatError('SINK_BROKE', 'disk full');
    },
  }), /disk full/);
  assert.deepEqual(instanceDeletes(e), []);
  const warn = cap.lines.find((l) => l.event === 'scaleway.temp_instance.left');
  assert.ok(warn, 'warning logged');
  assert.match(String(warn.fields.reason), /disk full|aborted|closed/);
});

test('delete guard: a temp instance renamed behind our back is not deleted', async () => {
  const { emu: e, prodId } = await emulator({ onCreateInstance: (i) => void (i.name = 'someone-elses-db') });
  withSnapshots(e, prodId);
  const cap = capture();
  const { bytes, info } = await runSource(options(e, prodId, { mode: 'snapshot-scw-export' }), cap.logger);
  assert.ok(bytes.equals(dump), 'the dump itself is still good');
  assert.deepEqual(instanceDeletes(e), []);
  assert.match(String(info.tempInstanceLeft), /named "someone-elses-db", not "copycat-db-temp"/);
  const left = cap.lines.find((l) => l.event === 'scaleway.temp_instance.left')!;
  assert.equal(left.fields.id, info.tempInstanceId);
});

test('delete guard: never the production id, never an instance this run did not create', async () => {
  const { emu: e, prodId } = await emulator();
  const temp = e.addInstance({ name: TEMP_INSTANCE_NAME });
  const api = new ScalewayApi({ apiUrl: e.url, region: REGION, secretKey: SECRET });
  const log = capture().logger;
  const prodErr = await rejects(guardedDeleteTempInstance(api, prodId, { productionInstanceId: prodId, createdInstanceId: prodId }, log), 'SCALEWAY_GUARD');
  assert.match(prodErr.message, /it is the production instance/);
  const notOurs = await rejects(guardedDeleteTempInstance(api, temp.id, { productionInstanceId: prodId, createdInstanceId: 'other' }, log), 'SCALEWAY_GUARD');
  assert.match(notOurs.message, /this run did not create it/);
  const prodNamed = e.addInstance({ name: 'production-db' });
  const misnamed = await rejects(guardedDeleteTempInstance(api, prodNamed.id, { productionInstanceId: prodId, createdInstanceId: prodNamed.id }, log), 'SCALEWAY_GUARD');
  assert.match(misnamed.message, /named "production-db", not "copycat-db-temp"/);
  assert.deepEqual(instanceDeletes(e), []);
  // And the guard does let the right one through.
  await guardedDeleteTempInstance(api, temp.id, { productionInstanceId: prodId, createdInstanceId: temp.id }, log);
  assert.deepEqual(instanceDeletes(e).map((r) => r.path), [`${PREFIX}/instances/${temp.id}`]);
});

test('snapshot-pgdump: private network attached, public endpoint removed, pg_dump over it restores the database', async () => {
  const { emu: e, prodId } = await emulator({ privateEndpoint: () => ({ ip: cluster.host, port: cluster.port }) });
  withSnapshots(e, prodId);
  const cap = capture();
  const { bytes, info, source } = await runSource(options(e, prodId, {
    mode: 'snapshot-pgdump',
    privateNetworkId: 'pn-0a1b2c3d',
    pgEnv: { PGUSER: cluster.user, PGPASSWORD: cluster.password },
    // The throwaway test cluster has no TLS; against Scaleway the default `require` applies.
    sslMode: 'disable',
  }), cap.logger);
  assert.equal(bytes.subarray(0, 5).toString(), 'PGDMP');
  assert.equal(info.archiveFormat, 'custom');
  const serverVersion = (await cluster.query<{ server_version: string }>('SHOW server_version'))[0]!.server_version;
  const dumpVersion = (await source.facts!()).dumpVersion;
  assert.deepEqual(await source.facts!(), { kind: 'scaleway-snapshot-pgdump', database: 'app', serverVersion, dumpVersion, format: 'custom' },
    'the server version was asked before the temporary instance went');
  assert.equal(dumpVersion?.split(' ')[0], serverVersion.split(' ')[0], 'the pg_dump for the instance\'s engine (PostgreSQL-15)');
  assert.deepEqual(info.privateEndpoint, { ip: cluster.host, port: cluster.port });
  const tempId = String(info.tempInstanceId);

  const [attach] = e.calls(`POST ${PREFIX}/instances/${tempId}/endpoints`);
  const spec = (attach!.body as { endpoint_spec: { private_network: Record<string, unknown> } }).endpoint_spec;
  assert.equal(spec.private_network.private_network_id, 'pn-0a1b2c3d');
  assert.equal(e.calls(`DELETE ${PREFIX}/endpoints/`).length, 1);
  assert.equal(e.calls(`POST ${PREFIX}/backups`).length, 0, 'pg_dump mode makes no Scaleway backup');
  assert.deepEqual(instanceDeletes(e).map((r) => r.path), [`${PREFIX}/instances/${tempId}`]);

  await cluster.createDatabase('restored');
  await new Promise<void>((resolve, reject) => {
    const child = spawn('pg_restore', ['--no-owner', '--dbname=restored'], { env: { ...process.env, ...cluster.env }, stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`pg_restore ${code}: ${err}`))));
    child.stdin.end(bytes);
  });
  assert.deepEqual(await digestDatabase(cluster, 'restored'), await digestDatabase(cluster, 'app'));
});

test('snapshot-pgdump: a failing pg_dump fails the run and leaves the temp instance, with a warning', async () => {
  const { emu: e, prodId } = await emulator({ privateEndpoint: () => ({ ip: cluster.host, port: cluster.port }) });
  withSnapshots(e, prodId);
  const cap = capture();
  await rejects(runSource(options(e, prodId, {
    mode: 'snapshot-pgdump', privateNetworkId: 'pn-0a1b2c3d', sslMode: 'disable',
    pgEnv: { PGUSER: cluster.user, PGPASSWORD: 'wrong-password' },
  }), cap.logger), 'PROGRAM_FAILED');
  assert.deepEqual(instanceDeletes(e), []);
  const warn = cap.lines.find((l) => l.event === 'scaleway.temp_instance.left')!;
  assert.match(String(warn.fields.reason), /pg_dump/);
  assert.ok(e.instances.has(String(warn.fields.id)));
});

test('snapshot-pgdump: a pg_dump older than the instance\'s engine is refused before any temporary instance exists', async () => {
  const { emu: e, prodId } = await emulator({ privateEndpoint: () => ({ ip: cluster.host, port: cluster.port }) });
  withSnapshots(e, prodId);
  const root = join(home, 'only14');
  const err = await rejects(runSource(options(e, prodId, {
    mode: 'snapshot-pgdump', privateNetworkId: 'pn-0a1b2c3d', sslMode: 'disable',
    pgEnv: { PGUSER: cluster.user, PGPASSWORD: cluster.password },
    pgDumpPrograms: { versionRoots: [standIn(root, 'pg_dump', '14.9')], path: '' },
  }), capture().logger), 'PROGRAM_TOO_OLD');
  assert.match(err.message, /^pg_dump 14\.9 \(.*\) cannot dump a PostgreSQL 15 server .*install postgresql-client-15 or newer/);
  assert.equal(e.calls('/create-instance').length, 0, 'no billed instance was made');
  assert.deepEqual(standInCalls(root), ['pg_dump 14.9: --version']);
});

test('create-instance is not retried blindly: a duplicate would be a billed instance nobody tracks', async () => {
  const { emu: e, prodId } = await emulator();
  withSnapshots(e, prodId);
  e.faults.failNext('/create-instance', 1, { status: 500 });
  const err = await rejects(runSource(options(e, prodId, { mode: 'snapshot-scw-export' }), capture().logger), 'SCALEWAY_API');
  assert.match(err.message, /create-instance: internal_error/);
  assert.equal(e.calls('/create-instance').length, 1);
  e.faults.failNext('/create-instance', 1, { status: 503 });
  const { bytes } = await runSource(options(e, prodId, { mode: 'snapshot-scw-export' }), capture().logger);
  assert.ok(bytes.equals(dump), '503 (turned away, nothing done) is retried');
});

test('snapshot-pgdump refuses to start without a private network or database user', () => {
  assert.throws(() => scalewayRdb({ mode: 'snapshot-pgdump', instanceId: 'i', databaseName: 'app', pgEnv: { PGUSER: 'u' } }), /SCW_PRIVATE_NETWORK_ID/);
  assert.throws(() => scalewayRdb({ mode: 'snapshot-pgdump', instanceId: 'i', databaseName: 'app', privateNetworkId: 'pn' }), /PGUSER/);
});
