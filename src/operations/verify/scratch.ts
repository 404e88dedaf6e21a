import type pg from 'pg';
import { CopycatError, describeError } from '../../errors.js';
import { pgClient } from '../../pg/client.js';
import { quoteIdent, quoteLiteral } from '../../pg/quote.js';

/** The start of the comment on every database verify creates: `--replace` drops only databases that carry it. */
const SCRATCH_COMMENT = 'copycat-db verify scratch database';

/** copycat_verify_<id>, lower case, `_` for anything else: a name that needs no quoting. */
export function scratchDatabaseName(backupId: string): string {
  return `copycat_verify_${backupId.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
}

/** Refused before anything exists: PostgreSQL would shorten a long name, and a system database must never be dropped. */
export function checkScratchName(name: string, maintenance: string): void {
  if (!name || Buffer.byteLength(name) > 63) {
    throw new CopycatError('OPTION_INVALID', `scratch database name "${name}" must be 1 to 63 bytes (PostgreSQL would silently shorten it)`);
  }
  if (['postgres', 'template0', 'template1', maintenance].includes(name)) {
    throw new CopycatError('OPTION_INVALID', `"${name}" cannot be the scratch database: choose a name of its own (--scratch-database)`);
  }
}

/**
 * Creates the scratch database from template0 and marks it with a comment. An existing database of that name is
 * never reused; with `replace` it is dropped first, but only when its comment shows verify made it.
 */
export async function createScratch(server: Record<string, string | undefined>, maintenance: string, name: string, id: string, replace: boolean): Promise<void> {
  const admin = pgClient(server, maintenance);
  admin.on('error', () => {});
  try {
    await admin.connect();
  } catch (err) {
    throw new CopycatError('SCRATCH_SERVER', `cannot connect to the scratch server's ${maintenance} database: ${describeError(err)} — set PGHOST, PGPORT, PGUSER, PGPASSWORD (or --maintenance-database)`, { cause: err });
  }
  try {
    const { rows } = await admin.query<{ comment: string | null }>(
      `SELECT pg_catalog.shobj_description(oid, 'pg_database') AS comment FROM pg_catalog.pg_database WHERE datname = $1`, [name]);
    if (rows.length) {
      const ours = rows[0]!.comment?.startsWith(SCRATCH_COMMENT) ?? false;
      if (!replace || !ours) {
        throw new CopycatError('SCRATCH_EXISTS', `database ${name} already exists: verify never reuses a database, and drops only those it made — ` +
          (ours ? 'pass --replace to drop this earlier scratch copy, or choose another --scratch-database'
            : 'it was not made by copycat-db verify, so choose another --scratch-database'));
      }
      await admin.query(`DROP DATABASE ${quoteIdent(name)}${await forceClause(admin)}`);
    }
    try {
      await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`);
    } catch (err) {
      throw new CopycatError('SCRATCH_CREATE_FAILED', `cannot create the scratch database ${name}: ${describeError(err)} — the role needs CREATEDB`, { cause: err });
    }
    await admin.query(`COMMENT ON DATABASE ${quoteIdent(name)} IS ${quoteLiteral(`${SCRATCH_COMMENT} (backup ${id}, ${new Date().toISOString()})`)}`);
  } finally {
    await admin.end().catch(() => {});
  }
}

async function forceClause(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
  return Number(rows[0]!.v) >= 130000 ? ' WITH (FORCE)' : '';
}

export async function dropScratch(server: Record<string, string | undefined>, maintenance: string, name: string): Promise<void> {
  const admin = pgClient(server, maintenance);
  admin.on('error', () => {});
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}${await forceClause(admin)}`);
  } finally {
    await admin.end().catch(() => {});
  }
}
