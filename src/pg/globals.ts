import { CopycatError } from '../errors.js';
import type { Logger } from '../log.js';
import { ChildOutput, type ChildSpec } from './child.js';
import { databaseTarget, isConnectionString } from './conninfo.js';

/** How to reach the server whose roles, memberships and tablespaces a backup takes along with its database. */
export interface GlobalsSettings {
  /** The dumped database or a libpq connection string (as pg_dump's); pg_dumpall connects to that database. */
  readonly database?: string;
  /** libpq variables on top of the process environment. */
  readonly env?: Record<string, string>;
  /** The pg_dumpall binary; defaults to the one on PATH. */
  readonly command?: string;
}

/** The globals as pg_dumpall wrote them, and whether they hold the roles' passwords. */
export interface DumpedGlobals {
  readonly sql: Buffer;
  readonly rolePasswords: boolean;
}

const PASSWORDS_REFUSED = 'ROLE_PASSWORDS_REFUSED';

/**
 * `pg_dumpall --globals-only`, read whole (a few KiB: one statement per role, membership and tablespace). Where the
 * server refuses to show role passwords (managed services do not let anyone read pg_authid), the dump is taken again
 * with --no-role-passwords, and the log says so: restored roles then need their passwords set again.
 */
export async function dumpGlobals(settings: GlobalsSettings, log: Logger, signal: AbortSignal): Promise<DumpedGlobals> {
  try {
    return { sql: await readAll(globalsProgram(settings, []), signal), rolePasswords: true };
  } catch (err) {
    if (!(err instanceof CopycatError && err.code === PASSWORDS_REFUSED)) throw err;
    log.log('warn', 'globals.no-role-passwords', {
      reason: `${err.message}: the globals are dumped with --no-role-passwords, so restored roles have no password (set them with ALTER ROLE … PASSWORD)`,
    });
    return { sql: await readAll(globalsProgram(settings, ['--no-role-passwords']), signal), rolePasswords: false };
  }
}

function globalsProgram(settings: GlobalsSettings, extraArgs: readonly string[]): ChildSpec {
  // As pg_dump: the connection reaches the child only as PG* variables, the password as PGPASSWORD.
  const target = databaseTarget(settings.database, settings.env);
  // pg_dumpall re-parses -l as a connection string; a plain name is passed, anything else leaves pg_dumpall's default.
  const connectTo = target.database && !isConnectionString(target.database) ? [`--database=${target.database}`] : [];
  return {
    name: 'pg_dumpall',
    command: settings.command ?? 'pg_dumpall',
    args: ['--globals-only', ...connectTo, ...extraArgs],
    env: target.env,
    explain: (stderr) => {
      const refused = /permission denied for (table|relation) pg_authid/.exec(stderr);
      return refused ? new CopycatError(PASSWORDS_REFUSED, `the server refused to show role passwords (${refused[0]})`) : undefined;
    },
  };
}

async function readAll(spec: ChildSpec, signal: AbortSignal): Promise<Buffer> {
  signal.throwIfAborted();
  const out = new ChildOutput(spec);
  const stop = (): void => void out.destroy(signal.reason as Error);
  signal.addEventListener('abort', stop, { once: true });
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of out) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } finally {
    signal.removeEventListener('abort', stop);
  }
}
