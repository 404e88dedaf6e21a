import type { S3Client } from '@aws-sdk/client-s3';
import { TOOL_VERSION } from '../version.js';
import { backupChain, type ChainOptions } from '../chain.js';
import { pipeline, type RunOptions, type RunStats } from '../pipeline.js';
import { s3Sink, type S3Checksum } from '../sinks/s3.js';
import type { SourceStage } from '../stage.js';
import { sha256 } from '../transforms/sha256.js';
import { dataKey, manifestKey, newBackupId } from './catalog/layout.js';
import { MANIFEST_FORMAT_VERSION, writeManifest, type Manifest } from './catalog/manifest.js';
import { preflight } from './driver/preflight.js';
import type { RetentionPolicy } from './driver/retention.js';


export interface S3BackupOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  /** Its facts() are what the manifest says about the dump (kind, database, server version, format, tables). */
  readonly source: SourceStage;
  readonly chain: ChainOptions;
  /** Applied when the bucket has Object Lock; a bucket without it is refused unless allowUnlocked. */
  readonly retention: RetentionPolicy;
  readonly allowUnlocked?: boolean;
  /** Overrides the source's own estimate for part planning. */
  readonly expectedSize?: number;
  readonly maxParts?: number;
  readonly partSize?: number;
  readonly concurrency?: number;
  readonly checksum?: S3Checksum;
}

export interface S3BackupResult {
  readonly manifest: Manifest;
  readonly stats: RunStats;
  /** Set when the bucket is not locked and allowUnlocked accepted it. */
  readonly warning?: string;
}

/**
 * One backup into a locked bucket: preflight before any dump starts, stream source → plaintext digest → compress →
 * encrypt → stored digest → multipart upload with a verified lock, and only then the manifest that makes it complete.
 */
export async function backupToS3(opts: S3BackupOptions, run: RunOptions = {}): Promise<S3BackupResult> {
  const check = await preflight(opts.client, opts.bucket, { allowUnlocked: opts.allowUnlocked, signal: run.signal });
  if (check.warning) run.log?.log('warn', 's3.unlocked', { bucket: opts.bucket, warning: check.warning });
  const startedAt = new Date();
  const id = newBackupId(startedAt);
  const key = dataKey(opts.prefix, id);
  const sink = s3Sink({
    client: opts.client,
    bucket: opts.bucket,
    key,
    expectedSize: opts.expectedSize,
    estimate: async () => opts.source.expectedSize?.(),
    maxParts: opts.maxParts,
    partSize: opts.partSize,
    concurrency: opts.concurrency,
    retention: check.objectLock ? opts.retention : null,
    allowUnlocked: opts.allowUnlocked,
    checksum: opts.checksum,
  });
  const plaintext = sha256({ label: 'plaintext' });
  const stored = sha256({ label: 'stored' });
  const chain = backupChain(opts.chain);
  const transforms = [plaintext, ...chain.stages, stored];
  const stats = await pipeline(opts.source).through(...transforms).to(sink).run(run);
  const facts = (await opts.source.facts?.()) ?? { kind: 'unknown', format: 'unknown' };
  const object = sink.result()!;
  // stats.stages is [source, ...transforms, sink].
  const compressed = chain.compression && stats.stages[1 + transforms.indexOf(chain.compression)];
  const manifest: Manifest = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    toolVersion: TOOL_VERSION,
    id,
    source: {
      kind: facts.kind,
      ...(facts.database ? { database: facts.database } : {}),
      ...(facts.serverVersion ? { serverVersion: facts.serverVersion } : {}),
    },
    dumpFormat: facts.format,
    sizes: {
      plaintext: stats.bytesRead,
      stored: object.size,
      ...(compressed?.bytesOut !== undefined ? { compressed: compressed.bytesOut } : {}),
    },
    sha256: { plaintext: plaintext.digest()!, stored: stored.digest()! },
    compression: { algorithm: opts.chain.compression, ...(opts.chain.compression !== 'none' ? { level: opts.chain.level ?? 3 } : {}) },
    encryption: chain.encryption ? { algorithm: 'aes-256-gcm-stream-v1', ...chain.encryption.params } : null,
    object: { bucket: opts.bucket, key, versionId: object.versionId ?? 'null', retention: object.retention },
    ...(facts.tables ? { tables: facts.tables } : {}),
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
  };
  // The manifest is locked until the same instant as the data object, as the server reported it.
  const lock = object.retention ? { mode: object.retention.mode, retainUntil: new Date(object.retention.retainUntil) } : null;
  await writeManifest(opts.client, opts.bucket, manifestKey(opts.prefix, id), manifest, lock, run.signal);
  return { manifest, stats, ...(check.warning ? { warning: check.warning } : {}) };
}
