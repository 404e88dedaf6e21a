import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { CopycatError } from '../errors.js';
import { writeOrDrain } from '../streams.js';

/** Where the PostgreSQL client of every major version comes from. */
export const PG_CLIENT_SOURCE = 'on Debian and Ubuntu from the PostgreSQL project\'s repository, apt.postgresql.org; ' +
  'the copycat-db Docker image has 13 to 18';

/** What to do when pg_dump, pg_restore or psql is missing: every PostgreSQL program comes from the same package. */
export const PG_CLIENT_HINT = `install the PostgreSQL client, postgresql-client-NN with NN at least the server's major version (${PG_CLIENT_SOURCE})`;

/** How to start one PostgreSQL program (pg_dump, pg_restore, psql); a missing one is reported with PG_CLIENT_HINT. */
export interface ChildSpec {
  /** Short name used in errors: "pg_dump failed: …". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Record<string, string | undefined>;
  /** Says what a failure means when the program's own words would mislead (PROGRAM_FAILED otherwise). */
  readonly explain?: (stderr: string) => CopycatError | undefined;
}

/**
 * Variables a PostgreSQL program may need: libpq's own (PG*), Kerberos for GSSAPI logins, locale and paths. Nothing
 * else of ours reaches a child: AWS and Scaleway secrets and the ping URL stay in this process, so a pg_dump that
 * crashes with a core dump, a `ps e` or a hook script never sees them.
 */
const CHILD_ENV = /^(PG[A-Z_]*|KRB5[A-Z_]*|PATH|HOME|USER|LOGNAME|LANG|LANGUAGE|LC_[A-Z]+|TZ|TMPDIR)$/;

/** The environment of a child: the allow-listed part of ours with the spec's own values on top (filtered the same way). */
export function childEnvironment(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...process.env, ...extra })) {
    if (value !== undefined && CHILD_ENV.test(name)) env[name] = value;
  }
  return env;
}

/** Every child still running, so a process that must exit at once (a second signal, a stuck shutdown) can kill them. */
const running = new Set<ChildProcess>();

/** SIGKILLs every child this process started that is still running; used only on the way out. */
export function killAllChildren(): void {
  for (const child of running) child.kill('SIGKILL');
}

const STDERR_TAIL = 4096;

/**
 * Both ends of a FIFO, or undefined where one cannot be made (no mkfifo, no writable temporary folder): then the child
 * writes into Node's usual socket pair. pg_dump writes its output 4 KiB at a time, and a socket costs the kernel more
 * per write than a pipe does (measured on 560 MB: pg_dump's system time 1.05 s into a FIFO, 1.40 s into the socket
 * pair; ours 0.15 s less). The FIFO is made in a private folder and unlinked once both ends are open, before the
 * child starts, so nothing is left on disk whatever happens next.
 */
function outputFifo(): { read: number; write: number } | undefined {
  let dir: string | undefined;
  try {
    dir = mkdtempSync(join(tmpdir(), 'copycat-fifo-'));
    const path = join(dir, 'out');
    execFileSync('mkfifo', ['-m', '600', path], { stdio: 'ignore' });
    // Non-blocking, the read end opens with no writer yet; the write end, opened next, stays blocking for the child.
    const read = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      return { read, write: openSync(path, constants.O_WRONLY) };
    } catch {
      closeSync(read);
      return undefined;
    }
  } catch {
    return undefined;
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A running child whose failure is described by its own stderr, because that is what the operator can act on
 * ("database "x" does not exist"), never by the EPIPE or SIGPIPE it causes elsewhere.
 */
class Child {
  readonly process: ChildProcess;
  /** What the program writes, when it is started for its output. */
  readonly output?: Readable;
  readonly exited: Promise<void>;
  private stderr = '';

  constructor(readonly spec: ChildSpec, direction: 'input' | 'output') {
    const env = childEnvironment(spec.env);
    if (direction === 'input') {
      this.process = spawn(spec.command, spec.args, { env, stdio: ['pipe', 'ignore', 'pipe'] });
    } else {
      const fifo = outputFifo();
      try {
        this.process = spawn(spec.command, spec.args, { env, stdio: ['ignore', fifo?.write ?? 'pipe', 'pipe'] });
      } catch (err) {
        if (fifo) closeSync(fifo.read);
        throw err;
      } finally {
        // The child holds its own copy: the read end sees EOF once the child (and anything it started) is gone.
        if (fifo) closeSync(fifo.write);
      }
      this.output = fifo ? new Socket({ fd: fifo.read, readable: true, writable: false }) : this.process.stdout!;
    }
    running.add(this.process);
    this.process.once('close', () => running.delete(this.process));
    this.process.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-STDERR_TAIL);
    });
    this.exited = new Promise((resolve, reject) => {
      this.process.once('error', (err: NodeJS.ErrnoException) => {
        reject(err.code === 'ENOENT'
          ? new CopycatError('PROGRAM_MISSING', `${spec.command} not found: ${PG_CLIENT_HINT}`, { cause: err })
          : err);
      });
      this.process.once('close', (code, signal) => {
        if (code === 0) resolve();
        else reject(this.failure(code, signal));
      });
    });
    // A rejection nobody awaits yet (the stream may already be gone) must not crash the process.
    this.exited.catch(() => {});
  }

  private failure(code: number | null, signal: NodeJS.Signals | null): CopycatError {
    const explained = this.spec.explain?.(this.stderr);
    if (explained) return explained;
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const lines = this.stderr.split('\n').map((l) => l.trim()).filter(Boolean);
    // pg_restore follows its error with the failing SQL; the error line is what names the problem.
    const errors = lines.filter((l) => /\b(error|fatal)\b/i.test(l));
    const chosen = errors.length ? errors.slice(-2) : lines.slice(-3);
    const said = chosen.length ? `: ${chosen.join(' | ')}` : '';
    return new CopycatError('PROGRAM_FAILED', `${this.spec.name} ${how}${said}`);
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** SIGTERM, then SIGKILL if the program has not exited within the grace period. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exited.catch(() => {});
    clearTimeout(timer);
  }
}

