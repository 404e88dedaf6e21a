import { CopycatError } from '../errors.js';
import type { Logger } from '../log.js';
import { libpqEnv, pgClient } from './client.js';

/** The server the globals go to: any database of it (roles and tablespaces are the whole server's). */
export interface GlobalsTarget {
  readonly database: string;
  readonly env?: Record<string, string>;
}

/**
 * Applies `pg_dumpall --globals-only` output to a server, statement by statement, stopping at the first error. Roles
 * that already exist there are left exactly as they are — their CREATE, ALTER (attributes, password, settings),
 * COMMENT and SECURITY LABEL statements are skipped — and each is reported as a warning: a restore never changes the
 * password of an account it did not create (the restoring superuser's own included). Memberships and tablespaces
 * are applied as written. Statements go through the protocol, not psql, so no meta-command (`\!`) can run.
 */
export async function applyGlobals(sql: string, target: GlobalsTarget, log: Logger, signal?: AbortSignal): Promise<{ applied: number; existingRoles: string[] }> {
  const statements = splitStatements(sql);
  const client = pgClient(libpqEnv(target.env), target.database);
  await client.connect();
  try {
    const existing = new Set((await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname));
    const skipped = new Set<string>();
    const run = statements.filter((statement) => {
      const role = roleOf(statement);
      if (role === undefined || !existing.has(role)) return true;
      skipped.add(role);
      return false;
    });
    for (const role of skipped) {
      log.log('warn', 'globals.role-exists', { role, reason: 'the role exists on the server: left as it is (attributes, password, settings unchanged)' });
    }
    for (const [i, statement] of run.entries()) {
      signal?.throwIfAborted();
      try {
        await client.query(statement);
      } catch (err) {
        // Three words name the statement; the rest may hold a password hash.
        const what = /^\S+(\s+\S+){0,2}/.exec(statement)![0];
        throw new CopycatError('GLOBALS_FAILED', `applying the backup's globals failed at statement ${i + 1} of ${run.length} (${what} …): ` +
          `${(err as Error).message} — the database itself was not restored; fix the server (or restore without --globals)`, { cause: err });
      }
    }
    return { applied: run.length, existingRoles: [...skipped] };
  } finally {
    await client.end().catch(() => {});
  }
}

/** The role a statement of pg_dumpall's Roles section is about: CREATE ROLE, ALTER ROLE, COMMENT ON ROLE, SECURITY LABEL … ON ROLE. */
function roleOf(statement: string): string | undefined {
  const m = /^(?:CREATE ROLE|ALTER ROLE|COMMENT ON ROLE|SECURITY LABEL FOR \S+ ON ROLE)\s+("(?:[^"]|"")*"|[^\s;"]+)/.exec(statement);
  if (!m) return undefined;
  const name = m[1]!;
  return name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name;
}

/**
 * SQL as pg_dumpall writes it, split into statements: `;` ends one outside '…' and "…" (doubled quotes inside) and --
 * comments, which are dropped between statements. pg_dumpall's own `\restrict`/`\unrestrict` lines are dropped; any
 * other psql meta-command is refused, since pg_dumpall writes none.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let begin = -1; // where the current statement's first character is; -1 between statements
  let i = 0;
  const skipQuoted = (quote: string): void => {
    for (i++; i < sql.length; i++) {
      if (sql[i] !== quote) continue;
      if (sql[i + 1] === quote) i++;
      else return;
    }
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
      continue;
    }
    if (begin < 0) {
      if (/\s/.test(c)) {
        i++;
        continue;
      }
      if (c === '\\') {
        const nl = sql.indexOf('\n', i);
        const line = sql.slice(i, nl < 0 ? sql.length : nl).trim();
        if (!/^\\(un)?restrict [A-Za-z0-9]+$/.test(line)) {
          throw new CopycatError('GLOBALS_INVALID', `the backup's globals hold a psql meta-command (${line.slice(0, 12)}…), which pg_dumpall never writes: ` +
            'they were not written by copycat-db — restore another backup');
        }
        i = nl < 0 ? sql.length : nl + 1;
        continue;
      }
      begin = i;
    }
    if (c === "'" || c === '"') skipQuoted(c);
    else if (c === ';') {
      statements.push(sql.slice(begin, i + 1));
      begin = -1;
    }
    i++;
  }
  if (begin >= 0) statements.push(sql.slice(begin));
  return statements;
}
