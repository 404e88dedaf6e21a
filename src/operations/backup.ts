import { backupChain, type ChainOptions } from '../chain.js';
import { MANIFEST_FORMAT_VERSION, serializeManifest, type Manifest } from '../formats/manifest.js';
import { pipeline, type RunOptions, type RunStats } from '../pipeline.js';
import type { Repository } from '../repository/index.js';
import { dataKey, globalsKey, manifestKey, newBackupId } from '../repository/layout.js';
import { CopycatError } from '../errors.js';
import type { PgGlobalsStage } from '../sources/pg-globals.js';
import type { SinkStage, SourceStage } from '../stage.js';
import type { EncryptStage } from '../transforms/encrypt.js';
import { sha256 } from '../transforms/sha256.js';
import { TOOL_VERSION } from '../version.js';
import { takeGlobals } from './globals.js';
import { summarize, type RunSummary } from './summary.js';

export interface BackupOptions {
  readonly source: SourceStage;
  readonly chain: ChainOptions;
  /**
   * A repository gets the data object and, once it is stored (and locked), its manifest: what list, restore, verify
   * and prune need. A plain sink (a single file, standard output) gets the stream alone, for pipes: no manifest, so no
   * digests to check it against later.
   */
  readonly to: { readonly repository: Repository } | { readonly sink: SinkStage };
  /** Also store the server's roles, memberships and tablespaces (pgGlobals): a repository only. */
  readonly globals?: PgGlobalsStage;
}

export interface BackupResult {
  /** Undefined for a plain sink. */
  readonly manifest?: Manifest;
  readonly stats: RunStats;
  readonly summary: RunSummary;
  /** Set when the destination is not locked although it could be (S3 with --allow-unlocked). */
  readonly warning?: string;
}

/**
 * One backup: source → plaintext digest → compress → encrypt → stored digest → the repository's data sink, then the
 * globals (when asked for) and the manifest that makes it complete, each in S3 locked until the same instant as the
 * data. The repository is checked before any dump starts; the globals are dumped before the data.
 */
export async function backup(opts: BackupOptions, run: RunOptions = {}): Promise<BackupResult> {
  const chain = backupChain(opts.chain);
  if ('sink' in opts.to) {
    if (opts.globals) {
      throw new CopycatError('OPTION_INVALID', '--globals needs a repository (s3://BUCKET/PREFIX or file:DIR): a plain stream holds one dump, without room for the globals');
    }
    const stats = await pipeline(opts.source).through(...chain.stages).to(opts.to.sink).run(run);
    return { stats, summary: summarize(stats, 'backup') };
  }
  const repo = opts.to.repository;
  const prepared = await repo.store.prepare(run.signal);
  if (prepared.warning) run.log?.log('warn', 's3.unlocked', { location: repo.location, warning: prepared.warning });
  const startedAt = new Date();
  const id = newBackupId(startedAt);
  const globals = opts.globals && (await takeGlobals(opts.globals, opts.chain, run));
  // Asked once, for the S3 upload's part plan and for the progress readings alike (it may be a query or an API call).
  let expected: Promise<number | undefined> | undefined;
  const expectedSize = () => (expected ??= opts.source.expectedSize?.() ?? Promise.resolve(undefined));
  const data = repo.store.dataSink(dataKey(repo.prefix, id), expectedSize);
  const plaintext = sha256({ label: 'plaintext' });
  const stored = sha256({ label: 'stored' });
  const transforms = [plaintext, ...chain.stages, stored];
  const stats = await pipeline(opts.source).through(...transforms).to(data.stage).run({ ...run, expectedSize });
  const facts = await opts.source.facts?.();
  const object = await data.written();
  // stats.stages is [source, ...transforms, sink].
  const compressed = chain.compression && stats.stages[1 + transforms.indexOf(chain.compression)];
  // Locked until the same instant as the data object, and confirmed, before the manifest names it.
  const globalsObject = globals && { key: globalsKey(repo.prefix, id), ...globals.entry };
  const globalsVersion = globalsObject && (await repo.store.putSmall(globalsObject.key, globals.stored, object.retention, run.signal));
  const manifest: Manifest = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    toolVersion: TOOL_VERSION,
    id,
    source: {
      kind: facts?.kind ?? 'unknown',
      ...(facts?.database !== undefined ? { database: facts.database } : {}),
      ...(facts?.serverVersion !== undefined ? { serverVersion: facts.serverVersion } : {}),
      ...(facts?.dumpVersion !== undefined ? { dumpVersion: facts.dumpVersion } : {}),
    },
    dumpFormat: facts?.format ?? 'unknown',
    sizes: {
      plaintext: stats.bytesRead,
      stored: object.size,
      ...(compressed?.bytesOut !== undefined ? { compressed: compressed.bytesOut } : {}),
    },
    sha256: { plaintext: plaintext.digest()!, stored: stored.digest()! },
    compression: { algorithm: opts.chain.compression, ...(opts.chain.compression !== 'none' ? { level: opts.chain.level ?? 3 } : {}) },
    encryption: encryptionEntry(chain.encryption?.params),
    object: { ...(object.bucket ? { bucket: object.bucket } : {}), key: object.key, versionId: object.versionId, retention: object.retention },
    ...(globalsObject ? { globals: { ...globalsObject, versionId: globalsVersion! } } : {}),
    ...(facts?.tables ? { tables: facts.tables } : {}),
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
  };
  // The manifest is locked until the same instant as the data object, as the store reported it.
  await repo.store.putSmall(manifestKey(repo.prefix, id), serializeManifest(manifest), object.retention, run.signal);
  return { manifest, stats, summary: summarize(stats, 'backup'), ...(prepared.warning ? { warning: prepared.warning } : {}) };
}

function encryptionEntry(params: EncryptStage['params'] | undefined): Manifest['encryption'] {
  if (!params) return null;
  return 'keyId' in params ? { algorithm: 'aes-256-gcm-stream-v1', ...params } : { algorithm: 'aes-256-gcm-stream-v2', ...params };
}
