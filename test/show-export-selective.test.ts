// show, export and the restore options that are pg_restore's (selection, kept owners), through the real CLI on a
// directory repository and a real PostgreSQL.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Manifest } from '../src/formats/manifest.js';
import { excludeTables } from '../src/pg/toc-exclusion.js';
import { dataKey } from '../src/repository/layout.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { seedVariedDatabase } from './helpers/fixtures.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';

let pg: PgCluster;
let work: string;
let env: Record<string, string>;
let repo: string;
let id: string;

before(async () => {
  pg = await startPgCluster();
  work = mkdtempSync(join(tmpdir(), 'copycat-show-export-'));
  const keyFile = join(work, 'key');
  writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
  env = { ...pg.env, COPYCAT_KEY_FILE: keyFile, COPYCAT_DESTINATION: '', COPYCAT_LOCK_DIR: join(work, 'locks') };
  await seedVariedDatabase(pg, 'app', 200);
  // Owners and grants that only --keep-owners keeps.
  await pg.query(`CREATE ROLE app_owner; CREATE ROLE app_reader;
    ALTER TABLE billing.invoices OWNER TO app_owner; GRANT SELECT ON billing.invoices TO app_reader;
    CREATE TABLE public.notes (id int PRIMARY KEY, body text); INSERT INTO public.notes SELECT g, md5(g::text) FROM generate_series(1, 50) g;`, 'app');
  repo = join(work, 'repo');
  mkdirSync(repo);
  const r = await cli(['backup', '--to', `file:${repo}`, '-d', 'app', '--level', '1']);
  assert.equal(r.code, 0, r.stderr);
  id = /backup\.done id=(\S+)/.exec(r.stderr)![1]!;
});

