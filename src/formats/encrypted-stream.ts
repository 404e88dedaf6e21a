/**
 * The copycat-db encrypted stream format: what both versions share (magic, chunk layout, nonces, key derivations)
 * and the version 1 header (one symmetric key). Version 2's header is in recipient-header.ts.
 * docs/FORMAT.md is the specification; this file and that document must change together.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { CopycatError } from '../errors.js';

const MAGIC = Buffer.from('CCDBAEAD', 'ascii');
/** The first 8 bytes of every encrypted stream: ASCII `CCDBAEAD`. A copy: changing it changes nothing here. */
export const ENCRYPTION_MAGIC: Buffer = Buffer.from(MAGIC);
export const FORMAT_V1 = 1;

export const KEY_SIZE = 32;
export const KEY_ID_SIZE = 8;
export const SALT_SIZE = 32;
export const HEADER_MAC_SIZE = 32;

// Every version's header starts magic(8) version(1) chunkSize(4, BE) and ends with a 32-byte MAC of the rest.
export const VERSION_OFFSET = 8;
const CHUNK_SIZE_OFFSET = 9;
/** The bytes every version shares: magic, version, chunk size. */
export const PREAMBLE_SIZE = 13;
// Version 1 then has keyId(8) salt(32) mac(32).
const KEY_ID_OFFSET = PREAMBLE_SIZE;
const SALT_OFFSET = 21;
/** Bytes covered by the version 1 header MAC: everything before it. */
const HEADER_MAC_OFFSET = 53;
/** The whole fixed-size version 1 header. */
export const V1_HEADER_SIZE = HEADER_MAC_OFFSET + HEADER_MAC_SIZE; // 85

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

export function hkdf(ikm: Buffer, salt: Buffer, info: string, length: number): Buffer {
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

/**
 * Both versions derive the header MAC key and the payload key alike from their stream key (v1: the key; v2: the file
 * key) and salt; the version in the label keeps the two versions' keys apart.
 */
function streamKey(key: Buffer, salt: Buffer, version: number, purpose: 'header' | 'payload'): Buffer {
  return hkdf(key, salt, `copycat-db v${version} ${purpose}`, 32);
}

/** The MAC over all of a header but its last 32 bytes (where the MAC goes). */
function headerMac(key: Buffer, salt: Buffer, header: Buffer): Buffer {
  const macInput = header.subarray(0, header.length - HEADER_MAC_SIZE);
  return createHmac('sha256', streamKey(key, salt, header[VERSION_OFFSET]!, 'header')).update(macInput).digest();
}

/** Whether a header's last 32 bytes are its MAC under `key` (compared in constant time). */
export function headerMacVerifies(key: Buffer, salt: Buffer, header: Buffer): boolean {
  return timingSafeEqual(headerMac(key, salt, header), header.subarray(header.length - HEADER_MAC_SIZE));
}

export function payloadKey(key: Buffer, salt: Buffer, version: number): Buffer {
  return streamKey(key, salt, version, 'payload');
}

/** A header of `size` bytes with the shared preamble written; the caller fills the rest, then sealHeader. */
export function newHeader(size: number, version: number, chunkSize: number): Buffer {
  const header = Buffer.alloc(size);
  MAGIC.copy(header, 0);
  header[VERSION_OFFSET] = version;
  header.writeUInt32BE(chunkSize, CHUNK_SIZE_OFFSET);
  return header;
}

/** Writes the MAC into the header's last 32 bytes. */
export function sealHeader(header: Buffer, key: Buffer, salt: Buffer): Buffer {
  headerMac(key, salt, header).copy(header, header.length - HEADER_MAC_SIZE);
  return header;
}

/** Writes the 85-byte version 1 header for a new stream. `key` must already have passed checkKey. */
export function buildKeyHeader(key: Buffer, salt: Buffer, chunkSize: number): Buffer {
  const header = newHeader(V1_HEADER_SIZE, FORMAT_V1, chunkSize);
  keyIdBytes(key).copy(header, KEY_ID_OFFSET);
  salt.copy(header, SALT_OFFSET);
  return sealHeader(header, key, salt);
}

function notEncrypted(detail: string): CopycatError {
  return new CopycatError(
    'NOT_ENCRYPTED',
    `not a copycat-db encrypted stream (${detail}): restore it without a decryption key, or check that the right object was given`,
  );
}

/**
 * Checks the magic in as much of the stream as has arrived, so a stream that is not ours fails on its first bytes.
 * `ended` means no more bytes will come.
 */
export function checkMagic(prefix: Buffer, ended: boolean): void {
  const n = Math.min(prefix.length, MAGIC.length);
  if (!prefix.subarray(0, n).equals(MAGIC.subarray(0, n))) {
    throw notEncrypted(`it does not start with ${MAGIC.toString('ascii')}`);
  }
  if (ended && prefix.length < MAGIC.length) {
    throw notEncrypted(prefix.length === 0 ? 'the stream is empty' : `the stream is only ${prefix.length} bytes`);
  }
}

/** The chunk size a complete header records, checked against the format's range. */
export function readChunkSize(header: Buffer): number {
  const chunkSize = header.readUInt32BE(CHUNK_SIZE_OFFSET);
  if (!isValidChunkSize(chunkSize)) {
    throw new CopycatError(
      'CHUNK_SIZE',
      `encrypted stream header gives chunk size ${chunkSize}, outside ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}: the header is corrupt, restore from another copy`,
    );
  }
  return chunkSize;
}

/** The key id a version 1 header names (unauthenticated until the header is opened). */
export function headerKeyId(header: Buffer): string {
  return header.subarray(KEY_ID_OFFSET, KEY_ID_OFFSET + KEY_ID_SIZE).toString('hex');
}

export interface OpenedKeyHeader {
  readonly chunkSize: number;
  readonly keyId: string;
  readonly payloadKey: Buffer;
}

/** Verifies a complete version 1 header against the key; every failure is its own CopycatError code. */
export function openKeyHeader(header: Buffer, key: Buffer): OpenedKeyHeader {
  const chunkSize = readChunkSize(header);
  const salt = header.subarray(SALT_OFFSET, HEADER_MAC_OFFSET);
  const ours = keyIdBytes(key);
  const id = ours.toString('hex');
  const theirs = headerKeyId(header);
  if (theirs !== id) {
    // A damaged key-id field with the right key still verifies once our id is put back: that is corruption.
    const repaired = Buffer.from(header);
    ours.copy(repaired, KEY_ID_OFFSET);
    if (!headerMacVerifies(key, salt, repaired)) {
      throw new CopycatError(
        'WRONG_KEY',
        `wrong key: this backup was encrypted with key id ${theirs}, the key given has id ${id} — use the key file whose id is ${theirs}`,
      );
    }
    throw new CopycatError(
      'HEADER_CORRUPT',
      `encrypted stream header has a damaged key id field (the rest verifies with key id ${id}): the header is corrupt or was altered, restore from another copy`,
    );
  }
  if (!headerMacVerifies(key, salt, header)) {
    throw new CopycatError(
      'HEADER_CORRUPT',
      `encrypted stream header fails authentication although its key id ${id} matches the key given: the header is corrupt or was altered, restore from another copy`,
    );
  }
  return { chunkSize, keyId: id, payloadKey: payloadKey(key, salt, FORMAT_V1) };
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
