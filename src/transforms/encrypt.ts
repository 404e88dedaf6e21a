/**
 * Chunked authenticated encryption (AES-256-GCM in the STREAM construction, as in age's internal/stream):
 * the stream is cut into fixed-size chunks, each sealed with a nonce made of its counter and a final flag, so
 * truncation, reordering, duplication and splicing are all detected. Format version 1 keys the stream with a
 * symmetric key, version 2 with a random file key wrapped for X25519 recipients; the chunks are the same.
 * docs/FORMAT.md is the specification.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { CopycatError } from '../errors.js';
import type { Logger } from '../log.js';
import type { TransformStage } from '../stage.js';
import {
  DEFAULT_CHUNK_SIZE,
  FINAL_FLAG,
  FORMAT_V1,
  FRAME_SIZE,
  LENGTH_MASK,
  NONCE_SIZE,
  REORDER_WINDOW,
  SALT_SIZE,
  TAG_SIZE,
  buildKeyHeader,
  checkChunkSize,
  checkKey,
  frameWord,
  keyId,
  payloadKey,
  writeNonce,
} from '../formats/encrypted-stream.js';
import { FILE_KEY_SIZE, FORMAT_V2, MAX_STANZAS, buildRecipientHeader } from '../formats/recipient-header.js';
import { X25519_KEY_SIZE, type Recipient } from '../formats/recipients.js';
import { LENGTH_PREFIX_SIZE, headerLength, openHeader, type DecryptionSecrets, type OpenedFacts } from '../formats/stream-header.js';

export { DEFAULT_CHUNK_SIZE, ENCRYPTION_MAGIC, keyId } from '../formats/encrypted-stream.js';
export { identitiesFor } from '../formats/recipient-header.js';
export {
  HEADER_READ_SIZE,
  checkCanOpen,
  inspectHeader,
  type DecryptionSecrets,
  type HeaderFacts,
  type OpenedFacts,
} from '../formats/stream-header.js';

interface ChunkOptions {
  /** Plaintext bytes per chunk, 65536..1048576; default DEFAULT_CHUNK_SIZE (256 KiB). */
  readonly chunkSize?: number;
}

/** Format version 1: one symmetric key both writes and reads. */
export interface KeyEncryptOptions extends ChunkOptions {
  /** 32 raw bytes: the contents of a key file. */
  readonly key: Buffer;
  readonly recipients?: never;
  /**
   * @internal For test vectors only. Normally every stream gets 32 fresh random bytes; two streams with the same
   * key and salt reuse nonces, which destroys both confidentiality and integrity.
   */
  readonly salt?: Buffer;
}

/** Format version 2: recipients' public keys write; only their identities read. */
export interface RecipientEncryptOptions extends ChunkOptions {
  /** 1..32 recipients (repeats are written once), from parseRecipient or parseRecipientsFile. */
  readonly recipients: readonly Recipient[];
  readonly key?: never;
  /**
   * @internal For test vectors only: every stream normally draws a fresh file key, salt and one ephemeral secret per
   * recipient. Fixing them makes every stream identical, so two plaintexts under them reuse nonces.
   */
  readonly fixed?: { readonly fileKey: Buffer; readonly salt: Buffer; readonly ephemeralSecrets: readonly Buffer[] };
}

export type EncryptOptions = KeyEncryptOptions | RecipientEncryptOptions;

/** A key (version 1), identities (version 2), or both when the stored version is not known beforehand. */
export type DecryptOptions = DecryptionSecrets;

/** What a manifest records about an encryption stage: public ids, never a secret. */
export type KeyEncryptParams = { readonly keyId: string; readonly chunkSize: number };
export type RecipientEncryptParams = { readonly recipients: readonly string[]; readonly chunkSize: number };

export type KeyEncryptStage = TransformStage & { readonly params: KeyEncryptParams };
export type RecipientEncryptStage = TransformStage & { readonly params: RecipientEncryptParams };
export type EncryptStage = KeyEncryptStage | RecipientEncryptStage;

/**
 * Facts `info()` reports after a run: the encryption's params and chunk count; after decrypting version 2, also the
 * recipient whose identity opened it. `chunkSize` is undefined when a decryptor never read a valid header.
 */
