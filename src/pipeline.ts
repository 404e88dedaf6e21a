import { pipeline as streamPipeline } from 'node:stream/promises';
import type { Duplex, Readable, Writable } from 'node:stream';
import { CopycatError } from './errors.js';
import { silentLogger, type Logger } from './log.js';
import type { SinkStage, SourceStage, StageContext, TransformStage } from './stage.js';
import { ByteCounter, Throttle, type MeterReading } from './transforms/meter.js';

export interface StageStats {
  readonly name: string;
  readonly kind: 'source' | 'transform' | 'sink';
  /** Bytes the stage consumed (absent for the source). */
  readonly bytesIn?: number;
  /** Bytes the stage produced (absent for the sink). */
  readonly bytesOut?: number;
  readonly info?: Record<string, unknown>;
}

export interface RunStats {
  readonly durationMs: number;
  /** Bytes the source produced. */
  readonly bytesRead: number;
  /** Bytes the sink consumed. */
  readonly bytesWritten: number;
  /** Source bytes per second over the whole run. */
  readonly throughput: number;
  readonly stages: readonly StageStats[];
}

export interface RunOptions {
  /** Aborting it stops every stage, kills child processes and rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  readonly log?: Logger;
  /**
   * Called with the source's byte count at most once per `progressIntervalMs`, and once at the end; readings carry
   * the expected size once `expectedSize` (by default the source's own) has answered.
   */
  readonly onProgress?: (reading: MeterReading) => void;
  readonly progressIntervalMs?: number;
  /**
   * Replaces the source's expectedSize() for the readings: a caller that asks it anyway (an S3 upload plans its parts
   * from it) passes its answer, so a query or an API call is not made twice. Only asked with `onProgress`.
   */
  readonly expectedSize?: () => Promise<number | undefined>;
}

/**
 * Source → transforms → sink, run by Node's stream.pipeline so backpressure holds end to end and an error in
 * any stage destroys every other one. Builders are immutable: each call returns a new description.
 */
export class Pipeline {
  constructor(readonly source: SourceStage, readonly transforms: readonly TransformStage[] = []) {}

  through(...transforms: TransformStage[]): Pipeline {
    return new Pipeline(this.source, [...this.transforms, ...transforms]);
  }

  to(sink: SinkStage): RunnablePipeline {
    return new RunnablePipeline(this.source, this.transforms, sink);
  }
}

export class RunnablePipeline {
  constructor(
    readonly source: SourceStage,
    readonly transforms: readonly TransformStage[],
    readonly sink: SinkStage,
  ) {}

  async run(opts: RunOptions = {}): Promise<RunStats> {
    const controller = new AbortController();
    const abortFromCaller = () => controller.abort(opts.signal!.reason);
    if (opts.signal?.aborted) abortFromCaller();
    opts.signal?.addEventListener('abort', abortFromCaller, { once: true });
    const ctx: StageContext = { signal: controller.signal, log: opts.log ?? silentLogger };
    const started = performance.now();
    const created: (Readable | Duplex | Writable)[] = [];
    try {
      created.push(await this.source.create(ctx));
      const throttle = opts.onProgress && new Throttle(opts.onProgress, opts.progressIntervalMs ?? 1000);
      // Asked once the source started (a Scaleway export knows its size only then), and not awaited: progress
      // without it is still progress, and the run must not wait for a query or a HEAD request.
      const expectedSize = opts.expectedSize ?? this.source.expectedSize?.bind(this.source);
      if (throttle && expectedSize) expectedSize().then((bytes) => throttle.expect(bytes), () => {});
      for (const t of this.transforms) created.push(await t.create(ctx));
      created.push(await this.sink.create(ctx));
      const counters = created.slice(1).map((_, i) => new ByteCounter(i === 0 && throttle ? (b) => throttle.tick(b) : undefined));
      const chain = created.flatMap((stream, i) => (i < counters.length ? [stream, counters[i]!] : [stream]));
      await streamPipeline(chain, { signal: controller.signal });
      throttle?.tick(counters[0]!.bytes, true);
      return this.stats(counters, performance.now() - started);
    } catch (err) {
      controller.abort(err);
      await closeAll(created);
      throw rootCause(err, controller.signal);
    } finally {
      opts.signal?.removeEventListener('abort', abortFromCaller);
    }
  }

  private stats(counters: ByteCounter[], durationMs: number): RunStats {
    const stages = [this.source, ...this.transforms, this.sink];
    const last = stages.length - 1;
    const stageStats = stages.map((stage, i): StageStats => ({
      name: stage.name,
      kind: i === 0 ? 'source' : i === last ? 'sink' : 'transform',
      ...(i > 0 ? { bytesIn: counters[i - 1]!.bytes } : {}),
      ...(i < last ? { bytesOut: counters[i]!.bytes } : {}),
      ...(stage.info ? { info: stage.info() } : {}),
    }));
    const bytesRead = counters[0]?.bytes ?? 0;
    return {
      durationMs,
      bytesRead,
      bytesWritten: counters[counters.length - 1]?.bytes ?? 0,
      throughput: durationMs > 0 ? (bytesRead * 1000) / durationMs : 0,
      stages: stageStats,
    };
  }
}

const CLOSE_GRACE_MS = 10_000;

/**
 * A failed run settles only after every stage has closed: partial files removed, uploads aborted, children
 * exited. The grace period bounds the wait for a stage that never reports closing.
 */
async function closeAll(streams: readonly (Readable | Duplex | Writable)[]): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
  const closed = streams.map((stream) => {
    const done = stream.closed ? Promise.resolve() : new Promise<void>((resolve) => stream.once('close', () => resolve()));
    stream.destroy();
    return done;
  });
  await Promise.race([Promise.all(closed), grace]);
  clearTimeout(timer);
}

/** stream.pipeline reports an abort as a generic AbortError; the operator needs the reason it was aborted for. */
function rootCause(err: unknown, signal: AbortSignal): unknown {
  if (!(err instanceof Error) || err.name !== 'AbortError') return err;
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name !== 'AbortError') return reason;
  return new CopycatError('ABORTED', 'the run was aborted before it finished; nothing was kept', { cause: err });
}

/** Starts a pipeline description: `pipeline(source).through(...transforms).to(sink).run()`. */
export function pipeline(source: SourceStage): Pipeline {
  return new Pipeline(source);
}
