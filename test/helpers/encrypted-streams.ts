/** Driving the encrypt/decrypt stages in tests, and what docs/FORMAT.md says, read independently of src/. */
import assert from 'node:assert/strict';
import { createDecipheriv, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CopycatError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { TransformStage } from '../../src/stage.js';

export function create(stage: TransformStage): Promise<Duplex> {
  return Promise.resolve(stage.create({ signal: new AbortController().signal, log: silentLogger }));
}

/** Runs `inputs` through the stage; `output` holds whatever reached the sink, even when the run fails. */
export async function drive(stage: TransformStage, inputs: Buffer[]): Promise<{ output: Buffer; error?: unknown }> {
  const got: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      got.push(chunk);
      callback();
    },
  });
  try {
    await pipeline(Readable.from(inputs), await create(stage), sink);
    return { output: Buffer.concat(got) };
  } catch (error) {
    return { output: Buffer.concat(got), error };
  }
}

export async function run(stage: TransformStage, inputs: Buffer[]): Promise<Buffer> {
  const { output, error } = await drive(stage, inputs);
  if (error !== undefined) throw error;
  return output;
}

export function split(data: Buffer, size: number | (() => number)): Buffer[] {
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; ) {
    const n = typeof size === 'number' ? size : size();
    parts.push(data.subarray(at, at + n));
    at += n;
  }
  return parts;
}

/** Asserts that the decryption stage fails on `stream` with `code` (a one-line message matching `pattern` if given). */
export async function rejectsWith(stage: TransformStage, stream: Buffer, code: string, pattern?: RegExp): Promise<CopycatError> {
  const { output, error } = await drive(stage, split(stream, 5000));
  assert.ok(error instanceof CopycatError, `expected CopycatError ${code}, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  assert.ok(!error.message.includes('\n'), 'messages are one line');
  if (pattern) assert.match(error.message, pattern);
  if (['HEADER_CORRUPT', 'STANZA_CORRUPT', 'WRONG_IDENTITY', 'WRONG_KEY', 'TOO_MANY_STANZAS'].includes(code)) {
    assert.equal(output.length, 0, 'nothing released when the header fails');
  }
  return error;
}

export const flip = (data: Buffer, offset: number, bit = 0x01) => {
  const copy = Buffer.from(data);
  copy[offset]! ^= bit;
  return copy;
};

export function hkdf(ikm: Buffer, salt: Buffer, info: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

/** The payload as docs/FORMAT.md's "Chunks" section reads it (both versions): chunks after `header`, one shot. */
export function referenceChunks(stream: Buffer, header: Buffer, payloadKey: Buffer): Buffer {
  const chunkSize = header.readUInt32BE(9);
  const out: Buffer[] = [];
  for (let at = header.length, i = 0; ; i++) {
    const frame = stream.subarray(at, at + 4);
    const final = (frame[0]! & 0x80) !== 0;
    const n = frame.readUInt32BE(0) & 0x7fffffff;
    assert.ok(final ? n <= chunkSize : n === chunkSize);
    const nonce = Buffer.alloc(12);
    nonce.writeUIntBE(i, 5, 6); // the counter's low 6 bytes suffice here
    nonce[11] = final ? 1 : 0;
    const d = createDecipheriv('aes-256-gcm', payloadKey, nonce);
    d.setAAD(Buffer.concat([header, frame]));
    d.setAuthTag(stream.subarray(at + 4 + n, at + 4 + n + 16));
    out.push(d.update(stream.subarray(at + 4, at + 4 + n)));
    d.final();
    at += 4 + n + 16;
    if (final) {
      assert.equal(at, stream.length, 'no trailing data');
      return Buffer.concat(out);
    }
  }
}

/** The `name = value` lines of the code block under `heading` in docs/FORMAT.md (`#` lines are comments). */
export function formatVectors(heading: string): Map<string, string> {
  const doc = readFileSync(new URL('../../../docs/FORMAT.md', import.meta.url), 'utf8');
  const at = doc.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `docs/FORMAT.md has a section "${heading}"`);
  const block = /```\n([\s\S]*?)```/.exec(doc.slice(at));
  assert.ok(block, `"${heading}" has a test-vector block`);
  const vectors = new Map<string, string>();
  let last = '';
  for (const line of block[1]!.split('\n')) {
    if (line.startsWith('#')) continue;
    const entry = /^(\S.*?)\s+=\s+(\S+)$/.exec(line);
    const more = /^\s+(\S+)$/.exec(line);
    if (entry) vectors.set((last = entry[1]!), entry[2]!);
    else if (more && last) vectors.set(last, vectors.get(last)! + more[1]);
  }
  return vectors;
}

/** A named vector (which must be present) as bytes, or as its text. */
export function vectorReader(vectors: Map<string, string>): { hex(name: string): Buffer; text(name: string): string } {
  const text = (name: string) => {
    const value = vectors.get(name);
    assert.ok(value !== undefined, `vector "${name}" present`);
    return value;
  };
  return { text, hex: (name) => Buffer.from(text(name), 'hex') };
}
