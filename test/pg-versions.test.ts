/**
 * Which pg_dump, pg_restore and psql run (issue #14): a pg_dump at least as new as the server, a pg_restore that reads
 * the archive's format version, the newest found unless --pg-bin-dir says otherwise; one too old is refused before
 * anything starts. On this machine's real PostgreSQL 15, with stand-ins for the majors it does not have.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { CopycatError } from '../src/errors.js';
import { customArchiveVersion } from '../src/formats/archive.js';
import type { Manifest } from '../src/formats/manifest.js';
import type { Logger } from '../src/log.js';
import { restoreSink } from '../src/restore-sink.js';
import { backup } from '../src/operations/backup.js';
import { restore } from '../src/operations/restore.js';
import { choosePgProgram, pgDumpNeed, pgRestoreNeed, type PgProgramSearch } from '../src/pg/programs.js';
import { pipeline } from '../src/pipeline.js';
import { dirRepository } from '../src/repository/index.js';
import { dataKey } from '../src/repository/layout.js';
import { fileSink } from '../src/sinks/file.js';
import { psql } from '../src/sinks/pg-restore/index.js';
import { fileSource } from '../src/sources/file.js';
import { pgDump } from '../src/sources/pg-dump.js';
import { pgParallel } from '../src/sources/pg-parallel/index.js';
import type { SourceStage } from '../src/stage.js';
import { runCli } from './helpers/cli.js';
import { digestDatabase, seedVariedDatabase } from './helpers/fixtures.js';
import { standIn, standInCalls } from './helpers/pg-stand-ins.js';
import { pgBinDir, startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';

let pg: PgCluster;
let work: string;
let serverVersion: string;
/** `15.18`: how messages name the server's version. */
let serverShort: string;
/** The machine's own client: /usr/lib/postgresql/15/bin. */
const realBin = () => pgBinDir();
const PLAIN = { compression: 'none' as const };

before(async () => {
  pg = await startPgCluster();
  work = mkdtempSync(join(tmpdir(), 'copycat-pgver-'));
  await seedVariedDatabase(pg, 'app', 200);
  serverVersion = (await pg.query<{ server_version: string }>('SHOW server_version'))[0]!.server_version;
  serverShort = serverVersion.split(' ')[0]!;
});

