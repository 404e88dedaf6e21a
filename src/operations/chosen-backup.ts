import { restoreTransforms } from '../chain.js';
import { CopycatError } from '../errors.js';
import { keyId } from '../formats/encrypted-stream.js';
import type { Manifest } from '../formats/manifest.js';
import { identitiesFor } from '../formats/recipient-header.js';
import type { DecryptionSecrets } from '../formats/stream-header.js';
import { chooseBackup, type BackupEntry, type Repository } from '../repository/index.js';
import { chooseLegacyBackup, type LegacyBackup, type LegacyRepository } from '../repository/rclone-crypt.js';
import type { SourceStage, TableFact, TransformStage } from '../stage.js';
import { compressionName } from '../transforms/compression/index.js';
import { rcloneDecrypt } from '../transforms/rclone-decrypt.js';
import { sha256 } from '../transforms/sha256.js';

/** What reads a backup: a key file's key or identities (copycat-db backups), the rclone crypt data key (legacy ones). */
export interface ReadSecrets extends DecryptionSecrets {
  /** rcloneCryptKey(password, password2) of the crypt remote that wrote a legacy backup. */
  readonly rcloneKey?: Buffer;
}

/**
 * A backup restore and verify read, whatever holds it: a copycat-db backup, whose digests are checked against its
 * manifest, or a legacy rclone crypt object, whose digests are computed and reported (there is nothing to check them
 * against: every block's authentication and the object's size are its checks).
 */
export interface ChosenBackup {
  readonly id: string;
  readonly location: string;
  readonly object: { readonly key: string; readonly versionId: string };
  /** When the backup was taken (the manifest's startedAt), or a legacy object stored. */
  readonly takenAt: string;
  readonly source: Manifest['source'];
  /** 'unknown' for a legacy object until its first bytes are read. */
  readonly dumpFormat: Manifest['dumpFormat'];
  readonly encrypted: boolean;
  readonly storedSize: number;
  /** The dump's bytes: recorded in the manifest, or what the legacy object's size decrypts to. */
  readonly dumpSize: number;
  /** Tables with their rows, where the backup recorded them. */
  readonly tables: readonly TableFact[] | undefined;
  /** Copycat-db backups only. */
  readonly entry?: BackupEntry;
  readonly manifest?: Manifest;
  /** Legacy backups only. */
  readonly legacy?: LegacyBackup;
  /** The stored bytes, exactly the version chosen. */
  stored(): SourceStage;
  /** The stored digest, the chain reversed, the plaintext digest: new stages for each run. */
  transforms(): ReadChain;
}

/** The stages that read a backup, and the two digests they computed once a run of them ended. */
export interface ReadChain {
  readonly stages: TransformStage[];
  digests(): { stored: string; plaintext: string };
}

/**
 * A copycat-db backup's chain reversed, between the two digests its manifest recorded for the data (or `digests`: its
 * globals'), with the secrets secretsForManifest accepted.
 */
export function manifestChain(manifest: Manifest, opening: DecryptionSecrets, digests = manifest.sha256): ReadChain {
  return readChain(
    sha256({ label: 'stored', expect: digests.stored }),
    restoreTransforms({ compression: compressionName(manifest.compression.algorithm), ...opening }),
    sha256({ label: 'plaintext', expect: digests.plaintext }),
  );
}

function readChain(stored: ReturnType<typeof sha256>, middle: TransformStage[], plaintext: ReturnType<typeof sha256>): ReadChain {
  return { stages: [stored, ...middle, plaintext], digests: () => ({ stored: stored.digest()!, plaintext: plaintext.digest()! }) };
}

/**
 * The backup `backupId` names, or the latest readable one. The secrets are checked before any data is read, as far as
 * the backup allows: a manifest names its key or recipients; a legacy object proves its password only with its first block.
 */
export async function chooseToRead(repository: Repository | LegacyRepository, backupId: string | undefined, secrets: ReadSecrets,
  signal?: AbortSignal): Promise<ChosenBackup> {
  if ('kind' in repository) return chooseLegacy(repository, backupId, secrets, signal);
  const entry = await chooseBackup(repository, backupId, signal);
  const manifest = entry.manifest!;
  const opening = secretsForManifest(manifest, secrets);
  return {
    id: entry.id,
    location: repository.location,
    object: { key: manifest.object.key, versionId: manifest.object.versionId },
    takenAt: manifest.startedAt,
    source: manifest.source,
    dumpFormat: manifest.dumpFormat,
    encrypted: !!manifest.encryption,
    storedSize: manifest.sizes.stored,
    dumpSize: manifest.sizes.plaintext,
    tables: manifest.tables,
    entry,
    manifest,
    stored: () => repository.store.dataSource(entry.dataVersion!.key, entry.dataVersion!.versionId, manifest.sizes.stored),
    transforms: () => manifestChain(manifest, opening),
  };
}

async function chooseLegacy(legacy: LegacyRepository, backupId: string | undefined, secrets: ReadSecrets, signal?: AbortSignal): Promise<ChosenBackup> {
  const { rcloneKey } = secrets;
  if (!rcloneKey) {
    throw new CopycatError('RCLONE_PASSWORD_MISSING', 'a legacy rclone crypt backup needs its password: set COPYCAT_RCLONE_PASSWORD (and COPYCAT_RCLONE_PASSWORD2 if the remote has one), or pass --rclone-remote');
  }
  const backup = await chooseLegacyBackup(legacy, backupId, signal);
  const { store } = legacy.repository;
  return {
    id: backup.id,
    location: legacy.location,
    object: { key: backup.key, versionId: backup.versionId },
    takenAt: backup.time.toISOString(),
    source: { kind: 'rclone-crypt' },
    dumpFormat: 'unknown',
    encrypted: true,
    storedSize: backup.size,
    dumpSize: backup.dumpSize!, // chooseLegacyBackup never returns one whose size has no dump size
    tables: undefined,
    legacy: backup,
    stored: () => store.dataSource(backup.key, backup.versionId, backup.size),
    transforms: () => readChain(sha256({ label: 'stored' }), [rcloneDecrypt({ key: rcloneKey, storedSize: backup.size })], sha256({ label: 'plaintext' })),
  };
}

/**
 * The secrets that open this backup, checked against the manifest before any byte is read: the key id it recorded
 * (format 1), or the recipients it was encrypted to (format 2). A missing or wrong one is named with the public ids
 * on both sides, never a secret.
 */
export function secretsForManifest(manifest: Manifest, given: DecryptionSecrets): DecryptionSecrets {
  const encryption = manifest.encryption;
  if (!encryption) return {};
  if (encryption.algorithm === 'aes-256-gcm-stream-v2') {
    const { recipients } = encryption;
    if (!given.identities?.length) {
      throw new CopycatError('IDENTITY_MISSING', `backup ${manifest.id} is encrypted to recipients ${recipients.join(', ')}: ` +
        'pass --identity (or set COPYCAT_IDENTITY_FILE) with the identity file of one of them');
    }
    return { identities: identitiesFor(recipients, given.identities) };
  }
  const { keyId: expected } = encryption;
  if (!given.key) {
    throw new CopycatError('KEY_MISSING', `backup ${manifest.id} is encrypted with key id ${expected}: pass --key-file (or set COPYCAT_KEY_FILE) with that key`);
  }
  const actual = keyId(given.key);
  if (actual !== expected) {
    throw new CopycatError('WRONG_KEY', `wrong key: backup ${manifest.id} was encrypted with key id ${expected}, the key given has id ${actual} — use the key file whose id is ${expected}`);
  }
  return { key: given.key };
}
