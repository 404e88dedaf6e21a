import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { CopycatError } from '../errors.js';
import type { SinkStage, StageContext } from '../stage.js';
import { pgRestore, psql, type RestoreTarget } from './pg-restore.js';
import { pgParallelRestore } from './pg-parallel-restore/index.js';
import { ARCHIVE_HEAD_BYTES, sniffArchiveFormat } from '../archive-format.js';

/**
 * Restores a dump of any format into a database, choosing by the dump's first bytes: pg_restore, psql, or (for a
 * copycat-db parallel container) pgParallelRestore with `jobs`.
 */
export function restoreSink(target: RestoreTarget & { create?: boolean; jobs?: number }): SinkStage {
  let chosen: SinkStage | undefined;
  return {
    name: 'restore',
    create(ctx: StageContext) {
      return new HeadDispatch(ARCHIVE_HEAD_BYTES, async (head) => {
        const format = sniffArchiveFormat(head);
        // Anything not recognised goes to psql, whose own error then says what it could not parse.
        chosen = format === 'parallel' ? pgParallelRestore(target) : format === 'custom' ? pgRestore(target) : psql(target);
        return chosen.create(ctx);
      });
    },
    info: () => ({ ...chosen?.info?.() }),
  };
}

/** Holds the first bytes until it knows which writer they are for, then forwards everything with backpressure. */
class HeadDispatch extends Writable {
  private head: Buffer[] = [];
  private headLength = 0;
  private inner?: Writable;

  constructor(private readonly need: number, private readonly choose: (head: Buffer) => Promise<Writable>) {
    super({ highWaterMark: 1 << 20 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.inner) return this.forward(chunk, callback);
    this.head.push(chunk);
    this.headLength += chunk.length;
    if (this.headLength < this.need) return callback();
    this.open().then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const finish = async () => {
      if (!this.inner) {
        if (this.headLength === 0) throw new CopycatError('BACKUP_EMPTY', 'the backup is empty: there is nothing to restore');
        await this.open();
      }
      this.inner!.end();
      await finished(this.inner!);
    };
    finish().then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (this.inner && !this.inner.destroyed) this.inner.destroy(err ?? undefined);
    callback(err);
  }

  private async open(): Promise<void> {
    const head = Buffer.concat(this.head);
    this.head = [];
    const inner = (this.inner = await this.choose(head));
    inner.on('error', (err) => this.destroy(err));
    await new Promise<void>((resolve) => this.forward(head, () => resolve()));
  }

  private forward(chunk: Buffer, callback: (error?: Error | null) => void): void {
    if (this.inner!.write(chunk)) callback();
    else this.inner!.once('drain', () => callback());
  }
}
