// The public library API: stages, the pipeline builder, and the chains the CLI itself uses.
export { pipeline, Pipeline, RunnablePipeline, type RunOptions, type RunStats, type StageStats } from './pipeline.js';
export type { SinkStage, SourceFacts, SourceStage, Stage, StageContext, TableFact, TransformStage } from './stage.js';
export { CopycatError, describeError } from './errors.js';
export type { Logger, LogLevel, LogFields } from './log.js';
export { backupChain, backupTransforms, restoreSink, restoreTransforms, type BackupChain, type ChainOptions } from './chain.js';
export { generateKeyFile, loadKeyFile } from './key.js';
export { parseLocation, type Location } from './location.js';

export { pgDump, type PgDumpOptions } from './sources/pg-dump.js';
export { fileSource } from './sources/file.js';
export { stdinSource } from './sources/stdin.js';

export { zstdCompress, zstdDecompress, type ZstdOptions } from './transforms/compression/zstd.js';
export { compressionByName, type CompressionName } from './transforms/compression/index.js';
export { encrypt, decrypt } from './transforms/encrypt.js';
export { keyId } from './formats/encrypted-stream.js';
export { sha256 } from './transforms/sha256.js';
export { meter, type MeterReading } from './transforms/meter.js';

export { fileSink } from './sinks/file.js';
export { stdoutSink } from './sinks/stdout.js';
export { pgRestore, psql } from './sinks/pg-restore/index.js';
export type { RestoreTarget } from './pg/restore-target.js';
export { sniffArchiveFormat, type ArchiveFormat, type DumpFormat } from './formats/archive.js';

export { s3Sink, type S3SinkOptions, type S3SinkResult, type S3Checksum } from './sinks/s3.js';
export { s3Object, type S3ObjectOptions } from './sources/s3-object.js';
export { createS3Client, s3SettingsFromEnv, type S3Settings } from './s3/driver/client.js';
export { preflight, type PreflightResult } from './s3/driver/preflight.js';
export { planParts, type PartPlan } from './s3/driver/part-plan.js';
export { lockVersion, type RetentionPolicy, type RetentionMode } from './s3/driver/retention.js';
export { backupToS3, type S3BackupOptions, type S3BackupResult } from './s3/backup.js';
export { restoreFromS3, chooseBackup, type S3RestoreOptions, type S3RestoreResult } from './s3/restore.js';
export { listBackups, latestComplete, findBackup, type BackupEntry, type BackupStatus } from './s3/catalog/list.js';
export { planPrune, executePrune, type PrunePlan, type PruneReport } from './s3/catalog/prune.js';
export type { Manifest } from './s3/catalog/manifest.js';
export { scalewayRdb, type ScalewayRdbOptions, type ScalewayMode } from './sources/scaleway/index.js';
export { verifyBackup, formatVerifyReport, type VerifyReport } from './verify/index.js';
export { pgParallel, type PgParallelOptions } from './sources/pg-parallel/index.js';
export { pgParallelRestore, type PgParallelRestoreOptions } from './sinks/pg-parallel-restore/index.js';
