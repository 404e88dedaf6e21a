import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, createHmac, createPrivateKey, createPublicKey, diffieHellman, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { CopycatError } from '../src/errors.js';
import { bech32Decode, bech32Encode } from '../src/formats/bech32.js';
import { generateIdentityFile, loadIdentityFile, loadRecipientsFile } from '../src/key.js';
import { generateIdentity, parseIdentity, parseIdentityFile, parseRecipient, parseRecipientsFile, recipientOf, type Identity } from '../src/formats/recipients.js';
import { HEADER_READ_SIZE, checkCanOpen, decrypt, encrypt, identitiesFor, inspectHeader, keyId } from '../src/transforms/encrypt.js';
import { create, drive, flip, formatVectors, hkdf, referenceChunks, rejectsWith, run, split, vectorReader } from './helpers/encrypted-streams.js';

const CS = 65536;
const CHUNK = 4 + CS + 16;
const headerSize = (recipients: number) => 78 + 88 * recipients;

const [A, B, C, OTHER] = Array.from({ length: 4 }, () => parseIdentity(generateIdentity()));
const recipientsOf = (...identities: Identity[]) => identities.map((i) => i.recipient);

const seal = (plaintext: Buffer, ...to: Identity[]) => run(encrypt({ recipients: recipientsOf(...to), chunkSize: CS }), [plaintext]);
const open = (stream: Buffer, ...identities: Identity[]) => run(decrypt({ identities }), split(stream, 7777));
const rejects = (stream: Buffer, code: string, pattern?: RegExp, identities: Identity[] = [A!]) =>
  rejectsWith(decrypt({ identities }), stream, code, pattern);

/** Asserts that `fn` throws a one-line CopycatError `code` matching `pattern` that does not quote `secret`. */
function throwsCopycat(fn: () => unknown, code: string, pattern: RegExp, secret?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CopycatError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'));
    if (secret !== undefined) assert.ok(!err.message.toUpperCase().includes(secret.toUpperCase().slice(17, 40)), 'the secret is not quoted');
    return true;
  });
}

// ---------------------------------------------------------------------------------------------- Bech32 and keys

test('bech32: BIP 173 vectors, and age\'s own example key pair decodes and re-derives', () => {
  assert.equal(bech32Decode('A12UEL5L', 'A').length, 0);
  assert.equal(bech32Decode('a12uel5l', 'a').length, 0);
  assert.equal(bech32Decode('abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw', 'abcdef').toString('hex'), '00443214c74254b635cf84653a56d7c675be77df');
  // From age's age_test.go: the identity's public point, as an age recipient.
  const secret = bech32Decode('AGE-SECRET-KEY-184JMZMVQH3E6U0PSL869004Y3U2NYV7R30EU99CSEDNPH02YUVFSZW44VU', 'AGE-SECRET-KEY-');
  const point = createPublicKey(createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), secret]), format: 'der', type: 'pkcs8' }));
  const raw = point.export({ format: 'der', type: 'spki' }).subarray(-32);
  assert.equal(bech32Encode('age', raw), 'age1cy0su9fwf3gf9mw868g5yut09p6nytfmmnktexz2ya5uqg9vl9sss4euqm');
  for (let n = 0; n < 40; n++) {
    const data = randomBytes(n);
    assert.deepEqual(bech32Decode(bech32Encode('x', data), 'x'), data);
    assert.deepEqual(bech32Decode(bech32Encode('X-Y-', data), 'X-Y-'), data);
  }
});

test('keys: identities and recipients are short checksummed text; ids are public and stable', () => {
  const identity = generateIdentity();
  assert.match(identity, /^CCDB-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/);
  const recipient = recipientOf(identity);
  assert.match(recipient, /^ccdb1[02-9ac-hj-np-z]{58}$/);
  const parsed = parseIdentity(identity);
  assert.equal(parsed.recipient.text, recipient);
  assert.match(parsed.recipient.id, /^[0-9a-f]{16}$/);
  assert.deepEqual(parseRecipient(recipient), parsed.recipient);
  assert.deepEqual(parseRecipient(` ${recipient.toUpperCase()}\n`), parsed.recipient, 'either case, whitespace around ignored');
  assert.equal(parseIdentity(identity.toLowerCase()).recipient.id, parsed.recipient.id);
  assert.notEqual(parseIdentity(generateIdentity()).recipient.id, parsed.recipient.id);
  // The secret never shows when an identity is logged or serialised.
  const secretHex = bech32Decode(identity, 'CCDB-SECRET-KEY-').toString('hex');
  for (const shown of [inspect(parsed, { depth: 5 }), JSON.stringify(parsed)]) {
    assert.ok(!shown.includes(identity) && !shown.includes(secretHex), shown);
  }
});

