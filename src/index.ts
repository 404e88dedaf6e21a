// The public library API: stages, the pipeline builder, and the chains the CLI itself uses.
export { pipeline, Pipeline, RunnablePipeline, type RunOptions, type RunStats, type StageStats } from './pipeline.js';
export type { SinkStage, SourceStage, Stage, StageContext, TransformStage } from './stage.js';
export { CopycatError, describeError } from './errors.js';
export type { Logger, LogLevel, LogFields } from './log.js';
export { backupTransforms, restoreTransforms, type ChainOptions } from './chain.js';
export { generateKeyFile, loadKeyFile } from './key.js';
export { parseLocation, type Location } from './location.js';

export { pgDump, type PgDumpOptions, type DumpFormat } from './sources/pg-dump.js';
export { fileSource } from './sources/file.js';
export { stdinSource } from './sources/stdin.js';

export { zstdCompress, zstdDecompress, type ZstdOptions } from './transforms/compression/zstd.js';
export { compressionByName, type CompressionName } from './transforms/compression/index.js';
export { encrypt, decrypt } from './transforms/encrypt.js';
export { keyId } from './transforms/encryption-format.js';
export { sha256 } from './transforms/sha256.js';
export { meter, type MeterReading } from './transforms/meter.js';

export { fileSink } from './sinks/file.js';
export { stdoutSink } from './sinks/stdout.js';
export { pgRestore, psql, type RestoreTarget } from './sinks/pg-restore.js';
export { restoreSink, sniffArchiveFormat } from './sinks/restore.js';
