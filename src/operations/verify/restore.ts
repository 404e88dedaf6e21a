import { CopycatError, describeError } from '../../errors.js';
import type { Manifest } from '../../formats/manifest.js';
import type { PgProgramSearch } from '../../pg/programs.js';
import type { RunOptions, RunStats } from '../../pipeline.js';
import type { ChosenBackup } from '../chosen-backup.js';
import { restoreChosen } from '../restore.js';
import { definedOnly } from '../table-of-contents.js';
import { ms, type VerifyCheck } from './report.js';

/** Error codes of a backup that is damaged or does not decrypt: the integrity check failed, not the restore. */
const INTEGRITY_CODES = /^(DIGEST_MISMATCH|CHUNK_|HEADER_|FRAME_|TRUNCATED|TRAILING|DECOMPRESS_|NOT_ENCRYPTED)/;

type VerifyServer = Record<string, string | undefined>;

/** The restore operation into the scratch database; its digests and decryption are the integrity checks. Undefined on failure. */
export async function restore(backup: ChosenBackup, dumpFormat: Manifest['dumpFormat'], server: VerifyServer, programs: PgProgramSearch | undefined, scratch: string,
  checks: VerifyCheck[], run: RunOptions): Promise<RunStats | undefined> {
  const started = performance.now();
  const program = dumpFormat === 'plain' ? 'psql -v ON_ERROR_STOP=1 in one transaction' : 'pg_restore --exit-on-error --single-transaction';
  try {
    const { stats, digests } = await restoreChosen(backup, { database: scratch, env: definedOnly(server), programs }, run);
    const durationMs = ms(started);
    for (const label of ['stored', 'plaintext'] as const) {
      // A manifest's digests were checked during the restore (a mismatch would have failed it); a legacy object has
      // none to check against: its every block was authenticated, and its size checked.
      checks.push({ kind: 'integrity', name: `${label} sha256`, status: 'ok', detail: backup.manifest
        ? `${digests[label].slice(0, 16)}… matches the manifest`
        : `${digests[label]} (computed; no manifest to check it against${label === 'stored' ? `: all ${backup.storedSize} bytes read, every rclone crypt block authenticated` : ''})` });
    }
    checks.push({ kind: 'restore', name: 'restore', status: 'ok', durationMs,
      detail: `${program} exited 0 (${(durationMs / 1000).toFixed(1)} s, ${stats.durationMs > 0 ? (stats.bytesWritten / 1000 / stats.durationMs).toFixed(1) : '-'} MB/s)` });
    return stats;
  } catch (err) {
    if (run.signal?.aborted) throw err;
    const durationMs = ms(started);
    const code = err instanceof CopycatError ? err.code : undefined;
    const message = describeError(err);
    const mismatch = code === 'DIGEST_MISMATCH' && err instanceof CopycatError ? err.detail?.digest : undefined;
    const integrity = !!code && INTEGRITY_CODES.test(code);
    for (const label of ['stored', 'plaintext'] as const) {
      let check: VerifyCheck;
      if (mismatch === label) check = { kind: 'integrity', name: `${label} sha256`, status: 'failed', detail: message };
      else if (mismatch === 'plaintext' && label === 'stored') check = { kind: 'integrity', name: 'stored sha256', status: 'ok', detail: 'matches the manifest' };
      else if (integrity && !mismatch && label === 'stored') check = { kind: 'integrity', name: 'stored object', status: 'failed', detail: message };
      else check = { kind: 'integrity', name: `${label} sha256`, status: 'skipped', detail: 'not computed: the restore stopped before the end of the backup' };
      checks.push(check);
    }
    checks.push({ kind: 'restore', name: 'restore', status: integrity ? 'skipped' : 'failed', durationMs,
      detail: integrity ? 'rolled back: the backup failed its integrity check' : message });
    return undefined;
  }
}
