import { CopycatError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { libpqEnv, queryOnce } from '../pg/client.js';
import { databaseTarget, withDatabase } from '../pg/conninfo.js';
import type { SourceFlags } from '../settings/flags.js';
import { defaultMode } from '../sources/scaleway/modes.js';
import { scalewayDatabaseName } from './source-options.js';

/** One database of a run of several: its name (its prefix PREFIX/DBNAME/, its logs) and what --database it is dumped as. */
export interface DatabaseRun {
  readonly name: string;
  /** A name or a connection string, as one --database would be given. */
  readonly target: string;
}

/**
 * What one backup run takes: one database at the repository's prefix itself (one --database, PGDATABASE, or libpq's
 * default), or several, each under PREFIX/DBNAME/ (--database repeated, or --all-databases whatever it finds, so that
 * a repository's layout never depends on how many databases a server has today).
 */
export type DatabasePlan =
  | { readonly perDatabase: false; readonly target?: string }
  | { readonly perDatabase: true; readonly databases: readonly DatabaseRun[] };

const SERVER_DATABASES = 'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname';

/** Refuses, before any database is asked, several databases for a plain stream, which has room for one dump. */
export async function databasePlan(flags: SourceFlags, toRepository: boolean, run: { readonly signal: AbortSignal; readonly log: Logger }): Promise<DatabasePlan> {
  const given = flags.database ?? [];
  const mode = flags.mode ?? defaultMode(flags.scwInstance);
  if ((flags.allDatabases || given.length > 1) && !toRepository) {
    throw new CopycatError('OPTION_INVALID', `${flags.allDatabases ? '--all-databases' : 'several --database'} need a repository (s3://BUCKET/PREFIX or file:DIR), ` +
      'where each database gets its own PREFIX/DBNAME/: a plain stream holds one dump');
  }
  if (!flags.allDatabases) {
    if (given.length <= 1) return { perDatabase: false, ...(given.length ? { target: given[0] } : {}) };
    const named = given.map((target) => ({ name: mode === 'pgdump' ? databaseTarget(target).database! : scalewayDatabaseName(mode, target), target }));
    const seen = new Set<string>();
    for (const { name } of named) {
      if (seen.has(name)) throw new CopycatError('OPTION_INVALID', `--database names the database "${name}" twice: each database is backed up once, under its own PREFIX/DBNAME/ — give it once`);
      seen.add(name);
    }
    return { perDatabase: true, databases: named };
  }
  if (given.length > 1) {
    throw new CopycatError('OPTION_INVALID', '--all-databases takes at most one --database: the database (or connection string) the others are listed from — drop the others');
  }
  let names: string[];
  if (mode === 'pgdump') {
    names = await serverDatabases(given[0]);
  } else {
    const { instanceDatabases } = await import('../sources/scaleway/source.js');
    names = await instanceDatabases({ instanceId: flags.scwInstance! }, run);
  }
  run.log.log('info', 'backup.databases', { databases: names, count: names.length });
  if (!names.length) throw new CopycatError('NO_DATABASES', '--all-databases found no database to back up (templates and databases that refuse connections are skipped): check the server, or name databases with --database');
  // A connection string's other parts (host, user, password, sslmode…) reach every database's dump.
  return { perDatabase: true, databases: names.map((name) => ({ name, target: mode === 'pgdump' ? withDatabase(given[0], name) : name })) };
}

/** Every database of the server that accepts connections, templates excepted, listed from `value`'s database (else postgres). */
async function serverDatabases(value: string | undefined): Promise<string[]> {
  const target = databaseTarget(value);
  const from = target.database ?? 'postgres';
  try {
    return (await queryOnce<{ datname: string }>(libpqEnv(target.env), SERVER_DATABASES, from)).map((r) => r.datname);
  } catch (err) {
    throw new CopycatError('DATABASES_UNLISTED', `--all-databases could not list the server's databases (connected to database "${from}"): ` +
      `${describeError(err)} — check the connection settings, or name the databases with --database`, { cause: err });
  }
}
