import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { CopycatError } from '../src/errors.js';
import { ENCRYPTION_MAGIC, decrypt, encrypt, keyId } from '../src/transforms/encrypt.js';
import { create, drive, flip, formatVectors, hkdf, referenceChunks, rejectsWith, run, split, vectorReader } from './helpers/encrypted-streams.js';

const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const CS = 65536;
const HEADER = 85;
const CHUNK = 4 + CS + 16; // bytes of one full chunk in the stream

// ---------------------------------------------------------------------------------------------- helpers

const seal = (plaintext: Buffer, opts: { chunkSize?: number; key?: Buffer; writes?: number } = {}) =>
  run(encrypt({ key: opts.key ?? KEY, chunkSize: opts.chunkSize ?? CS }), opts.writes ? split(plaintext, opts.writes) : [plaintext]);

const open = (stream: Buffer, writes?: number, key: Buffer = KEY) => run(decrypt({ key }), writes ? split(stream, writes) : [stream]);

/** Asserts that decrypting `stream` fails with `code`, and with a message matching `pattern` if given. */
const rejects = (stream: Buffer, code: string, pattern?: RegExp, key: Buffer = KEY): Promise<CopycatError> => rejectsWith(decrypt({ key }), stream, code, pattern);

const chunkAt = (i: number) => HEADER + i * CHUNK; // offset of chunk i when all before it are full
const chunkBytes = (stream: Buffer, i: number) => stream.subarray(chunkAt(i), Math.min(stream.length, chunkAt(i + 1)));

/** A one-shot decryptor written from docs/FORMAT.md alone, to check the implementation against the text. */
function referenceDecrypt(stream: Buffer, key: Buffer): Buffer {
  const header = stream.subarray(0, HEADER);
  assert.equal(header.subarray(0, 8).toString('ascii'), 'CCDBAEAD');
  assert.equal(header[8], 1);
  assert.deepEqual(header.subarray(13, 21), hkdf(key, Buffer.alloc(0), 'copycat-db v1 key-id', 8));
  const salt = header.subarray(21, 53);
  const mac = createHmac('sha256', hkdf(key, salt, 'copycat-db v1 header', 32)).update(header.subarray(0, 53)).digest();
  assert.deepEqual(header.subarray(53, 85), mac);
  return referenceChunks(stream, header, hkdf(key, salt, 'copycat-db v1 payload', 32));
}

// ---------------------------------------------------------------------------------------------- keys, options

test('keys: exactly 32 bytes, key ids are stable, distinct and not the key', () => {
  assert.equal(ENCRYPTION_MAGIC.toString('ascii'), 'CCDBAEAD');
  const id = keyId(KEY);
  assert.match(id, /^[0-9a-f]{16}$/);
  assert.equal(keyId(Buffer.from(KEY)), id);
  assert.notEqual(keyId(randomBytes(32)), id);
  assert.ok(!KEY.toString('hex').includes(id));
  for (const bad of [Buffer.alloc(31), Buffer.alloc(0), randomBytes(64)]) {
    assert.throws(() => encrypt({ key: bad }), { code: 'KEY_INVALID' });
    assert.throws(() => decrypt({ key: bad }), { code: 'KEY_INVALID' });
    assert.throws(() => keyId(bad), { code: 'KEY_INVALID' });
  }
  assert.throws(() => encrypt({ key: Buffer.concat([KEY, Buffer.from('\n')]) }), { code: 'KEY_INVALID', message: /trailing newline/ });
  assert.throws(() => encrypt({ key: 'x'.repeat(32) as unknown as Buffer }), { code: 'KEY_INVALID' });
});

test('chunk size option: 65536..1048576 accepted, anything else is CHUNK_SIZE', () => {
  for (const ok of [65536, 100_000, 1048576]) encrypt({ key: KEY, chunkSize: ok });
  for (const bad of [65535, 1048577, 0, -1, 70000.5, Number.NaN]) {
    assert.throws(() => encrypt({ key: KEY, chunkSize: bad }), { code: 'CHUNK_SIZE' });
  }
});

// ---------------------------------------------------------------------------------------------- round trips

