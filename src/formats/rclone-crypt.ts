/**
 * rclone's crypt data format, as rclone's backend/crypt/cipher.go writes it (the format of the backups the bash
 * service before copycat-db uploaded with `rclone copy` to a crypt remote):
 *
 *   "RCLONE\0\0" (8 bytes) || nonce (24 bytes) || block 0 || block 1 || …
 *
 * Each block is NaCl secretbox (XSalsa20-Poly1305) of up to 64 KiB of plaintext: a 16-byte Poly1305 tag, then the
 * ciphertext. Block i uses the header's nonce plus i (a 192-bit little-endian counter). Only the last block may be
 * shorter; nothing marks it as the last, so a stream cut exactly between two blocks decrypts without error: only the
 * object's size, or the dump's own end, can tell.
 */
import { scrypt } from 'node:crypto';
import { CopycatError } from '../errors.js';

export const RCLONE_MAGIC = Buffer.from('RCLONE\u0000\u0000', 'latin1');
export const RCLONE_NONCE_SIZE = 24;
export const RCLONE_HEADER_SIZE = RCLONE_MAGIC.length + RCLONE_NONCE_SIZE;
export const RCLONE_TAG_SIZE = 16;
export const RCLONE_BLOCK_DATA_SIZE = 64 * 1024;
export const RCLONE_BLOCK_SIZE = RCLONE_TAG_SIZE + RCLONE_BLOCK_DATA_SIZE;

/** rclone's salt when password2 is empty ("just to make attackers' lives slightly harder than using no salt"). */
const DEFAULT_SALT = Buffer.from([0xa8, 0x0d, 0xf4, 0x3a, 0x8f, 0xbd, 0x03, 0x08, 0xa7, 0xca, 0xb8, 0x3e, 0x58, 0x1f, 0x86, 0xb1]);
/** scrypt's output: the data key, then the file name key (32) and tweak (16), which names encryption "off" never uses. */
const DERIVED_SIZE = 80;
export const RCLONE_KEY_SIZE = 32;

/**
 * The data key of a crypt remote: scrypt(password, password2 or rclone's default salt; N=16384, r=8, p=1), its first
 * 32 bytes. rclone turns an empty password into an all-zero key (for its own tests); that is refused here.
 */
export async function rcloneCryptKey(password: string, password2 = ''): Promise<Buffer> {
  if (!password) {
    throw new CopycatError('RCLONE_PASSWORD_MISSING', 'the rclone crypt password is empty: set COPYCAT_RCLONE_PASSWORD, or name the crypt remote with --rclone-remote');
  }
  const salt = password2 ? Buffer.from(password2, 'utf8') : DEFAULT_SALT;
  const derived = await new Promise<Buffer>((resolve, reject) =>
    scrypt(Buffer.from(password, 'utf8'), salt, DERIVED_SIZE, { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))));
  return derived.subarray(0, RCLONE_KEY_SIZE);
}

/**
 * The plaintext size of a crypt object of `stored` bytes (rclone's DecryptedSize), or why no crypt object has that
 * size: shorter than the header, or ending inside a block's tag.
 */
export function rcloneDumpSize(stored: number): { size: number } | { problem: string } {
  const body = stored - RCLONE_HEADER_SIZE;
  if (body < 0) return { problem: `${stored} bytes is shorter than an rclone crypt header (${RCLONE_HEADER_SIZE} bytes)` };
  const blocks = Math.floor(body / RCLONE_BLOCK_SIZE);
  const rest = body % RCLONE_BLOCK_SIZE;
  if (rest !== 0 && rest <= RCLONE_TAG_SIZE) {
    return { problem: `${stored} bytes ends inside the tag of block ${blocks + 1}: the object was cut short` };
  }
  return { size: blocks * RCLONE_BLOCK_DATA_SIZE + (rest === 0 ? 0 : rest - RCLONE_TAG_SIZE) };
}

/** Adds one to a nonce in place, as rclone does: little-endian, carrying across all 24 bytes. */
export function incrementNonce(nonce: Uint8Array): void {
  for (let i = 0; i < nonce.length; i++) {
    nonce[i] = (nonce[i]! + 1) & 0xff;
    if (nonce[i] !== 0) return;
  }
}
