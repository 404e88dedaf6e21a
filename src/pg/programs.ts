import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CopycatError } from '../errors.js';
import type { ArchiveVersion } from '../formats/archive.js';
import type { Logger } from '../log.js';
import { childEnvironment, PG_CLIENT_HINT, PG_CLIENT_SOURCE } from './child.js';

/** The PostgreSQL client programs copycat-db runs. */
export type PgProgramName = 'pg_dump' | 'pg_restore' | 'psql';

/** Where the client programs are looked for. */
export interface PgProgramSearch {
  /** When set, the only place looked in (`--pg-bin-dir`, COPYCAT_PG_BIN_DIR). */
  readonly binDir?: string;
  /**
   * Directories holding one directory per major version with a `bin` inside, as Debian's and the PostgreSQL project's
   * packages install them side by side. Default: `/usr/lib/postgresql`.
   */
  readonly versionRoots?: readonly string[];
  /** A PATH-style list of directories searched after them. Default: this process's PATH. */
  readonly path?: string;
}

export interface PgVersion {
  readonly major: number;
  readonly minor: number;
  /** As the program printed it after `(PostgreSQL)`: `15.18 (Debian 15.18-0+deb12u1)`. */
  readonly text: string;
}

export interface PgProgram {
  /** The program's absolute path. */
  readonly command: string;
  readonly version: PgVersion;
}

/** The oldest major version that will do, and why: a server to dump, an archive to read. */
export interface VersionNeed {
  readonly major: number;
  /** Completes "pg_dump 14.9 (PATH) cannot …": `dump a PostgreSQL 15.4 server`. */
  readonly cannot: string;
}

const VERSION_ROOTS = ['/usr/lib/postgresql'];
const PROBE_TIMEOUT_MS = 10_000;

/**
 * The program to run: the one in `binDir` when it is set, else the newest found under the version roots and on PATH
 * (on a tie the version roots' own binary, not a PATH wrapper such as Debian's pg_wrapper, which picks a version by
 * its own rules). Refused, before anything runs, when missing or older than `need`: the message names both versions
 * and what to install.
 */
export async function choosePgProgram(name: PgProgramName, search: PgProgramSearch = {}, need?: VersionNeed, log?: Logger): Promise<PgProgram> {
  const chosen = search.binDir !== undefined ? await fromBinDir(name, search.binDir) : await newest(name, search);
  if (need && chosen.version.major < need.major) {
    throw new CopycatError('PROGRAM_TOO_OLD', `${name} ${shortVersion(chosen.version.text)} (${chosen.command}) cannot ${need.cannot}: ` +
      `install postgresql-client-${need.major} or newer (${PG_CLIENT_SOURCE})${search.binDir !== undefined ? ' and point --pg-bin-dir at its bin directory' : ''}`);
  }
  log?.log('info', 'pg.program', { program: name, path: chosen.command, version: chosen.version.text });
  return chosen;
}

async function fromBinDir(name: PgProgramName, dir: string): Promise<PgProgram> {
  const command = resolve(dir, name);
  if (!(await isExecutable(command))) {
    throw new CopycatError('PROGRAM_MISSING', `--pg-bin-dir ${dir} has no ${name}: point it at the bin directory of a PostgreSQL client ` +
      '(such as /usr/lib/postgresql/17/bin)');
  }
  const version = await probe(command);
  if (typeof version === 'string') throw new CopycatError('PROGRAM_FAILED', `${command} --version failed: ${version}`);
  return { command, version };
}

async function newest(name: PgProgramName, search: PgProgramSearch): Promise<PgProgram> {
  const roots = search.versionRoots ?? VERSION_ROOTS;
  const versioned = (await Promise.all(roots.map(async (root) => {
    const majors = await readdir(root).catch(() => []);
    return majors.sort(byNumber).map((major) => join(root, major, 'bin'));
  }))).flat();
  const onPath = (search.path ?? process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const paths = [...new Set([...versioned, ...onPath].map((dir) => resolve(dir, name)))];
  const found = await Promise.all(paths.map(async (command): Promise<PgProgram | undefined> => {
    if (!(await isExecutable(command))) return undefined;
    const version = await probe(command);
    return typeof version === 'string' ? undefined : { command, version };
  }));
  // Stable, so an equal version keeps the search order.
  const ranked = found.filter((p) => p !== undefined).sort((a, b) => b.version.major - a.version.major || b.version.minor - a.version.minor);
  if (!ranked[0]) {
    throw new CopycatError('PROGRAM_MISSING', `${name} not found in ${roots.map((r) => join(r, '*', 'bin')).join(', ')} nor on PATH: ` +
      `${PG_CLIENT_HINT}, or point --pg-bin-dir at its bin directory`);
  }
  return ranked[0];
}

function byNumber(a: string, b: string): number {
  return Number(a) - Number(b) || a.localeCompare(b);
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The program's version, or why it could not tell. */
async function probe(command: string): Promise<PgVersion | string> {
  try {
    const { stdout } = await promisify(execFile)(command, ['--version'], { env: childEnvironment(), timeout: PROBE_TIMEOUT_MS });
    return parsePgVersion(stdout) ?? `it printed ${JSON.stringify(stdout.trim().slice(0, 200))}, not a PostgreSQL version`;
  } catch (err) {
    return (err as Error).message.split('\n')[0]!;
  }
}

/** `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` → 15, 18 and the text after `(PostgreSQL)`. */
function parsePgVersion(output: string): PgVersion | undefined {
  const m = /\(PostgreSQL\)\s+((\d+)(?:\.(\d+))?.*)$/m.exec(output);
  return m ? { major: Number(m[2]), minor: Number(m[3] ?? 0), text: m[1]!.trim() } : undefined;
}

/** What a pg_dump for this server needs: at least the server's major version (undefined: the server was not asked). */
export function pgDumpNeed(serverVersion: string | undefined): VersionNeed | undefined {
  const m = serverVersion === undefined ? null : /^\s*(\d+)/.exec(serverVersion);
  return m ? { major: Number(m[1]), cannot: `dump a PostgreSQL ${shortVersion(serverVersion!)} server (pg_dump must be at least as new as the server)` } : undefined;
}

/**
 * Archive format minor versions (K_VERS_1_NN in pg_dump's pg_backup_archiver.h) above 1.14, the one PostgreSQL 12 to
 * 15 write and read, with the first major whose pg_restore reads them: 1.15 (16: the compression algorithm in the
 * header), 1.16 (17: large object metadata entries; 18 writes it too).
 */
const FIRST_READER: ReadonlyMap<number, number> = new Map([[15, 16], [16, 17]]);
/** The newest major FIRST_READER knows: a newer archive format needs a newer pg_restore. */
const NEWEST_KNOWN_MAJOR = 18;

/** What a pg_restore for an archive of this format version needs; undefined when every supported one reads it. */
export function pgRestoreNeed(archive: ArchiveVersion): VersionNeed | undefined {
  if (archive.major < 1 || (archive.major === 1 && archive.minor <= 14)) return undefined;
  const format = `${archive.major}.${archive.minor}`;
  const major = archive.major === 1 ? FIRST_READER.get(archive.minor) : undefined;
  return major !== undefined
    ? { major, cannot: `read archive format ${format} (first written by pg_dump ${major})` }
    : { major: NEWEST_KNOWN_MAJOR + 1, cannot: `read archive format ${format} (newer than any pg_dump up to ${NEWEST_KNOWN_MAJOR} writes)` };
}

/** `15.18 (Debian …)` → `15.18`: enough to name a version in a message. */
function shortVersion(version: string): string {
  return version.trim().split(/\s/)[0]!;
}