test('round trip: empty input gives a header and one empty final chunk', async () => {
  const stage = encrypt({ key: KEY, chunkSize: CS });
  const stream = await run(stage, []);
  assert.equal(stream.length, HEADER + 4 + 16);
  assert.equal(stream.readUInt32BE(HEADER), 0x8000_0000);
  assert.deepEqual(stage.info?.(), { keyId: keyId(KEY), chunkSize: CS, chunks: 1 });
  assert.equal((await open(stream)).length, 0);
  assert.equal(referenceDecrypt(stream, KEY).length, 0);
});

test('round trip: 1 byte, exactly chunkSize, chunkSize+1', async () => {
  for (const [n, chunks] of [[1, 1], [CS, 1], [CS + 1, 2], [2 * CS, 2], [2 * CS + 1, 3]] as const) {
    const plaintext = randomBytes(n);
    const stage = encrypt({ key: KEY, chunkSize: CS });
    const stream = await run(stage, [plaintext]);
    assert.equal(stream.length, HEADER + n + chunks * 20, `${n} bytes`);
    assert.equal(stage.info?.()['chunks'], chunks);
    // Full chunks are never followed by an empty final chunk: the last chunk is final and non-empty.
    const last = stream.readUInt32BE(stream.length - 16 - (n - (chunks - 1) * CS) - 4);
    assert.equal(last, 0x8000_0000 + n - (chunks - 1) * CS);
    const back = decrypt({ key: KEY });
    assert.deepEqual(await run(back, [stream]), plaintext);
    assert.deepEqual(back.info?.(), { keyId: keyId(KEY), chunkSize: CS, chunks });
    assert.deepEqual(referenceDecrypt(stream, KEY), plaintext);
  }
});

test('round trip: several MiB with odd write sizes on both sides', async () => {
  const plaintext = randomBytes(5 * 1024 * 1024 + 12345);
  const oneShot = await seal(plaintext); // one huge write
  assert.deepEqual(await open(oneShot), plaintext);
  assert.deepEqual(await open(oneShot, 7), plaintext);
  assert.deepEqual(await open(oneShot, 1 << 20), plaintext);
  const sevens = await seal(plaintext, { writes: 7, chunkSize: 100_000 });
  assert.deepEqual(await open(sevens, 4093), plaintext);
  const odd = () => 1 + Math.floor(Math.random() * 200_000);
  const random = await run(encrypt({ key: KEY, chunkSize: 1048576 }), split(plaintext, odd));
  assert.deepEqual(await run(decrypt({ key: KEY }), split(random, odd)), plaintext);
  assert.deepEqual(referenceDecrypt(random, KEY), plaintext);
});

test('round trip: one-byte writes into both stages', async () => {
  const plaintext = randomBytes(2 * CS + 3);
  const stream = await seal(plaintext, { writes: 1 });
  assert.deepEqual(await open(stream, 1), plaintext);
  assert.deepEqual(referenceDecrypt(stream, KEY), plaintext);
});

test('round trip: default chunk size is 256 KiB', async () => {
  const plaintext = randomBytes(600_000);
  const stage = encrypt({ key: KEY });
  const stream = await run(stage, [plaintext]);
  assert.equal(stream.readUInt32BE(9), 262144);
  assert.deepEqual(stage.info?.(), { keyId: keyId(KEY), chunkSize: 262144, chunks: 3 });
  assert.deepEqual(await open(stream), plaintext);
});

test('every stream gets a fresh salt: same key and input, different bytes', async () => {
  const plaintext = randomBytes(1000);
  const stage = encrypt({ key: KEY, chunkSize: CS });
  const a = await run(stage, [plaintext]);
  const b = await run(stage, [plaintext]);
  assert.notDeepEqual(a.subarray(21, 53), b.subarray(21, 53));
  assert.notDeepEqual(a.subarray(HEADER), b.subarray(HEADER));
  assert.deepEqual(await open(a), await open(b));
});

// ---------------------------------------------------------------------------------------------- streaming

