// rclone's crypt format and rclone.conf, read by copycat-db, checked against objects and configs the real `rclone`
// program writes: every size class of object, passwords with and without password2, and each way an object or a
// config can be wrong.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CopycatError } from '../src/errors.js';
import { cryptRemote, loadCryptRemote, parseRcloneConfig, revealObscured } from '../src/formats/rclone-config.js';
import { RCLONE_BLOCK_SIZE, RCLONE_HEADER_SIZE, rcloneCryptKey, rcloneDumpSize } from '../src/formats/rclone-crypt.js';
import { rcloneDecrypt } from '../src/transforms/rclone-decrypt.js';
import { drive, flip, rejectsWith, run, split } from './helpers/encrypted-streams.js';

let work: string;
let config: string;
const PASSWORD = 'correct horse ✓ battery';
const PASSWORD2 = 'pepper and salt';
/** Plaintexts by name: empty, one byte, one block exactly, one block and a byte, several blocks and a short one. */
const SIZES = { empty: 0, one: 1, block: 65_536, blockAndOne: 65_537, several: 200_000 };
const plain = new Map<string, Buffer>();

const rclone = (...args: string[]): string => execFileSync('rclone', ['--config', config, ...args], { encoding: 'utf8' });
const stored = (remote: 'salted' | 'unsalted', name: string): Buffer => readFileSync(join(work, remote, `${name}.bin`));

before(() => {
  work = mkdtempSync(join(tmpdir(), 'copycat-rclone-crypt-'));
  config = join(work, 'rclone.conf');
  writeFileSync(config, '', { mode: 0o600 });
  // Written by rclone itself, as an operator would have: passwords obscured by `config create`.
  rclone('config', 'create', 'unsalted', 'crypt', `remote=${join(work, 'unsalted')}`, `password=${PASSWORD}`, 'filename_encryption=off', '--obscure');
  rclone('config', 'create', 'salted', 'crypt', `remote=${join(work, 'salted')}`, `password=${PASSWORD}`, `password2=${PASSWORD2}`,
    'filename_encryption=off', '--obscure');
  mkdirSync(join(work, 'src'));
  for (const [name, size] of Object.entries(SIZES)) {
    const bytes = randomBytes(size);
    plain.set(name, bytes);
    writeFileSync(join(work, 'src', name), bytes);
  }
  rclone('copy', join(work, 'src'), 'unsalted:');
  rclone('copy', join(work, 'src'), 'salted:');
});

after(() => rmSync(work, { recursive: true, force: true }));

test('rclone crypt objects rclone wrote decrypt to the bytes it was given, with and without password2', async () => {
  const keys = { unsalted: await rcloneCryptKey(PASSWORD), salted: await rcloneCryptKey(PASSWORD, PASSWORD2) };
  for (const remote of ['unsalted', 'salted'] as const) {
    for (const [name, bytes] of plain) {
      const object = stored(remote, name);
      assert.deepEqual(rcloneDumpSize(object.length), { size: bytes.length }, `${remote}/${name}: the dump's size from the stored size`);
      // Fed in odd pieces, so blocks straddle writes.
      const out = await run(rcloneDecrypt({ key: keys[remote], storedSize: object.length }), split(object, 7777));
      assert.ok(out.equals(bytes), `${remote}/${name} decrypts to its plaintext`);
    }
  }
  assert.equal(stored('unsalted', 'several').length, statSync(join(work, 'unsalted', 'several.bin')).size);
  await rejectsWith(rcloneDecrypt({ key: keys.unsalted }), stored('salted', 'several'), 'CHUNK_CORRUPT', /^the first block .* password \(or password2\) is wrong/);
});