after(async () => {
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => runCli(args, { env: { ...env, ...extra } });

async function userTables(database: string): Promise<string[]> {
  return (await pg.query<{ t: string }>(`SELECT schemaname || '.' || tablename AS t FROM pg_tables
    WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`, database)).map((r) => r.t);
}

test('show prints the whole manifest (latest by default, or by id), and --json has it all', async () => {
  const json = await cli(['show', '--from', `file:${repo}`, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const details = JSON.parse(json.stdout.toString()) as { id: string; status: string; keys: string[]; manifest: Manifest };
  assert.equal(details.id, id);
  assert.equal(details.status, 'complete');
  assert.equal(details.manifest.source.database, 'app');
  assert.ok(details.manifest.tables?.some((t) => t.name === 'billing.invoices' && t.rows === 600));
  const text = await cli(['show', id, '--from', `file:${repo}`]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout.toString(), /^status +complete$/m);
  assert.match(text.stdout.toString(), /^encryption +key id [0-9a-f]{16}$/m);
  assert.match(text.stdout.toString(), /^ {2}billing\.invoices {2}600 rows$/m);
  const missing = await cli(['show', '20200101T000000Z-abcd', '--from', `file:${repo}`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no backup 20200101T000000Z-abcd under file:/);
});

test('export writes the dump exactly as pg_dump made it, checked against the manifest; a damaged backup writes nothing', async () => {
  const out = join(work, 'app.dump');
  const r = await cli(['export', '--from', `file:${repo}`, '--to', out]);
  assert.equal(r.code, 0, r.stderr);
  const manifest = JSON.parse(readFileSync(join(repo, `${id}.manifest.json`), 'utf8')) as Manifest;
  assert.equal(createHash('sha256').update(readFileSync(out)).digest('hex'), manifest.sha256.plaintext, 'byte-identical to the dump');
  const toc = execFileSync('pg_restore', ['--list', out], { encoding: 'utf8' });
  assert.match(toc, /TABLE billing invoices/);
  const piped = await cli(['export', '--from', `file:${repo}`, '--backup', id, '--to', '-']);
  assert.equal(piped.code, 0, piped.stderr);
  assert.ok(piped.stdout.equals(readFileSync(out)), 'the same bytes on standard output');

  const damaged = join(work, 'damaged');
  mkdirSync(damaged);
  for (const f of readdirSync(repo)) writeFileSync(join(damaged, f), readFileSync(join(repo, f)));
  const data = readFileSync(join(damaged, dataKey('', id)));
  data[data.length >> 1] ^= 0x40;
  writeFileSync(join(damaged, dataKey('', id)), data);
  const bad = await cli(['export', '--from', `file:${damaged}`, '--to', join(work, 'bad.dump')]);
  assert.equal(bad.code, 1);
  assert.deepEqual(readdirSync(work).filter((f) => f.startsWith('bad.dump')), [], 'no file, not even a partial one');
});

test('restore --table, --schema and --exclude-schema restore only what they name; --use-list takes an edited table of contents', async () => {
  await pg.createDatabase('only_notes');
  let r = await cli(['restore', '--from', `file:${repo}`, '--to-database', 'only_notes', '--table', 'notes']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await userTables('only_notes'), ['public.notes']);
  const [count] = await pg.query<{ n: string }>('SELECT count(*)::text AS n FROM public.notes', 'only_notes');
  assert.equal(count!.n, '50');

  await pg.createDatabase('only_public');
  r = await cli(['restore', '--from', `file:${repo}`, '--to-database', 'only_public', '--schema', 'public']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await userTables('only_public'), ['public.customers', 'public.notes']);

  await pg.createDatabase('no_billing');
  r = await cli(['restore', '--from', `file:${repo}`, '--to-database', 'no_billing', '--exclude-schema', 'billing']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await userTables('no_billing'), ['public.customers', 'public.notes']);

  const out = join(work, 'list.dump');
  assert.equal((await cli(['export', '--from', `file:${repo}`, '--to', out])).code, 0);
  const list = join(work, 'toc.list');
  const toc = execFileSync('pg_restore', ['--list', out], { encoding: 'utf8' }).split('\n');
  // Keep the notes table, its data and its key; comment out everything else.
  writeFileSync(list, toc.map((l) => (/^\d+;/.test(l) && !/ public notes /.test(l) ? `;${l}` : l)).join('\n'));
  await pg.createDatabase('from_list');
  r = await cli(['restore', '--from', `file:${repo}`, '--to-database', 'from_list', '--use-list', list]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await userTables('from_list'), ['public.notes']);
});

test('restore --exclude-table leaves out a table and everything that depends on it, read from the backup\'s table of contents', async () => {
  await pg.createDatabase('no_customers');
  const r = await cli(['restore', '--from', `file:${repo}`, '--to-database', 'no_customers', '--exclude-table', 'customers']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await userTables('no_customers'), ['billing.invoices', 'public.notes']);
  const [rows] = await pg.query<{ n: string }>('SELECT count(*)::text AS n FROM billing.invoices', 'no_customers');
  assert.equal(rows!.n, '600');
  // The view over customers and the foreign key into it went with it; the index on invoices stayed.
  const [left] = await pg.query<{ views: string; fks: string; idx: string }>(`SELECT
    (SELECT count(*) FROM pg_views WHERE schemaname = 'billing')::text AS views,
    (SELECT count(*) FROM pg_constraint WHERE contype = 'f')::text AS fks,
    (SELECT count(*) FROM pg_indexes WHERE indexname = 'invoices_customer')::text AS idx`, 'no_customers');
  assert.deepEqual(left, { views: '0', fks: '0', idx: '1' });
  assert.match(r.stderr, /restore\.exclude-table .*left_out=.*TABLE public customers/);

  await pg.createDatabase('no_such_table');
  const missing = await cli(['restore', '--from', `file:${repo}`, '--to-database', 'no_such_table', '--exclude-table', 'billing.nosuch']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /copycat-db: error: --exclude-table billing\.nosuch: the backup has no such table \(it has .*billing\.invoices.*\)/);
  assert.deepEqual(await userTables('no_such_table'), []);
  const both = await cli(['restore', '--from', `file:${repo}`, '--to-database', 'no_such_table', '--exclude-table', 'notes', '--use-list', '/dev/null']);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /--exclude-table and --use-list both choose/);
  assert.deepEqual(await userTables('no_such_table'), []);
});

test('excludeTables: dependants go too, transitively and whatever their order in the list', () => {
  const listing = [
    ';', '; Selected TOC Entries:', ';',
    '214; 1259 16385 TABLE public a postgres', '217; 1259 16408 VIEW public av postgres', ';\tdepends on: 214 214',
    '215; 1259 16395 TABLE public b postgres', '216; 1259 16405 TABLE other a postgres',
    '3360; 0 16385 TABLE DATA public a postgres', ';\tdepends on: 214',
    '3361; 0 16395 TABLE DATA public b postgres', ';\tdepends on: 215',
    '3216; 2606 16400 FK CONSTRAINT public b b_a_id_fkey postgres', ';\tdepends on: 215 214 3210',
    '3210; 2606 16391 CONSTRAINT public a a_pkey postgres', ';\tdepends on: 214',
    '3400; 0 0 COMMENT public VIEW av postgres', ';\tdepends on: 217', '',
  ].join('\n');
  const { list, excluded } = excludeTables(listing, ['public.a']);
  assert.deepEqual(excluded, ['TABLE public a postgres', 'VIEW public av postgres', 'TABLE DATA public a postgres',
    'FK CONSTRAINT public b b_a_id_fkey postgres', 'CONSTRAINT public a a_pkey postgres', 'COMMENT public VIEW av postgres']);
  assert.deepEqual(list.split('\n').filter((l) => /^\d+;/.test(l)), ['215; 1259 16395 TABLE public b postgres',
    '216; 1259 16405 TABLE other a postgres', '3361; 0 16395 TABLE DATA public b postgres']);
  // Unqualified, the name matches in every schema.
  assert.equal(excludeTables(listing, ['a']).excluded.filter((e) => e.startsWith('TABLE ')).length, 3);
  assert.throws(() => excludeTables(listing, ['c']), /--exclude-table c: the backup has no such table \(it has public\.a, public\.b, other\.a\)/);
});

test('--keep-owners keeps owners and grants; without it the restoring user owns everything', async () => {
  await pg.createDatabase('owners_kept');
  const kept = await cli(['restore', '--from', `file:${repo}`, '--to-database', 'owners_kept', '--keep-owners']);
  assert.equal(kept.code, 0, kept.stderr);
  const owner = async (db: string) => (await pg.query<{ o: string }>(`SELECT tableowner AS o FROM pg_tables WHERE tablename = 'invoices'`, db))[0]!.o;
  assert.equal(await owner('owners_kept'), 'app_owner');
  const [grant] = await pg.query<{ g: boolean }>(`SELECT has_table_privilege('app_reader', 'billing.invoices', 'SELECT') AS g`, 'owners_kept');
  assert.equal(grant!.g, true);
  await pg.createDatabase('owners_dropped');
  assert.equal((await cli(['restore', '--from', `file:${repo}`, '--to-database', 'owners_dropped'])).code, 0);
  assert.notEqual(await owner('owners_dropped'), 'app_owner');
});

test('selection on a plain-format backup is refused before anything is read or restored', async () => {
  const plain = join(work, 'plain');
  mkdirSync(plain);
  const b = await cli(['backup', '--to', `file:${plain}`, '-d', 'app', '--format', 'plain', '--level', '1']);
  assert.equal(b.code, 0, b.stderr);
  await pg.createDatabase('plain_selected');
  const r = await cli(['restore', '--from', `file:${plain}`, '--to-database', 'plain_selected', '--table', 'customers']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /a selective restore .* needs a custom-format backup, and this one is plain/);
  assert.deepEqual(await userTables('plain_selected'), []);
  // A plain stream is sniffed: the same refusal comes from its first bytes.
  const file = join(work, 'plain.backup');
  assert.equal((await cli(['backup', '--to', `file:${file}`, '-d', 'app', '--format', 'plain', '--level', '1'])).code, 0);
  const s = await cli(['restore', '--from', `file:${file}`, '--to-database', 'plain_selected', '--keep-owners']);
  assert.equal(s.code, 1);
  assert.match(s.stderr, /--keep-owners needs a custom-format backup, and this one is plain/);
});