test('keys: X25519 matches RFC 7748 §6.1', () => {
  const alice = bech32Encode('CCDB-SECRET-KEY-', Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex'));
  const bob = bech32Encode('CCDB-SECRET-KEY-', Buffer.from('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb', 'hex'));
  assert.equal(parseIdentity(alice).recipient.publicKey.toString('hex'), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  assert.equal(parseIdentity(bob).recipient.publicKey.toString('hex'), 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  const shared = diffieHellman({ privateKey: parseIdentity(alice).privateKey, publicKey: createPublicKey(parseIdentity(bob).privateKey) });
  assert.equal(shared.toString('hex'), '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
});

test('keys: a typo is a clear error — checksum, wrong prefix, wrong kind, bad letter, wrong length, mixed case', () => {
  const recipient = A!.recipient.text;
  const at = (i: number, c: string) => recipient.slice(0, i) + c + recipient.slice(i + 1);
  // Every single substitution in the data part is caught by the checksum.
  for (let i = 5; i < recipient.length; i++) {
    const other = recipient[i] === 'q' ? 'p' : 'q';
    throwsCopycat(() => parseRecipient(at(i, other)), 'RECIPIENT_INVALID', /checksum does not match/);
  }
  for (let i = 5; i + 1 < recipient.length; i++) {
    if (recipient[i] === recipient[i + 1]) continue;
    const swapped = recipient.slice(0, i) + recipient[i + 1] + recipient[i] + recipient.slice(i + 2);
    throwsCopycat(() => parseRecipient(swapped), 'RECIPIENT_INVALID', /checksum does not match/);
  }
  throwsCopycat(() => parseRecipient(recipient.slice(0, -1)), 'RECIPIENT_INVALID', /checksum does not match/);
  throwsCopycat(() => parseRecipient(at(10, 'b')), 'RECIPIENT_INVALID', /character 11 \("b"\) is not a Bech32 letter/);
  throwsCopycat(() => parseRecipient(at(10, '1')), 'RECIPIENT_INVALID', /character 11 \("1"\) is not a Bech32 letter/);
  throwsCopycat(() => parseRecipient(recipient.slice(0, 10) + recipient.slice(10).toUpperCase()), 'RECIPIENT_INVALID', /mixes upper and lower case/);
  throwsCopycat(() => parseRecipient('ccd' + recipient.slice(3).replace(/^b/, 'x')), 'RECIPIENT_INVALID', /does not start with ccdb1/);
  throwsCopycat(() => parseRecipient('age1cy0su9fwf3gf9mw868g5yut09p6nytfmmnktexz2ya5uqg9vl9sss4euqm'), 'RECIPIENT_INVALID', /an age recipient/);
  throwsCopycat(() => parseRecipient(''), 'RECIPIENT_INVALID', /is empty/);
  throwsCopycat(() => parseRecipient(bech32Encode('ccdb', randomBytes(31))), 'RECIPIENT_INVALID', /holds 31 bytes, not 32/);
  throwsCopycat(() => parseRecipient(bech32Encode('ccdb', Buffer.alloc(32))), 'RECIPIENT_INVALID', /low-order point/);
  // Keys of the other kind are named as such; an identity is never quoted.
  const identity = generateIdentity();
  throwsCopycat(() => parseRecipient(identity), 'RECIPIENT_INVALID', /it is a secret identity \(CCDB-SECRET-KEY-1…\)/, identity);
  throwsCopycat(() => parseIdentity(recipient), 'IDENTITY_INVALID', /it is a public recipient \(ccdb1…\)/);
  const typo = identity.slice(0, 30) + (identity[30] === 'Q' ? 'P' : 'Q') + identity.slice(31);
  throwsCopycat(() => parseIdentity(typo), 'IDENTITY_INVALID', /checksum does not match.*keygen --identity/, identity);
  throwsCopycat(() => recipientOf(typo), 'IDENTITY_INVALID', /checksum/, identity);
});

test('identity and recipients files: comments, blank lines, several keys, errors name the line', () => {
  const [a, b] = [generateIdentity(), generateIdentity()];
  const file = `# created by keygen\n# recipient: ${recipientOf(a)}\n\n  ${a}  \r\n# another one\n${b}\n\n`;
  assert.deepEqual(parseIdentityFile(file).map((i) => i.recipient.text), [recipientOf(a), recipientOf(b)]);
  const bad = `# ok\n${a}\n${b.slice(0, -1)}\n`;
  throwsCopycat(() => parseIdentityFile(bad, 'identity file /x'), 'IDENTITY_INVALID', /^identity file \/x line 3 is not a valid copycat-db identity: its checksum/, b);
  throwsCopycat(() => parseIdentityFile('# nothing\n\n'), 'IDENTITY_INVALID', /holds no identity/);

  const recipients = `# ops\n${recipientOf(a)}\n\n# vault\n${recipientOf(b)}\n`;
  assert.deepEqual(parseRecipientsFile(recipients).map((r) => r.text), [recipientOf(a), recipientOf(b)]);
  throwsCopycat(() => parseRecipientsFile(`${recipientOf(a)}\n${a}\n`), 'RECIPIENT_INVALID', /^recipients file line 2 .*secret identity/, a);
  throwsCopycat(() => parseRecipientsFile(''), 'RECIPIENT_INVALID', /holds no recipient/);
});

test('key files: keygen writes a private identity file, loaders read both files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ccdb-identity-'));
  try {
    const path = join(dir, 'backup.identity');
    const recipient = await generateIdentityFile(path);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.ok((await readFile(path, 'utf8')).includes(`# recipient: ${recipient.text}`));
    const [identity, ...more] = await loadIdentityFile(path);
    assert.equal(more.length, 0);
    assert.deepEqual(identity!.recipient, recipient);
    await assert.rejects(generateIdentityFile(path), { code: 'IDENTITY_EXISTS' });
    await chmod(path, 0o644);
    await assert.rejects(loadIdentityFile(path), { code: 'IDENTITY_PERMISSIONS', message: /chmod 600/ });
    await assert.rejects(loadIdentityFile(join(dir, 'missing')), { code: 'IDENTITY_UNREADABLE' });
    const list = join(dir, 'recipients.txt');
    await writeFile(list, `# backups\n${recipient.text}\n${B!.recipient.text}\n`, { mode: 0o644 });
    assert.deepEqual((await loadRecipientsFile(list)).map((r) => r.id), [recipient.id, B!.recipient.id]);
    await writeFile(list, 'ccdb1nope\n');
    await assert.rejects(loadRecipientsFile(list), { code: 'RECIPIENT_INVALID', message: new RegExp(`^recipients file ${list} line 1 `) });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------- round trips

test('round trip: one recipient; params and info name recipient ids only', async () => {
  const plaintext = randomBytes(3 * CS + 5);
  const stage = encrypt({ recipients: recipientsOf(A!), chunkSize: CS });
  assert.deepEqual(stage.params, { recipients: [A!.recipient.id], chunkSize: CS });
  const stream = await run(stage, split(plaintext, 10_000));
  assert.equal(stream.length, headerSize(1) + plaintext.length + 4 * 20);
  assert.equal(stream[8], 2);
  assert.deepEqual(stage.info?.(), { recipients: [A!.recipient.id], chunkSize: CS, chunks: 4 });
  const back = decrypt({ identities: [A!] });
  assert.deepEqual(await run(back, split(stream, 333)), plaintext);
  assert.deepEqual(back.info?.(), { recipients: [A!.recipient.id], recipientId: A!.recipient.id, chunkSize: CS, chunks: 4 });
});

test('round trip: three recipients, each identity alone decrypts; repeats are written once', async () => {
  const plaintext = randomBytes(CS + 17);
  const stage = encrypt({ recipients: recipientsOf(A!, B!, C!, B!), chunkSize: CS });
  assert.deepEqual(stage.params.recipients, [A!, B!, C!].map((i) => i.recipient.id));
  const stream = await run(stage, [plaintext]);
  assert.equal(stream[13], 3);
  for (const identity of [A!, B!, C!]) {
    const back = decrypt({ identities: [OTHER!, identity] });
    assert.deepEqual(await run(back, [stream]), plaintext);
    assert.equal(back.info?.()['recipientId'], identity.recipient.id);
  }
  const facts = inspectHeader(stream.subarray(0, HEADER_READ_SIZE));
  assert.deepEqual(facts, { formatVersion: 2, chunkSize: CS, recipients: [A!, B!, C!].map((i) => i.recipient.id) });
  // Fresh file key, salt and ephemeral keys every run: the same input never gives the same bytes.
  const again = await run(stage, [plaintext]);
  assert.notDeepEqual(again.subarray(0, headerSize(3)), stream.subarray(0, headerSize(3)));
  assert.deepEqual(await open(again, C!), plaintext);
});

test('round trip: the default chunk size, an empty plaintext', async () => {
  const stage = encrypt({ recipients: recipientsOf(A!) });
  assert.equal(stage.params.chunkSize, 262144);
  const empty = await run(stage, []);
  assert.equal(empty.length, headerSize(1) + 20);
  assert.equal((await open(empty, A!)).length, 0);
});

test('version 1 still round-trips; one decryptor given a key and identities reads both versions', async () => {
  const key = randomBytes(32);
  const plaintext = randomBytes(2 * CS + 1);
  const v1 = await run(encrypt({ key, chunkSize: CS }), [plaintext]);
  const v2 = await seal(plaintext, A!);
  assert.equal(v1[8], 1);
  assert.deepEqual(inspectHeader(v1), { formatVersion: 1, chunkSize: CS, keyId: keyId(key) });
  for (const stream of [v1, v2]) assert.deepEqual(await run(decrypt({ key, identities: [A!] }), [stream]), plaintext);
  // Given only the other kind of secret, each says what it needs.
  await rejectsWith(decrypt({ key }), v2, 'IDENTITY_MISSING', new RegExp(`encrypted to recipients ${A!.recipient.id}, not with a key file: pass --identity`));
  await rejectsWith(decrypt({ identities: [A!] }), v1, 'KEY_MISSING', new RegExp(`key id ${keyId(key)}\\), not to recipients: pass --key-file`));
  assert.throws(() => decrypt({}), { code: 'IDENTITY_MISSING' });
  assert.throws(() => decrypt({ identities: [] }), { code: 'IDENTITY_MISSING' });
});

test('encrypt refuses no recipient and more than 32', () => {
  assert.throws(() => encrypt({ recipients: [] }), { code: 'RECIPIENT_MISSING' });
  const many = Array.from({ length: 33 }, () => parseIdentity(generateIdentity()).recipient);
  assert.throws(() => encrypt({ recipients: many }), { code: 'TOO_MANY_RECIPIENTS', message: /33 recipients, the format holds at most 32/ });
  assert.equal(encrypt({ recipients: many.slice(0, 32) }).params.recipients.length, 32);
  assert.throws(() => encrypt({ recipients: [A!.recipient], chunkSize: 100 }), { code: 'CHUNK_SIZE' });
});

// ---------------------------------------------------------------------------------------------- wrong identity, before any data

// Three recipients, five chunks: 0..3 full, 4 final with 1234 bytes.
const PLAIN = randomBytes(4 * CS + 1234);
const fixture = seal(PLAIN, A!, B!, C!);
const H3 = headerSize(3);
const chunkAt = (i: number) => H3 + i * CHUNK;
const chunkBytes = (stream: Buffer, i: number) => stream.subarray(chunkAt(i), Math.min(stream.length, chunkAt(i + 1)));

test('wrong identity: refused at the header, naming the recipients it was made for', async () => {
  const stream = await fixture;
  const ids = [A!, B!, C!].map((i) => i.recipient.id);
  const err = await rejects(stream, 'WRONG_IDENTITY', undefined, [OTHER!]);
  assert.equal(err.message, `wrong identity: this backup was encrypted to recipients ${ids.join(', ')}, the identity given is for ` +
    `${OTHER!.recipient.id} — pass the identity file of one of those recipients`);
  assert.deepEqual(err.detail, { recipients: ids.join(','), given: OTHER!.recipient.id });
});

test('wrong identity: refused from the first bytes alone, and from a manifest\'s recipient ids', async () => {
  const stream = await fixture;
  const prefix = stream.subarray(0, HEADER_READ_SIZE);
  assert.deepEqual(checkCanOpen(prefix, { identities: [OTHER!, B!] }), {
    formatVersion: 2, chunkSize: CS, recipients: [A!, B!, C!].map((i) => i.recipient.id), recipientId: B!.recipient.id,
  });
  assert.throws(() => checkCanOpen(prefix, { identities: [OTHER!] }), { code: 'WRONG_IDENTITY', message: new RegExp(A!.recipient.id) });
  assert.throws(() => checkCanOpen(stream.subarray(0, 100), { identities: [A!] }), { code: 'TRUNCATED', message: /100 of 342 bytes/ });
  assert.throws(() => checkCanOpen(flip(prefix, 60), { identities: [A!] }), { code: 'STANZA_CORRUPT' });
  assert.deepEqual(identitiesFor([C!.recipient.id], [A!, C!]), [C!]);
  assert.throws(() => identitiesFor([C!.recipient.id], [A!, B!]), {
    code: 'WRONG_IDENTITY',
    message: `wrong identity: this backup was encrypted to recipient ${C!.recipient.id}, the identities given are for ${A!.recipient.id}, ${B!.recipient.id} — pass the identity file of one of those recipients`,
  });
});

// ---------------------------------------------------------------------------------------------- tampering

test('tamper: any flipped bit anywhere in the header is refused before any plaintext', async () => {
  const stream = await fixture;
  const codes = new Set<string>();
  for (let offset = 0; offset < H3; offset++) {
    for (const bit of [0x01, 0x80]) {
      const { output, error } = await drive(decrypt({ identities: [B!] }), [flip(stream, offset, bit)]);
      assert.ok(error instanceof CopycatError, `offset ${offset} bit ${bit}: ${String(error)}`);
      assert.equal(output.length, 0, `offset ${offset}`);
      codes.add(error.code);
    }
  }
  assert.deepEqual([...codes].sort(), ['CHUNK_SIZE', 'FORMAT_VERSION', 'HEADER_CORRUPT', 'NOT_ENCRYPTED', 'STANZA_CORRUPT', 'TOO_MANY_STANZAS']);
});

test('tamper: stanzas — the identity\'s own, another recipient\'s, an id field, order, removal', async () => {
  const stream = await fixture;
  const stanza = (k: number) => 46 + 88 * k;
  // B's stanza is stanza 1: its share, wrapped key and tag are B's to check; the MAC covers everyone else's.
  for (const at of [8, 20, 40, 71, 72, 87]) await rejects(flip(stream, stanza(1) + at), 'STANZA_CORRUPT', /^stanza 1 \(for recipient [0-9a-f]{16}, whose identity was given\) of the encrypted stream header fails authentication/, [B!]);
  for (const at of [0, 8, 50, 87]) await rejects(flip(stream, stanza(0) + at), 'HEADER_CORRUPT', /fails authentication although stanza 1 opens/, [B!]);
  await rejects(flip(stream, stanza(1) + 3), 'HEADER_CORRUPT', /^stanza 1 of the encrypted stream header has a damaged recipient id/, [B!]);
  await rejects(flip(stream, 20), 'HEADER_CORRUPT', undefined, [B!]); // salt
  await rejects(flip(stream, H3 - 1), 'HEADER_CORRUPT', undefined, [B!]); // MAC
  await rejects(flip(stream, 11), 'HEADER_CORRUPT', undefined, [B!]); // chunk size, still in range
  const swapped = Buffer.concat([stream.subarray(0, stanza(0)), stream.subarray(stanza(1), stanza(2)), stream.subarray(stanza(0), stanza(1)), stream.subarray(stanza(2))]);
  await rejects(swapped, 'HEADER_CORRUPT', undefined, [B!]);
  // A recipient removed (count lowered to match): the MAC no longer verifies.
  const removed = Buffer.concat([stream.subarray(0, stanza(2)), stream.subarray(stanza(3))]);
  removed[13] = 2;
  await rejects(removed, 'HEADER_CORRUPT', undefined, [B!]);
  await rejects(removed, 'WRONG_IDENTITY', undefined, [C!]);
});

test('tamper: a stanza count out of range, and truncation inside the header', async () => {
  const stream = await fixture;
  const withCount = (n: number) => Buffer.concat([stream.subarray(0, 13), Buffer.from([n]), stream.subarray(14)]);
  await rejects(withCount(0), 'HEADER_CORRUPT', /holds no recipient stanza/);
  await rejects(withCount(33), 'TOO_MANY_STANZAS', /claims 33 recipient stanzas, more than the format's 32/);
  await rejects(withCount(255), 'TOO_MANY_STANZAS');
  assert.throws(() => inspectHeader(withCount(200).subarray(0, 14)), { code: 'TOO_MANY_STANZAS' });
  await rejects(stream.subarray(0, 10), 'TRUNCATED', /inside the header \(10 bytes, before its length is known\)/);
  await rejects(stream.subarray(0, 200), 'TRUNCATED', /inside the header \(200 of 342 bytes\)/);
  await rejects(stream.subarray(0, H3), 'TRUNCATED', /after the header: the final chunk is missing/);
});

test('tamper: an oversized stanza count fails on its byte, before anything more is read or held', async () => {
  const stream = await fixture;
  const dec = await create(decrypt({ identities: [A!] }));
  const failed = new Promise<unknown>((resolve) => dec.on('error', resolve));
  dec.write(Buffer.concat([stream.subarray(0, 13), Buffer.from([255])]));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve(new Error('no error before the end')), 2000)));
  const error = await Promise.race([failed, late]);
  clearTimeout(timer);
  dec.destroy();
  assert.ok(error instanceof CopycatError, String(error));
  assert.equal(error.code, 'TOO_MANY_STANZAS');
});

test('tamper: the payload keeps version 1\'s guarantees — truncation, reordering, duplication, corruption', async () => {
  const stream = await fixture;
  const c = (i: number) => chunkBytes(stream, i);
  const head = stream.subarray(0, H3);
  await rejects(Buffer.concat([head, c(0), c(2), c(1), c(3), c(4)]), 'CHUNK_REORDERED', /position 1 .* is chunk 2/);
  await rejects(Buffer.concat([head, c(0), c(1), c(3), c(4)]), 'CHUNK_REORDERED', /position 2 .* is chunk 3/);
  await rejects(Buffer.concat([head, c(0), c(1), c(1), c(2), c(3), c(4)]), 'CHUNK_DUPLICATED', /position 2 .* is chunk 1/);
  await rejects(stream.subarray(0, chunkAt(4)), 'TRUNCATED', /after chunk 3/);
  await rejects(stream.subarray(0, stream.length - 1), 'TRUNCATED', /inside chunk 4/);
  await rejects(flip(stream, chunkAt(0) + 4), 'CHUNK_CORRUPT', new RegExp(`^chunk 0 \\(byte offset ${H3}\\)`));
  await rejects(Buffer.concat([stream, Buffer.alloc(3)]), 'TRAILING_DATA', /^3 bytes/);
  // Chunks of another stream to the same recipients do not fit: its file key differs.
  const other = await seal(randomBytes(4 * CS + 1234), A!, B!, C!);
  await rejects(Buffer.concat([stream.subarray(0, chunkAt(1)), chunkBytes(other, 1), stream.subarray(chunkAt(2))]), 'CHUNK_CORRUPT', /^chunk 1 /);
  assert.deepEqual(await open(stream, C!), PLAIN);
});

// ---------------------------------------------------------------------------------------------- test vectors

/** A one-shot version 2 decryptor written from docs/FORMAT.md alone (node:crypto only, nothing from src/). */
function referenceDecrypt(stream: Buffer, secret: Buffer): Buffer {
  const x25519 = (k: Buffer, u: Buffer) =>
    diffieHellman({
      privateKey: createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), k]), format: 'der', type: 'pkcs8' }),
      publicKey: createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), u]), format: 'der', type: 'spki' }),
    });
  const nine = Buffer.alloc(32);
  nine[0] = 9;
  const recipient = x25519(secret, nine);
  const id = hkdf(recipient, Buffer.alloc(0), 'copycat-db v2 recipient-id', 8);
  assert.equal(stream.subarray(0, 8).toString('ascii'), 'CCDBAEAD');
  assert.equal(stream[8], 2);
  const n = stream[13]!;
  assert.ok(n >= 1 && n <= 32);
  const header = stream.subarray(0, 78 + 88 * n);
  const salt = header.subarray(14, 46);
  let fileKey: Buffer | undefined;
  for (let k = 0; k < n; k++) {
    const stanza = header.subarray(46 + 88 * k, 46 + 88 * (k + 1));
    if (!stanza.subarray(0, 8).equals(id)) continue;
    const share = stanza.subarray(8, 40);
    const wrapKey = hkdf(x25519(secret, share), Buffer.concat([share, recipient]), 'copycat-db v2 X25519', 32);
    const d = createDecipheriv('aes-256-gcm', wrapKey, Buffer.alloc(12));
    d.setAuthTag(stanza.subarray(72, 88));
    fileKey = Buffer.concat([d.update(stanza.subarray(40, 72)), d.final()]);
  }
  assert.ok(fileKey, 'a stanza for this identity');
  const mac = createHmac('sha256', hkdf(fileKey, salt, 'copycat-db v2 header', 32)).update(header.subarray(0, header.length - 32)).digest();
  assert.deepEqual(header.subarray(header.length - 32), mac);
  return referenceChunks(stream, header, hkdf(fileKey, salt, 'copycat-db v2 payload', 32));
}

