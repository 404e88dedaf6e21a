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
}
