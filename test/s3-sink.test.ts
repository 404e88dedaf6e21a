// The object-locked S3 sink, its part planning, retention verification and bucket preflight, against a real radosgw
// (see testkit/s3-server.ts). Retentions are kept a few seconds to a minute ahead: the server is thrown away.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { CopycatError } from '../src/errors.js';
import type { LogFields, Logger, LogLevel } from '../src/log.js';
import { pipeline } from '../src/pipeline.js';
import { createS3Client } from '../src/s3/driver/client.js';
import { MAX_PART_SIZE, overflowError, planParts } from '../src/s3/driver/part-plan.js';
import { GIB, MIB, formatBytes } from '../src/units.js';
import { preflight } from '../src/s3/driver/preflight.js';
import { lockVersion } from '../src/s3/driver/retention.js';
import { s3Sink, type S3SinkOptions } from '../src/sinks/s3.js';
import type { SourceStage } from '../src/stage.js';
import { startS3Server, type S3TestServer } from '../testkit/s3-server.js';

const SECOND_IN_DAYS = 1 / 86_400;

// ------------------------------------------------------------------------------------------------- part planning
describe('planParts', () => {
  test('20 GiB on a 1,000-part provider gets parts large enough, with margin', () => {
    const plan = planParts({ expectedSize: 20 * GIB, maxParts: 1000 });
    assert.ok(plan.partSize >= (20 * GIB) / 1000, 'the estimate fits');
    assert.ok(plan.maxBytes >= 20 * GIB * 1.5, 'with the 1.5× margin');
    assert.equal(plan.partSize % MIB, 0, 'whole MiB');
    assert.equal(plan.partSize, 31 * MIB); // ceil(20 GiB × 1.5 / 1000) = 30.72 MiB → 31 MiB
    assert.equal(plan.maxParts, 1000);
    assert.equal(plan.basis, 'estimate');
  });

  test('a small estimate still uses 5 MiB parts; an impossible one is refused', () => {
    assert.equal(planParts({ expectedSize: 100 * MIB }).partSize, 5 * MIB);
    // MAX_PART_SIZE is 4 GiB on Node 20 (its Buffer limit), 5 GiB from Node 22 on.
    assert.throws(() => planParts({ expectedSize: MAX_PART_SIZE * 1000 + 1, maxParts: 1000 }),
      (err: unknown) => err instanceof CopycatError && err.code === 'S3_PLAN_INVALID' && /does not fit in 1000 parts/.test(err.message));
  });

  test('without an estimate: 16 MiB parts, 156 GiB on 10,000 parts and 15.6 GiB on 1,000, said so when exceeded', () => {
    const aws = planParts({});
    assert.equal(aws.partSize, 16 * MIB);
    assert.equal(aws.maxParts, 10_000);
    assert.equal(formatBytes(aws.maxBytes), '156.3 GiB');
    assert.equal(aws.basis, 'default');
    const scaleway = planParts({ maxParts: 1000 });
    assert.equal(formatBytes(scaleway.maxBytes), '15.6 GiB');
    const err = overflowError(scaleway, scaleway.maxBytes + 1);
    assert.equal(err.code, 'S3_TOO_LARGE');
    assert.match(err.message, /outgrew its upload plan \(1000 parts of 16 MiB = 15\.6 GiB; no --expected-size was given/);
    assert.match(err.message, /--expected-size larger than 15\.6 GiB .*--part-size \d+MiB or more/);
  });

  test('an explicit part size below 5 MiB, or one that cannot hold the estimate, is a clear error', () => {
    assert.throws(() => planParts({ partSize: 4 * MIB }),
      (err: unknown) => err instanceof CopycatError && err.code === 'S3_PLAN_INVALID' && /below S3's minimum part of 5 MiB/.test(err.message));
    assert.throws(() => planParts({ partSize: 8 * MIB, expectedSize: 20 * GIB, maxParts: 1000 }),
      (err: unknown) => err instanceof CopycatError && /cannot hold the expected 20 GiB in 1000 parts \(at most 7\.8 GiB\): pass --part-size 31MiB or more/.test(err.message));
    const plan = planParts({ partSize: 5 * MIB, expectedSize: 40 * MIB, maxParts: 10 });
    assert.equal(plan.partSize, 5 * MIB);
    assert.equal(plan.maxBytes, 50 * MIB);
    assert.equal(plan.basis, 'explicit');
  });

  test('memory bound is partSize × (concurrency + 1)', () => {
    assert.equal(planParts({}).memoryBound, 16 * MIB * 5);
    assert.equal(planParts({ partSize: 8 * MIB, concurrency: 2 }).memoryBound, 24 * MIB);
    assert.throws(() => planParts({ concurrency: 0 }), /--concurrency/);
  });
});

// ------------------------------------------------------------------------------------------------- helpers
interface SourceOptions {
  chunk?: number;
  /** Throw after this many bytes. */
  failAfter?: number;
  /** Called with the running total after each chunk is handed on. */
  onProduced?: (total: number) => void;
}

/** A source stage over a buffer, in chunks; byte-mode with a 1 MiB buffer so that it never reads far ahead. */
function bufferSource(data: Buffer, opts: SourceOptions = {}): SourceStage {
  const chunk = opts.chunk ?? MIB;
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let offset = 0; offset < data.length; offset += chunk) {
      if (opts.failAfter !== undefined && offset >= opts.failAfter) throw new Error('source failed on purpose');
      const piece = data.subarray(offset, Math.min(data.length, offset + chunk));
      yield piece;
      opts.onProduced?.(offset + piece.length);
    }
  }
  return { name: 'test-source', create: () => Readable.from(chunks(), { objectMode: false, highWaterMark: MIB }) };
}

