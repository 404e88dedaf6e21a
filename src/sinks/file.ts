import { open, rename, unlink, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import { CopycatError } from '../errors.js';
import type { SinkStage } from '../stage.js';

/**
 * Writes NAME.partial and renames it to NAME only after every byte is on disk, so a file with the final name is
 * always a complete backup; any failure removes the partial file.
 */
export function fileSink(path: string, opts: { overwrite?: boolean } = {}): SinkStage {
  return {
    name: 'file',
    async create() {
      if (!opts.overwrite && (await exists(path))) {
        throw new CopycatError('FILE_EXISTS', `${path} already exists: choose another path or remove it first`);
      }
      return new PartialFileWriter(path);
    },
    info: () => ({ path }),
  };
}

class PartialFileWriter extends Writable {
  private handle?: FileHandle;
  private readonly partial: string;
  private committed = false;

  constructor(private readonly path: string) {
    super({ highWaterMark: 1 << 20 });
    this.partial = `${path}.partial`;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.partial, 'w', 0o600).then((handle) => {
      this.handle = handle;
      callback();
    }, (err: NodeJS.ErrnoException) => callback(new CopycatError('FILE_UNWRITABLE',
      `cannot write ${this.partial}: ${err.code ?? err.message} — check the directory exists and is writable`, { cause: err })));
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.handle!.writev(chunks.map((c) => c.chunk)).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.commit().then(() => callback(), callback);
  }

  private async commit(): Promise<void> {
    await this.handle!.sync();
    await this.handle!.close();
    this.handle = undefined;
    await rename(this.partial, this.path);
    this.committed = true;
    // The rename is durable only once the directory entry is.
    const dir = await open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    const cleanup = async () => {
      await this.handle?.close().catch(() => {});
      if (!this.committed) await unlink(this.partial).catch(() => {});
    };
    cleanup().then(() => callback(err), () => callback(err));
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
