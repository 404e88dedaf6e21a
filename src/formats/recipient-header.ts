/**
 * The version 2 header: public-key encryption on the version 1 stream. A random 32-byte file key per stream takes
 * the place of v1's key (the header MAC key and payload key derive from it as v1's derive from its key), and one
 * stanza per recipient wraps the file key for that recipient's X25519 public key, as age's X25519 recipient does.
 * Whoever holds only recipients can write streams but not read them. docs/FORMAT.md is the specification.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { CopycatError } from '../errors.js';
import {
  HEADER_MAC_SIZE,
  NONCE_SIZE,
  PREAMBLE_SIZE,
  SALT_SIZE,
  TAG_SIZE,
  headerMacVerifies,
  hkdf,
  newHeader,
  payloadKey,
  readChunkSize,
  sealHeader,
} from './encrypted-stream.js';
import {
  RECIPIENT_ID_SIZE,
  X25519_KEY_SIZE,
  rawPublicKey,
  x25519,
  x25519PrivateKey,
  type Identity,
  type Recipient,
} from './recipients.js';

export const FORMAT_V2 = 2;
export const FILE_KEY_SIZE = 32;

// After the preamble: stanzaCount(1) salt(32) stanzas(STANZA_SIZE each) mac(32).
const COUNT_OFFSET = PREAMBLE_SIZE;
const SALT_OFFSET = COUNT_OFFSET + 1;
const STANZAS_OFFSET = SALT_OFFSET + SALT_SIZE;
// A stanza: recipientId(8) ephemeralShare(32) wrappedFileKey(32) tag(16).
const SHARE_OFFSET = RECIPIENT_ID_SIZE;
const WRAPPED_OFFSET = SHARE_OFFSET + X25519_KEY_SIZE;
export const STANZA_SIZE = WRAPPED_OFFSET + FILE_KEY_SIZE + TAG_SIZE; // 88
/** A format limit, so a hostile header cannot make a decryptor read or hold more than a few KiB. */
export const MAX_STANZAS = 32;
/** The first bytes of a stream always tell its header's length: the v2 stanza count is the last field needed. */
export const LENGTH_PREFIX_SIZE = COUNT_OFFSET + 1;

const WRAP_CIPHER = 'aes-256-gcm';
/** Every wrap key seals one message only (its ephemeral secret is fresh), so a constant zero nonce is safe. */
const WRAP_NONCE = Buffer.alloc(NONCE_SIZE);
const INFO_WRAP = 'copycat-db v2 X25519';

export function recipientHeaderSize(stanzas: number): number {
  return STANZAS_OFFSET + stanzas * STANZA_SIZE + HEADER_MAC_SIZE;
}

export const MAX_RECIPIENT_HEADER_SIZE = recipientHeaderSize(MAX_STANZAS); // 2894

/** The header's length from its first LENGTH_PREFIX_SIZE bytes; refuses a stanza count out of range. */
export function recipientHeaderLength(prefix: Buffer): number {
  const count = prefix[COUNT_OFFSET]!;
  const fix = 'the header is corrupt or was altered, restore from another copy';
  if (count === 0) throw new CopycatError('HEADER_CORRUPT', `encrypted stream header holds no recipient stanza: ${fix}`);
  if (count > MAX_STANZAS) {
    throw new CopycatError('TOO_MANY_STANZAS', `encrypted stream header claims ${count} recipient stanzas, more than the format's ${MAX_STANZAS}: ${fix}`);
  }
  return recipientHeaderSize(count);
}

/** The wrap key of one stanza: both public keys go into the salt, binding the key to this exchange. */
function wrapKey(shared: Buffer, share: Buffer, recipientKey: Buffer): Buffer {
  return hkdf(shared, Buffer.concat([share, recipientKey]), INFO_WRAP, 32);
}

