import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { CopycatError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { ARCHIVE_HEAD_BYTES, customArchiveVersion } from '../../formats/archive.js';
import { ChildInput, ChildOutput, holdBackTail, type CommitGate } from '../../pg/child.js';
import { pgClient } from '../../pg/client.js';
import { choosePgProgram, pgRestoreNeed, type PgProgram, type PgProgramSearch } from '../../pg/programs.js';
import { qualifiedName, quoteIdent } from '../../pg/quote.js';
import { restoreSessionSql } from '../../pg/session.js';
import { planPostData, type PostDataPlan } from './post-data-plan.js';
import {
  FrameReader, FrameType, isJsonFrame, sectionOf,
  type ContainerHeader, type ContainerTable, type FramePiece, type SequenceValue, type TableEnd, type Trailer,
} from '../../formats/parallel-container.js';

export interface RestorePlan {
  readonly env: Record<string, string | undefined>;
  readonly childEnv?: Record<string, string>;
  /** Target database; with `create`, the database pg_restore connects to first. */
  readonly database: string;
  readonly create: boolean;
  /** pg_restore -j for the post-data archive; undefined: the container's jobs. */
  readonly jobs?: number;
  readonly args: readonly string[];
  /** Where pg_restore is looked for: one that reads the pre-data archive's format version. */
  readonly programs?: PgProgramSearch;
  readonly tempDir?: string;
  readonly log: Logger;
}

export interface RestoreReport {
  database?: string;
  copyConnections: number;
  postDataJobs?: number;
  tables: number;
  rows: number;
  bytes: number;
  sequences: number;
  largeObjects: number;
  /** Tables whose own indexes, constraints and triggers were built in their COPY transaction (container version 2). */
  builtWithData: number;
  /** Every table checked twice: the server's COPY row count against the dump's, the bytes received against the dump's. */
  verified: boolean;
  /** The version of the pg_restore that restores the schema. */
  pgRestore?: string;
}

interface Lane {
  readonly client: pg.Client;
  table?: TableState;
}

interface TableState {
  readonly def: ContainerTable;
  copy?: Writable & { rowCount: number };
  lane?: Lane;
  bytes: number;
  end?: TableEnd;
  done?: Promise<void>;
}

/** By sectionOf's numbers, which place the post-data archive at 3 (version 2) or 6 (version 1). */
const SECTION_NAMES = ['header', 'pre-data archive', 'sequences', 'post-data archive', 'table data', 'large objects', 'post-data archive', 'trailer'];

const BUILD_LOCK_TIMEOUT = '5min';

const invalid = (message: string) => new CopycatError('FRAME_INVALID', `the parallel dump is damaged: ${message}`);

/**
 * Reads the container and restores it as it arrives: the pre-data archive streams into pg_restore; each table's
 * frames stream into a `COPY … FROM STDIN` on one of up to `header.jobs` connections (a write waits while that
 * COPY's buffer is full, which pauses the whole input: simple, and bounded); large objects stream into pg_restore.
 * In a version-2 container the post-data archive (a small schema-only file in a private temporary directory) comes
 * before the data, and each table's own indexes, constraints and triggers are built on its connection, in its
 * transaction, once its data is in; a connection building them does not count against `header.jobs`, so up to
 * twice as many connections may be open. The COPY transactions commit only in the final step, after every upstream
 * stage ended cleanly; then what remains of the post-data archive (all of it in version 1; foreign keys and what
 * belongs to no single table in version 2) goes to `pg_restore -j N`.
 */
export class ParallelRestoreWriter extends Writable {
  private readonly reader = new FrameReader();
  private section = -1;
  private header?: ContainerHeader;
  private readonly tables = new Map<number, TableState>();
  private json: Buffer[] = [];
  private jsonLength = 0;
  private pgRestore?: PgProgram;
  /** The pre-data archive's first bytes, held until they say its format version: which pg_restore can read it. */
  private preDataHead = Buffer.alloc(0);
  private preData?: ChildInput;
  private largeObjects?: ChildInput;
  private post?: { dir: string; path: string; file: WriteStream };
  /** Version 2: which post-data entries each table's connection builds; the rest is restored after the commit. */
  private postPlan?: PostDataPlan;
  private readonly lanes: Lane[] = [];
  private sequences?: SequenceValue[];
  private trailer?: Trailer;
  private readonly clients = new Set<pg.Client>();
  private readonly children = new Set<Readable | Writable>();
  private tempDir?: string;

  constructor(private readonly plan: RestorePlan, private readonly report: RestoreReport) {
    super({ highWaterMark: 1 << 20 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.consume(chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.commit().then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    for (const t of this.tables.values()) if (t.copy && !t.copy.destroyed) t.copy.destroy();
    for (const child of this.children) child.destroy();
    const closing = [...this.clients].map((c) => c.end().catch(() => {}));
    const childrenClosed = [...this.children].map((c) => (c.closed ? undefined : new Promise<void>((r) => c.once('close', () => r()))));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((r) => (timer = setTimeout(r, 10_000)));
    Promise.race([Promise.all([...closing, ...childrenClosed]), grace])
      .then(() => this.removeTemp())
      .then(() => {
        clearTimeout(timer);
        callback(err);
      });
  }

  private get version(): number {
    return this.reader.version!;
  }

  private get tableSection(): number {
    return sectionOf(FrameType.TableData, this.version);
  }

  private get postSection(): number {
    return sectionOf(FrameType.PostData, this.version);
  }

  private get dataDatabase(): string {
    return this.plan.create ? this.header!.database : this.plan.database;
  }

  private async consume(chunk: Buffer): Promise<void> {
    for (const piece of this.reader.feed(chunk)) await this.onPiece(piece);
  }

  private async onPiece(piece: FramePiece): Promise<void> {
    if (this.trailer) throw new CopycatError('TRAILING_DATA', 'the parallel dump has bytes after its trailer: it is damaged or two streams were concatenated');
    if (piece.first) await this.enter(piece);
    if (isJsonFrame(piece.type)) {
      this.json.push(piece.data);
      this.jsonLength += piece.data.length;
      if (!piece.last) return;
      const text = Buffer.concat(this.json, this.jsonLength).toString('utf8');
      this.json = [];
      this.jsonLength = 0;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw invalid(`a ${FrameType[piece.type]} frame is not valid JSON`);
      }
      return this.onJson(piece, value);
    }
    if (piece.data.length === 0) return;
    switch (piece.type) {
      case FrameType.PreData: return this.preDataBytes(piece.data);
      case FrameType.LargeObjects: return writeTo(this.largeObjects!, piece.data);
      case FrameType.PostData: return writeTo(this.post!.file, piece.data);
      case FrameType.TableData: return this.tableData(piece.stream, piece.data);
      default: throw invalid(`unexpected frame type ${piece.type}`);
    }
  }

  /** Checks the frame's place in the section order and opens or closes whatever the section change needs. */
  private async enter(piece: FramePiece): Promise<void> {
    const next = sectionOf(piece.type, this.version);
    if (this.section === -1 && piece.type !== FrameType.Header) throw invalid('it does not start with a header frame');
    if (next < this.section || (next === this.section && next !== this.tableSection && isJsonFrame(piece.type))) {
      throw invalid(`a ${SECTION_NAMES[next]} frame follows the ${SECTION_NAMES[this.section]}`);
    }
    const isTable = piece.type === FrameType.TableData || piece.type === FrameType.TableEnd;
    if (!isTable && piece.stream !== 0) throw invalid(`a ${SECTION_NAMES[next]} frame has stream id ${piece.stream}, not 0`);
    if (next === this.section) return;
    await this.leave(this.section);
    if (next > 1 && !this.preData) throw invalid('it has no pre-data archive');
    this.section = next;
    // Large objects are data: their pg_restore gets its last byte, and so commits, only once the trailer was checked.
    if (next === sectionOf(FrameType.LargeObjects, this.version)) this.largeObjects = this.restoreProgram(['--single-transaction', `--dbname=${this.dataDatabase}`], undefined, holdBackTail(1));
    if (next === this.postSection) {
      this.tempDir = await mkdtemp(join(this.plan.tempDir ?? tmpdir(), 'copycat-postdata-'));
      if (this.destroyed) {
        await this.removeTemp(); // destroyed while the directory was being made: its cleanup has already run
        throw new CopycatError('ABORTED', 'the restore was stopped');
      }
      const path = join(this.tempDir, 'post-data.dump');
      const file = createWriteStream(path, { mode: 0o600 });
      file.on('error', (err) => this.destroy(err));
      this.post = { dir: this.tempDir, path, file };
    }
  }

  private async preDataBytes(data: Buffer): Promise<void> {
    if (this.preData) return writeTo(this.preData, data);
    this.preDataHead = Buffer.concat([this.preDataHead, data]);
    if (this.preDataHead.length >= ARCHIVE_HEAD_BYTES) await this.startPreData();
  }

  private async startPreData(): Promise<void> {
    const head = this.preDataHead;
    this.preDataHead = Buffer.alloc(0);
    // Every archive in the container comes from the same pg_dump: the pre-data archive's header speaks for all.
    const archive = customArchiveVersion(head);
    this.pgRestore = await choosePgProgram('pg_restore', this.plan.programs, archive && pgRestoreNeed(archive), this.plan.log);
    this.report.pgRestore = this.pgRestore.version.text;
    if (this.destroyed) throw new CopycatError('ABORTED', 'the restore was stopped'); // no program may outlive the cleanup
    this.preData = this.restoreProgram(this.plan.create
      ? ['--create', `--dbname=${this.plan.database}`]
      : ['--single-transaction', `--dbname=${this.plan.database}`]);
    await writeTo(this.preData, head);
  }

  private async leave(section: number): Promise<void> {
    if (section === 1 && !this.preData) await this.startPreData(); // an archive shorter than its header: pg_restore says what is wrong
    if (section === 1) await endAndWait(this.preData!);
    if (section === this.postSection) {
      await endAndWait(this.post!.file);
      if (this.version >= 2) {
        this.postPlan = await planPostData(this.post!.path, this.post!.dir, this.header!.tables, (args) => this.restoreOutput(args));
        this.plan.log.log('debug', 'parallel.restore.post-data', { tablesBuiltWithData: this.postPlan.byTable.size, restAfterCommit: Boolean(this.postPlan.rest) });
      }
    }
    if (section >= 0) this.plan.log.log('debug', 'parallel.restore.section', { done: SECTION_NAMES[section] });
  }

  private restoreProgram(args: string[], file?: string, gate?: CommitGate): ChildInput {
    const child = new ChildInput({
      name: 'pg_restore',
      command: this.pgRestore!.command,
      args: ['--no-owner', '--no-privileges', '--exit-on-error', ...args, ...this.plan.args, ...(file ? [file] : [])],
      env: this.plan.childEnv,
    }, gate);
    this.children.add(child);
    child.on('error', (err) => this.destroy(err));
    return child;
  }

  /** A pg_restore run that only reads an archive and prints (its list, or its SQL script). */
  private async restoreOutput(args: readonly string[]): Promise<string> {
    if (this.destroyed) throw new CopycatError('ABORTED', 'the restore was stopped');
    const child = new ChildOutput({
      name: 'pg_restore',
      command: this.pgRestore!.command,
      // Its SQL runs inside our transactions: a script with its own BEGIN and COMMIT would commit one early.
      args: ['--no-owner', '--no-privileges', ...this.plan.args.filter((a) => a !== '--single-transaction' && a !== '-1'), ...args],
      env: this.plan.childEnv,
    });
    this.children.add(child);
    try {
      const out: Buffer[] = [];
      for await (const chunk of child as AsyncIterable<Buffer>) out.push(chunk);
      return Buffer.concat(out).toString('utf8');
    } finally {
      this.children.delete(child);
    }
  }

  private async onJson(piece: FramePiece, value: unknown): Promise<void> {
    switch (piece.type) {
      case FrameType.Header: return this.onHeader(value as ContainerHeader);
      case FrameType.Sequences:
        if (!Array.isArray(value)) throw invalid('the sequences frame is not a list');
        this.sequences = value as SequenceValue[];
        this.report.sequences = this.sequences.length;
        return;
      case FrameType.TableEnd: return this.tableEnd(piece.stream, value as TableEnd);
      case FrameType.Trailer: return this.onTrailer(value as Trailer);
      default: throw invalid(`unexpected frame type ${piece.type}`);
    }
  }

  private onHeader(header: ContainerHeader): void {
    if (header?.formatVersion !== this.version) {
      throw invalid(`its header says format version ${String(header?.formatVersion)}, its preamble ${this.version}`);
    }
    if (header.copyFormat !== 'text' || !Array.isArray(header.tables) || !Number.isInteger(header.jobs) || header.jobs < 1) {
      throw invalid('its header is not one this copycat-db understands');
    }
    for (const def of header.tables) {
      if (this.tables.has(def.id) || def.id < 1) throw invalid(`table id ${def.id} is used twice or invalid`);
      this.tables.set(def.id, { def, bytes: 0 });
    }
    this.header = header;
    Object.assign(this.report, {
      database: this.dataDatabase,
      tables: header.tables.length,
      largeObjects: header.largeObjects,
      postDataJobs: this.plan.jobs ?? header.jobs,
    });
    this.plan.log.log('debug', 'parallel.restore.header', { database: header.database, tables: header.tables.length, jobs: header.jobs, snapshot: header.snapshot });
  }

  private table(stream: number): TableState {
    const t = this.tables.get(stream);
    if (!t) throw invalid(`stream id ${stream} names no table in the header`);
    if (t.end) throw invalid(`table ${qualifiedName(t.def)} has frames after its end`);
    return t;
  }

  private async tableData(stream: number, data: Buffer): Promise<void> {
    const t = this.table(stream);
    if (!t.copy) await this.startCopy(t);
    t.bytes += data.length;
    await writeTo(t.copy!, data);
  }

  private async startCopy(t: TableState): Promise<void> {
    if (this.lanes.filter((l) => l.table && !l.table.end).length >= this.header!.jobs) {
      throw invalid(`more than the ${this.header!.jobs} tables its header declares are open at once`);
    }
    const lane = await this.acquireLane();
    lane.table = t;
    t.lane = lane;
    const name = qualifiedName(t.def);
    const columns = t.def.columns.length ? ` (${t.def.columns.map(quoteIdent).join(', ')})` : '';
    const copy = lane.client.query(copyFrom(`COPY ${name}${columns} FROM STDIN`, { highWaterMark: 1 << 20 }));
    copy.on('error', (err) => this.destroy(new CopycatError('COPY_FAILED', `COPY ${name} FROM STDIN failed: ${err.message}`, { cause: err })));
    t.copy = copy;
  }

  /**
   * A connection for a table that starts now. The writer never has more than `header.jobs` tables open at once, so
   * if all connections are busy, some have ended their table and only wait for their server to finish it (its COPY,
   * and in version 2 its indexes: for those, up to `header.jobs` connections more may be opened).
   */
  private async acquireLane(): Promise<Lane> {
    const limit = this.header!.jobs * (this.version >= 2 ? 2 : 1);
    for (;;) {
      const idle = this.lanes.find((l) => !l.table);
      if (idle) return idle;
      if (this.lanes.length < limit) {
        const lane: Lane = { client: await this.connect(this.dataDatabase) };
        await lane.client.query(restoreSessionSql(this.header!.encoding));
        await lane.client.query('BEGIN');
        this.lanes.push(lane);
        this.report.copyConnections = this.lanes.length;
        return lane;
      }
      await Promise.race(this.lanes.flatMap((l) => (l.table?.done ? [l.table.done] : [])));
    }
  }

  private async connect(database: string): Promise<pg.Client> {
    const client = pgClient(this.plan.env, database);
    client.on('error', (err) => this.destroy(err));
    this.clients.add(client);
    await client.connect();
    return client;
  }

  private tableEnd(stream: number, end: TableEnd): void {
    const t = this.table(stream);
    if (!Number.isSafeInteger(end?.rows) || !Number.isSafeInteger(end?.bytes)) throw invalid(`the end frame of ${qualifiedName(t.def)} has no counts`);
    t.end = end;
    if (!t.copy) return this.verify(t, 0);
    const copy = t.copy;
    copy.end();
    t.done = finished(copy).then(async () => {
      this.verify(t, copy.rowCount);
      await this.buildTable(t.lane!.client, t);
      t.lane!.table = undefined;
    });
    t.done.catch((err: Error) => this.destroy(err));
  }

  /** The table's own post-data entries, in its COPY transaction: they commit with its data or not at all. */
  private async buildTable(client: pg.Client, t: TableState): Promise<void> {
    const sql = this.postPlan?.byTable.get(t.def.id);
    if (!sql) return;
    try {
      // Waiting for a lock another of our connections holds would wait for a commit that waits for this: a timeout
      // turns such a case (none is known: the backup lists only what touches this table alone) into an error.
      await client.query(`SET lock_timeout = '${BUILD_LOCK_TIMEOUT}'; ${sql}; SET lock_timeout = 0`);
      this.report.builtWithData++;
    } catch (err) {
      throw new CopycatError('POST_DATA_FAILED', `building the indexes and constraints of ${qualifiedName(t.def)} failed: ${(err as Error).message} — ` +
        'nothing was committed; fix that and restore again', { cause: err });
    }
  }

  private verify(t: TableState, serverRows: number): void {
    const end = t.end!;
    if (t.bytes !== end.bytes || serverRows !== end.rows) {
      throw new CopycatError('ROW_COUNT_MISMATCH', `table ${qualifiedName(t.def)}: the dump recorded ${end.rows} rows in ${end.bytes} bytes, ` +
        `the stream carried ${t.bytes} bytes and the server loaded ${serverRows} rows: the backup is damaged`);
    }
    this.report.rows += end.rows;
    this.report.bytes += end.bytes;
  }

  private onTrailer(trailer: Trailer): void {
    const missing = [...this.tables.values()].filter((t) => !t.end).map((t) => qualifiedName(t.def));
    if (missing.length) throw invalid(`the trailer comes before the end of ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}`);
    const ends = [...this.tables.values()].map((t) => t.end!);
    const rows = ends.reduce((n, e) => n + e.rows, 0);
    const bytes = ends.reduce((n, e) => n + e.bytes, 0);
    if (trailer?.tables !== this.tables.size || trailer.rows !== rows || trailer.bytes !== bytes) {
      throw invalid(`its trailer counts ${trailer?.tables} tables, ${trailer?.rows} rows, ${trailer?.bytes} bytes; its tables add up to ${this.tables.size}, ${rows}, ${bytes}`);
    }
    if (!this.sequences) throw invalid('it has no sequences frame');
    this.trailer = trailer;
  }

  /** Runs only after every upstream stage ended cleanly: commit the data, set sequences, then build indexes and constraints. */
  private async commit(): Promise<void> {
    if (!this.trailer) {
      if (this.section === -1 && this.reader.offset === 0) throw new CopycatError('BACKUP_EMPTY', 'the backup is empty: there is nothing to restore');
      throw new CopycatError('TRUNCATED', `the parallel dump ends ${this.reader.describePosition()}, ` +
        `in its ${SECTION_NAMES[Math.max(0, this.section)]}, before its trailer: it is truncated — nothing of its table data was committed`);
    }
    await Promise.all([...this.tables.values()].map((t) => t.done));
    const control = (this.lanes[0] ?? await this.acquireLane()).client;
    // Tables without data had no connection of their own: their indexes go into the first one's transaction.
    for (const t of this.tables.values()) if (!t.copy) await this.buildTable(control, t);
    for (const s of this.sequences!) {
      await control.query('SELECT pg_catalog.setval($1::regclass, $2::bigint, $3::boolean)', [qualifiedName(s), s.lastValue, s.isCalled]);
    }
    if (this.largeObjects) await endAndWait(this.largeObjects);
    for (const lane of this.lanes) await lane.client.query('COMMIT');
    this.plan.log.log('debug', 'parallel.restore.committed', { tables: this.tables.size, rows: this.report.rows, connections: this.lanes.length });
    await Promise.all([...this.clients].map(async (c) => {
      this.clients.delete(c);
      await c.end();
    }));
    // Version 1: the whole post-data archive; version 2: what no table's connection built, if anything.
    const rest = this.postPlan?.rest;
    if (this.post && (this.version === 1 || rest)) {
      const jobs = this.plan.jobs ?? this.header!.jobs;
      // pg_restore -j needs a seekable file, so the (schema-only) post-data archive was written to one.
      const program = this.restoreProgram([...(jobs > 1 ? [`--jobs=${jobs}`] : ['--single-transaction']), `--dbname=${this.dataDatabase}`,
        ...(rest ? [`--use-list=${rest}`] : [])], this.post.path);
      await endAndWait(program);
      this.plan.log.log('debug', 'parallel.restore.section', { done: 'post-data restore', jobs });
    }
    this.report.verified = true;
    await this.removeTemp();
  }

  private async removeTemp(): Promise<void> {
    const dir = this.tempDir;
    this.tempDir = undefined;
    if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

/** Writes with backpressure: resolves at once, or when the writable drains; rejects if it fails or closes first. */
function writeTo(w: Writable, data: Buffer): Promise<void> {
  if (w.destroyed || w.writableEnded) return Promise.reject(w.errored ?? new CopycatError('ABORTED', 'the restore was stopped'));
  if (w.write(data)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null) => {
      w.off('drain', onDrain);
      w.off('error', onError);
      w.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onError = (err: Error) => done(err);
    const onClose = () => done(w.errored ?? new CopycatError('ABORTED', 'the restore was stopped'));
    w.on('drain', onDrain);
    w.on('error', onError);
    w.on('close', onClose);
  });
}

async function endAndWait(w: Writable): Promise<void> {
  w.end();
  await finished(w);
}
