import { Readable } from 'node:stream';
import type pg from 'pg';
import { CopycatError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { ChildOutput } from '../../pg/child.js';
import { pgClient } from '../../pg/client.js';
import { copyOut } from '../../pg/copy-out.js';
import { qualifiedName, quoteIdent } from '../../pg/quote.js';
import { dumpSessionSql } from '../../pg/session.js';
import { Demand } from '../../streams.js';
import { readCatalog, type Catalog } from './catalog.js';
import {
  FrameType, MAX_DATA_FRAME, PARALLEL_FORMAT_VERSION, frameHeader, jsonPayload, preamble,
  type ContainerHeader, type ContainerTable, type TableEnd, type Trailer,
} from '../../formats/parallel-container.js';

export interface DumpPlan {
  readonly env: Record<string, string | undefined>;
  /** Extra variables for pg_dump on top of the process environment. */
  readonly childEnv?: Record<string, string>;
  readonly database?: string;
  readonly jobs: number;
  readonly command: string;
  readonly lockWaitTimeoutMs: number;
  readonly tool: string;
  readonly onSnapshot?: (snapshot: string) => void | Promise<void>;
  readonly log: Logger;
}

export interface TableResult {
  readonly schema: string;
  readonly name: string;
  /** `format('%I.%I')`: `billing.invoices`, `public."Odd Name"`. */
  readonly ident: string;
  readonly rows: number;
  readonly bytes: number;
}

export interface DumpReport {
  database: string;
  serverVersion: string;
  snapshot: string;
  jobs: number;
  tables: TableResult[];
  sequences: number;
  largeObjects: number;
}

/**
 * The container as a Readable. A driver produces it in order: header, pre-data archive, sequences, post-data archive,
 * table data, large objects, trailer. Table data comes from `jobs` worker connections that all imported the
 * coordinator's snapshot; each worker reads its COPY stream only while this stream's consumer wants bytes, so no
 * table's data is buffered beyond one COPY stream's buffer and one frame per worker.
 */
export class ParallelDumpStream extends Readable {
  private readonly clients = new Set<pg.Client>();
  private readonly inputs = new Set<Readable>();
  private readonly demand = new Demand();

  constructor(private readonly plan: DumpPlan, private readonly report: DumpReport) {
    super({ highWaterMark: 1 << 20 });
  }

  override _construct(callback: (error?: Error | null) => void): void {
    callback();
    this.drive().then(() => this.push(null), (err: Error) => this.destroy(err));
  }

  override _read(): void {
    this.demand.release();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this._read();
    for (const input of this.inputs) input.destroy();
    // Closing the connections ends their transactions; ChildOutput's close waits for pg_dump to be gone.
    const closing = [...this.clients].map((c) => c.end().catch(() => {}));
    const inputsClosed = [...this.inputs].map((s) => (s.closed ? undefined : new Promise<void>((r) => s.once('close', () => r()))));
    Promise.all([...closing, ...inputsClosed]).then(() => callback(err));
  }

  private stopped(): never {
    throw this.errored ?? new CopycatError('ABORTED', 'the parallel dump was stopped');
  }

  /** Pushes one frame; resolves when the consumer can take more. */
  private async sendFrame(type: FrameType, stream: number, payload?: Buffer): Promise<void> {
    if (this.destroyed) this.stopped();
    let ok = this.push(frameHeader(type, stream, payload?.length ?? 0));
    if (payload?.length) ok = this.push(payload);
    if (ok) return;
    await this.demand.wait();
    if (this.destroyed) this.stopped();
  }

  private async emitData(type: FrameType, stream: number, chunk: Buffer): Promise<void> {
    for (let at = 0; at < chunk.length; at += MAX_DATA_FRAME) {
      await this.sendFrame(type, stream, chunk.subarray(at, Math.min(chunk.length, at + MAX_DATA_FRAME)));
    }
  }

  private async connect(): Promise<pg.Client> {
    if (this.destroyed) this.stopped();
    const client = pgClient(this.plan.env, this.plan.database);
    // A connection lost between queries is reported here; during a query, the query fails too.
    client.on('error', (err) => this.destroy(err));
    this.clients.add(client);
    await client.connect();
    return client;
  }

  private async drive(): Promise<void> {
    const { plan, report } = this;
    const coordinator = await this.connect();
    await coordinator.query(dumpSessionSql('UTF8'));
    await coordinator.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const [{ snapshot } = { snapshot: '' }] = (await coordinator.query<{ snapshot: string }>('SELECT pg_catalog.pg_export_snapshot() AS snapshot')).rows;
    // Both schema dumps read the whole catalog, which takes a while: start them now. Their archives wait in their own
    // buffers (pg_dump blocks when they are full) until their turn in the stream, right after one another.
    const preData = this.startDump(snapshot, ['--section=pre-data']);
    const postData = this.startDump(snapshot, ['--section=post-data']);
    const catalog = await readCatalog(coordinator);
    // Only large objects' contents: pg_dump's data section minus every table's and sequence's data. Started early too;
    // it blocks once 1 MiB is buffered.
    const largeObjects = catalog.largeObjects > 0 ? this.startDump(snapshot, ['--section=data', '--exclude-table-data=*.*']) : undefined;
    const database = (await coordinator.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
    Object.assign(report, { database, serverVersion: catalog.serverVersion, snapshot, sequences: catalog.sequences.length, largeObjects: catalog.largeObjects });
    // Like pg_dump: hold a share lock on every table until the end, so none can be dropped or altered before its COPY.
    if (catalog.tables.length) {
      await coordinator.query(`SET lock_timeout = ${plan.lockWaitTimeoutMs}`);
      await this.lockTables(coordinator, catalog.tables);
      await coordinator.query('SET lock_timeout = 0');
    }
    const jobs = Math.max(1, Math.min(plan.jobs, catalog.tables.length));
    report.jobs = jobs;
    const workers = await Promise.all(Array.from({ length: jobs }, async () => {
      const worker = await this.connect();
      await worker.query(dumpSessionSql(catalog.encoding));
      // A multi-statement query is one implicit transaction: BEGIN and the snapshot import go on their own.
      await worker.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      await worker.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
      return worker;
    }));
    plan.log.log('debug', 'parallel.snapshot', { snapshot, tables: catalog.tables.length, jobs });
    await plan.onSnapshot?.(snapshot);

    const header: ContainerHeader = {
      formatVersion: PARALLEL_FORMAT_VERSION,
      tool: plan.tool,
      createdAt: new Date().toISOString(),
      database,
      serverVersion: catalog.serverVersion,
      serverVersionNum: catalog.serverVersionNum,
      encoding: catalog.encoding,
      snapshot,
      jobs,
      copyFormat: 'text',
      tables: catalog.tables,
      largeObjects: catalog.largeObjects,
    };
    this.push(preamble());
    await this.sendFrame(FrameType.Header, 0, jsonPayload(header));
    await this.pipeOutput(FrameType.PreData, preData);
    plan.log.log('debug', 'parallel.section', { done: 'pre-data' });
    await this.sendFrame(FrameType.Sequences, 0, jsonPayload(catalog.sequences));
    // Before the data (container version 2): a restore builds each table's indexes as soon as its data is in.
    await this.pipeOutput(FrameType.PostData, postData);
    await this.dumpTables(workers, catalog);
    plan.log.log('debug', 'parallel.section', { done: 'table data', rows: report.tables.reduce((n, t) => n + t.rows, 0) });
    if (largeObjects) await this.pipeOutput(FrameType.LargeObjects, largeObjects);
    const trailer: Trailer = {
      tables: report.tables.length,
      rows: report.tables.reduce((n, t) => n + t.rows, 0),
      bytes: report.tables.reduce((n, t) => n + t.bytes, 0),
      finishedAt: new Date().toISOString(),
    };
    await this.sendFrame(FrameType.Trailer, 0, jsonPayload(trailer));
    for (const client of [coordinator, ...workers]) {
      await client.query('COMMIT');
      this.clients.delete(client);
      await client.end();
    }
  }

  private async lockTables(client: pg.Client, tables: readonly ContainerTable[]): Promise<void> {
    try {
      for (let i = 0; i < tables.length; i += 1000) {
        await client.query(`LOCK TABLE ${tables.slice(i, i + 1000).map((t) => `ONLY ${qualifiedName(t)}`).join(', ')} IN ACCESS SHARE MODE`);
      }
    } catch (err) {
      if ((err as { code?: string }).code === '55P03') {
        throw new CopycatError('LOCK_TIMEOUT', `could not lock the tables to dump within ${this.plan.lockWaitTimeoutMs} ms: ` +
          'another session holds or waits for an exclusive lock (a migration?) — retry later or raise the lock wait timeout', { cause: err });
      }
      throw err;
    }
  }

  /** Largest tables first, each worker taking the next table when its COPY ends; frames interleave on the way out. */
  private async dumpTables(workers: pg.Client[], catalog: Catalog): Promise<void> {
    const queue = [...catalog.tables];
    const results = new Map<number, TableResult>();
    await Promise.all(workers.map(async (worker) => {
      for (let table = queue.shift(); table; table = queue.shift()) results.set(table.id, await this.dumpTable(worker, table, catalog.idents.get(table.id)!));
    }));
    this.report.tables = catalog.tables.map((t) => results.get(t.id)!);
  }

  private async dumpTable(worker: pg.Client, table: ContainerTable, ident: string): Promise<TableResult> {
    const name = qualifiedName(table);
    try {
      // Like pg_dump -j's workers: NOWAIT, since waiting behind a queued exclusive lock that itself waits for the
      // coordinator's lock would never end.
      await worker.query(`LOCK TABLE ONLY ${name} IN ACCESS SHARE MODE NOWAIT`);
    } catch (err) {
      throw new CopycatError('LOCK_TIMEOUT', `could not lock ${name} for its COPY: another session is waiting for an exclusive lock on it ` +
        '(a migration?) — retry the backup later', { cause: err });
    }
    const columns = table.columns.length ? ` (${table.columns.map(quoteIdent).join(', ')})` : '';
    const copy = worker.query(copyOut(`COPY ${name}${columns} TO STDOUT`, { highWaterMark: 256 << 10 }));
    this.inputs.add(copy);
    let bytes = 0;
    try {
      for await (const chunk of copy as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        await this.emitData(FrameType.TableData, table.id, chunk);
      }
      // The row count is the server's own, from COPY's command tag, which follows the data; the connection has read
      // it once it answers the next query. (Counting newlines here instead cost 0.55 CPU s per 340 MB.)
      await worker.query('SELECT 1');
    } catch (err) {
      if (this.destroyed) this.stopped();
      throw new CopycatError('COPY_FAILED', `COPY ${name} TO STDOUT failed: ${(err as Error).message}`, { cause: err });
    } finally {
      this.inputs.delete(copy);
    }
    const rows = copy.rowCount;
    const end: TableEnd = { rows, bytes };
    await this.sendFrame(FrameType.TableEnd, table.id, jsonPayload(end));
    return { schema: table.schema, name: table.name, ident, rows, bytes };
  }

  /** Starts one pg_dump run under the snapshot; its output waits in a buffer of `highWaterMark` bytes until read. */
  private startDump(snapshot: string, args: string[], highWaterMark = 1 << 20): ChildOutput {
    if (this.destroyed) this.stopped();
    const out = new ChildOutput({
      name: 'pg_dump',
      command: this.plan.command,
      args: ['--format=custom', '--compress=0', `--snapshot=${snapshot}`, `--lock-wait-timeout=${this.plan.lockWaitTimeoutMs}`,
        ...args, ...(this.plan.database ? [`--dbname=${this.plan.database}`] : [])],
      env: this.plan.childEnv,
    }, highWaterMark);
    this.inputs.add(out);
    // A pg_dump that fails while nobody reads it yet fails the dump at once.
    out.on('error', (err) => this.destroy(err));
    return out;
  }

  /** Streams a pg_dump run's output into frames of one type. */
  private async pipeOutput(type: FrameType, out: ChildOutput): Promise<void> {
    try {
      for await (const chunk of out as AsyncIterable<Buffer>) await this.emitData(type, 0, chunk);
    } catch (err) {
      if (this.destroyed) this.stopped();
      throw err;
    } finally {
      this.inputs.delete(out);
    }
  }
}
