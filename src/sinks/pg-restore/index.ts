import { CopycatError } from '../../errors.js';
import type { ArchiveVersion } from '../../formats/archive.js';
import { ChildInput, holdBackTail } from '../../pg/child.js';
import { choosePgProgram, pgRestoreNeed, type PgProgram } from '../../pg/programs.js';
import { selectionArgs, type RestoreTarget } from '../../pg/restore-target.js';
import type { SinkStage } from '../../stage.js';
import { plainSqlGate } from './plain-sql-gate.js';

/**
 * Feeds a custom-format archive to pg_restore on stdin; ownership and grants are left to the target server. The
 * archive's last byte reaches pg_restore only once every upstream check passed (see holdBackTail), so it cannot
 * commit a stream that later proves corrupt or cut. `archive`, the format version in the archive's header when the
 * caller has read it, refuses a pg_restore too old to read it before it starts.
 */
export function pgRestore(target: RestoreTarget & { create?: boolean; archive?: ArchiveVersion }): SinkStage {
  let program: PgProgram | undefined;
  return {
    name: 'pg_restore',
    async create(ctx) {
      program = await choosePgProgram('pg_restore', target.programs, target.archive && pgRestoreNeed(target.archive), ctx.log);
      return new ChildInput({
        name: 'pg_restore',
        command: program.command,
        // One transaction, so a restore that fails or is interrupted (even on its last byte) leaves nothing behind;
        // CREATE DATABASE cannot run inside one, so --create restores go statement by statement.
        args: [...(target.keepOwners ? [] : ['--no-owner', '--no-privileges']), '--exit-on-error',
          ...(target.create ? ['--create'] : ['--single-transaction']), `--dbname=${target.database}`, ...selectionArgs(target.only), ...(target.args ?? [])],
        env: target.env,
      }, holdBackTail(1));
    },
    info: () => ({ program: 'pg_restore', database: target.database, ...programInfo(program) }),
  };
}

/**
 * Feeds a plain SQL dump to psql, stopping at the first error, in one transaction that commits only after the whole
 * dump was read and checked, with the dump's meta-commands refused (see plainSqlGate).
 */
export function psql(target: RestoreTarget): SinkStage {
  let program: PgProgram | undefined;
  return {
    name: 'psql',
    async create(ctx) {
      program = assertPsqlRestricts(await choosePgProgram('psql', target.programs, undefined, ctx.log));
      return new ChildInput({
        name: 'psql',
        command: program.command,
        args: ['--no-psqlrc', '--quiet', '--set=ON_ERROR_STOP=1', `--dbname=${target.database}`, ...(target.args ?? [])],
        env: target.env,
        explain: (stderr) => /backslash commands are restricted/.test(stderr)
          ? new CopycatError('META_COMMAND_REFUSED', 'the plain dump holds a psql meta-command (a \\ command such as \\! or \\connect), ' +
            'which copycat-db never runs: nothing was committed — the dump was not written by pg_dump or was altered; restore another backup')
          : undefined,
      }, plainSqlGate());
    },
    info: () => ({ program: 'psql', database: target.database, ...programInfo(program) }),
  };
}

function programInfo(program: PgProgram | undefined): Record<string, string> {
  return program ? { path: program.command, version: program.version.text } : {};
}

/** The first release of each major whose psql knows `\restrict`, which the plain SQL gate relies on. */
const PSQL_RESTRICT_SINCE: Record<number, number> = { 13: 22, 14: 19, 15: 14, 16: 10, 17: 6 };

/** Refuses a psql that would run the dump's meta-commands: it could not be told to refuse them. */
function assertPsqlRestricts(psql: PgProgram): PgProgram {
  const { major, minor } = psql.version;
  const since = PSQL_RESTRICT_SINCE[major];
  if (major >= 18 || (since !== undefined && minor >= since)) return psql;
  throw new CopycatError('PROGRAM_TOO_OLD', `psql ${major}.${minor} (${psql.command}) cannot refuse the meta-commands (\\!, \\o) a plain dump could carry: ` +
    'install a psql of 13.22, 14.19, 15.14, 16.10, 17.6, 18 or newer (the PostgreSQL client packages)');
}
