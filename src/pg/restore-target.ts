import type { PgProgramSearch } from './programs.js';

/** The database a restore program writes into, and where the program is found: shared by every restore sink and by the chain that picks one. */
export interface RestoreTarget {
  /** Database to restore into (with `create`, the database to connect to first, usually `postgres`). */
  readonly database: string;
  /** libpq variables on top of the process environment. */
  readonly env?: Record<string, string>;
  /** Extra arguments for the restore program. */
  readonly args?: readonly string[];
  /** Where pg_restore and psql are looked for (see choosePgProgram). */
  readonly programs?: PgProgramSearch;
  /**
   * Keep the dump's owners and grants (pg_restore without --no-owner --no-privileges): the roles must exist, e.g.
   * restored first from the backup's globals.
   */
  readonly keepOwners?: boolean;
  /** Restore only part of a custom-format archive, as pg_restore selects it. */
  readonly only?: RestoreSelection;
}

/** pg_restore's selection options; every list may name several objects. */
export interface RestoreSelection {
  readonly tables?: readonly string[];
  readonly schemas?: readonly string[];
  readonly excludeSchemas?: readonly string[];
  /**
   * Tables left out with everything that depends on them (pg_restore has no such option: a restore from a repository
   * turns it into a `useList` of the backup's table of contents).
   */
  readonly excludeTables?: readonly string[];
  /** A table-of-contents file (`pg_restore --list` output, edited): restore only its uncommented entries, in its order. */
  readonly useList?: string;
}

/** The selection as pg_restore arguments; empty when nothing is selected. */
export function selectionArgs(only: RestoreSelection | undefined): string[] {
  if (!only) return [];
  return [
    ...(only.tables ?? []).map((t) => `--table=${t}`),
    ...(only.schemas ?? []).map((s) => `--schema=${s}`),
    ...(only.excludeSchemas ?? []).map((s) => `--exclude-schema=${s}`),
    ...(only.useList ? [`--use-list=${only.useList}`] : []),
  ];
}
