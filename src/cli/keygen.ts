import type { Command } from 'commander';
import { generateKeyFile } from '../key.js';

export function keygenCommand(program: Command): void {
  program
    .command('keygen')
    .description('write a new random 32-byte encryption key (mode 0600; never overwrites)')
    .argument('<path>', 'where to write the key')
    .action(async (path: string) => {
      const { keyId } = await generateKeyFile(path);
      process.stdout.write(`wrote ${path} (key id ${keyId}); keep a copy somewhere safe: backups cannot be read without it\n`);
    });
}
