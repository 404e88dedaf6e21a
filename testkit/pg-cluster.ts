import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** A throwaway PostgreSQL server: its own initdb'd data directory on a free loopback port. */
export interface PgCluster {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** libpq variables for child processes (pg_dump, pg_restore, psql, copycat-db itself). */
  readonly env: Record<string, string>;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, database?: string): Promise<R[]>;
  createDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

export const PASSWORD = 'copycat-test-password';

export function pgBinDir(): string {
  if (process.env.PG_BINDIR) return process.env.PG_BINDIR;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin');
  throw new Error('no PostgreSQL server binaries found: install postgresql-15 (or set PG_BINDIR)');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** initdb refuses to run as root, so as root the server runs as the `postgres` system user. */
function serverIdentity(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

function run(cmd: string, args: string[], id: { uid?: number; gid?: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...id, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${stderr}`))));
  });
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** At exit, servers still running are stopped at once (SIGQUIT: immediate shutdown, their own children too). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const server of live) server.kill('SIGQUIT');
  });
}

export async function startPgCluster(): Promise<PgCluster> {
  const bin = pgBinDir();
  const id = serverIdentity();
  const dir = mkdtempSync(join(tmpdir(), 'copycat-pg-'));
  if (id.uid !== undefined) chownSync(dir, id.uid, id.gid!);
  const dataDir = join(dir, 'data');
  const pwFile = join(dir, 'pw');
  writeFileSync(pwFile, PASSWORD);
  if (id.uid !== undefined) chownSync(pwFile, id.uid, id.gid!);
  await run(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', `--pwfile=${pwFile}`, '--auth-host=scram-sha-256',
    '--auth-local=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], id);
  const port = await freePort();
  const server: ChildProcess = spawn(join(bin, 'postgres'), ['-D', dataDir, '-p', String(port), '-k', dir,
    '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
    '-c', 'max_connections=50', '-c', 'shared_buffers=64MB'], { ...id, stdio: ['ignore', 'ignore', 'pipe'] });
  let serverLog = '';
  server.stderr!.on('data', (d) => (serverLog = (serverLog + d).slice(-8000)));
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  // A server must never keep a test process alive: when a before() hook fails after this one started (a sibling
  // server that did not boot), nothing would ever stop it, and the test file would hang for ever. Unreferenced, it
  // lets the process end; the exit hook then stops it.
  server.unref();
  (server.stderr as Socket).unref();
  live.add(server);
  installExitHook();
  void exited.then(() => live.delete(server));

  const env = { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGPASSWORD: PASSWORD };
  const connect = async (database: string) => {
    const client = new pg.Client({ host: env.PGHOST, port, user: 'postgres', password: PASSWORD, database });
    await client.connect();
    return client;
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      (await connect('postgres')).end();
      break;
    } catch (err) {
      if (server.exitCode !== null || Date.now() > deadline) {
        server.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`test PostgreSQL did not start: ${String(err)}\n${serverLog}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const query = async <R extends pg.QueryResultRow>(sql: string, database = 'postgres'): Promise<R[]> => {
    const client = await connect(database);
    try {
      return (await client.query<R>(sql)).rows;
    } finally {
      await client.end();
    }
  };
  return {
    host: env.PGHOST,
    port,
    user: 'postgres',
    password: PASSWORD,
    env,
    query,
    async createDatabase(name) {
      await query(`CREATE DATABASE "${name}"`);
    },
    async stop() {
      if (server.exitCode === null) {
        server.kill('SIGINT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
