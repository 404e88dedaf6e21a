import pg from 'pg';

/** libpq settings as child processes see them: the caller's environment with explicit overrides on top. */
export function libpqEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { ...process.env, ...overrides };
}

/**
 * A `pg` client configured from the same libpq variables pg_dump would use, so both reach the same server.
 * `connectTimeoutMs` bounds the connect (pg's own has none: a host that never answers holds the socket for minutes).
 */
export function pgClient(env: Record<string, string | undefined>, database?: string, connectTimeoutMs?: number): pg.Client {
  return new pg.Client({
    ...(connectTimeoutMs ? { connectionTimeoutMillis: connectTimeoutMs } : {}),
    // hostaddr is where libpq connects when both are set (host then only names the server for TLS and .pgpass).
    host: env.PGHOSTADDR || env.PGHOST,
    port: env.PGPORT ? Number(env.PGPORT) : undefined,
    user: env.PGUSER,
    password: env.PGPASSWORD,
    database: database ?? env.PGDATABASE,
    ssl: env.PGSSLMODE && !['disable', 'allow', 'prefer'].includes(env.PGSSLMODE) ? { rejectUnauthorized: false } : undefined,
  });
}

/** Runs one query on a short-lived connection. */
export async function queryOnce<R extends pg.QueryResultRow>(
  env: Record<string, string | undefined>, sql: string, database?: string, values?: unknown[],
): Promise<R[]> {
  const client = pgClient(env, database);
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}
