import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { CopycatError } from '../errors.js';
import { ARCHIVE_HEAD_BYTES, sniffArchiveFormat, type ArchiveFormat, type DumpFormat } from '../formats/archive.js';
import type { SinkStage, StageContext } from '../stage.js';
import { writeOrDrain } from '../streams.js';

/**
 * A sink for a dump of any format: it holds the first bytes until they tell the format, then hands the whole stream
 * to the sink `choose` returns for it (given those first bytes too: a custom archive's header says which pg_restore
 * can read it). Anything but a dump (an encrypted or compressed backup, garbage) fails before a
 * sink is chosen. Its writable closes only after the chosen one did, and `info()` is the chosen sink's.
 */
export function sinkByFormat(name: string, choose: (format: DumpFormat | 'parallel', head: Buffer) => SinkStage): SinkStage {
  let chosen: SinkStage | undefined;
  return {
    name,
    create(ctx: StageContext) {
      return new HeadDispatch(ARCHIVE_HEAD_BYTES, async (head) => {
        const format = sniffArchiveFormat(head);
        if (format !== 'parallel' && format !== 'custom' && format !== 'plain') throw notADump(format);
        chosen = choose(format, head);
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
  /** The sink being chosen (its program may be starting): a stop in the meantime must still reach it. */
  private opening?: Promise<Writable>;

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
    // Closed only once the restore program is gone, so a failed run never exits with it still holding a transaction;
    // a program still starting when the run failed is waited for and stopped too, never left waiting on its input.
    const stop = async () => {
      const inner = this.inner ?? (await this.opening?.catch(() => undefined));
      if (!inner || inner.closed) return;
      const closed = new Promise((resolve) => inner.once('close', resolve));
      if (!inner.destroyed) inner.destroy(err ?? undefined);
      await closed;
    };
    stop().then(() => callback(err), () => callback(err));
  }

  private async open(): Promise<void> {
    const head = Buffer.concat(this.head);
    this.head = [];
    this.opening = this.choose(head);
    const inner = (this.inner = await this.opening);
    inner.on('error', (err) => this.destroy(err));
    if (this.destroyed) return;
    await new Promise<void>((resolve) => this.forward(head, () => resolve()));
  }

  private forward(chunk: Buffer, callback: (error?: Error | null) => void): void {
    writeOrDrain(this.inner!, chunk, callback);
  }
}

/** What the first bytes were instead of a dump: the usual cause is a restore run with the wrong chain options. */
function notADump(format: Exclude<ArchiveFormat, 'custom' | 'plain' | 'parallel'>): CopycatError {
  if (format === 'encrypted') {
    return new CopycatError('BACKUP_ENCRYPTED', 'the backup is encrypted (it starts with copycat-db\'s encryption header): restore it with --key-file (or COPYCAT_KEY_FILE) holding its key, or --identity (COPYCAT_IDENTITY_FILE) for a backup made to recipients');
  }
  if (format === 'zstd') {
    return new CopycatError('BACKUP_COMPRESSED', 'the backup is zstd-compressed: restore it without --compression none');
  }
  return new CopycatError('NOT_A_DUMP', 'the restored stream is neither a pg_dump archive, a plain SQL dump nor a copycat-db parallel container: ' +
    'the backup is damaged, or was restored with other --compression or key options than it was made with');
}