test('streaming: each stage emits a chunk as soon as it can, before the input ends', async () => {
  const plaintext = randomBytes(3 * CS + 1);
  const enc = await create(encrypt({ key: KEY, chunkSize: CS }));
  let produced = 0;
  const out: Buffer[] = [];
  enc.on('data', (c: Buffer) => {
    produced += c.length;
    out.push(c);
  });
  enc.write(plaintext);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(produced, HEADER + 3 * CHUNK, 'three full chunks out, the last byte held back');
  enc.end();
  await new Promise((resolve) => enc.on('end', resolve));
  const stream = Buffer.concat(out);

  const dec = await create(decrypt({ key: KEY }));
  let released = 0;
  dec.on('data', (c: Buffer) => (released += c.length));
  dec.write(stream.subarray(0, chunkAt(2) + 10));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(released, 2 * CS, 'two authenticated chunks out, nothing of the partial third');
  dec.end(stream.subarray(chunkAt(2) + 10));
  await new Promise((resolve) => dec.on('end', resolve));
  assert.equal(released, plaintext.length);
});

// ---------------------------------------------------------------------------------------------- test vectors

test('test vectors in docs/FORMAT.md', async () => {
  const v = formatVectors('## Test vectors');
  const { hex } = vectorReader(v);
  const key = hex('key');
  const salt = hex('salt');
  const chunkSize = Number(v.get('chunk size'));
  assert.equal(chunkSize, 65536);
  assert.equal(keyId(key), v.get('key id'));
  assert.deepEqual(hkdf(key, salt, 'copycat-db v1 header', 32), hex('header key'));
  assert.deepEqual(hkdf(key, salt, 'copycat-db v1 payload', 32), hex('payload key'));

  const empty = await run(encrypt({ key, chunkSize, salt }), []);
  assert.deepEqual(empty, hex('empty stream'));
  assert.deepEqual(empty.subarray(0, HEADER), hex('header'));
  assert.equal((await open(empty, undefined, key)).length, 0);

  const plaintext = Buffer.from(Array.from({ length: 66536 }, (_, k) => k % 251));
  assert.equal(createHash('sha256').update(plaintext).digest('hex'), v.get('plaintext sha256'));
  const stream = await run(encrypt({ key, chunkSize, salt }), split(plaintext, 999));
  assert.equal(stream.length, Number(v.get('stream length')));
  assert.equal(createHash('sha256').update(stream).digest('hex'), v.get('stream sha256'));
  assert.deepEqual(stream.subarray(0, HEADER), hex('header'));
  const c1 = HEADER + CHUNK;
  assert.deepEqual(stream.subarray(HEADER, HEADER + 4), hex('chunk 0 frame'));
  assert.deepEqual(stream.subarray(HEADER + 4, HEADER + 20), hex('chunk 0 ciphertext[0:16]'));
  assert.deepEqual(stream.subarray(c1 - 16, c1), hex('chunk 0 tag'));
  assert.deepEqual(stream.subarray(c1, c1 + 4), hex('chunk 1 frame'));
  assert.deepEqual(stream.subarray(c1 + 4, c1 + 20), hex('chunk 1 ciphertext[0:16]'));
  assert.deepEqual(stream.subarray(stream.length - 16), hex('chunk 1 tag'));
  // The documented nonces: the chunk-1 tag verifies under exactly that nonce.
  assert.deepEqual(hex('chunk 0 nonce'), Buffer.alloc(12));
  const d = createDecipheriv('aes-256-gcm', hex('payload key'), hex('chunk 1 nonce'));
  d.setAAD(Buffer.concat([hex('header'), hex('chunk 1 frame')]));
  d.setAuthTag(hex('chunk 1 tag'));
  assert.deepEqual(Buffer.concat([d.update(stream.subarray(c1 + 4, stream.length - 16)), d.final()]), plaintext.subarray(CS));

  assert.deepEqual(await open(stream, 333, key), plaintext);
  assert.deepEqual(referenceDecrypt(stream, key), plaintext);
});

// ---------------------------------------------------------------------------------------------- tampering

// Five chunks: 0..3 full, 4 final with 1234 bytes.
const PLAIN = randomBytes(4 * CS + 1234);
const fixture = seal(PLAIN);

test('tamper: wrong key names both key ids', async () => {
  const other = randomBytes(32);
  const err = await rejects(await fixture, 'WRONG_KEY', undefined, other);
  assert.ok(err.message.includes(`key id ${keyId(KEY)}`));
  assert.ok(err.message.includes(`has id ${keyId(other)}`));
  assert.ok(err.message.includes(`use the key file whose id is ${keyId(KEY)}`));
});

