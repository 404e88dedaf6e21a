/**
 * X25519 key pairs for format version 2 and their text forms. An identity (secret) reads `CCDB-SECRET-KEY-1…`, a
 * recipient (its public half) `ccdb1…`: Bech32 of the 32 raw key bytes, as age writes its keys, so a mistyped or
 * cut key is an error, never another key. A recipient id is a recipient's short public name in headers, messages
 * and manifests. Messages never quote an identity's text.
 */
import { createPrivateKey, createPublicKey, diffieHellman, randomBytes, type KeyObject } from 'node:crypto';
import { CopycatError } from '../errors.js';
import { Bech32Error, bech32Decode, bech32Encode } from './bech32.js';
import { hkdf } from './encrypted-stream.js';

export const RECIPIENT_PREFIX = 'ccdb';
export const IDENTITY_PREFIX = 'CCDB-SECRET-KEY-';
/** X25519 secret scalars and public points are both 32 bytes. */
export const X25519_KEY_SIZE = 32;
export const RECIPIENT_ID_SIZE = 8;
const INFO_RECIPIENT_ID = 'copycat-db v2 recipient-id';

// What node:crypto imports: 32 raw bytes behind a fixed DER prefix, PKCS#8 for secrets, SPKI for points (RFC 8410).
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

export interface Recipient {
  /** 16 hex digits: public, names the recipient in headers, messages and manifests. */
  readonly id: string;
  /** The `ccdb1…` text. */
  readonly text: string;
  /** The 32-byte X25519 public key. */
  readonly publicKey: Buffer;
}

export interface Identity {
  readonly recipient: Recipient;
  /** Held as a KeyObject, so the secret never shows in logs, JSON or util.inspect. */
  readonly privateKey: KeyObject;
}

export function x25519PrivateKey(secret: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519, secret]), format: 'der', type: 'pkcs8' });
}

export function x25519PublicKey(point: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_X25519, point]), format: 'der', type: 'spki' });
}

/** The 32-byte public point of a secret or public KeyObject. */
export function rawPublicKey(key: KeyObject): Buffer {
  return createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519.length);
}

/**
 * X25519 of a secret and a point; undefined when the point has low order, which makes the result all zeros (OpenSSL
 * then refuses, as RFC 7748 §6.1 advises). Every clamped scalar is a multiple of 8, so that depends on the point alone.
 */
export function x25519(privateKey: KeyObject, point: Buffer): Buffer | undefined {
  try {
    return diffieHellman({ privateKey, publicKey: x25519PublicKey(point) });
  } catch {
    return undefined;
  }
}

export function recipientId(publicKey: Buffer): string {
  return hkdf(publicKey, Buffer.alloc(0), INFO_RECIPIENT_ID, RECIPIENT_ID_SIZE).toString('hex');
}

function recipientFromKey(publicKey: Buffer): Recipient {
  return { id: recipientId(publicKey), text: bech32Encode(RECIPIENT_PREFIX, publicKey), publicKey };
}

/** Checks a point's usability once, with a throwaway secret: a low-order point gives the same zero for every secret. */
const PROBE = x25519PrivateKey(Buffer.alloc(X25519_KEY_SIZE, 1));

interface KeyKind {
  readonly head: string;
  readonly name: string;
}
const KINDS: readonly KeyKind[] = [
  { head: 'ccdb1', name: 'a public recipient (ccdb1…)' },
  { head: 'ccdb-secret-key-1', name: 'a secret identity (CCDB-SECRET-KEY-1…)' },
  { head: 'age1', name: 'an age recipient, not a copycat-db one' },
  { head: 'age-secret-key-1', name: 'an age identity, not a copycat-db one' },
];

/** The 32 key bytes of `text` (surrounding whitespace ignored), or a phrase saying why it holds none. */
function decodeKey(text: string, prefix: string): Buffer | string {
  const trimmed = text.trim();
  if (trimmed === '') return 'it is empty';
  let bytes: Buffer;
  try {
    bytes = bech32Decode(trimmed, prefix);
  } catch (err) {
    if (!(err instanceof Bech32Error)) throw err;
    const other = KINDS.find((k) => k.head !== `${prefix.toLowerCase()}1` && trimmed.toLowerCase().startsWith(k.head));
    return other ? `it is ${other.name}` : err.message;
  }
  return bytes.length === X25519_KEY_SIZE ? bytes : `it holds ${bytes.length} bytes, not ${X25519_KEY_SIZE}`;
}

/**
 * Parses a `ccdb1…` recipient. Throws RECIPIENT_INVALID naming the problem (wrong prefix, a key of the other kind,
 * bad character, bad checksum, wrong length, unusable point); `where` says where the text came from.
 */
export function parseRecipient(text: string, where = 'recipient'): Recipient {
  const fix = 'copy the recipient (ccdb1…) again from the output of `copycat-db keygen --identity`';
  const bytes = decodeKey(text, RECIPIENT_PREFIX);
  if (typeof bytes === 'string') throw new CopycatError('RECIPIENT_INVALID', `${where} is not a valid copycat-db recipient: ${bytes} — ${fix}`);
  if (x25519(PROBE, bytes) === undefined) {
    throw new CopycatError('RECIPIENT_INVALID', `${where} is not a usable X25519 public key (a low-order point) — ${fix}`);
  }
  return recipientFromKey(bytes);
}

/** Parses a `CCDB-SECRET-KEY-1…` identity. Throws IDENTITY_INVALID naming the problem, never quoting the text. */
export function parseIdentity(text: string, where = 'identity'): Identity {
  const bytes = decodeKey(text, IDENTITY_PREFIX);
  if (typeof bytes === 'string') {
    throw new CopycatError('IDENTITY_INVALID', `${where} is not a valid copycat-db identity: ${bytes} — use the identity file written by \`copycat-db keygen --identity\``);
  }
  const privateKey = x25519PrivateKey(bytes);
  return { recipient: recipientFromKey(rawPublicKey(privateKey)), privateKey };
}

/** A new random identity, as text. */
export function generateIdentity(): string {
  return bech32Encode(IDENTITY_PREFIX, randomBytes(X25519_KEY_SIZE));
}

/** The recipient (`ccdb1…`) of an identity's text. Throws IDENTITY_INVALID. */
export function recipientOf(identity: string): string {
  return parseIdentity(identity).recipient.text;
}

/** Each line that is neither blank nor a `#` comment, trimmed, with its 1-based line number. */
function entries(text: string): { readonly line: number; readonly text: string }[] {
  return text
    .split(/\r?\n/)
    .map((line, k) => ({ line: k + 1, text: line.trim() }))
    .filter((e) => e.text !== '' && !e.text.startsWith('#'));
}

/** Every identity in an identity file: one a line, blank lines and `#` comment lines allowed. Throws IDENTITY_INVALID. */
export function parseIdentityFile(text: string, source = 'identity file'): Identity[] {
  const found = entries(text).map((e) => parseIdentity(e.text, `${source} line ${e.line}`));
  if (found.length === 0) throw new CopycatError('IDENTITY_INVALID', `${source} holds no identity — use the file written by \`copycat-db keygen --identity\``);
  return found;
}

/** Every recipient in a recipients file: one a line, blank lines and `#` comment lines allowed. Throws RECIPIENT_INVALID. */
export function parseRecipientsFile(text: string, source = 'recipients file'): Recipient[] {
  const found = entries(text).map((e) => parseRecipient(e.text, `${source} line ${e.line}`));
  if (found.length === 0) throw new CopycatError('RECIPIENT_INVALID', `${source} holds no recipient — list one ccdb1… recipient a line`);
  return found;
}
