/**
 * Bech32 (BIP 173) without its 90-character limit, as age uses it for keys: a human-readable prefix, the separator
 * `1`, the data in a 32-letter alphabet without look-alikes (no `b`, `i`, `o`, `1`), and a 6-letter BCH checksum that
 * detects any 4 mistyped letters and most transpositions. Written from BIP 173 (and age's internal/bech32).
 */

const ALPHABET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3] as const;
const CHECKSUM_LENGTH = 6;

/** Why a text is not valid Bech32; the message is a phrase that never quotes the text (it may be a secret). */
export class Bech32Error extends Error {}

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATOR[i]!;
  }
  return chk;
}

/** The prefix as the checksum covers it: high bits of each character, a zero, then the low bits. */
function expandPrefix(prefix: string): number[] {
  const codes = [...prefix.toLowerCase()].map((c) => c.charCodeAt(0));
  return [...codes.map((c) => c >>> 5), 0, ...codes.map((c) => c & 31)];
}

/** Regroups bits; `pad` on encoding, while decoding requires the leftover (under one group) to be zero padding. */
function regroup(data: Iterable<number>, from: number, to: number, pad: boolean): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const value of data) {
    acc = ((acc << from) | value) & 0xffff; // never more than from + to - 1 live bits
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >>> bits) & ((1 << to) - 1));
    }
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & ((1 << to) - 1));
  } else if (bits >= from || (acc & ((1 << bits) - 1)) !== 0) {
    throw new Bech32Error('its length is not a whole number of bytes');
  }
  return out;
}

/** `prefix` + `1` + data + checksum, in the prefix's case (age writes secret keys in upper case). */
export function bech32Encode(prefix: string, data: Uint8Array): string {
  const words = regroup(data, 8, 5, true);
  const mod = polymod([...expandPrefix(prefix), ...words, 0, 0, 0, 0, 0, 0]) ^ 1;
  const checksum = Array.from({ length: CHECKSUM_LENGTH }, (_, p) => (mod >>> (5 * (5 - p))) & 31);
  const text = `${prefix.toLowerCase()}1${[...words, ...checksum].map((w) => ALPHABET[w]).join('')}`;
  return prefix === prefix.toUpperCase() ? text.toUpperCase() : text;
}

/**
 * The bytes of `text`, which must be `prefix` + `1` + data + checksum in either case (not mixed). Throws Bech32Error
 * naming the first problem; the prefix is checked first, so a key of another kind is reported as such.
 */
export function bech32Decode(text: string, prefix: string): Buffer {
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) throw new Bech32Error('it mixes upper and lower case');
  const lower = text.toLowerCase();
  const head = `${prefix.toLowerCase()}1`;
  if (!lower.startsWith(head)) throw new Bech32Error(`it does not start with ${prefix === prefix.toUpperCase() ? head.toUpperCase() : head}`);
  const words: number[] = [];
  for (let at = head.length; at < lower.length; at++) {
    const w = ALPHABET.indexOf(lower[at]!);
    if (w < 0) throw new Bech32Error(`character ${at + 1} (${JSON.stringify(text[at])}) is not a Bech32 letter`);
    words.push(w);
  }
  if (words.length < CHECKSUM_LENGTH) throw new Bech32Error('it is too short to hold a checksum');
  if (polymod([...expandPrefix(prefix), ...words]) !== 1) {
    throw new Bech32Error('its checksum does not match: a character was mistyped, lost, added or swapped');
  }
  return Buffer.from(regroup(words.slice(0, -CHECKSUM_LENGTH), 5, 8, false));
}