export type EncryptionInfo = {
  readonly keyId?: string;
  readonly recipients?: readonly string[];
  readonly recipientId?: string;
  readonly chunkSize: number | undefined;
  readonly chunks: number;
};

const CIPHER = 'aes-256-gcm';
const STREAM_OPTIONS = { highWaterMark: 1 << 20 };

/** Writes waiting to be cut into chunks, kept as they came and copied at most once when taken. */
class ByteQueue {
  private parts: Buffer[] = [];
  length = 0;

  push(part: Buffer): void {
    if (part.length === 0) return;
    this.parts.push(part);
    this.length += part.length;
  }

  /** Removes the next `n` bytes (n <= length): a view when they lie in one write, else one copy. */
  take(n: number): Buffer {
    const first = this.parts[0];
    if (n === 0 || first === undefined) return Buffer.alloc(0);
    this.length -= n;
    if (first.length >= n) {
      if (first.length === n) this.parts.shift();
      else this.parts[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let used = 0;
    while (filled < n) {
      const part = this.parts[used]!;
      const k = Math.min(part.length, n - filled);
      part.copy(out, filled, 0, k);
      filled += k;
      if (k === part.length) used++;
      else this.parts[used] = part.subarray(k);
    }
    this.parts.splice(0, used);
    return out;
  }

  /** Removes the next `n` bytes (n <= length) as views of the writes that hold them, copying nothing. */
  takeParts(n: number): Buffer[] {
    const taken: Buffer[] = [];
    let left = n;
    let used = 0;
    while (left > 0) {
      const part = this.parts[used]!;
      if (part.length <= left) {
        taken.push(part);
        left -= part.length;
        used++;
      } else {
        taken.push(part.subarray(0, left));
        this.parts[used] = part.subarray(left);
        left = 0;
      }
    }
    this.parts.splice(0, used);
    this.length -= n;
    return taken;
  }

  /** A copy of the first min(n, length) bytes, left in place. */
  peek(n: number): Buffer {
    return Buffer.concat(this.parts, Math.min(n, this.length));
  }

  clear(): void {
    this.parts = [];
    this.length = 0;
  }
}

/**
 * Node's cipher is markedly faster fed at most 32 KiB per update() (measured: ~2x against 256 KiB calls), so
 * chunk data goes through in slices of this size; parts smaller on average than MIN_PART are first joined, so
 * one-byte writes do not become one native call per byte.
 */
const UPDATE_SLICE = 32 * 1024;
const MIN_PART = 4 * 1024;

/** Runs `parts` (n bytes in all) through `cipher`, returning its output pieces. */
function runCipher(cipher: { update(data: Buffer): Buffer }, parts: readonly Buffer[], n: number): Buffer[] {
  const input = parts.length > 1 && n < parts.length * MIN_PART ? [Buffer.concat(parts, n)] : parts;
  const out: Buffer[] = [];
  for (const part of input) {
    for (let at = 0; at < part.length; at += UPDATE_SLICE) out.push(cipher.update(part.subarray(at, at + UPDATE_SLICE)));
  }
  return out;
}

/** Header (all of it, whatever the version) || frame word: the associated data of every chunk. */
function chunkAad(header: Buffer): Buffer {
  const aad = Buffer.alloc(header.length + FRAME_SIZE);
  header.copy(aad, 0);
  return aad;
}

/** Puts a chunk's frame word into its associated data. */
function setFrame(aad: Buffer, word: number): void {
  aad.writeUInt32BE(word, aad.length - FRAME_SIZE);
}

class EncryptTransform extends Transform {
  chunks = 0;
  private readonly queue = new ByteQueue();
  private readonly aad: Buffer;
  private readonly nonce = Buffer.alloc(NONCE_SIZE);

  constructor(private readonly key: Buffer, header: Buffer, private readonly chunkSize: number, private readonly log: Logger) {
    super(STREAM_OPTIONS);
    this.aad = chunkAad(header);
    this.push(header);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.queue.push(chunk);
    // Hold back up to one full chunk: only the next byte (or the end) tells whether it is the final one.
    while (this.queue.length > this.chunkSize) this.seal(this.queue.takeParts(this.chunkSize), this.chunkSize, false);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const n = this.queue.length;
    this.seal(this.queue.takeParts(n), n, true);
    this.log.log('debug', 'encrypt.done', { chunks: this.chunks });
    callback();
  }

  private seal(plaintext: readonly Buffer[], n: number, final: boolean): void {
    const frame = frameWord(n, final);
    setFrame(this.aad, frame);
    const cipher = createCipheriv(CIPHER, this.key, writeNonce(this.nonce, this.chunks, final), { authTagLength: TAG_SIZE });
    cipher.setAAD(this.aad);
    const frameBytes = Buffer.allocUnsafe(FRAME_SIZE);
    frameBytes.writeUInt32BE(frame, 0);
    const ciphertext = runCipher(cipher, plaintext, n);
    cipher.final(); // GCM emits nothing here; it computes the tag
    // Pushed as the cipher produced it: joining into one buffer per chunk measured ~2x slower (large allocations).
    this.push(frameBytes);
    for (const piece of ciphertext) this.push(piece);
    this.push(cipher.getAuthTag());
    this.chunks++;
  }
}

type DecryptState = 'header' | 'frame' | 'body' | 'done';

class DecryptTransform extends Transform {
  chunks = 0;
  /** What the header proved, once it is read. */
  facts: OpenedFacts | undefined;
  private state: DecryptState = 'header';
  private readonly queue = new ByteQueue();
  private aad: Buffer = Buffer.alloc(0);
  private payloadKey: Buffer = Buffer.alloc(0);
  private readonly nonce = Buffer.alloc(NONCE_SIZE);
  /** Byte offset in the stream of the chunk being read (chunk number `this.chunks`). */
  private offset = 0;
  private frameLength = 0;
  private final = false;
  private trailing = 0;

  constructor(private readonly secrets: DecryptionSecrets, private readonly log: Logger) {
    super(STREAM_OPTIONS);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.state === 'done') {
      this.trailing += chunk.length;
      return callback();
    }
    this.queue.push(chunk);
    try {
      this.drain();
    } catch (err) {
      return callback(err as Error);
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.finish();
    } catch (err) {
      return callback(err as Error);
    }
    this.log.log('debug', 'decrypt.done', { chunks: this.chunks });
    callback();
  }

  private drain(): void {
    for (;;) {
      switch (this.state) {
        case 'header': {
          const length = headerLength(this.queue.peek(LENGTH_PREFIX_SIZE), false);
          if (length === undefined || this.queue.length < length) return;
          const header = this.queue.take(length);
          const opened = openHeader(header, this.secrets);
          this.aad = chunkAad(header);
          this.facts = opened.facts;
          this.payloadKey = opened.payloadKey;
          this.offset = length;
          this.state = 'frame';
          break;
        }
        case 'frame': {
          if (this.queue.length < FRAME_SIZE) return;
          const word = this.queue.take(FRAME_SIZE).readUInt32BE(0);
          this.final = word >= FINAL_FLAG;
          this.frameLength = word & LENGTH_MASK;
          this.checkFrame();
          setFrame(this.aad, word);
          this.state = 'body';
          break;
        }
        case 'body': {
          if (this.queue.length < this.frameLength + TAG_SIZE) return;
          const ciphertext = this.queue.takeParts(this.frameLength);
          const tag = this.queue.take(TAG_SIZE);
          const plaintext = this.open(this.chunks, this.final, ciphertext, tag);
          if (plaintext === undefined) throw this.diagnose(ciphertext, tag);
          for (const piece of plaintext) this.push(piece);
          this.chunks++;
          this.offset += FRAME_SIZE + this.frameLength + TAG_SIZE;
          if (!this.final) {
            this.state = 'frame';
            break;
          }
          this.state = 'done';
          this.trailing += this.queue.length;
          this.queue.clear();
          return;
        }
        case 'done':
          return;
      }
    }
  }

  private where(): string {
    return `chunk ${this.chunks} (byte offset ${this.offset})`;
  }

  private checkFrame(): void {
    const size = this.facts!.chunkSize;
    let problem: string | undefined;
    if (this.frameLength > size) problem = `claims ${this.frameLength} bytes, more than the chunk size ${size}`;
    else if (!this.final && this.frameLength !== size) problem = `is not final but holds ${this.frameLength} bytes, not the chunk size ${size}`;
    else if (this.final && this.frameLength === 0 && this.chunks > 0) problem = 'is an empty final chunk, which only an empty stream has';
    if (problem !== undefined) {
      throw new CopycatError('FRAME_INVALID', `${this.where()} ${problem}: the backup is corrupt or was altered, restore from another copy`);
    }
  }

  /** The plaintext (in pieces) if the chunk authenticates as chunk `counter` with the given final flag. */
  private open(counter: number, final: boolean, ciphertext: readonly Buffer[], tag: Buffer): Buffer[] | undefined {
    const decipher = createDecipheriv(CIPHER, this.payloadKey, writeNonce(this.nonce, counter, final), { authTagLength: TAG_SIZE });
    decipher.setAAD(this.aad);
    decipher.setAuthTag(tag);
    const plaintext = runCipher(decipher, ciphertext, this.frameLength);
    try {
      decipher.final();
    } catch {
      return undefined;
    }
    return plaintext;
  }

  /** Tells a moved or repeated chunk from a damaged one by trying nearby counters (error path only). */
  private diagnose(ciphertext: readonly Buffer[], tag: Buffer): CopycatError {
    const i = this.chunks;
    const suffix = 'the backup was altered, restore from another copy';
    for (let d = 1; d <= REORDER_WINDOW; d++) {
      for (const j of [i - d, i + d]) {
        if (j < 0) continue;
        if (this.open(j, this.final, ciphertext, tag) === undefined && this.open(j, !this.final, ciphertext, tag) === undefined) continue;
        const at = `chunk at position ${i} (byte offset ${this.offset}) is chunk ${j}`;
        return j < i
          ? new CopycatError('CHUNK_DUPLICATED', `${at}, which was already read: chunk duplicated — ${suffix}`)
          : new CopycatError('CHUNK_REORDERED', `${at}: chunks reordered — ${suffix}`);
      }
    }
    return new CopycatError('CHUNK_CORRUPT', `${this.where()} fails authentication: the backup is corrupt or was altered, restore from another copy`);
  }

  private finish(): void {
    const incomplete = 'the backup is incomplete, restore from another copy';
    switch (this.state) {
      case 'header':
        headerLength(this.queue.peek(this.queue.length), true); // always throws: the header never completed
        return;
      case 'frame':
        if (this.queue.length === 0) {
          const after = this.chunks === 0 ? 'the header' : `chunk ${this.chunks - 1}`;
          throw new CopycatError('TRUNCATED', `truncated after ${after}: the final chunk is missing — ${incomplete}`);
        }
        throw new CopycatError('TRUNCATED', `truncated inside ${this.where()}: only ${this.queue.length} of its 4 frame bytes — ${incomplete}`);
      case 'body': {
        const need = FRAME_SIZE + this.frameLength + TAG_SIZE;
        const have = FRAME_SIZE + this.queue.length;
        throw new CopycatError('TRUNCATED', `truncated inside ${this.where()}: ${have} of its ${need} bytes — ${incomplete}`);
      }
      case 'done':
        if (this.trailing > 0) {
          throw new CopycatError(
            'TRAILING_DATA',
            `${this.trailing} byte${this.trailing === 1 ? '' : 's'} of trailing data after the final chunk (chunk ${this.chunks - 1}): the backup was altered or two files were joined, restore from another copy`,
          );
        }
    }
  }
}

/** One encryption stage: `newStream` draws what each run (each stored stream) must not share with another. */
function encryptStage<P extends KeyEncryptParams | RecipientEncryptParams>(
  params: P,
  newStream: () => { readonly header: Buffer; readonly payloadKey: Buffer },
): TransformStage & { readonly params: P } {
  let current: EncryptTransform | undefined;
  return {
    name: 'encrypt',
    create(ctx) {
      const { header, payloadKey } = newStream();
      ctx.log.log('debug', 'encrypt.start', { ...params });
      current = new EncryptTransform(payloadKey, header, params.chunkSize, ctx.log);
      return current;
    },
    info: (): EncryptionInfo => ({ ...params, chunks: current?.chunks ?? 0 }),
    params,
  };
}

function checkSize(name: string, value: Buffer, size: number): Buffer {
  if (value.length !== size) throw new RangeError(`${name} must be ${size} bytes`);
  return Buffer.from(value);
}

/**
 * The encryption stage: `{ key }` writes format version 1, `{ recipients }` version 2. `params` is what a manifest
 * records (key id or recipient ids, and chunk size). Validates at once: KEY_INVALID, CHUNK_SIZE, RECIPIENT_MISSING,
 * TOO_MANY_RECIPIENTS.
 */
export function encrypt(opts: RecipientEncryptOptions): RecipientEncryptStage;
// Last, so that `ReturnType<typeof encrypt>` is still the version 1 stage callers written before version 2 expect.
export function encrypt(opts: KeyEncryptOptions): KeyEncryptStage;
export function encrypt(opts: EncryptOptions): EncryptStage {
  const chunkSize = checkChunkSize(opts.chunkSize ?? DEFAULT_CHUNK_SIZE);
  if (opts.recipients !== undefined) return encryptToRecipients(opts.recipients, chunkSize, opts.fixed);
  const key = checkKey(opts.key);
  const salt = opts.salt && checkSize('salt', opts.salt, SALT_SIZE);
  return encryptStage({ keyId: keyId(key), chunkSize }, () => {
    const fileSalt = salt ?? randomBytes(SALT_SIZE);
    return { header: buildKeyHeader(key, fileSalt, chunkSize), payloadKey: payloadKey(key, fileSalt, FORMAT_V1) };
  });
}

function encryptToRecipients(given: readonly Recipient[], chunkSize: number, fixed: RecipientEncryptOptions['fixed']): RecipientEncryptStage {
  const recipients = [...new Map(given.map((r) => [r.id, r])).values()];
  if (recipients.length === 0) {
    throw new CopycatError('RECIPIENT_MISSING', 'no recipient to encrypt to: pass at least one recipient (ccdb1…), made with `copycat-db keygen --identity`');
  }
  if (recipients.length > MAX_STANZAS) {
    throw new CopycatError('TOO_MANY_RECIPIENTS', `${recipients.length} recipients, the format holds at most ${MAX_STANZAS}: encrypt to fewer (share an identity among people instead)`);
  }
  const inputs = fixed && {
    fileKey: checkSize('fileKey', fixed.fileKey, FILE_KEY_SIZE),
    salt: checkSize('salt', fixed.salt, SALT_SIZE),
    ephemeralSecrets: recipients.map((_, k) => checkSize('each ephemeral secret', fixed.ephemeralSecrets[k] ?? Buffer.alloc(0), X25519_KEY_SIZE)),
  };
  return encryptStage({ recipients: recipients.map((r) => r.id), chunkSize }, () => {
    const { fileKey, salt, ephemeralSecrets } = inputs ?? {
      fileKey: randomBytes(FILE_KEY_SIZE),
      salt: randomBytes(SALT_SIZE),
      ephemeralSecrets: recipients.map(() => randomBytes(X25519_KEY_SIZE)),
    };
    return { header: buildRecipientHeader(recipients, chunkSize, fileKey, salt, ephemeralSecrets), payloadKey: payloadKey(fileKey, salt, FORMAT_V2) };
  });
}

/**
 * Decrypts and verifies a stream of either version: `{ key }` opens version 1, `{ identities }` version 2; give both
 * when the stored version is not known. Every failure is a CopycatError with its own code; KEY_INVALID and
 * IDENTITY_MISSING (neither secret given) are thrown at once.
 */
export function decrypt(opts: DecryptOptions): TransformStage {
  const secrets: DecryptionSecrets = { key: opts.key && checkKey(opts.key), identities: opts.identities && [...opts.identities] };
  if (secrets.key === undefined && !secrets.identities?.length) {
    throw new CopycatError('IDENTITY_MISSING', 'nothing to decrypt with: pass a key file (format version 1) or at least one identity (version 2)');
  }
  const id = secrets.key && keyId(secrets.key);
  let current: DecryptTransform | undefined;
  return {
    name: 'decrypt',
    create(ctx) {
      ctx.log.log('debug', 'decrypt.start', { ...(id && { keyId: id }), ...(secrets.identities && { identities: secrets.identities.map((i) => i.recipient.id) }) });
      current = new DecryptTransform(secrets, ctx.log);
      return current;
    },
    info: (): EncryptionInfo => {
      const facts = current?.facts;
      const chunks = current?.chunks ?? 0;
      if (facts === undefined) return { ...(id && { keyId: id }), chunkSize: undefined, chunks };
      const { formatVersion: _, ...rest } = facts;
      return { ...rest, chunks };
    },
  };
}
