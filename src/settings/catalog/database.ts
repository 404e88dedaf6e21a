/**
 * The database side: what to dump or restore into, libpq's own variables (pg_dump, pg_restore and psql read them) and
 * where those programs are.
 */
import { isDirectory, isOneOf, wholeNumber } from '../values.js';
import { list, type RunFacts, type Setting } from '../setting.js';
import { neededByMode } from './scaleway.js';

const libpq = (run: RunFacts) => run.libpq;
const LIBPQ_COMMANDS = ['backup', 'restore', 'verify'] as const;
const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

const byMode = neededByMode('database');

export const DATABASE: Setting<string[]> = {
  env: 'PGDATABASE',
  holds: 'the database to dump',
  help: 'database to dump, or a libpq connection string (URI or key=value; its password reaches pg_dump only as ' +
    'PGPASSWORD); libpq variables PGHOST, PGPORT, PGUSER, PGPASSWORD apply; with a Scaleway mode, the RDB database; ' +
    'repeatable: several back up one after another, each under PREFIX/DBNAME/; with --all-databases, the database to list them from',
  defaultDoc: 'the user name',
  commands: ['backup'],
  flag: '-d, --database <name>',
  repeatable: true,
  required: { doc: `${byMode.doc}, unless --all-databases`, when: (run) => (run.allDatabases ? undefined : byMode.when(run)) },
};

export const ALL_DATABASES: Setting<boolean> = {
  env: 'COPYCAT_ALL_DATABASES',
  holds: 'back up every database that accepts connections, templates excepted (with a Scaleway mode: every database of ' +
    'the instance), one after another, each under PREFIX/DBNAME/',
  defaultDoc: 'false',
  commands: ['backup'],
  flag: '--all-databases',
};

export const TO_DATABASE: Setting<string> = {
  holds: 'database to restore into, or a libpq connection string (with --create: the database to connect to first)',
  commands: ['restore'],
  flag: '--to-database <name>',
  required: 'flag',
};

export const CREATE: Setting<boolean> = {
  holds: 'create the dumped database (pg_restore --create) instead of restoring into an existing one',
  commands: ['restore'],
  flag: '--create',
};

export const KEEP_OWNERS: Setting<boolean> = {
  holds: 'keep the dump\'s owners and grants (custom format; the roles must exist) instead of --no-owner --no-privileges',
  commands: ['restore'],
  flag: '--keep-owners',
};

const GLOBALS_HOLDS = 'the server\'s roles, memberships and tablespaces (pg_dumpall --globals-only), beside the database';

export const BACKUP_GLOBALS: Setting<boolean> = {
  env: 'COPYCAT_GLOBALS',
  holds: GLOBALS_HOLDS,
  help: 'also store the server\'s roles, memberships and tablespaces (pg_dumpall --globals-only) in the backup, locked and encrypted like it (a repository only)',
  defaultDoc: 'false',
  commands: ['backup'],
  flag: '--globals',
};

/** Restore's own, without a variable: an environment file shared with backups must never apply roles to a server. */
export const RESTORE_GLOBALS: Setting<boolean> = {
  holds: GLOBALS_HOLDS,
  help: 'first apply the backup\'s roles, memberships and tablespaces to the server (existing roles are left as they are, with a warning); with --keep-owners, owners and grants then restore too',
  commands: ['restore'],
  flag: '--globals',
};

const SELECTIVE = 'custom-format backups only, as pg_restore selects it; repeatable';

export const TABLE: Setting<string[]> = {
  holds: `restore only this table (and its data), ${SELECTIVE}`,
  commands: ['restore'],
  flag: '--table <name>',
  repeatable: true,
};

export const SCHEMA: Setting<string[]> = {
  holds: `restore only the objects of this schema, ${SELECTIVE}`,
  commands: ['restore'],
  flag: '--schema <name>',
  repeatable: true,
};

export const EXCLUDE_SCHEMA: Setting<string[]> = {
  holds: `do not restore the objects of this schema, ${SELECTIVE}`,
  commands: ['restore'],
  flag: '--exclude-schema <name>',
  repeatable: true,
};

export const EXCLUDE_TABLE: Setting<string[]> = {
  holds: 'do not restore this table (table, or schema.table) nor anything that depends on it (its data, indexes, ' +
    'constraints, triggers, views over it, foreign keys into it); read from the backup\'s table of contents, custom ' +
    'format from a repository only; repeatable',
  commands: ['restore'],
  flag: '--exclude-table <name>',
  repeatable: true,
};

export const USE_LIST: Setting<string> = {
  holds: 'restore only the entries of this table of contents (pg_restore --list output, edited; custom format only)',
  commands: ['restore'],
  flag: '--use-list <path>',
};

export const FORMAT: Setting<'custom' | 'plain' | 'parallel'> = {
  env: 'COPYCAT_FORMAT',
  holds: 'pg_dump archive format, or parallel: a snapshot-consistent dump read by --jobs connections, restored in parallel',
  commands: ['backup'],
  flag: '--format <format>',
  choices: ['custom', 'plain', 'parallel'],
  default: 'custom',
};

export const JOBS: Setting<number> = {
  env: 'COPYCAT_JOBS',
  holds: 'connections at once',
  commands: ['backup', 'restore'],
  flag: '--jobs <n>',
  parse: wholeNumber(1, 64),
  variants: {
    backup: { help: 'parallel format: connections reading tables at once', defaultDoc: '2' },
    restore: {
      help: 'parallel-format backups: pg_restore -j for indexes and constraints (table data always loads over as many ' +
        'connections as the backup read it with)',
      defaultDoc: "the backup's --jobs",
    },
  },
};

export const PGHOST: Setting<string> = { env: 'PGHOST', holds: 'the PostgreSQL host', defaultDoc: "libpq's (the local socket)", commands: LIBPQ_COMMANDS };

export const PGPORT: Setting<string> = {
  env: 'PGPORT',
  holds: 'the PostgreSQL port (1-65535)',
  defaultDoc: '5432',
  commands: LIBPQ_COMMANDS,
  applies: libpq,
  check: (port, _run, holds) => (/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535 ? undefined : `"${port}" is not a port number — ${holds}`),
};

export const PGUSER: Setting<string> = { env: 'PGUSER', holds: 'the PostgreSQL user', defaultDoc: 'the OS user', commands: LIBPQ_COMMANDS };

export const PGPASSWORD: Setting<string> = {
  env: 'PGPASSWORD', holds: 'the PostgreSQL password', defaultDoc: 'none (or ~/.pgpass)', commands: LIBPQ_COMMANDS, secret: true,
};

export const PGSSLMODE: Setting<string> = {
  env: 'PGSSLMODE',
  holds: list(SSL_MODES),
  defaultDoc: 'prefer',
  commands: LIBPQ_COMMANDS,
  applies: libpq,
  check: isOneOf(SSL_MODES, 'an sslmode'),
};

export const PG_BIN_DIR: Setting<string> = {
  env: 'COPYCAT_PG_BIN_DIR',
  holds: 'the directory of the pg_dump, pg_restore and psql to run, e.g. /usr/lib/postgresql/17/bin',
  help: 'the directory of the pg_dump, pg_restore and psql to run, e.g. /usr/lib/postgresql/17/bin (still refused when ' +
    'older than the server, or than the archive to restore)',
  defaultDoc: 'the newest of /usr/lib/postgresql/*/bin and PATH',
  commands: LIBPQ_COMMANDS,
  flag: '--pg-bin-dir <dir>',
  check: (dir, _run, holds) => (isDirectory(dir) ? undefined : `${dir} is not a directory — ${holds}`),
};
