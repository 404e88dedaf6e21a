/**
 * Decrypts rclone's crypt format (src/formats/rclone-crypt.ts) as it streams: every block is authenticated before a
 * byte of it passes on. The format cannot show where it ends, so `storedSize` (the object's size from the listing)
 * is how a stream cut between two blocks is caught here; see the README's migration section for what is left.
 */
import { xsalsa20poly1305 } from '@noble/ciphers/salsa';
import { Transform, type TransformCallback } from 'node:stream';
import { CopycatError } from '../errors.js';
import {
  RCLONE_BLOCK_SIZE,
  RCLONE_HEADER_SIZE,
  RCLONE_KEY_SIZE,
  RCLONE_MAGIC,
  RCLONE_TAG_SIZE,
  incrementNonce,
} from '../formats/rclone-crypt.js';
import { formatBytes } from '../units.js';
import type { TransformStage } from '../stage.js';

export interface RcloneDecryptOptions {
  /** The data key: rcloneCryptKey(password, password2). */
  readonly key: Buffer;
  /** The object's size as stored: a stream that ends before (or runs past) it fails. */
  readonly storedSize?: number;
}

export function rcloneDecrypt(opts: RcloneDecryptOptions): TransformStage {
  if (opts.key.length !== RCLONE_KEY_SIZE) throw new CopycatError('KEY_INVALID', `an rclone crypt data key is ${RCLONE_KEY_SIZE} bytes, not ${opts.key.length}: derive it with rcloneCryptKey`);
  let current: RcloneDecryptor | undefined;
  return {
    name: 'rclone-decrypt',
    create: () => (current = new RcloneDecryptor(opts.key, opts.storedSize)),
    info: () => ({ blocks: current?.blocks ?? 0, storedSize: opts.storedSize }),
  };
}

class RcloneDecryptor extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private received = 0;
  private nonce?: Uint8Array;
  /** Blocks opened so far. */
  blocks = 0;

  constructor(private readonly key: Buffer, private readonly storedSize: number | undefined) {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    if (this.storedSize !== undefined && this.received > this.storedSize) {
      return callback(new CopycatError('TRAILING_DATA', `more than the ${this.storedSize} bytes the object was listed with arrived: it changed while being read — run again`));
    }
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    try {
      if (!this.nonce) {
        if (this.pending.length < RCLONE_HEADER_SIZE) return callback();
        this.readHeader();
      }
      // A full block is a whole block wherever it stands, the last one included.
      while (this.pending.length >= RCLONE_BLOCK_SIZE) {
        this.push(this.open(this.pending.subarray(0, RCLONE_BLOCK_SIZE)));
        this.pending = this.pending.subarray(RCLONE_BLOCK_SIZE);
      }
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.storedSize !== undefined && this.received < this.storedSize) {
        throw new CopycatError('TRUNCATED', `the rclone crypt object ended after ${this.received} of its ${this.storedSize} bytes (${formatBytes(this.received)} of ${formatBytes(this.storedSize)}): ` +
          'the read was cut short — run again; if it happens again, check the network and the storage');
      }
      if (!this.nonce) {
        throw new CopycatError('TRUNCATED', `the object is ${this.received} bytes, shorter than an rclone crypt header (${RCLONE_HEADER_SIZE} bytes): it is cut short, or not an rclone crypt object`);
      }
      if (this.pending.length > 0) {
        if (this.pending.length <= RCLONE_TAG_SIZE) {
          throw new CopycatError('TRUNCATED', `the rclone crypt object ends inside the tag of block ${this.blocks + 1} (${this.pending.length} bytes of it): it was cut short`);
        }
        this.push(this.open(this.pending, true));
      }
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  private readHeader(): void {
    if (!this.pending.subarray(0, RCLONE_MAGIC.length).equals(RCLONE_MAGIC)) {
      throw new CopycatError('HEADER_CORRUPT', 'the object does not start with rclone crypt\'s "RCLONE\\0\\0": it is not an rclone crypt object (or its first bytes are damaged) — list it with rclone lsl to see what it is');
    }
    this.nonce = Uint8Array.from(this.pending.subarray(RCLONE_MAGIC.length, RCLONE_HEADER_SIZE));
    this.pending = this.pending.subarray(RCLONE_HEADER_SIZE);
  }

  /** `last`: the short block the stream ended with, which a cut inside a block leaves. */
  private open(sealed: Buffer, last = false): Buffer {
    let plain: Uint8Array;
    try {
      plain = xsalsa20poly1305(this.key, this.nonce!).decrypt(sealed);
    } catch {
      // Nothing in the format tells a wrong password from a damaged first block; after that, the password is proven.
      const message = this.blocks === 0
        ? 'the first block of the rclone crypt object fails authentication: the password (or password2) is wrong, or the object is damaged — ' +
          'check COPYCAT_RCLONE_PASSWORD/COPYCAT_RCLONE_PASSWORD2 or the remote in --rclone-config'
        : `block ${this.blocks + 1}${last ? ' (the last)' : ''} of the rclone crypt object fails authentication, though the blocks before it opened ` +
          `with the same password: the object ${last ? 'was cut short inside that block, or ' : ''}is damaged — restore another backup`;
      throw new CopycatError('CHUNK_CORRUPT', message, { detail: { block: this.blocks } });
    }
    incrementNonce(this.nonce!);
    this.blocks++;
    return Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength);
  }
}