after(async () => {
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

function newDir(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  return dir;
}

const cli = (args: string[]) => runCli(args, { env: { ...pg.env, COPYCAT_LOCK_DIR: join(work, 'locks'), COPYCAT_DESTINATION: '' } });

function manifestIn(repo: string): Manifest {
  const [file] = readdirSync(repo).filter((f) => f.endsWith('.manifest.json'));
  assert.ok(file, `a manifest in ${repo}`);
  return JSON.parse(readFileSync(join(repo, file), 'utf8')) as Manifest;
}

async function tablesIn(database: string): Promise<number> {
  return (await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`, database))[0]!.n;
}

function recording(): { logger: Logger; programs: () => Record<string, unknown>[] } {
  const lines: { event: string; fields: Record<string, unknown> }[] = [];
  return {
    logger: { log: (_level, event, fields = {}) => lines.push({ event, fields }) },
    programs: () => lines.filter((l) => l.event === 'pg.program').map((l) => l.fields),
  };
}

/** A PROGRAM_TOO_OLD error whose message matches every pattern. */
function tooOld(...patterns: RegExp[]): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof CopycatError, String(err));
    assert.equal(err.code, 'PROGRAM_TOO_OLD', err.message);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  };
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A repository holding one backup of app made by the pg_dump 17 stand-in (archive format 1.16); built once. */
let repo17: { repo: string; versions: string; manifest: Manifest } | undefined;
async function backupBy17(): Promise<NonNullable<typeof repo17>> {
  if (repo17) return repo17;
  const root = join(work, 'pg17');
  const versions = standIn(root, 'pg_dump', '17.2', { writesArchiveMinor: 16 });
  standIn(root, 'pg_restore', '17.2', { readsArchiveMinor: 14 });
  const repo = newDir('by-17');
  const { manifest } = await backup({
    source: pgDump({ database: 'app', env: pg.env, countTables: true, programs: { versionRoots: ['/usr/lib/postgresql', versions] } }),
    chain: PLAIN, to: { repository: dirRepository(repo) },
  });
  return (repo17 = { repo, versions, manifest: manifest! });
}

test('this machine: a server 15 gets the pg_dump 15 under /usr/lib/postgresql (not PATH\'s wrapper), recorded in the manifest', async () => {
  const chosen = await choosePgProgram('pg_dump', {}, pgDumpNeed(serverVersion));
  assert.equal(chosen.command, join(realBin(), 'pg_dump'));
  assert.equal(chosen.version.major, Number(serverShort.split('.')[0]));
  const repo = newDir('this-machine');
  const log = recording();
  const { manifest } = await backup({ source: pgDump({ database: 'app', env: pg.env, countTables: true }), chain: PLAIN, to: { repository: dirRepository(repo) } },
    { log: log.logger });
  assert.equal(manifest!.source.serverVersion, serverVersion);
  assert.equal(manifest!.source.dumpVersion, chosen.version.text);
  assert.deepEqual(manifestIn(repo).source, manifest!.source, 'what is stored is what was returned');
  assert.deepEqual(log.programs(), [{ program: 'pg_dump', path: chosen.command, version: chosen.version.text }]);
  assert.deepEqual(customArchiveVersion(readFileSync(join(repo, dataKey('', manifest!.id)))), { major: 1, minor: 14, rev: 0 },
    'PostgreSQL 15 writes archive format 1.14');
});

test('a server 15 with only a pg_dump 14: refused before anything starts, naming both versions and what to install', async () => {
  const root = join(work, 'only14');
  const versions = standIn(root, 'pg_dump', '14.9');
  const programs: PgProgramSearch = { versionRoots: [versions], path: '' };
  const expected = tooOld(new RegExp(`^pg_dump 14\\.9 \\(${escape(join(versions, '14', 'bin', 'pg_dump'))}\\) cannot dump a PostgreSQL ${escape(serverShort)} server`),
    /install postgresql-client-15 or newer \(.*apt\.postgresql\.org.*Docker image has 13 to 18\)$/);
  const sources: SourceStage[] = [pgDump({ database: 'app', env: pg.env, countTables: true, programs }), pgParallel({ database: 'app', env: pg.env, programs })];
  for (const source of sources) {
    const repo = newDir(`only14-${source.name}`);
    await assert.rejects(backup({ source, chain: PLAIN, to: { repository: dirRepository(repo) } }), expected);
    assert.deepEqual(readdirSync(repo), [], `${source.name}: nothing was written`);
  }
  assert.deepEqual(standInCalls(root), ['pg_dump 14.9: --version', 'pg_dump 14.9: --version'], 'the old pg_dump was only asked its version');

  const repo = newDir('only14-cli');
  const r = await cli(['backup', '-d', 'app', '--to', `file:${repo}/`, '--no-encrypt', '--pg-bin-dir', join(versions, '14', 'bin')]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^copycat-db: error: pg_dump 14\\.9 \\(.*\\) cannot dump a PostgreSQL ${escape(serverShort)} server .*` +
    'install postgresql-client-15 or newer .* and point --pg-bin-dir at its bin directory$', 'm'));
  assert.deepEqual(readdirSync(repo), [], 'the CLI wrote nothing either');
});

