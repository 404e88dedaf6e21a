import { CopycatError } from '../errors.js';

/**
 * The parallel container: one byte stream that carries a snapshot-consistent dump made by several connections at
 * once. The specification is docs/FORMAT.md ("Parallel dump container"); this module is its reference
 * implementation, shared by the pgParallel source (writer) and the pgParallelRestore sink (reader).
 */

/** ASCII `CCDBPARL`: distinct from pg_dump's `PGDMP` and from the encrypted stream's `CCDBAEAD`. */
export const PARALLEL_MAGIC = Buffer.from('CCDBPARL', 'ascii');
/** The version writers produce. */
export const PARALLEL_FORMAT_VERSION = 2;
/** Version 1 (post-data after the table data, no per-table post-data objects) is still read, for existing backups. */
export const READABLE_FORMAT_VERSIONS: readonly number[] = [1, 2];
/** Magic plus the version byte. */
export const PREAMBLE_LENGTH = PARALLEL_MAGIC.length + 1;
/** type (1) + stream id (4) + payload length (4). */
export const FRAME_HEADER_LENGTH = 9;
/** Writers cut byte-stream payloads (archives, COPY data) into frames of at most this many bytes. */
export const MAX_DATA_FRAME = 1 << 20;
/** Readers refuse bigger frames of any kind, so a damaged length cannot make them buffer without bound. */
export const MAX_FRAME = 256 << 20;

export enum FrameType {
  /** JSON ContainerHeader; stream 0; exactly once, first. */
  Header = 0x01,
  /** Bytes of a pg_dump custom-format archive of `--section=pre-data`; stream 0. */
  PreData = 0x02,
  /** JSON SequenceValue[]; stream 0; exactly once. */
  Sequences = 0x03,
  /** Bytes of one table's `COPY … TO STDOUT` text output; stream = table id. */
  TableData = 0x04,
  /** JSON TableEnd; stream = table id; exactly once per table, after its data. */
  TableEnd = 0x05,
  /** Bytes of a pg_dump custom-format archive holding only large objects' contents; stream 0. */
  LargeObjects = 0x06,
  /** Bytes of a pg_dump custom-format archive of `--section=post-data`; stream 0. */
  PostData = 0x07,
  /** JSON Trailer; stream 0; exactly once, last. */
  Trailer = 0x08,
}

/**
 * Sections in the order they must appear; a reader rejects a frame whose section is earlier than the last one's.
 * Version 2 moved the post-data archive before the table data, so that a restore can build each table's indexes as
 * soon as its data is in.
 */
export function sectionOf(type: FrameType, version: number): number {
  switch (type) {
    case FrameType.Header: return 0;
    case FrameType.PreData: return 1;
    case FrameType.Sequences: return 2;
    case FrameType.PostData: return version === 1 ? 6 : 3;
    case FrameType.TableData:
    case FrameType.TableEnd: return 4;
    case FrameType.LargeObjects: return 5;
    case FrameType.Trailer: return 7;
  }
}

const JSON_FRAMES = new Set([FrameType.Header, FrameType.Sequences, FrameType.TableEnd, FrameType.Trailer]);
export const isJsonFrame = (type: FrameType): boolean => JSON_FRAMES.has(type);

export interface ContainerTable {
  /** Stream id of the table's TableData/TableEnd frames: 1, 2, … in header order. */
  readonly id: number;
  readonly schema: string;
  readonly name: string;
  /** Columns in COPY order (not dropped, not generated), unquoted. Empty: COPY without a column list. */
  readonly columns: readonly string[];
  /** pg_table_size at dump time: the order tables were started in (largest first). */
  readonly estimatedBytes: number;
  /**
   * Version 2: the post-data objects that belong to this table alone (its indexes, its constraints other than foreign
   * keys, its triggers), as `pg_restore --list` names their catalog ids: `"<classid> <objid>"`, e.g. `"1259 16393"`.
   */
  readonly postData?: readonly string[];
}

export interface ContainerHeader {
  readonly formatVersion: number;
  readonly tool: string;
  readonly createdAt: string;
  readonly database: string;
  readonly serverVersion: string;
  readonly serverVersionNum: number;
  /** Server encoding of the dumped database; COPY data is in this encoding (client_encoding was set to it). */
  readonly encoding: string;
  /** The exported snapshot every connection and pg_dump run read from. */
  readonly snapshot: string;
  /** At most this many tables' TableData frames are interleaved at any point of the stream. */
  readonly jobs: number;
  readonly copyFormat: 'text';
  readonly tables: readonly ContainerTable[];
  readonly largeObjects: number;
}

export interface SequenceValue {
  readonly schema: string;
  readonly name: string;
  /** bigint as a decimal string. */
  readonly lastValue: string;
  readonly isCalled: boolean;
}

export interface TableEnd {
  /** Rows COPY produced: the number of newline bytes in the text-format output. */
  readonly rows: number;
  /** Bytes of COPY output, the sum of this table's TableData payload lengths. */
  readonly bytes: number;
}

export interface Trailer {
  readonly tables: number;
  readonly rows: number;
  readonly bytes: number;
  readonly finishedAt: string;
}

export function preamble(): Buffer {
  return Buffer.concat([PARALLEL_MAGIC, Buffer.from([PARALLEL_FORMAT_VERSION])]);
}

