import { defaultRcloneConfigPath, loadCryptRemote } from '../formats/rclone-config.js';
import { rcloneCryptKey } from '../formats/rclone-crypt.js';
import { dirRepository } from '../repository/index.js';
import { legacyRepository, type LegacyRepository } from '../repository/rclone-crypt.js';
import type { LegacyFlags, S3ConnectionFlags } from '../settings/flags.js';
import { openRepository } from './repository.js';
import { s3ClientFromFlags } from './s3-options.js';

/**
 * The rclone crypt backups of --legacy-rclone: where the crypt remote of --rclone-remote keeps them (its S3 remote's
 * bucket, path, endpoint and keys, or its local directory), else --from; and, `toRead`, the data key from that
 * remote's passwords, else from COPYCAT_RCLONE_PASSWORD and COPYCAT_RCLONE_PASSWORD2.
 */
export async function openLegacy(flags: LegacyFlags & S3ConnectionFlags & { from: string }, command: string, toRead: boolean):
  Promise<{ repository: LegacyRepository; rcloneKey?: Buffer }> {
  if (!flags.rcloneRemote) {
    const repository = legacyRepository(await openRepository(flags.from, `${command} --legacy-rclone`, flags));
    const rcloneKey = toRead ? await rcloneCryptKey(process.env.COPYCAT_RCLONE_PASSWORD ?? '', process.env.COPYCAT_RCLONE_PASSWORD2) : undefined;
    return { repository, ...(rcloneKey ? { rcloneKey } : {}) };
  }
  const remote = loadCryptRemote(flags.rcloneConfig ?? defaultRcloneConfigPath(process.env), flags.rcloneRemote);
  const { target } = remote;
  let repository;
  if (target.kind === 'dir') repository = dirRepository(target.path);
  else {
    const { s3Repository } = await import('../repository/s3-store.js');
    repository = s3Repository({ client: await s3ClientFromFlags(flags, target), bucket: target.bucket, prefix: target.prefix });
  }
  const rcloneKey = toRead ? await rcloneCryptKey(remote.password, remote.password2) : undefined;
  return { repository: legacyRepository(repository, remote.suffix), ...(rcloneKey ? { rcloneKey } : {}) };
}
