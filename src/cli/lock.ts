import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isWritableDir } from '../settings/values.js';
import { CopycatError } from '../errors.js';

/** What a lock file holds: enough to name the holder in the refusal and to tell whether it is still alive. */
export interface LockInfo {
  readonly pid: number;
  /** Kernel start time of the process (/proc/PID/stat field 22), so a recycled pid is not mistaken for the holder. */
  readonly pidStart?: string;
  readonly since: string;
  readonly command: string;
  readonly destination: string;
  readonly host: string;
  readonly nonce: string;
}

export interface DestinationLock {
  readonly path: string;
  release(): Promise<void>;
}

export interface LockOptions {
  readonly command: string;
  /** Normalised location text (s3://bucket/prefix, file:/abs/path), used for the hash and the message. */
  readonly destination: string;
  readonly env?: Record<string, string | undefined>;
  /** Called when a lock left by a dead process is taken over. */
  readonly onStale?: (holder: LockInfo | undefined) => void;
}

/**
 * Where lock files live: COPYCAT_LOCK_DIR; else /run/copycat-db when it exists and is writable (the systemd unit's
 * RuntimeDirectory, shared by the timer's runs and an operator's manual run); else $XDG_RUNTIME_DIR/copycat-db;
 * else a per-user directory under os.tmpdir().
 */
export function lockDir(env: Record<string, string | undefined> = process.env): string {
  if (env.COPYCAT_LOCK_DIR) return env.COPYCAT_LOCK_DIR;
  const candidates = ['/run/copycat-db', env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'copycat-db') : undefined];
  for (const dir of candidates) {
    if (dir && isWritableDir(dir)) return dir;
  }
  if (env.XDG_RUNTIME_DIR && isWritableDir(env.XDG_RUNTIME_DIR)) return join(env.XDG_RUNTIME_DIR, 'copycat-db');
  return join(tmpdir(), `copycat-db-${process.getuid?.() ?? 'user'}`);
}

/** A shared directory someone else created (e.g. a planted /tmp/copycat-db-0) would let them fake locks: refuse it. */
function ensureOwnDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    const uid = process.getuid?.();
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    // Only the shared temporary directory is open to others; /run and explicit directories are the admin's.
    if (uid !== undefined && dir.startsWith(tmpdir()) && st.uid !== uid) {
      throw Object.assign(new Error('owned by another user'), { code: 'EPERM (owned by another user)' });
    }
  } catch (err) {
    throw lockError(err, dir);
  }
}

export function lockPath(destination: string, env?: Record<string, string | undefined>): string {
  const hash = createHash('sha256').update(destination).digest('hex').slice(0, 24);
  return join(lockDir(env), `${hash}.lock`);
}

/**
 * One run per destination: the lock file is created with O_EXCL (`wx`) and holds the pid. A second run is refused
 * while the holder is alive; a lock whose process is gone (crash, SIGKILL, reboot without tmpfs) is taken over.
 * Released on exit, only if the file is still ours. Two runs that find the same stale lock at the same instant could
 * in theory both take it over; for a scheduled job plus the odd manual run that window is negligible.
 */
export async function acquireLock(opts: LockOptions): Promise<DestinationLock> {
  const path = lockPath(opts.destination, opts.env);
  ensureOwnDir(dirname(path));
  const info: LockInfo = {
    pid: process.pid,
    pidStart: processStart(process.pid),
    since: new Date().toISOString(),
    command: opts.command,
    destination: opts.destination,
    host: hostname(),
    nonce: randomBytes(8).toString('hex'),
  };
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      // Readable by all (the directory is private): a run as another user can still name the holder.
      const handle = await open(path, 'wx', 0o644);
      try {
        await handle.writeFile(JSON.stringify(info) + '\n');
      } finally {
        await handle.close();
      }
      return { path, release: () => releaseLock(path, info.nonce) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw lockError(err, path);
    }
    const holder = await readHolder(path);
    if (holder === 'gone') continue;
    if (holder === 'young') {
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    if (typeof holder === 'object' && isAlive(holder)) {
      throw new CopycatError('ALREADY_RUNNING',
        `another copycat-db ${holder.command} ${holder.command === 'backup' ? 'to' : 'of'} ${holder.destination} is running ` +
          `(pid ${holder.pid}${holder.host !== hostname() ? ` on ${holder.host}` : ''}, since ${holder.since}): wait for it or stop it` +
          ` (lock file ${path})`);
    }
    if (typeof holder === 'string' && holder !== 'garbage') {
      throw new CopycatError('LOCK_FAILED', `the lock file ${path} exists and cannot be read (${holder}): another copycat-db run, ` +
        'perhaps as another user, may be using this destination — wait for it, or remove the file if no run is active');
    }
    opts.onStale?.(typeof holder === 'object' ? holder : undefined);
    await unlink(path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw lockError(e, path);
    });
  }
  throw new CopycatError('LOCK_FAILED', `could not take the lock file ${path}: it keeps changing — another copycat-db run is starting on this destination`);
}

/** The holder, or: gone (removed meanwhile), young (empty, just created), garbage (not ours / torn), or a read error code. */
async function readHolder(path: string): Promise<LockInfo | 'gone' | 'young' | 'garbage' | string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'gone' : code ?? String(err);
  }
  try {
    const info = JSON.parse(text) as LockInfo;
    if (Number.isInteger(info.pid) && info.pid > 0) return info;
  } catch {
    // fall through
  }
  try {
    // Empty or half-written a moment ago: its owner is between creating and filling it.
    if (Date.now() - statSync(path).mtimeMs < 1000) return 'young';
  } catch {
    return 'gone';
  }
  return 'garbage';
}

function isAlive(holder: LockInfo): boolean {
  if (holder.host !== hostname()) return true; // cannot check another machine's pid: never steal its lock
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = processStart(holder.pid);
  return !(holder.pidStart && start && start !== holder.pidStart);
}

/** The process's start time in clock ticks since boot (Linux); undefined elsewhere. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

async function releaseLock(path: string, nonce: string): Promise<void> {
  try {
    const current = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
    if (current.nonce === nonce) await unlink(path);
  } catch {
    // Already gone or replaced: not ours to remove.
  }
}

function lockError(err: unknown, path: string): CopycatError {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  return new CopycatError('LOCK_FAILED', `cannot create the lock file ${path}: ${code} — make its directory writable or set COPYCAT_LOCK_DIR`, { cause: err });
}
