// A newcomer's install: the tarball `npm pack` makes, installed with `npm install -g` into an empty prefix (its
// dependencies from the registry or npm's cache, zstd-napi built by its install script), must run as the README says.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';
import { digestDatabase, seedVariedDatabase } from './helpers/fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

let cluster: PgCluster;
let dir: string;

before(async () => {
  cluster = await startPgCluster();
  dir = mkdtempSync(join(tmpdir(), 'copycat-install-'));
  await seedVariedDatabase(cluster, 'app', 500);
});

after(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Packed {
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

test('npm pack, then npm install -g of the tarball: copycat-db --help, keygen, backup to a file and restore', { timeout: 600_000 }, async () => {
  // npm test has just compiled dist/, so packing skips the prepare script (tsc) that a newcomer's `npm pack` runs.
  const pack = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 16 << 20 });
  const [packed] = JSON.parse(pack.stdout) as Packed[];
  const files = packed!.files.map((f) => f.path);
  for (const file of ['LICENSE', 'README.md', 'package.json', 'bin/copycat-db.js', 'dist/src/cli/main.js', 'dist/src/index.d.ts']) {
    assert.ok(files.includes(file), `the tarball holds ${file}`);
  }
  assert.deepEqual(files.filter((f) => !/^(bin|dist\/src|docs)\/|^(LICENSE|README\.md|package\.json)$/.test(f)), [], 'nothing else is shipped');

  const prefix = join(dir, 'prefix');
  await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(dir, packed!.filename)],
    { cwd: dir, maxBuffer: 16 << 20, timeout: 540_000 });
  const copycat = (...args: string[]) => run(join(prefix, 'bin', 'copycat-db'), args, { env: { ...process.env, ...cluster.env }, maxBuffer: 16 << 20 });

  const help = await copycat('--help');
  assert.match(help.stdout, /^Usage: copycat-db \[options\] \[command\][\s\S]*backup[\s\S]*restore[\s\S]*verify/);

  const key = join(dir, 'app.key');
  await copycat('keygen', key);
  const file = join(dir, 'app.backup');
  const backup = await copycat('backup', '-d', 'app', '--to', `file:${file}`, '--key-file', key);
  assert.match(backup.stderr, /backup\.done/);
  await cluster.createDatabase('app_copy');
  await copycat('restore', '--from', `file:${file}`, '--key-file', key, '--to-database', 'app_copy');
  assert.deepEqual(await digestDatabase(cluster, 'app_copy'), await digestDatabase(cluster, 'app'));
});
