import { execFileSync } from 'node:child_process';
import type { PgCluster } from '../../testkit/pg-cluster.js';

/**
 * A database that exercises what dumps get wrong: random bytea (every byte value), jsonb, arrays, enums, numeric,
 * timestamptz, sequences, indexes, foreign keys, a view, a large object and two schemas.
 */
export async function seedVariedDatabase(cluster: PgCluster, database: string, rows = 2000): Promise<void> {
  await cluster.createDatabase(database);
  await cluster.query(`
    CREATE SCHEMA billing;
    CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
    CREATE TABLE public.customers (
      id serial PRIMARY KEY,
      name text NOT NULL,
      mood mood,
      tags text[],
      profile jsonb,
      balance numeric(20, 6),
      created_at timestamptz,
      avatar bytea
    );
    INSERT INTO public.customers (name, mood, tags, profile, balance, created_at, avatar)
    SELECT 'customer ' || g || E' \\t''quoted'' é ✓',
           (ARRAY['sad', 'ok', 'happy']::mood[])[1 + g % 3],
           ARRAY['tag' || g % 7, NULL, 'x,y'],
           jsonb_build_object('n', g, 'nested', jsonb_build_object('ok', g % 2 = 0), 'list', jsonb_build_array(g, 'a', NULL)),
           (g * 12345.678901)::numeric(20, 6),
           timestamptz '2024-01-01 00:00:00+02' + g * interval '37 minutes',
           sha512(random()::text::bytea) || sha256(g::text::bytea) || '\\x00ff00'::bytea
    FROM generate_series(1, ${rows}) g;
    CREATE TABLE billing.invoices (
      id bigserial PRIMARY KEY,
      customer_id int NOT NULL REFERENCES public.customers (id),
      amount numeric,
      issued_on date,
      note text
    );
    INSERT INTO billing.invoices (customer_id, amount, issued_on, note)
    SELECT 1 + g % ${rows}, g / 7.0, date '2023-06-01' + g % 400, CASE WHEN g % 5 = 0 THEN NULL ELSE repeat('n', g % 50) END
    FROM generate_series(1, ${rows * 3}) g;
    CREATE INDEX invoices_customer ON billing.invoices (customer_id);
    CREATE VIEW billing.customer_totals AS
      SELECT c.id, c.name, sum(i.amount) AS total FROM public.customers c JOIN billing.invoices i ON i.customer_id = c.id GROUP BY c.id, c.name;
    CREATE SEQUENCE public.ticket_seq START 100;
    SELECT setval('public.ticket_seq', 4242);
    SELECT lo_from_bytea(0, sha512('large object'::bytea) || '\\x000102'::bytea);
  `, database);
}

export interface DatabaseDigest {
  /** Ordered content digest of every user table. */
  readonly tables: Record<string, string>;
  readonly sequences: Record<string, string>;
  readonly largeObjects: string;
  /** `pg_dump --schema-only`, minus lines that vary between runs. */
  readonly schema: string;
}

export async function digestDatabase(cluster: PgCluster, database: string): Promise<DatabaseDigest> {
  const tables: Record<string, string> = {};
  const names = await cluster.query<{ name: string }>(`
    SELECT format('%I.%I', table_schema, table_name) AS name FROM information_schema.tables
    WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`, database);
  for (const { name } of names) {
    const [row] = await cluster.query<{ digest: string; n: string }>(
      `SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS digest, count(*)::text AS n FROM ${name} t`, database);
    tables[name] = `${row!.n}:${row!.digest}`;
  }
  const sequences: Record<string, string> = {};
  const seqs = await cluster.query<{ name: string }>(
    `SELECT format('%I.%I', schemaname, sequencename) AS name FROM pg_sequences ORDER BY 1`, database);
  for (const { name } of seqs) {
    const [row] = await cluster.query<{ v: string }>(`SELECT last_value::text || '/' || is_called AS v FROM ${name}`, database);
    sequences[name] = row!.v;
  }
  const [lo] = await cluster.query<{ digest: string }>(
    `SELECT md5(coalesce(string_agg(encode(lo_get(oid), 'hex'), ',' ORDER BY oid), '')) AS digest FROM pg_largeobject_metadata`, database);
  const schema = execFileSync('pg_dump', ['--schema-only', '--no-owner', '--no-privileges', `--dbname=${database}`], {
    env: { ...process.env, ...cluster.env },
  }).toString().split('\n').filter((l) => !l.startsWith('--') && !l.startsWith('\\restrict') && !l.startsWith('\\unrestrict')).join('\n');
  return { tables, sequences, largeObjects: lo!.digest, schema };
}
