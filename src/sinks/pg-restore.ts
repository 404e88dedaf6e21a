import { ChildInput } from '../child.js';
import type { SinkStage } from '../stage.js';

export interface RestoreTarget {
  /** Database to restore into (with `create`, the database to connect to first, usually `postgres`). */
  readonly database: string;
  /** libpq variables on top of the process environment. */
  readonly env?: Record<string, string>;
  /** Extra arguments for the restore program. */
  readonly args?: readonly string[];
}

const CLIENT_HINT = 'install the PostgreSQL client (apt-get install postgresql-client-15)';

/** Feeds a custom-format archive to pg_restore on stdin; ownership and grants are left to the target server. */
export function pgRestore(target: RestoreTarget & { create?: boolean }): SinkStage {
  return {
    name: 'pg_restore',
    create: () => new ChildInput({
      name: 'pg_restore',
      command: 'pg_restore',
      // One transaction, so a restore that fails or is interrupted (even on its last byte) leaves nothing behind;
      // CREATE DATABASE cannot run inside one, so --create restores go statement by statement.
      args: ['--no-owner', '--no-privileges', '--exit-on-error', ...(target.create ? ['--create'] : ['--single-transaction']),
        `--dbname=${target.database}`, ...(target.args ?? [])],
      env: target.env,
      installHint: CLIENT_HINT,
    }),
    info: () => ({ program: 'pg_restore', database: target.database }),
  };
}

/** Feeds a plain SQL dump to psql, stopping at the first error. */
export function psql(target: RestoreTarget): SinkStage {
  return {
    name: 'psql',
    create: () => new ChildInput({
      name: 'psql',
      command: 'psql',
      args: ['--no-psqlrc', '--quiet', '--set=ON_ERROR_STOP=1', '--single-transaction', `--dbname=${target.database}`, ...(target.args ?? [])],
      env: target.env,
      installHint: CLIENT_HINT,
    }),
    info: () => ({ program: 'psql', database: target.database }),
  };
}