class RecordingLogger implements Logger {
  readonly events: { level: LogLevel; event: string; fields?: LogFields }[] = [];
  log(level: LogLevel, event: string, fields?: LogFields): void {
    this.events.push({ level, event, ...(fields ? { fields } : {}) });
  }
  has(event: string): boolean {
    return this.events.some((e) => e.event === event);
  }
}

function isCode(code: string, pattern?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof CopycatError, `expected a CopycatError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

let server: S3TestServer;
let client: S3Client;
let locked: string;
let keySeq = 0;
const newKey = (name: string) => `backups/${name}-${++keySeq}.backup`;

async function getObject(bucket: string, key: string, versionId?: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** Multipart uploads and object versions (and delete markers) left under a key. */
async function leftovers(bucket: string, key: string): Promise<{ uploads: number; versions: number }> {
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
  const versions = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  return {
    uploads: uploads.Uploads?.length ?? 0,
    versions: (versions.Versions?.length ?? 0) + (versions.DeleteMarkers?.length ?? 0),
  };
}

function sinkOptions(bucket: string, key: string, extra: Partial<S3SinkOptions> = {}): S3SinkOptions {
  return { client, bucket, key, partSize: 5 * MIB, retention: { mode: 'GOVERNANCE', days: 60 * SECOND_IN_DAYS }, ...extra };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

// ------------------------------------------------------------------------------------------------- against radosgw
describe('s3 sink on radosgw', () => {
  before(async () => {
    server = await startS3Server();
    client = createS3Client({ endpoint: server.endpoint, region: server.region, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey });
    locked = await server.createBucket({ objectLock: true });
  });

  after(async () => {
    client?.destroy();
    await server?.stop();
  });

  test('40 MiB in 5 MiB parts is stored byte-identical and locked COMPLIANCE, and cannot be deleted', async (t) => {
    const data = randomBytes(40 * MIB + 12345);
    const key = newKey('big');
    const log = new RecordingLogger();
    const sink = s3Sink(sinkOptions(locked, key, { retention: { mode: 'COMPLIANCE', days: 30 * SECOND_IN_DAYS } }));
    const started = Date.now();
    const stats = await pipeline(bufferSource(data)).to(sink).run({ log });
    const finished = Date.now();
    t.diagnostic(`uploaded ${formatBytes(data.length)} in ${stats.durationMs.toFixed(0)} ms: ` +
      `${(data.length / MIB / (stats.durationMs / 1000)).toFixed(1)} MiB/s (md5, 5 MiB parts, concurrency 4, incl. lock verification)`);

    const result = sink.result();
    assert.ok(result);
    assert.equal(result.size, data.length);
    assert.equal(result.parts, 9);
    assert.equal(result.partSize, 5 * MIB);
    assert.ok(result.versionId);
    assert.deepEqual(stats.stages.at(-1)!.info, { ...result });

    const stored = await getObject(locked, key, result.versionId);
    assert.ok(stored.equals(data), 'the stored object is byte-identical');

    const head = await client.send(new HeadObjectCommand({ Bucket: locked, Key: key }));
    assert.equal(head.VersionId, result.versionId);
    assert.equal(head.ETag, result.etag);
    assert.match(result.etag, /-9"$/, 'a 9-part multipart ETag');

    const retention = await client.send(new GetObjectRetentionCommand({ Bucket: locked, Key: key, VersionId: result.versionId }));
    assert.equal(retention.Retention?.Mode, 'COMPLIANCE');
    const until = retention.Retention!.RetainUntilDate!.getTime();
    assert.equal(new Date(until).toISOString(), result.retention?.retainUntil);
    assert.equal(result.retention?.mode, 'COMPLIANCE');
    assert.ok(until >= started + 30_000 && until <= finished + 31_000, `retain-until ${new Date(until).toISOString()} is 30 s after the run`);
    // radosgw ignores the lock headers of CreateMultipartUpload: the sink had to set the retention itself.
    assert.ok(log.has('s3.lock.applied'), 'the lock was applied after completion');

    for (const bypass of [false, true]) {
      await assert.rejects(
        client.send(new DeleteObjectCommand({ Bucket: locked, Key: key, VersionId: result.versionId, ...(bypass ? { BypassGovernanceRetention: true } : {}) })),
        (err: Error) => err.name === 'AccessDenied',
      );
    }
    assert.ok((await getObject(locked, key, result.versionId)).equals(data), 'still there');
  });

  for (const checksum of ['md5', 'crc32'] as const) {
    test(`checksum ${checksum}: a multipart and a single-request upload both store the exact bytes, locked`, async () => {
      for (const size of [12 * MIB + 123, 100_000]) {
        const data = randomBytes(size);
        const key = newKey(`${checksum}-${size}`);
        const log = new RecordingLogger();
        const sink = s3Sink(sinkOptions(locked, key, { checksum }));
        await pipeline(bufferSource(data, { chunk: 64 * 1024 })).to(sink).run({ log });
        const result = sink.result()!;
        assert.equal(result.parts, size > 5 * MIB ? 3 : 1);
        assert.ok((await getObject(locked, key, result.versionId!)).equals(data));
        assert.equal(result.retention?.mode, 'GOVERNANCE');
        const retention = await client.send(new GetObjectRetentionCommand({ Bucket: locked, Key: key, VersionId: result.versionId! }));
        assert.equal(retention.Retention?.RetainUntilDate?.toISOString(), result.retention?.retainUntil);
        // PutObject's lock headers are honoured by radosgw; only the multipart upload needed the retention set after.
        assert.equal(log.has('s3.lock.applied'), size > 5 * MIB);
      }
    });
  }

  test('radosgw validates Content-MD5 (BadDigest) but not x-amz-checksum-crc32: why md5 is the default', async () => {
    const key = newKey('digest');
    const body = randomBytes(64 * 1024);
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: locked, Key: key }));
    try {
      await assert.rejects(
        client.send(new UploadPartCommand({ Bucket: locked, Key: key, UploadId, PartNumber: 1, Body: body, ContentMD5: createHash('md5').update('other').digest('base64') })),
        (err: Error) => err.name === 'BadDigest',
      );
      const wrongCrc = Buffer.alloc(4, 0x5a).toString('base64');
      const accepted = await client.send(new UploadPartCommand({ Bucket: locked, Key: key, UploadId, PartNumber: 2, Body: body, ChecksumCRC32: wrongCrc }));
      assert.ok(accepted.ETag, 'a wrong CRC32 is accepted: radosgw 16 does not check it');
    } finally {
      await client.send(new AbortMultipartUploadCommand({ Bucket: locked, Key: key, UploadId }));
    }
  });

  test('preflight accepts an Object Lock bucket and names the endpoint', async () => {
    const result = await preflight(client, locked);
    assert.equal(result.versioning, true);
    assert.equal(result.objectLock, true);
    assert.equal(result.warning, undefined);
    assert.equal(result.endpoint, server.endpoint);
  });

  test('preflight refuses a versioned bucket without Object Lock, and a plain one, unless allowUnlocked', async () => {
    const versioned = await server.createBucket({ versioning: true });
    await assert.rejects(preflight(client, versioned), isCode('S3_BUCKET_UNLOCKED',
      new RegExp(`^bucket ${versioned} at ${server.endpoint} cannot keep backups immutable: Object Lock is not enabled — .*--allow-unlocked`)));
    const ok = await preflight(client, versioned, { allowUnlocked: true });
    assert.equal(ok.versioning, true);
    assert.equal(ok.objectLock, false);
    assert.match(ok.warning ?? '', /^UNLOCKED BUCKET: .*Object Lock is not enabled.*--allow-unlocked was given/);

    const plain = await server.createBucket();
    await assert.rejects(preflight(client, plain), isCode('S3_BUCKET_UNLOCKED', /versioning is not enabled and Object Lock is not enabled — .*--allow-unlocked/));
    const warned = await preflight(client, plain, { allowUnlocked: true });
    assert.match(warned.warning ?? '', /versioning is not enabled and Object Lock is not enabled/);
  });

  test('preflight names a missing bucket, refused credentials and an unreachable endpoint in one line', async () => {
    await assert.rejects(preflight(client, 'copycat-no-such-bucket'),
      isCode('S3_BUCKET_NOT_FOUND', new RegExp(`^bucket copycat-no-such-bucket does not exist at ${server.endpoint}: `)));
    const wrongKey = createS3Client({ endpoint: server.endpoint, accessKeyId: server.accessKeyId, secretAccessKey: 'wrong-secret' });
    await assert.rejects(preflight(wrongKey, locked), isCode('S3_ACCESS_DENIED', new RegExp(`bucket ${locked} at ${server.endpoint} was refused \\(.*403`)));
    wrongKey.destroy();
    const port = await closedPort();
    const nowhere = new S3Client({
      endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    await assert.rejects(preflight(nowhere, locked), isCode('S3_UNREACHABLE', new RegExp(`cannot reach http://127.0.0.1:${port} for bucket ${locked} \\(ECONNREFUSED`)));
    nowhere.destroy();
  });

  test('an unlocked backup needs allowUnlocked, and then writes an unversioned object', async () => {
    const plain = await server.createBucket();
    assert.throws(() => s3Sink(sinkOptions(plain, 'x', { retention: null })), isCode('S3_RETENTION_REQUIRED', /--allow-unlocked/));
    const data = randomBytes(6 * MIB);
    const key = newKey('unlocked');
    const sink = s3Sink(sinkOptions(plain, key, { retention: null, allowUnlocked: true }));
    await pipeline(bufferSource(data)).to(sink).run();
    const result = sink.result()!;
    assert.equal(result.retention, null);
    assert.equal(result.versionId, null, 'no versioning, no version id');
    assert.equal(result.parts, 2);
    assert.ok((await getObject(plain, key)).equals(data));
  });

  test('a source that fails mid-upload leaves no multipart upload and no object', async () => {
    const key = newKey('source-fails');
    const log = new RecordingLogger();
    const sink = s3Sink(sinkOptions(locked, key));
    await assert.rejects(pipeline(bufferSource(randomBytes(30 * MIB), { failAfter: 17 * MIB })).to(sink).run({ log }), /source failed on purpose/);
    assert.ok(log.has('s3.upload.aborted'), 'a multipart upload had started and was aborted');
    assert.deepEqual(await leftovers(locked, key), { uploads: 0, versions: 0 });
    assert.equal(sink.result(), undefined);
  });

  test('an aborted run leaves no multipart upload and no object', async () => {
    const key = newKey('aborted');
    const log = new RecordingLogger();
    const controller = new AbortController();
    const source = bufferSource(randomBytes(40 * MIB), { onProduced: (n) => { if (n >= 17 * MIB) controller.abort(); } });
    await assert.rejects(pipeline(source).to(s3Sink(sinkOptions(locked, key))).run({ log, signal: controller.signal }), isCode('ABORTED'));
    assert.ok(log.has('s3.upload.aborted'));
    assert.deepEqual(await leftovers(locked, key), { uploads: 0, versions: 0 });
  });

  test('a stream that outgrows maxParts × partSize fails with S3_TOO_LARGE before part maxParts + 1, and leaves nothing', async () => {
    const key = newKey('overflow');
    const sentParts: number[] = [];
    const counting = {
      config: client.config,
      send(command: { input: unknown }, options?: unknown) {
        if (command instanceof UploadPartCommand) sentParts.push(command.input.PartNumber!);
        return (client.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
      },
    } as unknown as S3Client;
    const sink = s3Sink(sinkOptions(locked, key, { client: counting, maxParts: 3 }));
    await assert.rejects(pipeline(bufferSource(randomBytes(20 * MIB))).to(sink).run(),
      isCode('S3_TOO_LARGE', /^the backup outgrew its upload plan \(3 parts of 5 MiB = 15 MiB\): pass --expected-size larger than 15 MiB/));
    assert.ok(Math.max(0, ...sentParts) <= 3, `parts sent: ${sentParts.join(',')}`);
    assert.deepEqual(await leftovers(locked, key), { uploads: 0, versions: 0 });
  });

  test('lockVersion locks a small object (the manifest) and confirms it; an unlocked bucket is S3_LOCK_UNCONFIRMED', async () => {
    const key = newKey('manifest').replace(/\.backup$/, '.manifest.json');
    const body = Buffer.from('{"formatVersion":1}');
    const put = await client.send(new PutObjectCommand({ Bucket: locked, Key: key, Body: body, ContentMD5: createHash('md5').update(body).digest('base64') }));
    const retainUntil = new Date(Math.ceil(Date.now() / 1000) * 1000 + 45_000);
    const first = await lockVersion(client, locked, key, put.VersionId!, { mode: 'GOVERNANCE', retainUntil });
    assert.equal(first.applied, true);
    assert.deepEqual({ mode: first.mode, retainUntil: first.retainUntil }, { mode: 'GOVERNANCE', retainUntil: retainUntil.toISOString() });
    const again = await lockVersion(client, locked, key, put.VersionId!, { mode: 'GOVERNANCE', retainUntil });
    assert.equal(again.applied, false);
    await assert.rejects(client.send(new DeleteObjectCommand({ Bucket: locked, Key: key, VersionId: put.VersionId })), (err: Error) => err.name === 'AccessDenied');

    const versioned = await server.createBucket({ versioning: true });
    const other = await client.send(new PutObjectCommand({ Bucket: versioned, Key: key, Body: body }));
    await assert.rejects(lockVersion(client, versioned, key, other.VersionId!, { mode: 'GOVERNANCE', days: 1 }), isCode('S3_LOCK_UNCONFIRMED', /could not be confirmed/));
  });
});

