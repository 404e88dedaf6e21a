/** What every end-to-end method is made of: the command it runs, the run it runs in, and the helpers they share. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PgCluster } from '../testkit/pg-cluster.js';
import type { Measurement } from './measure.js';

export const CLI = fileURLToPath(new URL('../../bin/copycat-db.js', import.meta.url));

export type MethodGroup = 'backup' | 'restore' | 'memory' | 'floor' | 'parallel';

/** One way of doing the job, as the command line an operator would type. */
export interface Method {
  readonly id: string;
  readonly label: string;
  readonly group: MethodGroup;
  /** Programs it needs besides node and PostgreSQL. */
  readonly needs: readonly string[];
  readonly command: (run: RunContext) => readonly string[] | string;
  /** Bytes of the backup it produced (file size, object size), when that can be told. */
  readonly output?: (run: RunContext, m: Measurement) => number | undefined;
  readonly before?: (run: RunContext) => Promise<void>;
  /** After a successful run, outside the timing: what is wrong with its result, if anything (the run then counts as failed). */
  readonly check?: (run: RunContext) => Promise<string | undefined>;
  readonly after?: (run: RunContext) => Promise<void>;
}

export interface RunContext {
  readonly round: number;
  readonly database: string;
  /** Empty folder: the command's TMPDIR and working directory. */
  readonly tempDir: string;
  /** Where file backups go (not temporary: that is the product). */
  readonly outFile: string;
  readonly env: Record<string, string | undefined>;
  readonly fx: Fixtures;
  /** Prefix in the locked bucket for this database's backups. */
  readonly prefix: string;
  readonly restoreTarget: string;
}

export interface Fixtures {
  readonly keyFile: string;
  readonly ageRecipient: string;
  readonly lockedBucket: string;
  readonly plainBucket: string;
  /** `pg_dump -Fc -Z0` of the main database, for pg_restore and for the zstd CPU floor. */
  readonly plainDump: string;
  readonly cluster: PgCluster;
}

export function copycat(...args: string[]): string[] {
  return [process.execPath, CLI, ...args];
}

export async function dropDatabase(cluster: PgCluster, name: string): Promise<void> {
  await cluster.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

/** Bytes of a file, or of every file under a directory; undefined if there is none. */
export function pathBytes(path: string): number | undefined {
  try {
    const st = statSync(path);
    if (!st.isDirectory()) return st.size;
    return readdirSync(path).reduce((sum, name) => sum + (pathBytes(join(path, name)) ?? 0), 0);
  } catch {
    return undefined;
  }
}
