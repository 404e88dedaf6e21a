/**
 * The copycat-db encrypted stream format, version 1: constants, key derivation, header and nonce layout.
 * docs/FORMAT.md is the specification; this file and that document must change together.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { CopycatError } from '../errors.js';

const MAGIC = Buffer.from('CCDBAEAD', 'ascii');
/** The first 8 bytes of every encrypted stream: ASCII `CCDBAEAD`. A copy: changing it changes nothing here. */
export const ENCRYPTION_MAGIC: Buffer = Buffer.from(MAGIC);
export const FORMAT_VERSION = 1;

export const KEY_SIZE = 32;
export const KEY_ID_SIZE = 8;
export const SALT_SIZE = 32;
export const HEADER_MAC_SIZE = 32;

// Header layout: magic(8) version(1) chunkSize(4, BE) keyId(8) salt(32) mac(32).
const VERSION_OFFSET = 8;
const CHUNK_SIZE_OFFSET = 9;
const KEY_ID_OFFSET = 13;
const SALT_OFFSET = 21;
/** Bytes covered by the header MAC: everything before it. */
export const HEADER_MAC_OFFSET = 53;
/** The whole fixed-size header. */
export const HEADER_SIZE = HEADER_MAC_OFFSET + HEADER_MAC_SIZE; // 85

export const FRAME_SIZE = 4;
export const TAG_SIZE = 16;
export const NONCE_SIZE = 12;
/** Bit 31 of the frame word; the remaining 31 bits are the chunk's plaintext length. */
export const FINAL_FLAG = 0x8000_0000;
export const LENGTH_MASK = 0x7fff_ffff;

export const MIN_CHUNK_SIZE = 64 * 1024;
export const MAX_CHUNK_SIZE = 1024 * 1024;
/** An implementation choice, not part of the format (the header records the size): picked by measurement. */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;

/** How far (in chunk counters, each way) the decryptor looks to tell reordering from corruption. */
export const REORDER_WINDOW = 256;

const INFO_KEY_ID = 'copycat-db v1 key-id';
const INFO_HEADER = 'copycat-db v1 header';
const INFO_PAYLOAD = 'copycat-db v1 payload';

function hkdf(ikm: Buffer, salt: Buffer, info: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

/** Validates a raw key and returns a private copy, so later changes to the caller's buffer cannot matter. */
export function checkKey(key: unknown): Buffer {
  if (!(key instanceof Uint8Array)) {
    throw new CopycatError('KEY_INVALID', 'encryption key is not binary data: pass the 32 raw bytes of a key file');
  }
  if (key.length !== KEY_SIZE) {
    const newline = key.length === KEY_SIZE + 1 && (key[KEY_SIZE] === 0x0a || key[KEY_SIZE] === 0x0d);
    throw new CopycatError(
      'KEY_INVALID',
      `encryption key is ${key.length} bytes, not ${KEY_SIZE}` +
        (newline ? ' (a trailing newline?)' : '') +
        ': use a key file of exactly 32 raw bytes, as written by `copycat-db keygen`',
    );
  }
  return Buffer.from(key);
}

/** The key's public identifier (16 hex digits). It names a key; it reveals nothing usable about it. */
export function keyId(key: Buffer): string {
  return keyIdBytes(checkKey(key)).toString('hex');
}

function keyIdBytes(key: Buffer): Buffer {
  return hkdf(key, Buffer.alloc(0), INFO_KEY_ID, KEY_ID_SIZE);
}

export function isValidChunkSize(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_CHUNK_SIZE && n <= MAX_CHUNK_SIZE;
}

export function checkChunkSize(n: number): number {
  if (!isValidChunkSize(n)) {
    throw new CopycatError(
      'CHUNK_SIZE',
      `encryption chunk size ${n} is out of range: use an integer from ${MIN_CHUNK_SIZE} to ${MAX_CHUNK_SIZE}`,
    );
  }
  return n;
}

function headerMac(key: Buffer, salt: Buffer, macInput: Buffer): Buffer {
  return createHmac('sha256', hkdf(key, salt, INFO_HEADER, 32)).update(macInput).digest();
}

export function payloadKey(key: Buffer, salt: Buffer): Buffer {
  return hkdf(key, salt, INFO_PAYLOAD, 32);
}

/** Writes the 85-byte header for a new stream. `key` must already have passed checkKey. */
export function buildHeader(key: Buffer, salt: Buffer, chunkSize: number): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  MAGIC.copy(header, 0);
  header[VERSION_OFFSET] = FORMAT_VERSION;
  header.writeUInt32BE(chunkSize, CHUNK_SIZE_OFFSET);
  keyIdBytes(key).copy(header, KEY_ID_OFFSET);
  salt.copy(header, SALT_OFFSET);
  headerMac(key, salt, header.subarray(0, HEADER_MAC_OFFSET)).copy(header, HEADER_MAC_OFFSET);
  return header;
}