// ------------------------------------------------------------------------------------------------- backpressure
test('the sink holds at most partSize × (concurrency + 1) plus stream buffers while parts are slow', async () => {
  const partSize = 5 * MIB;
  const concurrency = 2;
  const total = 64 * MIB;
  let produced = 0;
  let acknowledged = 0;
  let peakHeld = 0;
  let inFlight = 0;
  let peakInFlight = 0;
  const slow = {
    config: {},
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      switch (command.constructor.name) {
        case 'CreateMultipartUploadCommand':
          return { UploadId: 'u1' };
        case 'UploadPartCommand': {
          inFlight += 1;
          peakInFlight = Math.max(peakInFlight, inFlight);
          await new Promise((resolve) => setTimeout(resolve, 20));
          inFlight -= 1;
          acknowledged += (command.input['Body'] as Buffer).length;
          return { ETag: `"${command.input['PartNumber'] as number}"` };
        }
        case 'CompleteMultipartUploadCommand':
          return { VersionId: 'v1', ETag: '"x-13"' };
        case 'HeadObjectCommand':
          return { ContentLength: total, VersionId: 'v1', ETag: '"x-13"' };
        default:
          throw Object.assign(new Error('not implemented'), { name: 'NotImplemented' });
      }
    },
  } as unknown as S3Client;
  const source = bufferSource(Buffer.alloc(total, 7), { onProduced: (n) => {
    produced = n;
    peakHeld = Math.max(peakHeld, produced - acknowledged);
  } });
  const sink = s3Sink({ client: slow, bucket: 'b', key: 'k', partSize, concurrency, retention: null, allowUnlocked: true });
  await pipeline(source).to(sink).run();
  assert.equal(sink.result()?.parts, 13);
  assert.equal(acknowledged, total);
  assert.ok(peakInFlight <= concurrency, `at most ${concurrency} parts at once (saw ${peakInFlight})`);
  const bound = sink.plan.memoryBound;
  assert.equal(bound, 15 * MIB);
  assert.ok(peakHeld <= bound + 4 * MIB, `held at most ${formatBytes(peakHeld)} (bound ${formatBytes(bound)} + 4 MiB of stream buffers)`);
});
