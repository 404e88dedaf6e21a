import type { ChainOptions } from '../chain.js';
import { CopycatError } from '../errors.js';
import type { DecryptionSecrets } from '../formats/stream-header.js';
import { loadIdentityFile, loadKeyFile, loadRecipientsFile } from '../key.js';
import { parseRecipient } from '../formats/recipients.js';
import type { ChainFlags, CompressFlags, IdentityFlags, RecipientFlags } from '../settings/flags.js';

/**
 * The compression and secrets a backup is written with (a key file, or recipients), or a stream without a manifest
 * is read with (a key file and/or identities).
 */
export async function chainOptions(flags: ChainFlags & Partial<CompressFlags & RecipientFlags & IdentityFlags>): Promise<ChainOptions> {
  const base = { compression: flags.compression, level: flags.level, workers: flags.workers };
  if (!flags.encrypt) return base;
  const recipients = [
    ...(flags.recipient ?? []).map((text) => parseRecipient(text, '--recipient')),
    ...(flags.recipientsFile ? await loadRecipientsFile(flags.recipientsFile) : []),
  ];
  const secrets = await readSecrets(flags);
  if (!secrets.key && !recipients.length && !secrets.identities?.length) {
    throw new CopycatError('KEY_MISSING', 'no encryption key: pass --recipients-file (or --recipient), or --key-file / COPYCAT_KEY_FILE ' +
      '(create them with `copycat-db keygen`), or pass --no-encrypt');
  }
  return { ...base, ...secrets, ...(recipients.length ? { recipients } : {}) };
}

/** What reads an encrypted backup: the key file's key and every identity in the identity files given. */
export async function readSecrets(flags: { keyFile?: string } & IdentityFlags): Promise<DecryptionSecrets> {
  const key = flags.keyFile ? await loadKeyFile(flags.keyFile) : undefined;
  const identities = (await Promise.all((flags.identity ?? []).map(loadIdentityFile))).flat();
  return { ...(key ? { key } : {}), ...(identities.length ? { identities } : {}) };
}
