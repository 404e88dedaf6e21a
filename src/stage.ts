import type { Duplex, Readable, Writable } from 'node:stream';
import type { Logger } from './log.js';

/** What every stage gets when a run starts. */
export interface StageContext {
  /** Aborted when the run fails anywhere or is cancelled: stages stop work and kill their children. */
  readonly signal: AbortSignal;
  readonly log: Logger;
}

/**
 * A stage is a recipe, not a stream: `create` is called once per run, so a pipeline description can be
 * built, inspected and run without opening files or spawning processes up front. Stages are created in order,
 * source first, so a later stage may use what an earlier one learned while starting (a sink sizing its upload
 * parts from the source's expected size).
 */
export interface Stage<S> {
  readonly name: string;
  create(ctx: StageContext): S | Promise<S>;
  /** Facts learned while running (a digest, a child's exit, an object's version), merged into the run's stats. */
  info?(): Record<string, unknown>;
}

export interface SourceStage extends Stage<Readable> {
  /** Bytes the source expects to produce, when it can tell before starting (sizes S3 multipart parts). */
  expectedSize?(): Promise<number | undefined>;
}

export type TransformStage = Stage<Duplex>;

/** A sink commits in its writable's final step, which runs only after every upstream stage ended cleanly. */
export type SinkStage = Stage<Writable>;