test('a flipped byte, a cut object and a wrong password are each refused, naming what is wrong', async () => {
  const key = await rcloneCryptKey(PASSWORD);
  const object = stored('unsalted', 'several'); // header, three full blocks, a short one
  const decrypt = (storedSize?: number) => rcloneDecrypt({ key, storedSize });
  assert.equal(object.length, RCLONE_HEADER_SIZE + 3 * RCLONE_BLOCK_SIZE + (200_000 - 3 * 65_536) + 16);

  await rejectsWith(decrypt(object.length), flip(object, RCLONE_HEADER_SIZE + RCLONE_BLOCK_SIZE + 100), 'CHUNK_CORRUPT',
    /^block 2 of the rclone crypt object fails authentication, though the blocks before it opened .*: the object is damaged/);
  await rejectsWith(decrypt(object.length), flip(object, RCLONE_HEADER_SIZE + 3), 'CHUNK_CORRUPT', /^the first block .* wrong, or the object is damaged/);
  await rejectsWith(decrypt(object.length), flip(object, 10), 'CHUNK_CORRUPT', /^the first block/); // the nonce
  await rejectsWith(decrypt(object.length), flip(object, 2), 'HEADER_CORRUPT', /not an rclone crypt object/);
  await rejectsWith(rcloneDecrypt({ key: await rcloneCryptKey('wrong') }), object, 'CHUNK_CORRUPT', /password \(or password2\) is wrong/);

  // Cut inside a block: its tag fails.
  const insideBlock = object.subarray(0, RCLONE_HEADER_SIZE + RCLONE_BLOCK_SIZE + 5000);
  await rejectsWith(decrypt(), insideBlock, 'CHUNK_CORRUPT', /^block 2 \(the last\) .* was cut short inside that block, or is damaged/);
  // Cut inside a tag: no block can be that short.
  await rejectsWith(decrypt(), object.subarray(0, RCLONE_HEADER_SIZE + RCLONE_BLOCK_SIZE + 16), 'TRUNCATED', /ends inside the tag of block 2/);
  assert.match((rcloneDumpSize(RCLONE_HEADER_SIZE + RCLONE_BLOCK_SIZE + 16) as { problem: string }).problem, /ends inside the tag of block 2: the object was cut short/);
  // Cut inside the header, or nothing at all.
  await rejectsWith(decrypt(), object.subarray(0, 20), 'TRUNCATED', /20 bytes, shorter than an rclone crypt header/);
  await rejectsWith(decrypt(), Buffer.alloc(0), 'TRUNCATED', /0 bytes, shorter/);
  assert.ok('problem' in rcloneDumpSize(31));

  // Cut exactly between two blocks: every block left is authentic. The format cannot tell; the stored size can.
  const atBoundary = object.subarray(0, RCLONE_HEADER_SIZE + 2 * RCLONE_BLOCK_SIZE);
  const { output, error } = await drive(decrypt(), split(atBoundary, 5000));
  assert.equal(error, undefined, 'without the size, a cut between blocks is not detectable by decryption alone');
  assert.ok(output.equals(plain.get('several')!.subarray(0, 2 * 65_536)));
  await rejectsWith(decrypt(object.length), atBoundary, 'TRUNCATED', new RegExp(`ended after ${atBoundary.length} of its ${object.length} bytes`));
  await rejectsWith(decrypt(object.length - 1), object, 'TRAILING_DATA', /more than the \d+ bytes the object was listed with/);
});

test('obscured passwords are revealed as rclone reveals them', () => {
  for (const secret of [PASSWORD, 'x', 'a'.repeat(300)]) {
    const obscured = execFileSync('rclone', ['obscure', secret], { encoding: 'utf8' }).trim();
    assert.equal(revealObscured(obscured, 'password'), secret);
  }
  assert.throws(() => revealObscured('not obscured!', 'password of [x]'), (err: CopycatError) =>
    err.code === 'RCLONE_CONFIG_INVALID' && /^password of \[x\] is not an obscured value/.test(err.message) && !err.message.includes('not obscured!'));
});