test('tamper: not our format', async () => {
  await rejects(randomBytes(100_000), 'NOT_ENCRYPTED', /not a copycat-db encrypted stream/);
  await rejects(Buffer.alloc(0), 'NOT_ENCRYPTED', /empty/);
  await rejects(Buffer.from('CCDBA'), 'NOT_ENCRYPTED');
  await rejects(Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), randomBytes(500)]), 'NOT_ENCRYPTED'); // zstd
});

test('tamper: a stream that is not ours fails on its first bytes, without waiting for the end', async () => {
  const dec = await create(decrypt({ key: KEY }));
  const failed = new Promise<unknown>((resolve) => dec.on('error', resolve));
  dec.write(Buffer.from('PGDMP\x01\x0e\x00')); // a pg_dump custom-format header
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve(new Error('no error before the end')), 2000)));
  const error = await Promise.race([failed, late]);
  clearTimeout(timer);
  dec.destroy();
  assert.ok(error instanceof CopycatError);
  assert.equal(error.code, 'NOT_ENCRYPTED');
});

test('tamper: unknown version', async () => {
  const stream = Buffer.from(await fixture);
  stream[8] = 3;
  await rejects(stream, 'FORMAT_VERSION', /version 3, this copycat-db reads versions 1 and 2: upgrade copycat-db/);
  await rejects(stream.subarray(0, 20), 'FORMAT_VERSION'); // reported before the header is complete
});

test('tamper: header chunk size out of range', async () => {
  const stream = Buffer.from(await fixture);
  stream.writeUInt32BE(4096, 9);
  await rejects(stream, 'CHUNK_SIZE', /4096/);
});

test('tamper: header bit flips', async () => {
  const stream = await fixture;
  await rejects(flip(stream, 30), 'HEADER_CORRUPT'); // salt
  await rejects(flip(stream, 84, 0x80), 'HEADER_CORRUPT'); // MAC
  await rejects(flip(stream, 11), 'HEADER_CORRUPT'); // chunk size, still in range
  await rejects(flip(stream, 15), 'HEADER_CORRUPT', /key id field/); // key id: the right key is still recognised
});

test('tamper: bit flip in chunk 0, a middle chunk, the final chunk, a tag', async () => {
  const stream = await fixture;
  await rejects(flip(stream, chunkAt(0) + 4), 'CHUNK_CORRUPT', /^chunk 0 \(byte offset 85\)/);
  await rejects(flip(stream, chunkAt(2) + 5000, 0x40), 'CHUNK_CORRUPT', new RegExp(`^chunk 2 \\(byte offset ${chunkAt(2)}\\)`));
  await rejects(flip(stream, chunkAt(4) + 100), 'CHUNK_CORRUPT', new RegExp(`^chunk 4 \\(byte offset ${chunkAt(4)}\\)`));
  await rejects(flip(stream, stream.length - 1), 'CHUNK_CORRUPT', /^chunk 4 /);
  await rejects(flip(stream, chunkAt(1) - 3), 'CHUNK_CORRUPT', /^chunk 0 /);
});

test('tamper: no plaintext of a failing chunk is released', async () => {
  const { output, error } = await drive(decrypt({ key: KEY }), split(flip(await fixture, chunkAt(2) + 9), 4096));
  assert.equal((error as CopycatError).code, 'CHUNK_CORRUPT');
  assert.ok(output.length <= 2 * CS, `released ${output.length} bytes`);
  assert.deepEqual(output, PLAIN.subarray(0, output.length));
});

test('tamper: truncation inside the header, inside a chunk, at a chunk boundary', async () => {
  const stream = await fixture;
  await rejects(stream.subarray(0, 40), 'TRUNCATED', /inside the header \(40 of 85 bytes\)/);
  await rejects(stream.subarray(0, 84), 'TRUNCATED', /inside the header/);
  await rejects(stream.subarray(0, HEADER), 'TRUNCATED', /after the header: the final chunk is missing/);
  await rejects(stream.subarray(0, chunkAt(2) + 100), 'TRUNCATED', new RegExp(`inside chunk 2 \\(byte offset ${chunkAt(2)}\\)`));
  await rejects(stream.subarray(0, chunkAt(2) + 2), 'TRUNCATED', /inside chunk 2 .*frame/);
  await rejects(stream.subarray(0, stream.length - 1), 'TRUNCATED', /inside chunk 4/);
  await rejects(stream.subarray(0, chunkAt(3)), 'TRUNCATED', /^truncated after chunk 2: the final chunk is missing — the backup is incomplete/);
  await rejects(stream.subarray(0, chunkAt(4)), 'TRUNCATED', /after chunk 3/);
});

