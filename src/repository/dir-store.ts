import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CopycatError } from '../errors.js';
import { fileSink } from '../sinks/file.js';
import { fileSource } from '../sources/file.js';
import type { ObjectStore, PendingWrite, StoredVersion } from './store.js';

/** What fileSink leaves while it writes: NAME.RANDOM.partial. */
const PARTIAL = /^(.+)\.[0-9a-f]{8}\.partial$/;

/**
 * A local directory as a repository: one file per key, each its only version ('null'), no lock. Files appear under
 * their final name only once complete and on disk (written as .partial, fsynced, then linked, never over an existing
 * name), so a listing never sees half a backup, and a crash leaves only .partial files, which prune removes.
 * A listing walks subdirectories as an S3 listing of a key prefix does (a key with slashes is a file in them; symbolic
 * links to directories are not followed): a database's directory (DIR/DBNAME, see `below`) is a repository of its own.
 */
export function dirStore(dir: string, opts: { readonly create?: boolean } = {}): ObjectStore {
  const root = resolve(dir);
  const location = `file:${root}`;
  const path = (key: string): string => join(root, key);
  const missingDir = (err: unknown): CopycatError => new CopycatError('REPOSITORY_MISSING',
    `cannot read the repository ${location}: ${(err as NodeJS.ErrnoException).code ?? err} — check the path, or create the directory (mkdir -p ${root})`, { cause: err });

  /** Every file under the root, as keys (slash-separated paths below it), in name order. */
  async function files(): Promise<{ name: string; mtime: Date; size: number }[]> {
    const out: { name: string; mtime: Date; size: number }[] = [];
    const walk = async (below: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(below ? path(below) : root, { withFileTypes: true });
      } catch (err) {
        // A subdirectory removed meanwhile is simply not listed; the root missing is the repository missing.
        if (below) return;
        throw missingDir(err);
      }
      for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        const name = below ? `${below}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          await walk(name);
          continue;
        }
        // A file removed between readdir and stat (a concurrent prune) is simply not listed.
        const st = await stat(path(name)).catch(() => undefined);
        if (st?.isFile()) out.push({ name, mtime: st.mtime, size: st.size });
      }
    };
    await walk('');
    return out;
  }

  return {
    location,
    describe: path,

    async listVersions(prefix) {
      return (await files()).filter((f) => f.name.startsWith(prefix) && !PARTIAL.test(f.name)).map((f): StoredVersion =>
        ({ key: f.name, versionId: 'null', deleteMarker: false, latest: true, lastModified: f.mtime, size: f.size }));
    },

    async readSmall(key, _versionId, maxBytes) {
      let handle;
      try {
        handle = await open(path(key), 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
        throw new CopycatError('FILE_UNREADABLE', `cannot read ${path(key)}: ${(err as NodeJS.ErrnoException).code ?? err}`, { cause: err });
      }
      try {
        // Read one byte past the bound, so a file that grew since the listing is still caught.
        const buffer = Buffer.alloc(Math.min((await handle.stat()).size, maxBytes) + 1);
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
        return bytesRead > maxBytes ? 'too-large' : buffer.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    },

    lockOf: async () => ({ kind: 'none' }),

    async deleteVersion(key) {
      try {
        await unlink(path(key));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        const refused = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
        throw new CopycatError(refused ? 'FILE_DELETE_REFUSED' : 'FILE_DELETE_FAILED', `cannot delete ${path(key)}: ${code ?? err}`, { cause: err, detail: { refused } });
      }
    },

    async extendLock() {
      throw new CopycatError('LOCK_UNSUPPORTED', `${location} is a directory: its files have no lock to extend`);
    },

    async listPending(prefix) {
      return (await files()).flatMap((f): PendingWrite[] => {
        const m = PARTIAL.exec(f.name);
        return m && f.name.startsWith(prefix) ? [{ key: m[1]!, id: f.name, started: f.mtime }] : [];
      });
    },

    async removePending(pending) {
      await unlink(path(pending.id)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw new CopycatError('FILE_DELETE_FAILED', `cannot delete ${path(pending.id)}: ${err.code ?? err}`, { cause: err });
      });
    },

    async prepare() {
      try {
        // A database's directory is made in its repository's, which must exist: a mistyped path is still refused.
        if (opts.create && !(await stat(root).catch(() => undefined))) {
          await mkdir(root, { mode: 0o700 });
          await syncDir(dirname(root));
        }
        if (!(await stat(root)).isDirectory()) throw Object.assign(new Error(), { code: 'ENOTDIR' });
      } catch (err) {
        throw missingDir(err);
      }
      return { locked: false };
    },

    async probe() {
      // Named as fileSink names its files while it writes: one left behind by a crash is removed by prune.
      const probe = path(`.copycat-check.${randomBytes(4).toString('hex')}.partial`);
      try {
        const handle = await open(probe, 'wx', 0o600);
        try {
          await handle.writeFile('copycat-db check\n');
          await handle.sync();
        } finally {
          await handle.close();
        }
        await unlink(probe);
      } catch (err) {
        throw new CopycatError('REPOSITORY_NOT_WRITABLE', `cannot write in the repository ${location}: ${(err as NodeJS.ErrnoException).code ?? err} ` +
          '— the user running copycat-db needs write permission on the directory', { cause: err });
      }
      return `wrote, synced and removed a test file in ${root}`;
    },

    dataSink(key) {
      return {
        stage: fileSink(path(key)),
        async written() {
          return { key, versionId: 'null', size: (await stat(path(key))).size, retention: null };
        },
      };
    },

    async putSmall(key, body) {
      const target = path(key);
      const partial = `${target}.${randomBytes(4).toString('hex')}.partial`;
      const handle = await open(partial, 'wx', 0o600);
      try {
        await handle.writeFile(body);
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        await link(partial, target);
      } catch (err) {
        throw (err as NodeJS.ErrnoException).code === 'EEXIST'
          ? new CopycatError('FILE_EXISTS', `${target} already exists: a backup id is never written twice — is another copycat-db writing to ${root}?`)
          : err;
      } finally {
        await unlink(partial).catch(() => {});
      }
      // The new name is durable only once the directory entry is.
      await syncDir(dirname(target));
      return 'null';
    },

    dataSource: (key) => fileSource(path(key)),

    below(prefix, segment) {
      const store = dirStore(join(root, prefix, segment), { create: true });
      return { store, prefix: '', location: store.location };
    },
  };
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
