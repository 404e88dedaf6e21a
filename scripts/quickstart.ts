// The README's first command: a real backup → restore on local defaults, printing each step as an operator
// would type it. Everything runs on throwaway servers in a temporary folder that is removed at the end.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../test/helpers/cli.js';
import { seedVariedDatabase } from '../test/helpers/fixtures.js';
import { startPgCluster } from '../test/helpers/pg-cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'copycat-quickstart-'));
const say = (text: string) => process.stdout.write(`\n== ${text}\n`);
const pg = await startPgCluster();
try {
  const env = { ...process.env, ...pg.env, COPYCAT_KEY_FILE: join(dir, 'backup.key') };
  const copycat = (...args: string[]) => {
    process.stdout.write(`$ copycat-db ${args.join(' ')}\n`);
    const r = spawnSync(process.execPath, [CLI, ...args], { env, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`copycat-db ${args[0]} failed (exit ${r.status})`);
  };
  say(`local PostgreSQL on 127.0.0.1:${pg.port} with a sample database "shop"`);
  await seedVariedDatabase(pg, 'shop');
  say('a new encryption key');
  copycat('keygen', env.COPYCAT_KEY_FILE);
  say('backup: pg_dump → zstd → AES-256-GCM → file');
  const file = join(dir, 'shop.backup');
  copycat('backup', '--database', 'shop', '--to', `file:${file}`);
  say('restore into a new database "shop_restored"');
  await pg.createDatabase('shop_restored');
  copycat('restore', '--from', `file:${file}`, '--to-database', 'shop_restored');
  const count = async (db: string) =>
    (await pg.query<{ n: string }>('SELECT (SELECT count(*) FROM customers) || \'/\' || (SELECT count(*) FROM billing.invoices) AS n', db))[0]!.n;
  const [before, after] = [await count('shop'), await count('shop_restored')];
  say(`customers/invoices: source ${before}, restored ${after}: ${before === after ? 'identical' : 'DIFFERENT'}`);
  if (before !== after) process.exitCode = 1;
} finally {
  await pg.stop();
  rmSync(dir, { recursive: true, force: true });
}
