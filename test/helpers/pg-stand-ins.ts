/**
 * Stand-ins for the PostgreSQL client programs of majors this machine does not have, laid out as the packages install
 * them (ROOT/usr/lib/postgresql/NN/bin/NAME): each prints `NAME (PostgreSQL) VERSION` for --version, records every
 * call in ROOT/calls.log, and otherwise fails, or does what `runs` says with the real program of this machine.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pgBinDir } from '../../testkit/pg-cluster.js';

export type StandInName = 'pg_dump' | 'pg_restore' | 'psql';

/**
 * What a stand-in does when asked to work: fail (the default), or turn the real program's archives into (or back
 * from) the format of the major it stands for — the archive header's minor version byte (1.16 for PostgreSQL 17).
 */
export type StandInRun = 'fail' | { readonly writesArchiveMinor: number } | { readonly readsArchiveMinor: number };

/** The versions root that holds the stand-in (ROOT/usr/lib/postgresql): what PgProgramSearch.versionRoots takes. */
export function standIn(root: string, name: StandInName, version: string, runs: StandInRun = 'fail'): string {
  const versions = join(root, 'usr', 'lib', 'postgresql');
  const bin = join(versions, version.split('.')[0]!, 'bin');
  mkdirSync(bin, { recursive: true });
  const real = join(pgBinDir(), name);
  const octal = (n: number) => `\\${n.toString(8).padStart(3, '0')}`;
  const work = runs === 'fail'
    ? `echo "stand-in ${name} ${version} cannot run" >&2; exit 1`
    : 'writesArchiveMinor' in runs
      // The real archive, then its header's minor version byte replaced (dash has no pipefail: a file keeps the exit code).
      ? `tmp=$(mktemp) && '${real}' "$@" > "$tmp" || { rc=$?; rm -f "$tmp"; exit $rc; }
head -c 6 "$tmp"; printf '${octal(runs.writesArchiveMinor)}'; tail -c +8 "$tmp"; rm -f "$tmp"`
      // The archive on stdin with that byte set back, read one byte at a time so that nothing after it is lost.
      : `{ dd bs=1 count=6 2>/dev/null; dd bs=1 count=1 of=/dev/null 2>/dev/null; printf '${octal(runs.readsArchiveMinor)}'; cat; } | '${real}' "$@"`;
  writeFileSync(join(bin, name), `#!/bin/sh
echo "${name} ${version}: $*" >> '${join(root, 'calls.log')}'
if [ "$1" = --version ]; then echo '${name} (PostgreSQL) ${version}'; exit 0; fi
${work}
`, { mode: 0o755 });
  return versions;
}

/** The calls the stand-ins under `root` received, one `NAME VERSION: ARGS` line each. */
export function standInCalls(root: string): string[] {
  try {
    return readFileSync(join(root, 'calls.log'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}
