import { CopycatError } from '../errors.js';

/** One entry of `pg_restore --list --verbose`: `214; 1259 16385 TABLE public orders app`, and what it depends on. */
interface TocEntry {
  readonly id: number;
  readonly line: number;
  readonly deps: number[];
}

export interface TocExclusion {
  /** The listing with every excluded entry commented out: a `--use-list` file. */
  readonly list: string;
  /** The excluded entries as listed, without their ids: `TABLE public orders app`, `FK CONSTRAINT public lines …`. */
  readonly excluded: readonly string[];
}

/**
 * pg_restore has no `--exclude-table`: this builds its effect as a table-of-contents list. Each name (`table` in any
 * schema, or `schema.table`) must match a TABLE entry; that entry is left out with everything that depends on it,
 * transitively — its data, indexes, constraints, triggers, owned sequences, views over it, foreign keys into it —
 * since any of those would fail without it, and with `--exit-on-error` fail the whole restore.
 */
export function excludeTables(listing: string, names: readonly string[]): TocExclusion {
  const lines = listing.split('\n');
  const entries: TocEntry[] = [];
  for (const [i, text] of lines.entries()) {
    const entry = /^(\d+); \d+ \d+ /.exec(text);
    if (entry) entries.push({ id: Number(entry[1]), line: i, deps: [] });
    const deps = /^;\s+depends on:(( \d+)+)\s*$/.exec(text);
    if (deps && entries.length) entries.at(-1)!.deps.push(...deps[1]!.trim().split(' ').map(Number));
  }
  const excluded = new Set<number>();
  for (const name of names) {
    const dot = name.indexOf('.');
    const [schema, table] = dot < 0 ? ['\\S+', escape(name)] : [escape(name.slice(0, dot)), escape(name.slice(dot + 1))];
    const table$ = new RegExp(`^\\d+; \\d+ \\d+ TABLE ${schema} ${table} \\S+$`);
    const found = entries.filter((e) => table$.test(lines[e.line]!));
    if (!found.length) {
      throw new CopycatError('TABLE_NOT_IN_BACKUP', `--exclude-table ${name}: the backup has no such table ` +
        `(it has ${tablesOf(lines, entries).join(', ') || 'none'}) — name one of its tables, as table or schema.table`);
    }
    for (const e of found) excluded.add(e.id);
  }
  // Dependencies may point forwards (a foreign key on a constraint listed later): repeat until nothing changes.
  for (let grew = true; grew;) {
    grew = false;
    for (const e of entries) {
      if (!excluded.has(e.id) && e.deps.some((d) => excluded.has(d))) {
        excluded.add(e.id);
        grew = true;
      }
    }
  }
  const out = [...lines];
  const named: string[] = [];
  for (const e of entries.filter((x) => excluded.has(x.id))) {
    named.push(lines[e.line]!.replace(/^\d+; \d+ \d+ /, ''));
    out[e.line] = `;${lines[e.line]}`;
  }
  return { list: out.join('\n'), excluded: named };
}

function tablesOf(lines: readonly string[], entries: readonly TocEntry[]): string[] {
  return entries.flatMap((e) => {
    // Three words after TABLE (schema, name, owner): `TABLE DATA` lines have four.
    const m = /^\d+; \d+ \d+ TABLE (\S+) (\S+) \S+$/.exec(lines[e.line]!);
    return m ? [`${m[1]}.${m[2]}`] : [];
  });
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
