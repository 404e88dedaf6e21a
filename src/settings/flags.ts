/**
 * The flags object each command's action receives: commander's keys and the values the declarations in catalog/
 * parse to, with variables and defaults applied. An empty value (`X=` in an environment file) arrives unset.
 */
import type { RetentionMode } from '../s3/driver/retention.js';
import type { S3Checksum } from '../sinks/s3.js';
import type { BackupMode } from '../sources/scaleway/modes.js';
import type { CompressionName } from '../transforms/compression/index.js';

export interface ChainFlags {
  compression: CompressionName;
  keyFile?: string;
  encrypt: boolean;
}

/** Public-key encryption: recipients write (backup), identities read (restore, verify, list). */
export interface RecipientFlags {
  recipient?: string[];
  recipientsFile?: string;
}

export interface IdentityFlags {
  identity?: string[];
}

/** How a backup compresses. */
export interface CompressFlags {
  level: number;
  workers: number;
}

/** Where pg_dump, pg_restore and psql are (backup, restore, verify). */
export interface PgProgramFlags {
  pgBinDir?: string;
}

export interface S3ConnectionFlags {
  s3Endpoint?: string;
  s3Region?: string;
  s3Timeout?: number;
}

export interface S3UploadFlags {
  retainDays: number;
  lockMode: RetentionMode;
  allowUnlocked?: boolean;
  checksum: S3Checksum;
  maxParts?: number;
  partSize?: number;
  expectedSize?: number;
  concurrency: number;
}

export interface PruneFlags {
  olderThan: number;
  keepLast: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
}

export interface SourceFlags extends PgProgramFlags {
  mode?: BackupMode;
  scwInstance?: string;
  scwPrivateNetwork?: string;
  scwWaitHours: number;
  /** Several: one backup each, under PREFIX/DBNAME/ (see src/cli/databases.ts). */
  database?: string[];
  allDatabases?: boolean;
  format: 'custom' | 'plain' | 'parallel';
  jobs?: number;
}

export interface BackupFlags extends ChainFlags, RecipientFlags, CompressFlags, S3ConnectionFlags, S3UploadFlags, PruneFlags, SourceFlags {
  to: string;
  prune: boolean;
  globals?: boolean;
}

/** Reading the rclone crypt backups of the system copycat-db replaced (the passwords come only from the environment). */
export interface LegacyFlags {
  legacyRclone?: boolean;
  rcloneConfig?: string;
  rcloneRemote?: string;
}

/** check takes every backup flag (settingsOf), and prints its report as JSON on request. */
export interface CheckFlags extends BackupFlags {
  json?: boolean;
}

export interface RestoreFlags extends ChainFlags, IdentityFlags, S3ConnectionFlags, LegacyFlags, PgProgramFlags {
  globals?: boolean;
  keepOwners?: boolean;
  table?: string[];
  schema?: string[];
  excludeSchema?: string[];
  excludeTable?: string[];
  useList?: string;
  from: string;
  backup?: string;
  toDatabase: string;
  create?: boolean;
  jobs?: number;
}

export interface ListFlags extends S3ConnectionFlags, IdentityFlags, LegacyFlags {
  from: string;
  keyFile?: string;
  json?: boolean;
}

export interface PruneCommandFlags extends S3ConnectionFlags, PruneFlags {
  from: string;
  dryRun?: boolean;
  json?: boolean;
}

export interface VerifyFlags extends S3ConnectionFlags, IdentityFlags, LegacyFlags, PgProgramFlags {
  from: string;
  backup?: string;
  keyFile?: string;
  scratchDatabase?: string;
  maintenanceDatabase: string;
  check?: string[];
  scrub?: string[];
  scrubFile?: string[];
  keep?: boolean;
  replace?: boolean;
  allowEmpty?: boolean;
  json?: boolean;
}

export interface ShowFlags extends S3ConnectionFlags {
  from: string;
  json?: boolean;
}

export interface ExportFlags extends S3ConnectionFlags, IdentityFlags {
  from: string;
  to: string;
  backup?: string;
  keyFile?: string;
}