export function frameHeader(type: FrameType, stream: number, length: number): Buffer {
  const head = Buffer.allocUnsafe(FRAME_HEADER_LENGTH);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(stream, 1);
  head.writeUInt32BE(length, 5);
  return head;
}

export function jsonPayload(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** One piece of a frame's payload, as it arrives. A frame with an empty payload gives one piece with `first` and `last`. */
export interface FramePiece {
  readonly type: FrameType;
  readonly stream: number;
  readonly length: number;
  readonly data: Buffer;
  readonly first: boolean;
  readonly last: boolean;
}

/**
 * Incremental reader: `feed(chunk)` yields the frame pieces the chunk completes, lazily, so a consumer that awaits
 * between pieces keeps backpressure. Payload pieces are views of the input chunks, never copies.
 */
export class FrameReader {
  private preambleSeen = 0;
  private readonly head = Buffer.alloc(Math.max(PREAMBLE_LENGTH, FRAME_HEADER_LENGTH));
  private headFill = 0;
  private frame?: { type: FrameType; stream: number; length: number; remaining: number; started: boolean };
  /** The container version from the preamble, once it was read. */
  version?: number;
  /** Total bytes fed, for error messages. */
  offset = 0;

  *feed(chunk: Buffer): Generator<FramePiece> {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.preambleSeen < PREAMBLE_LENGTH) {
        const n = Math.min(PREAMBLE_LENGTH - this.preambleSeen, chunk.length - pos);
        chunk.copy(this.head, this.preambleSeen, pos, pos + n);
        this.preambleSeen += n;
        pos += n;
        this.offset += n;
        this.checkPreamble();
        continue;
      }
      if (!this.frame) {
        const n = Math.min(FRAME_HEADER_LENGTH - this.headFill, chunk.length - pos);
        chunk.copy(this.head, this.headFill, pos, pos + n);
        this.headFill += n;
        pos += n;
        this.offset += n;
        if (this.headFill < FRAME_HEADER_LENGTH) continue;
        this.headFill = 0;
        this.frame = this.parseHeader();
        if (this.frame.length === 0) {
          const f = this.frame;
          this.frame = undefined;
          yield { type: f.type, stream: f.stream, length: 0, data: Buffer.alloc(0), first: true, last: true };
        }
        continue;
      }
      const f = this.frame;
      const n = Math.min(f.remaining, chunk.length - pos);
      const data = chunk.subarray(pos, pos + n);
      pos += n;
      this.offset += n;
      f.remaining -= n;
      const first = !f.started;
      f.started = true;
      if (f.remaining === 0) this.frame = undefined;
      yield { type: f.type, stream: f.stream, length: f.length, data, first, last: f.remaining === 0 };
    }
  }

  /** True when the input so far ends exactly between two frames. */
  get atFrameBoundary(): boolean {
    return this.preambleSeen === PREAMBLE_LENGTH && !this.frame && this.headFill === 0;
  }

  /** Where the input ended, for a TRUNCATED message. */
  describePosition(): string {
    if (this.preambleSeen < PREAMBLE_LENGTH) return `inside the ${PREAMBLE_LENGTH}-byte preamble`;
    if (this.headFill > 0) return `inside a frame header at byte ${this.offset - this.headFill}`;
    if (this.frame) return `inside a frame of type ${this.frame.type} (${this.frame.remaining} of ${this.frame.length} payload bytes missing)`;
    return `at byte ${this.offset}, between frames`;
  }

  private checkPreamble(): void {
    const have = Math.min(this.preambleSeen, PARALLEL_MAGIC.length);
    if (!this.head.subarray(0, have).equals(PARALLEL_MAGIC.subarray(0, have))) {
      throw new CopycatError('NOT_PARALLEL', 'the stream is not a copycat-db parallel dump (no CCDBPARL magic)');
    }
    if (this.preambleSeen < PREAMBLE_LENGTH) return;
    const version = this.head[PARALLEL_MAGIC.length]!;
    if (!READABLE_FORMAT_VERSIONS.includes(version)) {
      throw new CopycatError('FORMAT_VERSION', `the parallel dump has container version ${version}; ` +
        `this copycat-db reads versions ${READABLE_FORMAT_VERSIONS.join(' and ')} — restore it with a newer copycat-db`);
    }
    this.version = version;
  }

  private parseHeader(): { type: FrameType; stream: number; length: number; remaining: number; started: boolean } {
    const at = this.offset - FRAME_HEADER_LENGTH;
    const type = this.head.readUInt8(0);
    const stream = this.head.readUInt32BE(1);
    const length = this.head.readUInt32BE(5);
    if (!(type in FrameType) || typeof FrameType[type] !== 'string') {
      throw new CopycatError('FRAME_INVALID', `unknown frame type ${type} at byte ${at} of the parallel dump: it is damaged or was written by a newer copycat-db`);
    }
    if (length > MAX_FRAME) {
      throw new CopycatError('FRAME_INVALID', `frame at byte ${at} claims ${length} bytes (more than ${MAX_FRAME}): the parallel dump is damaged`);
    }
    return { type: type as FrameType, stream, length, remaining: length, started: false };
  }
}
