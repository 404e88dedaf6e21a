import { Transform, type TransformCallback } from 'node:stream';
import type { TransformStage } from '../stage.js';

/** Counts the bytes that pass; the pipeline puts one between every two stages to report per-stage sizes. */
export class ByteCounter extends Transform {
  bytes = 0;

  constructor(private readonly onChunk?: (total: number) => void) {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.onChunk?.(this.bytes);
    callback(null, chunk);
  }
}

export interface MeterReading {
  readonly bytes: number;
  readonly elapsedMs: number;
  /** Bytes per second since the meter started. */
  readonly rate: number;
  /** The source's expected size (SourceStage.expectedSize), once known: an estimate, which `bytes` may pass. */
  readonly expectedBytes?: number;
}

/** Calls `onProgress` at most once per interval while bytes flow, and once more when asked to finish. */
export class Throttle {
  private readonly started = performance.now();
  private last = this.started;
  private expectedBytes: number | undefined;

  constructor(private readonly onProgress: (reading: MeterReading) => void, private readonly intervalMs: number) {}

  /** Readings from now on carry the expected size. */
  expect(bytes: number | undefined): void {
    if (bytes !== undefined && Number.isFinite(bytes) && bytes > 0) this.expectedBytes = bytes;
  }

  tick(bytes: number, force = false): void {
    const now = performance.now();
    if (!force && now - this.last < this.intervalMs) return;
    this.last = now;
    const elapsedMs = now - this.started;
    this.onProgress({ bytes, elapsedMs, rate: elapsedMs > 0 ? (bytes * 1000) / elapsedMs : 0,
      ...(this.expectedBytes !== undefined ? { expectedBytes: this.expectedBytes } : {}) });
  }
}

/** A pass-through stage that reports throughput at most once per interval, and once more at the end. */
export function meter(opts: { onProgress: (reading: MeterReading) => void; intervalMs?: number }): TransformStage {
  return {
    name: 'meter',
    create() {
      const throttle = new Throttle(opts.onProgress, opts.intervalMs ?? 1000);
      const counter = new ByteCounter((bytes) => throttle.tick(bytes));
      counter.once('finish', () => throttle.tick(counter.bytes, true));
      return counter;
    },
  };
}
