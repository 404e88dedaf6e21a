import { defaultRcloneConfigPath, loadCryptRemote } from '../formats/rclone-config.js';
import { rcloneCryptKey } from '../formats/rclone-crypt.js';
import { dirRepository, type Repository } from '../repository/index.js';
import { legacyRepository, type LegacyRepository } from '../repository/rclone-crypt.js';
import type { LegacyFlags, S3ConnectionFlags } from '../settings/flags.js';
import { openRepository } from './repository.js';
import { s3ClientFromFlags } from './s3-options.js';

type Flags = LegacyFlags & S3ConnectionFlags & { from: string };

/**
 * The rclone crypt backups of --legacy-rclone: where the crypt remote of --rclone-remote keeps them (its S3 remote's
 * bucket, path, endpoint and keys, or its local directory), else --from; and, `toRead`, the data key from that
 * remote's passwords, else from COPYCAT_RCLONE_PASSWORD and COPYCAT_RCLONE_PASSWORD2.
 */
export async function openLegacy(flags: Flags, command: string, toRead: boolean): Promise<{ repository: LegacyRepository; rcloneKey?: Buffer }> {
  const { repository, password, password2 } = flags.rcloneRemote
    ? await openRemote(flags, flags.rcloneRemote)
    : {
        repository: legacyRepository(await openRepository(flags.from, `${command} --legacy-rclone`, flags)),
        password: process.env.COPYCAT_RCLONE_PASSWORD ?? '',
        password2: process.env.COPYCAT_RCLONE_PASSWORD2,
      };
  return { repository, ...(toRead ? { rcloneKey: await rcloneCryptKey(password, password2) } : {}) };
}

async function openRemote(flags: Flags, name: string): Promise<{ repository: LegacyRepository; password: string; password2: string }> {
  const remote = loadCryptRemote(flags.rcloneConfig ?? defaultRcloneConfigPath(process.env), name);
  const { target } = remote;
  let repository: Repository;
  if (target.kind === 'dir') repository = dirRepository(target.path);
  else {
    const { s3Repository } = await import('../repository/s3-store.js');
    repository = s3Repository({ client: await s3ClientFromFlags(flags, target), bucket: target.bucket, prefix: target.prefix });
  }
  return { repository: legacyRepository(repository, remote.suffix), password: remote.password, password2: remote.password2 };
}
