import type { Command } from 'commander';
import { CopycatError } from '../errors.js';
import { generateIdentityFile, generateKeyFile, loadIdentityFile } from '../key.js';

/**
 * `keygen PATH`: a symmetric key (format 1). `keygen --identity PATH`: a key pair (format 2), whose public recipient
 * goes to the hosts that write backups and whose identity stays with those that restore. `--recipient-of PATH`
 * prints an identity file's recipients again.
 */
export function keygenCommand(program: Command): void {
  program
    .command('keygen')
    .description('write a new secret (mode 0600; never overwrites): a 32-byte key, or with --identity a key pair whose recipient is printed')
    .argument('[path]', 'where to write the 32-byte key')
    .option('--identity <path>', 'write a new identity file instead, and print its public recipient (ccdb1…) for --recipient/--recipients-file')
    .option('--recipient-of <path>', 'print the public recipients of an existing identity file')
    .action(async (path: string | undefined, opts: { identity?: string; recipientOf?: string }) => {
      const given = [path, opts.identity, opts.recipientOf].filter((v) => v !== undefined).length;
      if (given !== 1) {
        throw new CopycatError('OPTION_INVALID', 'keygen takes one of: PATH (a 32-byte key), --identity PATH (a key pair), --recipient-of PATH');
      }
      if (opts.identity) {
        const recipient = await generateIdentityFile(opts.identity);
        process.stderr.write(`wrote ${opts.identity} (recipient id ${recipient.id}); keep it secret and keep a copy offline: ` +
          'backups to its recipient cannot be read without it. Its recipient, for the hosts that write backups:\n');
        process.stdout.write(`${recipient.text}\n`);
      } else if (opts.recipientOf) {
        for (const identity of await loadIdentityFile(opts.recipientOf)) process.stdout.write(`${identity.recipient.text}\n`);
      } else {
        const { keyId } = await generateKeyFile(path!);
        process.stdout.write(`wrote ${path} (key id ${keyId}); keep a copy somewhere safe: backups cannot be read without it\n`);
      }
    });
}
