import { USER_TABLES_FROM } from './catalog.js';

/** What pg_dump's selection arguments (-t, -T, -n, -N, --exclude-table-data, …) keep, in the census's terms. */
export interface DumpSelection {
  readonly tables: readonly SqlPattern[];
  readonly excludeTables: readonly SqlPattern[];
  readonly schemas: readonly SqlPattern[];
  readonly excludeSchemas: readonly SqlPattern[];
  /** Tables kept without their rows (--exclude-table-data): recorded with 0 rows. */
  readonly excludeData: readonly SqlPattern[];
  /** --schema-only: every table has 0 rows in the dump. */
  readonly schemaOnly: boolean;
  /** --no-unlogged-table-data: unlogged tables have 0 rows in the dump. */
  readonly noUnloggedData: boolean;
}

/** A psql-style name pattern as regular expressions for pg_namespace.nspname and pg_class.relname. */
export interface SqlPattern {
  /** Anchored regex for the schema; undefined when the pattern names no schema (then: tables visible on the search path). */
  readonly schema?: string;
  /** Anchored regex for the relation (or, in a schema pattern, for the schema). */
  readonly name: string;
}

const VALUE_OPTIONS: Record<string, keyof Pick<DumpSelection, 'tables' | 'excludeTables' | 'schemas' | 'excludeSchemas' | 'excludeData'>> = {
  '-t': 'tables', '--table': 'tables',
  '-T': 'excludeTables', '--exclude-table': 'excludeTables',
  '-n': 'schemas', '--schema': 'schemas',
  '-N': 'excludeSchemas', '--exclude-schema': 'excludeSchemas',
  '--exclude-table-data': 'excludeData',
};

/** Options after which the census cannot say what the dump holds (or that already set a snapshot). */
const UNSUPPORTED = ['-a', '--data-only', '--snapshot', '--table-and-children', '--exclude-table-and-children',
  '--exclude-table-data-and-children', '--filter', '-j', '--jobs'];

/**
 * Reads pg_dump's arguments as far as they choose tables and rows. Returns a reason instead when some argument
 * makes the census unreliable: then no counts are recorded, and verify falls back to the archive's contents.
 */
export function parseDumpSelection(args: readonly string[]): DumpSelection | { readonly unsupported: string } {
  const lists = { tables: [] as SqlPattern[], excludeTables: [] as SqlPattern[], schemas: [] as SqlPattern[],
    excludeSchemas: [] as SqlPattern[], excludeData: [] as SqlPattern[] };
  let schemaOnly = false;
  let noUnloggedData = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : /^-[tTnN]./.test(arg) ? [arg.slice(0, 2), arg.slice(2)] : [arg, undefined];
    if (UNSUPPORTED.includes(flag) || /^-[aj]/.test(flag) && !flag.startsWith('--')) {
      return { unsupported: `pg_dump argument ${arg} changes what the dump holds in a way the census does not model` };
    }
    if (flag === '-s' || flag === '--schema-only') schemaOnly = true;
    else if (flag === '--no-unlogged-table-data') noUnloggedData = true;
    const list = VALUE_OPTIONS[flag];
    if (!list) continue;
    const value = inline ?? args[++i];
    if (value === undefined) return { unsupported: `pg_dump argument ${flag} has no value` };
    const pattern = parsePattern(value, list === 'schemas' || list === 'excludeSchemas');
    if (!pattern) return { unsupported: `pg_dump pattern ${JSON.stringify(value)} has more dotted parts than the census understands` };
    lists[list].push(pattern);
  }
  return { ...lists, schemaOnly, noUnloggedData };
}

/**
 * psql's pattern rules (as pg_dump applies them): unquoted letters fold to lower case, `*` is `.*`, `?` is `.`,
 * an unquoted `.` separates schema from name, `$` is literal, other regex syntax passes through; inside double
 * quotes everything is literal and `""` is one quote. A three-part pattern's first part (the database) is dropped.
 */
export function parsePattern(text: string, schemaPattern: boolean): SqlPattern | undefined {
  const parts: string[] = [''];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') {
      if (quoted && text[i + 1] === '"') {
        parts[parts.length - 1] += '"';
        i++;
      } else quoted = !quoted;
    } else if (quoted) parts[parts.length - 1] += ch.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
    else if (ch === '.') parts.push('');
    else if (ch === '*') parts[parts.length - 1] += '.*';
    else if (ch === '?') parts[parts.length - 1] += '.';
    else if (ch === '$') parts[parts.length - 1] += '\\$';
    else parts[parts.length - 1] += ch.toLowerCase();
  }
  const anchored = (p: string) => `^(${p})$`;
  const max = schemaPattern ? 2 : 3;
  if (parts.length > max) return undefined;
  const useful = parts.length === max ? parts.slice(1) : parts; // database.schema[.table]: the database part is pg_dump's to check
  if (schemaPattern) return { name: anchored(useful[0]!) };
  return useful.length === 2 ? { schema: anchored(useful[0]!), name: anchored(useful[1]!) } : { name: anchored(useful[0]!) };
}

/** SQL that is true for a table row of USER_TABLES_SQL's pg_class c / pg_namespace n when it matches a pattern. */
function matchSql(p: SqlPattern, values: unknown[], kind: 'table' | 'schema'): string {
  values.push(p.name);
  if (kind === 'schema') return `n.nspname ~ $${values.length}`;
  const name = `c.relname ~ $${values.length}`;
  if (p.schema === undefined) return `(${name} AND pg_catalog.pg_table_is_visible(c.oid))`;
  values.push(p.schema);
  return `(${name} AND n.nspname ~ $${values.length})`;
}

/** USER_TABLES_SQL narrowed to what pg_dump keeps under the selection, with whether each table's rows are dumped. */
export function selectedTablesSql(selection: DumpSelection): { sql: string; values: unknown[] } {
  const values: unknown[] = [];
  const any = (list: readonly SqlPattern[], kind: 'table' | 'schema') => list.map((p) => matchSql(p, values, kind)).join(' OR ');
  const where: string[] = [];
  // As in pg_dump: -t picks tables and makes -n irrelevant; -T and -N always exclude.
  if (selection.tables.length) where.push(`(${any(selection.tables, 'table')})`);
  else if (selection.schemas.length) where.push(`(${any(selection.schemas, 'schema')})`);
  if (selection.excludeTables.length) where.push(`NOT (${any(selection.excludeTables, 'table')})`);
  if (selection.excludeSchemas.length) where.push(`NOT (${any(selection.excludeSchemas, 'schema')})`);
  const noData = [
    ...(selection.schemaOnly ? ['true'] : []),
    ...(selection.noUnloggedData ? [`c.relpersistence = 'u'`] : []),
    ...(selection.excludeData.length ? [any(selection.excludeData, 'table')] : []),
  ];
  const sql = `SELECT format('%I.%I', n.nspname, c.relname) AS name,
      ${noData.length ? `NOT (${noData.join(' OR ')})` : 'true'} AS with_data
    ${USER_TABLES_FROM} ${where.length ? `AND ${where.join(' AND ')}` : ''} ORDER BY 1`;
  return { sql, values };
}