function notEncrypted(detail: string): CopycatError {
  return new CopycatError(
    'NOT_ENCRYPTED',
    `not a copycat-db encrypted stream (${detail}): restore it without a decryption key, or check that the right object was given`,
  );
}

/**
 * Checks as much of the header as has arrived (`prefix` may be shorter than HEADER_SIZE), so a stream that is
 * not ours fails on its first bytes. `ended` means no more bytes will come.
 */
export function checkHeaderPrefix(prefix: Buffer, ended: boolean): void {
  const n = Math.min(prefix.length, MAGIC.length);
  if (!prefix.subarray(0, n).equals(MAGIC.subarray(0, n))) {
    throw notEncrypted(`it does not start with ${MAGIC.toString('ascii')}`);
  }
  if (prefix.length < MAGIC.length) {
    if (ended) throw notEncrypted(prefix.length === 0 ? 'the stream is empty' : `the stream is only ${prefix.length} bytes`);
    return;
  }
  if (prefix.length > VERSION_OFFSET && prefix[VERSION_OFFSET] !== FORMAT_VERSION) {
    throw new CopycatError(
      'FORMAT_VERSION',
      `encrypted stream has format version ${prefix[VERSION_OFFSET]}, this copycat-db reads only version ${FORMAT_VERSION}: upgrade copycat-db`,
    );
  }
  if (ended && prefix.length < HEADER_SIZE) {
    throw new CopycatError(
      'TRUNCATED',
      `truncated inside the header (${prefix.length} of ${HEADER_SIZE} bytes): the backup is incomplete, restore from another copy`,
    );
  }
}

export interface OpenedHeader {
  readonly chunkSize: number;
  readonly keyId: string;
  readonly payloadKey: Buffer;
}

/** Verifies a complete header against the key; every failure is its own CopycatError code. */
export function openHeader(header: Buffer, key: Buffer): OpenedHeader {
  checkHeaderPrefix(header, true);
  const chunkSize = header.readUInt32BE(CHUNK_SIZE_OFFSET);
  if (!isValidChunkSize(chunkSize)) {
    throw new CopycatError(
      'CHUNK_SIZE',
      `encrypted stream header gives chunk size ${chunkSize}, outside ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}: the header is corrupt, restore from another copy`,
    );
  }
  const salt = header.subarray(SALT_OFFSET, HEADER_MAC_OFFSET);
  const mac = header.subarray(HEADER_MAC_OFFSET, HEADER_SIZE);
  const ours = keyIdBytes(key);
  const theirs = header.subarray(KEY_ID_OFFSET, KEY_ID_OFFSET + KEY_ID_SIZE);
  const macInput = Buffer.from(header.subarray(0, HEADER_MAC_OFFSET));
  const id = ours.toString('hex');
  if (!ours.equals(theirs)) {
    // A damaged key-id field with the right key still verifies once our id is put back: that is corruption.
    ours.copy(macInput, KEY_ID_OFFSET);
    if (!timingSafeEqual(headerMac(key, salt, macInput), mac)) {
      const x = theirs.toString('hex');
      throw new CopycatError(
        'WRONG_KEY',
        `wrong key: this backup was encrypted with key id ${x}, the key given has id ${id} — use the key file whose id is ${x}`,
      );
    }
    throw new CopycatError(
      'HEADER_CORRUPT',
      `encrypted stream header has a damaged key id field (the rest verifies with key id ${id}): the header is corrupt or was altered, restore from another copy`,
    );
  }
  if (!timingSafeEqual(headerMac(key, salt, macInput), mac)) {
    throw new CopycatError(
      'HEADER_CORRUPT',
      `encrypted stream header fails authentication although its key id ${id} matches the key given: the header is corrupt or was altered, restore from another copy`,
    );
  }
  return { chunkSize, keyId: id, payloadKey: payloadKey(key, salt) };
}

/** Fills `out` (12 bytes) with the nonce: 11-byte big-endian chunk counter, then 0x01 if final else 0x00. */
export function writeNonce(out: Buffer, counter: number, final: boolean): Buffer {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError(`chunk counter ${counter} out of range`);
  out.fill(0, 0, 3);
  out.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 3);
  out.writeUInt32BE(counter >>> 0, 7);
  out[11] = final ? 1 : 0;
  return out;
}

export function frameWord(length: number, final: boolean): number {
  return (final ? FINAL_FLAG : 0) + length;
}
