/**
 * Reading an encrypted stream's header, whichever its version: how long it is, what it says (public facts only),
 * and opening it with the secrets given. Version 1 is opened by a key, version 2 by identities.
 */
import { CopycatError } from '../errors.js';
import { FORMAT_V1, V1_HEADER_SIZE, VERSION_OFFSET, checkMagic, headerKeyId, openKeyHeader, readChunkSize } from './encrypted-stream.js';
import {
  FORMAT_V2,
  LENGTH_PREFIX_SIZE,
  MAX_RECIPIENT_HEADER_SIZE,
  headerRecipientIds,
  openRecipientHeader,
  recipientHeaderLength,
} from './recipient-header.js';
import type { Identity } from './recipients.js';

export { LENGTH_PREFIX_SIZE };

/** Enough of a stream's first bytes to hold any header: read this many (or the whole stream) to inspect one. */
export const HEADER_READ_SIZE = Math.max(V1_HEADER_SIZE, MAX_RECIPIENT_HEADER_SIZE);

/** What a decryptor holds: a key opens version 1, identities open version 2. Either or both may be given. */
export interface DecryptionSecrets {
  readonly key?: Buffer;
  readonly identities?: readonly Identity[];
}

export interface KeyHeaderFacts {
  readonly formatVersion: typeof FORMAT_V1;
  readonly chunkSize: number;
  readonly keyId: string;
}

export interface RecipientHeaderFacts {
  readonly formatVersion: typeof FORMAT_V2;
  readonly chunkSize: number;
  /** The ids of the recipients the stream was encrypted to, in stanza order. */
  readonly recipients: readonly string[];
}

/** A header's public facts, as read without any secret (so not yet authenticated). */
export type HeaderFacts = KeyHeaderFacts | RecipientHeaderFacts;

/** What opening a header proved; for version 2, also which recipient's stanza opened it. */
export type OpenedFacts = KeyHeaderFacts | (RecipientHeaderFacts & { readonly recipientId: string });

/**
 * The header's length, once `prefix` (the stream's first bytes, at least LENGTH_PREFIX_SIZE of them unless the stream
 * is shorter) shows it; undefined until then. Checks the magic and version as soon as their bytes are there, and a v2
 * stanza count before anything is allocated for it. `ended`: the stream holds no more than `prefix`, so a header
 * longer than it is TRUNCATED.
 */
export function headerLength(prefix: Buffer, ended: boolean): number | undefined {
  checkMagic(prefix, ended);
  let length: number | undefined;
  if (prefix.length > VERSION_OFFSET) {
    const version = prefix[VERSION_OFFSET];
    if (version === FORMAT_V1) length = V1_HEADER_SIZE;
    else if (version !== FORMAT_V2) {
      throw new CopycatError(
        'FORMAT_VERSION',
        `encrypted stream has format version ${version}, this copycat-db reads versions ${FORMAT_V1} and ${FORMAT_V2}: upgrade copycat-db`,
      );
    } else if (prefix.length >= LENGTH_PREFIX_SIZE) length = recipientHeaderLength(prefix);
  }
  if (ended && (length === undefined || prefix.length < length)) {
    const of = length === undefined ? ' bytes, before its length is known' : ` of ${length} bytes`;
    throw new CopycatError('TRUNCATED', `truncated inside the header (${prefix.length}${of}): the backup is incomplete, restore from another copy`);
  }
  return length;
}

/** The complete header at the start of `prefix` (at least HEADER_READ_SIZE bytes, or the whole stream). */
function completeHeader(prefix: Buffer): Buffer {
  return prefix.subarray(0, headerLength(prefix, prefix.length < HEADER_READ_SIZE));
}

/**
 * What a stored stream's header says — for version 2, which recipients it was made for — from its first bytes
 * (HEADER_READ_SIZE, or the whole stream), needing no secret. Throws NOT_ENCRYPTED, FORMAT_VERSION, TRUNCATED,
 * TOO_MANY_STANZAS, CHUNK_SIZE or HEADER_CORRUPT (a v2 header without stanzas).
 */
export function inspectHeader(prefix: Buffer): HeaderFacts {
  const header = completeHeader(prefix);
  const chunkSize = readChunkSize(header);
  return header[VERSION_OFFSET] === FORMAT_V1
    ? { formatVersion: FORMAT_V1, chunkSize, keyId: headerKeyId(header) }
    : { formatVersion: FORMAT_V2, chunkSize, recipients: headerRecipientIds(header) };
}

/** Verifies a complete header with the secrets given; every failure is its own CopycatError code. */
export function openHeader(header: Buffer, secrets: DecryptionSecrets): { facts: OpenedFacts; payloadKey: Buffer } {
  if (header[VERSION_OFFSET] === FORMAT_V1) {
    if (secrets.key === undefined) {
      throw new CopycatError(
        'KEY_MISSING',
        `this backup was encrypted with a key file (key id ${headerKeyId(header)}), not to recipients: pass --key-file with that key`,
      );
    }
    const { chunkSize, keyId, payloadKey } = openKeyHeader(header, secrets.key);
    return { facts: { formatVersion: FORMAT_V1, chunkSize, keyId }, payloadKey };
  }
  if (!secrets.identities?.length) {
    throw new CopycatError(
      'IDENTITY_MISSING',
      `this backup was encrypted to recipients ${headerRecipientIds(header).join(', ')}, not with a key file: pass --identity with the identity file of one of them`,
    );
  }
  const { chunkSize, recipients, recipientId, payloadKey } = openRecipientHeader(header, secrets.identities);
  return { facts: { formatVersion: FORMAT_V2, chunkSize, recipients, recipientId }, payloadKey };
}

/**
 * Checks that the secrets open a stored stream, from its first bytes (HEADER_READ_SIZE, or the whole stream), so a
 * caller can refuse a wrong key or identity before downloading or restoring anything. Throws what decrypting would
 * throw at the header: WRONG_KEY, WRONG_IDENTITY (naming the recipients' public ids), KEY_MISSING, IDENTITY_MISSING,
 * STANZA_CORRUPT, HEADER_CORRUPT, and inspectHeader's errors.
 */
export function checkCanOpen(prefix: Buffer, secrets: DecryptionSecrets): OpenedFacts {
  return openHeader(completeHeader(prefix), secrets).facts;
}