function sealStanza(fileKey: Buffer, recipient: Recipient, ephemeralSecret: Buffer): Buffer {
  const ephemeral = x25519PrivateKey(ephemeralSecret);
  const share = rawPublicKey(ephemeral);
  const shared = x25519(ephemeral, recipient.publicKey);
  if (shared === undefined) throw new CopycatError('RECIPIENT_INVALID', `recipient ${recipient.id} is a low-order point — pass recipients through parseRecipient`);
  const cipher = createCipheriv(WRAP_CIPHER, wrapKey(shared, share, recipient.publicKey), WRAP_NONCE, { authTagLength: TAG_SIZE });
  return Buffer.concat([Buffer.from(recipient.id, 'hex'), share, cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
}

/** The file key a stanza wraps for `identity`, or undefined when it does not authenticate under that identity. */
function openStanza(stanza: Buffer, identity: Identity): Buffer | undefined {
  const share = stanza.subarray(SHARE_OFFSET, WRAPPED_OFFSET);
  const shared = x25519(identity.privateKey, share);
  if (shared === undefined) return undefined;
  const decipher = createDecipheriv(WRAP_CIPHER, wrapKey(shared, share, identity.recipient.publicKey), WRAP_NONCE, { authTagLength: TAG_SIZE });
  decipher.setAuthTag(stanza.subarray(WRAPPED_OFFSET + FILE_KEY_SIZE));
  const fileKey = decipher.update(stanza.subarray(WRAPPED_OFFSET, WRAPPED_OFFSET + FILE_KEY_SIZE));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return fileKey;
}

/**
 * Writes a version 2 header: one stanza per recipient, in order, each with its own ephemeral secret. The caller
 * checks the count (1..MAX_STANZAS), the sizes and that recipients are distinct.
 */
export function buildRecipientHeader(
  recipients: readonly Recipient[],
  chunkSize: number,
  fileKey: Buffer,
  salt: Buffer,
  ephemeralSecrets: readonly Buffer[],
): Buffer {
  const header = newHeader(recipientHeaderSize(recipients.length), FORMAT_V2, chunkSize);
  header[COUNT_OFFSET] = recipients.length;
  salt.copy(header, SALT_OFFSET);
  recipients.forEach((r, k) => sealStanza(fileKey, r, ephemeralSecrets[k]!).copy(header, STANZAS_OFFSET + k * STANZA_SIZE));
  return sealHeader(header, fileKey, salt);
}

function stanzas(header: Buffer): Buffer[] {
  const end = header.length - HEADER_MAC_SIZE;
  const out: Buffer[] = [];
  for (let at = STANZAS_OFFSET; at < end; at += STANZA_SIZE) out.push(header.subarray(at, at + STANZA_SIZE));
  return out;
}

const stanzaId = (stanza: Buffer): string => stanza.subarray(0, RECIPIENT_ID_SIZE).toString('hex');

/** The recipient ids a complete version 2 header names, in stanza order (unauthenticated until it is opened). */
export function headerRecipientIds(header: Buffer): string[] {
  return stanzas(header).map(stanzaId);
}

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

function wrongIdentity(recipientIds: readonly string[], identities: readonly Identity[]): CopycatError {
  const given = identities.map((i) => i.recipient.id);
  return new CopycatError(
    'WRONG_IDENTITY',
    `wrong identity: this backup was encrypted to ${plural(recipientIds.length, 'recipient', 'recipients')} ${recipientIds.join(', ')}, ` +
      `the ${plural(given.length, 'identity given is', 'identities given are')} for ${given.join(', ')} — pass the identity file of one of those recipients`,
    { detail: { recipients: recipientIds.join(','), given: given.join(',') } },
  );
}

/**
 * The identities among `identities` whose recipient is in `recipientIds` (a header's or a manifest's), so a caller
 * can refuse a wrong identity before reading any data. Throws WRONG_IDENTITY, naming both sides' public ids.
 */
export function identitiesFor(recipientIds: readonly string[], identities: readonly Identity[]): Identity[] {
  const found = identities.filter((i) => recipientIds.includes(i.recipient.id));
  if (found.length === 0) throw wrongIdentity(recipientIds, identities);
  return found;
}

export interface OpenedRecipientHeader {
  readonly chunkSize: number;
  readonly recipients: readonly string[];
  /** The recipient whose stanza gave the file key. */
  readonly recipientId: string;
  readonly payloadKey: Buffer;
}

/**
 * Verifies a complete version 2 header with identities: finds a stanza by its recipient id, unwraps the file key,
 * then checks the MAC over the whole header, so every byte of every stanza is authenticated.
 */
export function openRecipientHeader(header: Buffer, identities: readonly Identity[]): OpenedRecipientHeader {
  const chunkSize = readChunkSize(header);
  const salt = header.subarray(SALT_OFFSET, STANZAS_OFFSET);
  const all = stanzas(header);
  const recipients = all.map(stanzaId);
  const fix = 'the header is corrupt or was altered, restore from another copy';
  const matching = identities.filter((i) => recipients.includes(i.recipient.id));
  if (matching.length === 0) {
    // As in v1: a damaged id field hides a right identity's stanza. If a stanza opens and the MAC verifies once the
    // identity's id is put back, the identity is right and the header damaged (a search on the error path only).
    for (const identity of identities) {
      for (const [k, stanza] of all.entries()) {
        const fileKey = openStanza(stanza, identity);
        if (fileKey === undefined) continue;
        const repaired = Buffer.from(header);
        Buffer.from(identity.recipient.id, 'hex').copy(repaired, STANZAS_OFFSET + k * STANZA_SIZE);
        if (headerMacVerifies(fileKey, salt, repaired)) {
          throw new CopycatError('HEADER_CORRUPT', `stanza ${k} of the encrypted stream header has a damaged recipient id (it opens with identity ${identity.recipient.id}): ${fix}`);
        }
      }
    }
    throw wrongIdentity(recipients, identities);
  }
  let failed = '';
  for (const identity of matching) {
    for (const [k, stanza] of all.entries()) {
      if (stanzaId(stanza) !== identity.recipient.id) continue;
      const fileKey = openStanza(stanza, identity);
      if (fileKey === undefined) {
        failed = `stanza ${k} (for recipient ${identity.recipient.id}, whose identity was given)`;
        continue;
      }
      if (!headerMacVerifies(fileKey, salt, header)) {
        throw new CopycatError('HEADER_CORRUPT', `encrypted stream header fails authentication although stanza ${k} opens with identity ${identity.recipient.id}: ${fix}`);
      }
      return { chunkSize, recipients, recipientId: identity.recipient.id, payloadKey: payloadKey(fileKey, salt, FORMAT_V2) };
    }
  }
  throw new CopycatError('STANZA_CORRUPT', `${failed} of the encrypted stream header fails authentication: ${fix}`);
}