test('crypt remotes resolve to their directory or S3 bucket, endpoint and keys; anything else is refused by name', () => {
  const remote = loadCryptRemote(config, 'salted');
  assert.deepEqual({ ...remote, password: remote.password === PASSWORD, password2: remote.password2 === PASSWORD2 },
    { name: 'salted', target: { kind: 'dir', path: join(work, 'salted') }, password: true, password2: true, suffix: '.bin' });

  const obscured = execFileSync('rclone', ['obscure', 'pw'], { encoding: 'utf8' }).trim();
  const conf = (extra: string) => parseRcloneConfig(`
# rclone's own comments and blank lines

[s3remote]
type = s3
provider = Ceph
access_key_id = AKID
secret_access_key = SECRET
endpoint = s3.fr-par.scw.cloud
region = fr-par

[envs3]
type = s3
env_auth = true
access_key_id = IGNORED
secret_access_key = IGNORED

[disk]
type = local

[b2]
type = b2

[legacy]
type = crypt
password = ${obscured}
${extra}
`, '/etc/rclone.conf');
  const target = (extra: string) => cryptRemote(conf(`filename_encryption = off\n${extra}`), 'legacy', '/etc/rclone.conf').target;
  assert.deepEqual(target('remote = s3remote:bucket/path/to/old/'), {
    kind: 's3', bucket: 'bucket', prefix: 'path/to/old', remote: 's3remote', endpoint: 'https://s3.fr-par.scw.cloud', region: 'fr-par',
    accessKeyId: 'AKID', secretAccessKey: 'SECRET',
  });
  assert.deepEqual(target('remote = envs3:bucket'), { kind: 's3', bucket: 'bucket', prefix: '', remote: 'envs3' }, 'env_auth: keys from the environment');
  assert.deepEqual(target('remote = disk:/var/old'), { kind: 'dir', path: '/var/old' });
  assert.deepEqual(target('remote = /var/old'), { kind: 'dir', path: '/var/old' });
  assert.equal(cryptRemote(conf('filename_encryption = off\nremote = /x\nsuffix = none'), 'legacy', 'f').suffix, '');

  const refused = (text: string, name: string, code: string, pattern: RegExp) => assert.throws(() => cryptRemote(conf(text), name, '/etc/rclone.conf'),
    (err: CopycatError) => err.code === code && pattern.test(err.message));
  refused('remote = /x', 'legacy', 'RCLONE_REMOTE_UNSUPPORTED', /filename_encryption is standard \(rclone's default\): copycat-db reads crypt remotes with filename_encryption = off/);
  refused('filename_encryption = obfuscate\nremote = /x', 'legacy', 'RCLONE_REMOTE_UNSUPPORTED', /filename_encryption is obfuscate:/);
  refused('filename_encryption = off\nremote = b2:bucket', 'legacy', 'RCLONE_REMOTE_UNSUPPORTED', /\[b2\] is of type b2: copycat-db reads crypt remotes over s3 or a local path/);
  refused('filename_encryption = off\nremote = nowhere:bucket', 'legacy', 'RCLONE_REMOTE_UNSUPPORTED', /names \[nowhere\], which the file does not define/);
  refused('filename_encryption = off\nremote = s3remote:', 'legacy', 'RCLONE_REMOTE_UNSUPPORTED', /names no bucket/);
  refused('', 's3remote', 'RCLONE_REMOTE_UNSUPPORTED', /its type is s3, not crypt/);
  refused('', 'missing', 'RCLONE_REMOTE_UNKNOWN', /^no remote \[missing\] in \/etc\/rclone.conf \(it has s3remote, envs3, disk, b2, legacy\)/);
  assert.throws(() => parseRcloneConfig('# Encrypted rclone configuration File\n\nRCLONE_ENCRYPT_V0:\nabc', 'f'), /is an encrypted rclone configuration: write a plain copy/);
  assert.throws(() => parseRcloneConfig('password = x\n', 'f'), /f line 1 is neither \[remote\] nor key = value/);
  assert.throws(() => loadCryptRemote(join(work, 'absent.conf'), 'x'), /cannot read the rclone config .*absent.conf: ENOENT — pass --rclone-config PATH/);
});
