// Proves that scripts/s3-server.sh gives later tests what they rely on: a loopback-only S3 server with versioning and
// Object Lock that starts idempotently and stops completely.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { parseExports, runS3ServerScript, startS3Server, type S3TestServer } from '../testkit/s3-server.js';

const DAEMONS = ['mon', 'osd', 'rgw'] as const;

function readState(dir: string): Record<string, string> {
  const state: Record<string, string> = {};
  for (const line of readFileSync(path.join(dir, 'state.env'), 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m) state[m[1]!] = m[2]!;
  }
  return state;
}

function readPids(dir: string): Map<string, number> {
  const pids = new Map<string, number>();
  for (const d of DAEMONS) pids.set(d, Number(readFileSync(path.join(dir, 'pids', d), 'utf8').trim()));
  return pids;
}

/** The process's state letter from /proc/PID/stat, or undefined if there is no such process. */
function procState(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

/** Alive and still the cluster's process (a zombie, or a PID reused by something else, is not). */
function isClusterProcess(pid: number, dir: string): boolean {
  const st = procState(pid);
  if (st === undefined || st === 'Z' || st === 'X') return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    return false;
  }
}

interface Listener {
  address: string;
  port: number;
  inode: string;
  loopback: boolean;
}

/** Listening TCP sockets from /proc/net/tcp and /proc/net/tcp6. */
function listeners(): Listener[] {
  const out: Listener[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue; // 0A = LISTEN
      const [hexAddr, hexPort] = f[1]!.split(':') as [string, string];
      const port = parseInt(hexPort, 16);
      let address: string;
      let loopback: boolean;
      if (hexAddr.length === 8) {
        const b = Buffer.from(hexAddr, 'hex').reverse(); // little-endian
        address = [...b].join('.');
        loopback = b[0] === 127;
      } else {
        // Four little-endian 32-bit words.
        const words = [0, 1, 2, 3].map((i) => Buffer.from(hexAddr.slice(i * 8, i * 8 + 8), 'hex').reverse());
        const b = Buffer.concat(words);
        address = b.toString('hex').replace(/(.{4})(?!$)/g, '$1:');
        const isV6Loopback = b.subarray(0, 15).every((x) => x === 0) && b[15] === 1;
        const isMappedV4Loopback = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff && b[12] === 127;
        loopback = isV6Loopback || isMappedV4Loopback;
      }
      out.push({ address, port, inode: f[9]!, loopback });
    }
  }
  return out;
}

/** Socket inodes held open by PID. */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // fd closed meanwhile
    }
  }
  return inodes;
}

