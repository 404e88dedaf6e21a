/**
 * `COPY … TO STDOUT` as a Readable: pg-copy-streams' query, which takes the connection's socket over from pg and hands
 * it back after CopyDone, with a parser of our own for the messages in between. Theirs handles each CopyData message
 * (one per row) through a buffer list — half a dozen calls and a slice per row, then a join — which made the parallel
 * backup's event loop the busiest process of the dump. This one moves each row's bytes down over the message headers
 * inside the socket's own chunk (one memmove per row, nothing allocated) and passes the chunk on.
 */
import type { ReadableOptions } from 'node:stream';
import { to as copyTo, type CopyToStreamQuery } from 'pg-copy-streams';

// Backend message types (PostgreSQL protocol, "Message Formats").
const COPY_DATA = 0x64; // 'd'
const ERROR_RESPONSE = 0x45; // 'E'
/** May arrive between CopyData messages; skipped, as pg-copy-streams does. Any other message ends the copy. */
const INTERSPERSED = new Set([0x48 /* CopyOutResponse */, COPY_DATA, 0x53 /* ParameterStatus */, 0x4e /* Notice */, 0x41 /* Notification */]);
const HEADER = 5;

/** What pg-copy-streams' class keeps and does around the parser (not in its type declarations). */
interface CopyToInternals extends CopyToStreamQuery {
  _buffer: { push(chunk: Buffer): void };
  _detach(): void;
  _cleanup(): void;
}

/** Its class is not exported, only a factory: reach the class through an instance. */
const CopyToQuery = Object.getPrototypeOf(copyTo('')).constructor as new (text: string, options?: ReadableOptions) => CopyToInternals;

class CopyOut extends CopyToQuery {
  /** The first bytes of a message header that a chunk cut off. */
  private header = Buffer.alloc(HEADER);
  private headerBytes = 0;
  private code = 0;
  /** Body bytes of the current message not yet seen; -1 between messages. */
  private left = -1;

  /** Returns whether the consumer wants more (pg-copy-streams' contract). */
  _parse(chunk: Buffer): boolean {
    let pos = 0;
    let kept = 0;
    let done = false;
    while (pos < chunk.length && !done) {
      if (this.left < 0) {
        const need = HEADER - this.headerBytes;
        if (this.headerBytes === 0 && chunk[pos] === ERROR_RESPONSE) {
          // pg reads the error itself, and with it the end of the query; the stream fails through handleError.
          this.giveBack(chunk.subarray(pos));
          return false;
        }
        if (this.headerBytes > 0 || chunk.length - pos < HEADER) {
          const n = Math.min(need, chunk.length - pos);
          chunk.copy(this.header, this.headerBytes, pos, pos + n);
          this.headerBytes += n;
          pos += n;
          if (this.headerBytes < HEADER) break;
          this.headerBytes = 0;
          this.code = this.header[0]!;
          this.left = this.header.readUInt32BE(1) - 4;
        } else {
          this.code = chunk[pos]!;
          this.left = chunk.readUInt32BE(pos + 1) - 4;
          pos += HEADER;
        }
      }
      const n = Math.min(this.left, chunk.length - pos);
      if (this.code === COPY_DATA) {
        if (kept !== pos) chunk.copyWithin(kept, pos, pos + n);
        kept += n;
      }
      pos += n;
      this.left -= n;
      if (this.left === 0) {
        this.left = -1;
        done = this.code !== COPY_DATA && !INTERSPERSED.has(this.code);
      }
    }
    const wanted = kept === 0 || this.push(chunk.subarray(0, kept));
    if (!done) return wanted;
    this.giveBack(chunk.subarray(pos));
    this.push(null);
    this._cleanup();
    // The socket is pg's again: reading on from it here would take pg's messages.
    return false;
  }

  private giveBack(rest: Buffer): void {
    this._buffer.push(rest);
    this._detach();
  }
}

export function copyOut(text: string, options?: ReadableOptions): CopyToStreamQuery {
  return new CopyOut(text, options);
}