test('tamper: swapped chunks are reported as reordered', async () => {
  const stream = await fixture;
  const c = (i: number) => chunkBytes(stream, i);
  const head = stream.subarray(0, HEADER);
  await rejects(Buffer.concat([head, c(1), c(0), c(2), c(3), c(4)]), 'CHUNK_REORDERED', /chunk at position 0 .* is chunk 1: chunks reordered/);
  await rejects(Buffer.concat([head, c(0), c(2), c(1), c(3), c(4)]), 'CHUNK_REORDERED', /position 1 .* is chunk 2/);
  await rejects(Buffer.concat([head, c(0), c(1), c(2), c(4), c(3)]), 'CHUNK_REORDERED', /position 3 .* is chunk 4/); // final moved up
  await rejects(Buffer.concat([head, c(0), c(1), c(3), c(4)]), 'CHUNK_REORDERED', /position 2 .* is chunk 3/); // chunk deleted
});

test('tamper: a duplicated chunk', async () => {
  const stream = await fixture;
  const c = (i: number) => chunkBytes(stream, i);
  await rejects(Buffer.concat([stream.subarray(0, HEADER), c(0), c(1), c(1), c(2), c(3), c(4)]), 'CHUNK_DUPLICATED', /position 2 .* is chunk 1/);
  await rejects(Buffer.concat([stream.subarray(0, chunkAt(4)), c(0), c(4)]), 'CHUNK_DUPLICATED', /position 4 .* is chunk 0/);
});

test('tamper: a chunk spliced in from another stream under the same key', async () => {
  const stream = await fixture;
  const other = await seal(randomBytes(4 * CS + 1234));
  await rejects(Buffer.concat([stream.subarray(0, chunkAt(1)), chunkBytes(other, 1), stream.subarray(chunkAt(2))]), 'CHUNK_CORRUPT', /^chunk 1 /);
});

test('tamper: trailing data after the final chunk', async () => {
  const stream = await fixture;
  await rejects(Buffer.concat([stream, Buffer.alloc(10)]), 'TRAILING_DATA', /^10 bytes of trailing data/);
  await rejects(Buffer.concat([stream, stream]), 'TRAILING_DATA', new RegExp(`^${stream.length} bytes`));
  const empty = await seal(Buffer.alloc(0));
  await rejects(Buffer.concat([empty, Buffer.from([0])]), 'TRAILING_DATA', /^1 byte of trailing data/);
});

test('tamper: frame words', async () => {
  const stream = await fixture;
  const frame = (i: number, word: number) => {
    const copy = Buffer.from(stream);
    copy.writeUInt32BE(word, chunkAt(i));
    return copy;
  };
  await rejects(frame(1, CS - 1), 'FRAME_INVALID', /^chunk 1 .* is not final but holds 65535 bytes/);
  await rejects(frame(2, CS + 1), 'FRAME_INVALID', /^chunk 2 .* claims 65537 bytes/);
  await rejects(frame(4, 0x8000_0000 + CS + 1), 'FRAME_INVALID', /^chunk 4 /);
  await rejects(frame(3, 0x7fff_ffff), 'FRAME_INVALID');
  // An empty final chunk is only valid as the sole chunk of an empty stream.
  await rejects(Buffer.concat([stream.subarray(0, chunkAt(4)), frame(4, 0x8000_0000).subarray(chunkAt(4), chunkAt(4) + 20)]), 'FRAME_INVALID', /empty final chunk/);
  // Frames that pass the shape checks are still authenticated: the frame word is in every chunk's aad.
  await rejects(frame(0, 0x8000_0000 + CS), 'CHUNK_CORRUPT', /^chunk 0 /);
  await rejects(frame(4, 0x8000_0000 + 1000), 'CHUNK_CORRUPT', /^chunk 4 /);
  await rejects(frame(4, 1234), 'FRAME_INVALID'); // final flag cleared: a short non-final chunk
});
