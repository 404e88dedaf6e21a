import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { CopycatError } from '../errors.js';
import { ARCHIVE_HEAD_BYTES, customArchiveVersion, sniffArchiveFormat } from '../formats/archive.js';
import type { Logger } from '../log.js';
import { childEnvironment, PG_CLIENT_HINT } from '../pg/child.js';
import { choosePgProgram, pgRestoreNeed, type PgProgramSearch } from '../pg/programs.js';
import type { SinkStage } from '../stage.js';

/** One `TABLE DATA` entry of a custom-format archive's table of contents: `rest` is "schema name owner" as listed. */
export interface TocTableData {
  readonly rest: string;
}

export type TableOfContents =
  /** `listing`: pg_restore's own `--list --verbose` output, dependencies included (an edited copy is a --use-list file). */
  | { readonly format: 'custom'; readonly tableData: readonly TocTableData[]; readonly entries: number; readonly listing: string }
  | { readonly format: 'plain' };

/**
 * Reads a dump's table of contents from its first bytes: a custom-format archive starts with it, so
 * `pg_restore --list` reads it from a pipe and exits without the data. `onDone` fires as soon as it is known (the
 * caller then stops the run, so the rest of the object is never downloaded); a plain SQL dump has none.
 */
export function tableOfContentsSink(onDone: (toc: TableOfContents) => void, env?: Record<string, string>, programs?: PgProgramSearch): SinkStage {
  return {
    name: 'pg_restore --list',
    create: (ctx) => new TocWriter(onDone, ctx.log, env, programs),
  };
}

class TocWriter extends Writable {
  private head: Buffer[] = [];
  private headLength = 0;
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private finished = false;

  constructor(private readonly onDone: (toc: TableOfContents) => void, private readonly log: Logger,
    private readonly env?: Record<string, string>, private readonly programs?: PgProgramSearch) {
    super({ highWaterMark: 1 << 20 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.finished) return callback(); // the list is known; the run is being stopped
    if (this.child) return this.forward(chunk, callback);
    this.head.push(chunk);
    this.headLength += chunk.length;
    if (this.headLength < ARCHIVE_HEAD_BYTES) return callback();
    const head = Buffer.concat(this.head);
    this.head = [];
    if (sniffArchiveFormat(head) === 'plain') {
      this.finish({ format: 'plain' });
      return callback();
    }
    this.start(head).then(() => this.forward(head, callback), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.finished) return callback();
    if (!this.child) {
      if (this.headLength === 0) return callback(new CopycatError('BACKUP_EMPTY', 'the backup is empty: there is no table of contents'));
      this.finish({ format: 'plain' });
      return callback();
    }
    this.child.stdin!.end();
    this.exited!.then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    callback(err);
  }

  private finish(toc: TableOfContents): void {
    this.finished = true;
    this.onDone(toc);
  }

  private async start(head: Buffer): Promise<void> {
    const archive = customArchiveVersion(head);
    const pgRestore = await choosePgProgram('pg_restore', this.programs, archive && pgRestoreNeed(archive), this.log);
    if (this.destroyed) throw new CopycatError('ABORTED', 'the table of contents read was stopped');
    const child = (this.child = spawn(pgRestore.command, ['--list', '--verbose'], { env: childEnvironment(this.env), stdio: ['pipe', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4096)));
    // pg_restore stops reading once it has the list: EPIPE after that is expected, its exit status says how it went.
    child.stdin!.on('error', () => {});
    this.exited = new Promise<void>((resolve, reject) => {
      child.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT'
        ? new CopycatError('PROGRAM_MISSING', `pg_restore not found: ${PG_CLIENT_HINT}`, { cause: e })
        : e));
      child.once('close', (code, signal) => {
        if (code === 0) {
          this.finish(parseToc(out));
          resolve();
        } else if (!this.destroyed) {
          reject(new CopycatError('PROGRAM_FAILED', `pg_restore --list ${signal ? `was killed by ${signal}` : `exited with code ${code}`}: ` +
            `${err.trim().split('\n').slice(-2).join(' | ') || 'no message'}`));
        } else resolve();
      });
    });
    this.exited.catch((e: Error) => this.destroy(e));
  }

  private forward(chunk: Buffer, callback: (error?: Error | null) => void): void {
    const stdin = this.child!.stdin!;
    if (stdin.destroyed || stdin.writableEnded) return callback();
    if (stdin.write(chunk)) return callback();
    // Either pg_restore reads on, or it exits (having its list) and the run is stopped.
    const done = () => {
      stdin.off('drain', done);
      stdin.off('close', done);
      callback();
    };
    stdin.once('drain', done);
    stdin.once('close', done);
  }
}

/** `3365; 0 16403 TABLE DATA billing invoices postgres` → the part after the description. */
export function parseToc(listing: string): TableOfContents {
  const tableData: TocTableData[] = [];
  let entries = 0;
  for (const line of listing.split('\n')) {
    if (!/^\d+;/.test(line)) continue;
    entries++;
    const m = /^\d+; \d+ \d+ TABLE DATA (.*)$/.exec(line);
    if (m) tableData.push({ rest: m[1]! });
  }
  return { format: 'custom', tableData, entries, listing };
}