/** A program's stdout as a Readable that ends only after the program exited 0, and fails with its stderr otherwise. */
export class ChildOutput extends Readable {
  private child?: Child;

  constructor(private readonly spec: ChildSpec, highWaterMark = 1 << 20) {
    super({ highWaterMark });
  }

  override _construct(callback: (error?: Error | null) => void): void {
    const child = (this.child = new Child(this.spec, 'output'));
    const out = child.output!;
    out.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) out.pause();
    });
    out.once('end', () => child.exited.then(() => this.push(null), (err) => this.destroy(err)));
    child.exited.catch((err) => this.destroy(err));
    callback();
  }

  override _read(): void {
    this.child?.output!.resume();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    // The child's 'close' comes only once its stdout is closed too, and a paused pipe with unread bytes never closes.
    this.child?.output!.destroy();
    // 'close' waits for the child to be gone, so a failed run never leaves a dump or restore running.
    (this.child?.stop() ?? Promise.resolve()).then(() => callback(err));
  }
}

/**
 * How the bytes a restore program reads differ from the stream's. The program can commit only after it has read
 * what `end()` returns, and `end()` runs only in the writable's final step — after every upstream stage ended
 * cleanly, so after every digest, authentication tag and end-of-stream check passed. A failure or a signal at any
 * earlier point leaves the program without its last bytes: it rolls back, whether it is killed or sees EOF.
 */
export interface CommitGate {
  /** Bytes the program reads before the stream's. */
  start(): Buffer;
  /** The bytes to pass on for this chunk, in pieces so that nothing is copied; the gate may hold some back. */
  write(chunk: Buffer): readonly Buffer[];
  /** The held-back bytes and whatever lets the program commit; throws when the stream's end is not proven. */
  end(): Buffer;
}

/**
 * Holds back the stream's last `n` bytes (at least: whole chunks, so that nothing is copied and every write is a
 * whole chunk) until its end is verified. pg_restore reads a custom-format archive to its last byte (the end marker
 * of the last data block, or the end of the table of contents) before it runs the post-data steps and commits, so
 * without that byte it cannot commit. Holding whole chunks rather than splitting off the last n bytes of each spared a
 * copy and a separate n-byte write to the pipe per chunk (pg_restore woke for each).
 */
export function holdBackTail(n: number): CommitGate {
  const held: Buffer[] = [];
  let heldBytes = 0;
  return {
    start: () => Buffer.alloc(0),
    write(chunk) {
      held.push(chunk);
      heldBytes += chunk.length;
      const out: Buffer[] = [];
      while (held.length > 1 && heldBytes - held[0]!.length >= n) {
        const first = held.shift()!;
        heldBytes -= first.length;
        out.push(first);
      }
      return out;
    },
    end: () => Buffer.concat(held, heldBytes),
  };
}

/** A program's stdin as a Writable whose final step waits for the program to exit 0. */
export class ChildInput extends Writable {
  private child?: Child;

  constructor(private readonly spec: ChildSpec, private readonly gate?: CommitGate) {
    super({ highWaterMark: 1 << 20 });
  }

  override _construct(callback: (error?: Error | null) => void): void {
    const child = (this.child = new Child(this.spec, 'input'));
    // EPIPE only means the program stopped reading; its exit status says why.
    child.process.stdin!.on('error', (err) => child.exited.then(() => this.destroy(err), (exit) => this.destroy(exit)));
    child.exited.catch((err) => this.destroy(err));
    const start = this.gate?.start();
    if (start?.length) child.process.stdin!.write(start);
    callback();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const stdin = this.child!.process.stdin!;
    const out = (this.gate ? this.gate.write(chunk) : [chunk]).filter((b) => b.length > 0);
    if (out.length === 0) return callback();
    // Only the last write waits: the pieces are one chunk's worth, within the pipe's own buffering.
    for (const piece of out.slice(0, -1)) stdin.write(piece);
    writeOrDrain(stdin, out[out.length - 1]!, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    let last: Buffer | undefined;
    try {
      last = this.gate?.end();
    } catch (err) {
      return callback(err as Error);
    }
    this.child!.process.stdin!.end(last);
    this.child!.exited.then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    // 'close' waits for the child to be gone, so a failed run never leaves a dump or restore running.
    (this.child?.stop() ?? Promise.resolve()).then(() => callback(err));
  }
}
