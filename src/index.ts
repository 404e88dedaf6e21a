// The public library API: stages, the pipeline builder, the chains, repositories and the operations the CLI itself calls.
export { pipeline, Pipeline, RunnablePipeline, type RunOptions, type RunStats, type StageStats } from './pipeline.js';
export type { SinkStage, SourceFacts, SourceStage, Stage, StageContext, TableFact, TransformStage } from './stage.js';
export { CopycatError, describeError } from './errors.js';
export type { Logger, LogLevel, LogFields } from './log.js';
export { backupChain, backupTransforms, restoreTransforms, type BackupChain, type ChainOptions } from './chain.js';
export { restoreSink } from './restore-sink.js';
export { generateKeyFile, loadKeyFile, generateIdentityFile, loadIdentityFile, loadRecipientsFile } from './key.js';
export { generateIdentity, recipientOf, parseRecipient, parseIdentity, parseIdentityFile, parseRecipientsFile, type Identity, type Recipient } from './formats/recipients.js';
export { parseLocation, type Location } from './location.js';

export { pgDump, type PgDumpOptions } from './sources/pg-dump.js';
export { fileSource } from './sources/file.js';
export { stdinSource } from './sources/stdin.js';

export { zstdCompress, zstdDecompress, type ZstdOptions } from './transforms/compression/zstd.js';
export { compressionByName, type CompressionName } from './transforms/compression/index.js';
export { encrypt, decrypt, inspectHeader, checkCanOpen, HEADER_READ_SIZE, type EncryptStage } from './transforms/encrypt.js';
export { keyId } from './formats/encrypted-stream.js';
export { sha256 } from './transforms/sha256.js';
export { meter, type MeterReading } from './transforms/meter.js';

export { fileSink } from './sinks/file.js';
export { stdoutSink } from './sinks/stdout.js';
export { pgRestore, psql } from './sinks/pg-restore/index.js';
export type { RestoreTarget, RestoreSelection } from './pg/restore-target.js';
export type { PgProgramSearch } from './pg/programs.js';
export { sniffArchiveFormat, type ArchiveFormat, type ArchiveVersion, type DumpFormat } from './formats/archive.js';

export { s3Sink, type S3SinkOptions, type S3SinkResult, type S3Checksum } from './sinks/s3.js';
export { s3Object, type S3ObjectOptions } from './sources/s3-object.js';
export { createS3Client, s3SettingsFromEnv, type S3Settings } from './s3/driver/client.js';
export { preflight, type PreflightResult } from './s3/driver/preflight.js';
export { planParts, type PartPlan } from './s3/driver/part-plan.js';
export { lockVersion, type RetentionPolicy, type RetentionMode } from './s3/driver/retention.js';
export type { Manifest } from './formats/manifest.js';
export { dirRepository, databaseRepository, listBackups, listCatalog, chooseBackup, latestComplete, findBackup, type Catalog, type Repository, type ObjectStore, type BackupEntry, type BackupStatus } from './repository/index.js';
export { s3Repository, type S3StoreOptions, type S3UploadOptions } from './repository/s3-store.js';
export { planPrune, executePrune, type PruneOptions, type PrunePlan, type PruneReport } from './repository/prune.js';
export { legacyRepository, listLegacyBackups, chooseLegacyBackup, type LegacyRepository, type LegacyBackup } from './repository/rclone-crypt.js';
export { rcloneCryptKey, rcloneDumpSize } from './formats/rclone-crypt.js';
export { loadCryptRemote, revealObscured, type RcloneCryptRemote, type RcloneTarget } from './formats/rclone-config.js';
export { rcloneDecrypt, type RcloneDecryptOptions } from './transforms/rclone-decrypt.js';
export { listLegacy, formatLegacyTable, type LegacyRow } from './operations/list-legacy.js';
export {
  backup, restore, list, listByDatabase, prune, pruneByDatabase, verify, check, show, exportBackup, formatBackupTable, formatBackupDetails, formatVerifyReport, formatCheckReport, summarize,
  type BackupOptions, type BackupResult, type RestoreOptions, type RestoreInto, type RestoreResult, type BackupRow,
  type VerifyOptions, type VerifyReport, type VerifyCheck, type RunSummary, type BackupDetails, type ExportOptions,
  type CheckOptions, type BackupNeeds, type CheckReport, type CheckResult, type BackupGroup, type DatabasePruneReport,
} from './operations/index.js';
export { scalewayRdb, instanceDatabases, type ScalewayRdbOptions, type ScalewayMode } from './sources/scaleway/index.js';
export { pgParallel, type PgParallelOptions } from './sources/pg-parallel/index.js';
export { pgParallelRestore, type PgParallelRestoreOptions } from './sinks/pg-parallel-restore/index.js';
