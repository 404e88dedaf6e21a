import type { Duplex, Readable, Writable } from 'node:stream';
import type { DumpFormat } from './formats/archive.js';
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

/** One table as a dump holds it: `schema.table` (each part quoted only where SQL needs it), exact rows, bytes if known. */
export interface TableFact {
  readonly name: string;
  readonly rows: number;
  readonly bytes?: number;
}

/** What a source knows about the dump it produced, as typed data: the manifest records it, verify checks against it. */
export interface SourceFacts {
  /** What produced the dump: `pg_dump`, `pg_parallel`, `scaleway-scw-export`, `file`, … */
  readonly kind: string;
  /** The database name alone, never a connection string (which may hold a password). */
  readonly database?: string;
  readonly serverVersion?: string;
  /** The version of the pg_dump that wrote the dump (`15.18 (Debian 15.18-0+deb12u1)`), where one ran. */
  readonly dumpVersion?: string;
  /** As the dump's first bytes showed, where the source looked; else as it was asked for. */
  readonly format: DumpFormat | 'parallel' | 'unknown';
  /** Every table with its exact rows in the dump's own snapshot, where the source counted them. */
  readonly tables?: readonly TableFact[];
}

export interface SourceStage extends Stage<Readable> {
  /** Bytes the source expects to produce, when it can tell before starting (sizes S3 multipart parts). */
  expectedSize?(): Promise<number | undefined>;
  /**
   * Asked once the run ended cleanly; may wait for work that outlives the stream (a table census). A rejection fails
   * a backup before its manifest is written.
   */
  facts?(): Promise<SourceFacts>;
}

export type TransformStage = Stage<Duplex>;

/** A sink commits in its writable's final step, which runs only after every upstream stage ended cleanly. */
export type SinkStage = Stage<Writable>;
