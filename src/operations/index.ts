// The operations: the only places that assemble pipelines. The CLI parses flags and calls these; scripts can too.
export { backup, type BackupOptions, type BackupResult } from './backup.js';
export { restore, type RestoreInto, type RestoreOptions, type RestoreResult } from './restore.js';
export { list, listByDatabase, show, formatBackupTable, formatBackupDetails, type BackupRow, type BackupDetails, type BackupGroup } from './list.js';
export { exportBackup, type ExportOptions } from './export.js';
export { prune, pruneByDatabase, type DatabasePruneReport, type PruneRules } from './prune.js';
export { verify, formatVerifyReport, type VerifyOptions, type VerifyReport, type VerifyCheck } from './verify/index.js';
export { summarize, type RunSummary } from './summary.js';
export { check, formatCheckReport, type BackupNeeds, type CheckOptions, type CheckReport, type CheckResult } from './check.js';