test('version 2 test vectors in docs/FORMAT.md are what the code produces', async () => {
  const v = vectorReader(formatVectors('### Version 2 test vectors'));
  const identities = ['A', 'B'].map((who) => {
    const identity = parseIdentity(v.text(`identity ${who}`));
    assert.equal(bech32Encode('CCDB-SECRET-KEY-', v.hex(`identity ${who} secret`)), v.text(`identity ${who}`));
    assert.deepEqual(identity.recipient.publicKey, v.hex(`recipient ${who} key`));
    assert.equal(identity.recipient.text, v.text(`recipient ${who}`));
    assert.equal(identity.recipient.id, v.text(`recipient ${who} id`));
    return identity;
  });
  const fileKey = v.hex('file key');
  const salt = v.hex('salt');
  const chunkSize = Number(v.text('chunk size'));
  const ephemeralSecrets = [v.hex('ephemeral A secret'), v.hex('ephemeral B secret')];
  const plaintext = v.hex('plaintext');
  const stage = encrypt({ recipients: recipientsOf(...identities), chunkSize, fixed: { fileKey, salt, ephemeralSecrets } });
  const stream = await run(stage, [plaintext]);
  const header = stream.subarray(0, headerSize(2));
  assert.deepEqual(header, v.hex('header'));
  assert.deepEqual(stream.subarray(header.length), v.hex('chunk 0'));
  assert.deepEqual(hkdf(fileKey, salt, 'copycat-db v2 header', 32), v.hex('header key'));
  assert.deepEqual(hkdf(fileKey, salt, 'copycat-db v2 payload', 32), v.hex('payload key'));
  for (const [k, identity] of identities.entries()) {
    const stanza = header.subarray(46 + 88 * k, 46 + 88 * (k + 1));
    assert.deepEqual(stanza, v.hex(`stanza ${k}`));
    const share = stanza.subarray(8, 40);
    assert.deepEqual(share, v.hex(`stanza ${k} share`));
    const shared = diffieHellman({ privateKey: identity.privateKey, publicKey: createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), share]), format: 'der', type: 'spki' }) });
    assert.deepEqual(shared, v.hex(`stanza ${k} shared`));
    assert.deepEqual(hkdf(shared, Buffer.concat([share, identity.recipient.publicKey]), 'copycat-db v2 X25519', 32), v.hex(`stanza ${k} wrap key`));
    assert.deepEqual(await open(stream, identity), plaintext);
    assert.deepEqual(referenceDecrypt(stream, v.hex(`identity ${k === 0 ? 'A' : 'B'} secret`)), plaintext);
  }
});

test('a reference decryptor written from the document reads what the code writes', async () => {
  const plaintext = randomBytes(2 * CS + 999);
  const stream = await seal(plaintext, A!, B!);
  const secret = bech32Decode(generateIdentity(), 'CCDB-SECRET-KEY-'); // a fresh key pair known as bytes
  const identity = parseIdentity(bech32Encode('CCDB-SECRET-KEY-', secret));
  const three = await seal(plaintext, A!, identity, C!);
  assert.deepEqual(referenceDecrypt(three, secret), plaintext);
  assert.throws(() => referenceDecrypt(stream, secret), /a stanza for this identity/);
});