function md5(body: Buffer): string {
  return createHash('md5').update(body).digest('base64');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('scripts/s3-server.sh (Ceph radosgw)', () => {
  let server: S3TestServer;

  before(async () => {
    server = await startS3Server();
  });

  after(async () => {
    await server?.stop();
  });

  test('start on a running cluster is idempotent: same endpoint, same processes', async () => {
    const pidsBefore = readPids(server.dir);
    const { stdout, stderr } = await runS3ServerScript(['start', server.dir]);
    assert.match(stderr, /already running/);
    const env = parseExports(stdout);
    assert.equal(env['AWS_ENDPOINT_URL_S3'], server.endpoint);
    assert.equal(env['AWS_ACCESS_KEY_ID'], 'copycat-test');
    assert.equal(env['AWS_SECRET_ACCESS_KEY'], 'copycat-test-secret');
    assert.equal(env['AWS_REGION'], 'us-east-1');
    assert.deepEqual(readPids(server.dir), pidsBefore);
    const status = await runS3ServerScript(['status', server.dir]);
    assert.match(status.stdout, /^running: /);
    assert.deepEqual(parseExports((await runS3ServerScript(['env', server.dir])).stdout), env);
    assert.match(server.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('a bucket created with Object Lock reports versioning Enabled and ObjectLockConfiguration Enabled', async () => {
    const bucket = await server.createBucket({ objectLock: true });
    const v = await server.client.send(new GetBucketVersioningCommand({ Bucket: bucket }));
    assert.equal(v.Status, 'Enabled');
    const lock = await server.client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
    assert.equal(lock.ObjectLockConfiguration?.ObjectLockEnabled, 'Enabled');
  });

  test('createBucket({ versioning }) enables versioning; a plain bucket has none', async () => {
    const versioned = await server.createBucket({ versioning: true });
    assert.equal((await server.client.send(new GetBucketVersioningCommand({ Bucket: versioned }))).Status, 'Enabled');
    const plain = await server.createBucket();
    assert.equal((await server.client.send(new GetBucketVersioningCommand({ Bucket: plain }))).Status, undefined);
  });

  test('a version under COMPLIANCE retention cannot be deleted until its retain-until date', async () => {
    const bucket = await server.createBucket({ objectLock: true });
    const body = Buffer.from('locked backup chunk\n');
    const retainUntil = new Date(Math.ceil((Date.now() + 3000) / 1000) * 1000); // whole seconds
    const put = await server.client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'backup/part-0001',
        Body: body,
        ContentMD5: md5(body),
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: retainUntil,
      }),
    );
    assert.ok(put.VersionId, 'PutObject returns a VersionId');
    const head = await server.client.send(
      new HeadObjectCommand({ Bucket: bucket, Key: 'backup/part-0001', VersionId: put.VersionId }),
    );
    assert.equal(head.ObjectLockMode, 'COMPLIANCE');
    assert.equal(head.ObjectLockRetainUntilDate?.getTime(), retainUntil.getTime());

    await assert.rejects(
      server.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'backup/part-0001', VersionId: put.VersionId })),
      (err: Error & { Code?: string }) => {
        assert.equal(err.name, 'AccessDenied', `expected AccessDenied, got ${err.name}: ${err.message}`);
        return true;
      },
    );
    // Bypassing governance does not help in COMPLIANCE mode.
    await assert.rejects(
      server.client.send(
        new DeleteObjectCommand({
          Bucket: bucket,
          Key: 'backup/part-0001',
          VersionId: put.VersionId,
          BypassGovernanceRetention: true,
        }),
      ),
      { name: 'AccessDenied' },
    );
    // A delete without VersionId only adds a delete marker; the version is still there.
    const marker = await server.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'backup/part-0001' }));
    assert.equal(marker.DeleteMarker, true);
    await server.client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'backup/part-0001', VersionId: put.VersionId }));

    // Once the date has passed, the version can go.
    await sleep(Math.max(0, retainUntil.getTime() - Date.now()) + 1500);
    await server.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'backup/part-0001', VersionId: put.VersionId }));
  });

  test('nothing of the cluster listens on a non-loopback address', () => {
    const state = readState(server.dir);
    const recorded = new Set<number>([Number(state['MON_PORT']), Number(state['RGW_PORT'])]);
    for (let p = Number(state['MSGR_MIN']); p <= Number(state['MSGR_MAX']); p++) recorded.add(p);
    const inodes = new Set<string>();
    for (const pid of readPids(server.dir).values()) for (const i of socketInodes(pid)) inodes.add(i);

    const all = listeners();
    const ours = all.filter((l) => inodes.has(l.inode) || recorded.has(l.port));
    const rgwPort = Number(new URL(server.endpoint).port);
    assert.ok(ours.some((l) => l.port === rgwPort), 'radosgw listens on its recorded port');
    assert.ok(ours.some((l) => l.port === Number(state['MON_PORT'])), 'the monitor listens on its recorded port');
    assert.ok(ours.length >= 3, `expected the mon, osd and rgw listeners, found ${ours.length}`);
    const exposed = ours.filter((l) => !l.loopback);
    assert.deepEqual(exposed, [], `listening beyond loopback: ${JSON.stringify(exposed)}`);
  });

  test('stop leaves no process of the cluster running, and stop again is a no-op', async () => {
    const dir = server.dir;
    const pids = readPids(dir);
    const state = readState(dir);
    for (const [d, pid] of pids) assert.ok(isClusterProcess(pid, dir), `${d} (${pid}) runs before stop`);

    await server.stop();

    for (const [d, pid] of pids) assert.ok(!isClusterProcess(pid, dir), `${d} (${pid}) still runs after stop`);
    const ports = new Set([Number(state['MON_PORT']), Number(state['RGW_PORT'])]);
    assert.deepEqual(listeners().filter((l) => ports.has(l.port)), [], 'nothing listens on the cluster ports');
    assert.equal(existsSync(dir), false, 'stop() removes the folder');
    await runS3ServerScript(['stop', dir]); // missing folder: exits 0
    await server.stop(); // twice: fine
  });
});