test('a pg_dump 17 is chosen over the 15 when it is newer; --pg-bin-dir wins over both', async () => {
  const { repo, versions, manifest } = await backupBy17();
  assert.equal(manifest.source.serverVersion, serverVersion);
  assert.equal(manifest.source.dumpVersion, '17.2', 'the stand-in 17 made the dump');
  assert.deepEqual(customArchiveVersion(readFileSync(join(repo, dataKey('', manifest.id)))), { major: 1, minor: 16, rev: 0 }, 'its archive says 1.16');

  const log = recording();
  const pinned = newDir('pinned-15');
  const { manifest: by15 } = await backup({
    source: pgDump({ database: 'app', env: pg.env, programs: { binDir: realBin(), versionRoots: [versions] } }),
    chain: PLAIN, to: { repository: dirRepository(pinned) },
  }, { log: log.logger });
  assert.equal(by15!.source.dumpVersion?.split(' ')[0], serverShort, 'binDir: the machine\'s 15 although a 17 was found');
  assert.equal(log.programs()[0]!.path, join(realBin(), 'pg_dump'));

  const cliRepo = newDir('pinned-17-cli');
  const r = await cli(['backup', '-d', 'app', '--to', `file:${cliRepo}/`, '--no-encrypt', '--pg-bin-dir', join(versions, '17', 'bin'), '--log-format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(manifestIn(cliRepo).source.dumpVersion, '17.2', '--pg-bin-dir: the 17 although the default search finds only 15');
  assert.match(r.stdout.toString() + r.stderr, /"event":"pg.program".*"version":"17.2"/);
});

test('an archive newer than the pg_restore: refused before the restore starts, naming both; a new enough one restores it', async () => {
  const { repo, versions } = await backupBy17();
  // The machine's pg_restore 15 (reads up to 1.14), through the CLI.
  await pg.createDatabase('into_cli');
  const r = await cli(['restore', '--from', `file:${repo}/`, '--to-database', 'into_cli']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^copycat-db: error: pg_restore ${escape(serverShort)} \\(${escape(join(realBin(), 'pg_restore'))}\\) ` +
    'cannot read archive format 1\\.16 \\(first written by pg_dump 17\\): install postgresql-client-17 or newer', 'm'));
  assert.equal(await tablesIn('into_cli'), 0, 'nothing was restored');

  // A stand-in pg_restore 15 that would fail if it ran: it is only asked its version.
  const root15 = join(work, 'restore15');
  const programs15: PgProgramSearch = { versionRoots: [standIn(root15, 'pg_restore', '15.4')], path: '' };
  await pg.createDatabase('into_lib');
  await assert.rejects(restore({ from: { repository: dirRepository(repo) }, into: { database: 'into_lib', env: pg.env, programs: programs15 } }),
    tooOld(/^pg_restore 15\.4 \(.*\) cannot read archive format 1\.16/));
  assert.deepEqual(standInCalls(root15), ['pg_restore 15.4: --version']);
  assert.equal(await tablesIn('into_lib'), 0);

  // verify says the same, as its restore check.
  const v = await runCli(['verify', '--from', `file:${repo}/`, '--json'], { env: { ...pg.env, COPYCAT_DESTINATION: '' } });
  assert.equal(v.code, 1, v.stderr);
  assert.match(v.stderr, /failed verification: .*pg_restore \S+ \(.*\) cannot read archive format 1\.16/);

  // The stand-in pg_restore 17 (searched after the machine's 15) is chosen and restores it.
  await pg.createDatabase('into_17');
  const { stats } = await restore({ from: { repository: dirRepository(repo) },
    into: { database: 'into_17', env: pg.env, programs: { versionRoots: ['/usr/lib/postgresql', versions] } } });
  assert.deepEqual(stats.stages.at(-1)!.info, { program: 'pg_restore', database: 'into_17', path: join(versions, '17', 'bin', 'pg_restore'), version: '17.2' });
  assert.deepEqual(await digestDatabase(pg, 'into_17'), await digestDatabase(pg, 'app'));
});

test('a parallel dump by pg_dump 17 records it, and its restore with a pg_restore 15 is refused before any schema is restored', async () => {
  const { versions } = await backupBy17();
  const repo = newDir('parallel-17');
  const { manifest } = await backup({ source: pgParallel({ database: 'app', env: pg.env, programs: { versionRoots: [versions] } }), chain: PLAIN,
    to: { repository: dirRepository(repo) } });
  assert.equal(manifest!.source.dumpVersion, '17.2');
  await pg.createDatabase('into_parallel');
  await assert.rejects(restore({ from: { repository: dirRepository(repo) }, into: { database: 'into_parallel', env: pg.env, programs: { binDir: realBin() } } }),
    tooOld(new RegExp(`^pg_restore ${escape(serverShort)} .* cannot read archive format 1\\.16 .*postgresql-client-17`)));
  assert.equal(await tablesIn('into_parallel'), 0);
});

test('psql comes from the same search, and one that cannot refuse meta-commands is still refused', async () => {
  const root = join(work, 'psql');
  const versions = standIn(root, 'psql', '15.13');
  standIn(root, 'psql', '16.10');
  const plain = join(work, 'plain.sql');
  await pipeline(pgDump({ database: 'app', env: pg.env, format: 'plain' })).to(fileSink(plain)).run();
  await pg.createDatabase('into_psql');
  await assert.rejects(pipeline(fileSource(plain)).to(psql({ database: 'into_psql', env: pg.env, programs: { binDir: join(versions, '15', 'bin') } })).run(),
    tooOld(/^psql 15\.13 \(.*\/15\/bin\/psql\) cannot refuse the meta-commands/));
  // Without binDir the newest is taken: the 16.10 stand-in, which knows \restrict (and then fails, being a stand-in).
  await assert.rejects(pipeline(fileSource(plain)).to(psql({ database: 'into_psql', env: pg.env, programs: { versionRoots: [versions], path: '' } })).run(),
    /stand-in psql 16\.10 cannot run/);
  assert.equal(await tablesIn('into_psql'), 0);
});

test('a restore that fails while its pg_restore is being chosen leaves no pg_restore running', async () => {
  // A pg_restore slow to tell its version; once started for real, it would wait on its input for ever.
  const bin = newDir('slow-bin');
  const pidFile = join(bin, 'pid');
  writeFileSync(join(bin, 'pg_restore'), `#!/bin/sh
if [ "$1" = --version ]; then sleep 1; echo 'pg_restore (PostgreSQL) 17.2'; exit 0; fi
echo $$ > '${pidFile}'
exec cat > /dev/null
`, { mode: 0o755 });
  const { repo, manifest } = await backupBy17();
  const head = readFileSync(join(repo, dataKey('', manifest.id))).subarray(0, 64);
  // The archive's first bytes, then the stream breaks (a digest or a download failing) while the choice is under way.
  const breaking: SourceStage = {
    name: 'breaking',
    create: () => {
      const stream = new Readable({ read() {} });
      stream.push(head);
      setTimeout(() => stream.destroy(new Error('the stream broke on purpose')), 200);
      return stream;
    },
  };
  await assert.rejects(pipeline(breaking).to(restoreSink({ database: 'app', env: pg.env, programs: { binDir: bin } })).run(), /broke on purpose/);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // past the choice, had the run not waited for it
  // Started and stopped at once, it may have died before writing its pid: only a real pid can be running.
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
  if (!Number.isInteger(pid) || pid <= 0) return;
  let alive = true;
  try {
    process.kill(pid, 0);
  } catch {
    alive = false;
  }
  if (alive) process.kill(pid, 'SIGKILL');
  assert.equal(alive, false, 'the pg_restore started after the run failed is still running');
});

test('archive format versions: read from the header after PGDMP, and the pg_restore each needs', () => {
  assert.deepEqual(customArchiveVersion(Buffer.from('PGDMP\x01\x0f\x00\x04\x08\x01')), { major: 1, minor: 15, rev: 0 });
  assert.equal(customArchiveVersion(Buffer.from('PGDMP\x01')), undefined, 'too short');
  assert.equal(customArchiveVersion(Buffer.from('-- PostgreSQL database dump')), undefined, 'not an archive');
  const need = (minor: number) => pgRestoreNeed({ major: 1, minor, rev: 0 })?.major;
  assert.deepEqual([12, 13, 14, 15, 16, 17].map(need), [undefined, undefined, undefined, 16, 17, 19]);
  assert.equal(pgRestoreNeed({ major: 2, minor: 0, rev: 0 })?.major, 19, 'an unknown future format needs a pg_restore newer than any known');
  assert.equal(pgDumpNeed('16.4 (Debian 16.4-1.pgdg120+1)')?.major, 16);
  assert.equal(pgDumpNeed('18beta1')?.major, 18);
  assert.equal(pgDumpNeed(undefined), undefined, 'a server that cannot be asked: the newest pg_dump, whatever it is');
});
