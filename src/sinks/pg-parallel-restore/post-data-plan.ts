import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerTable } from '../../formats/parallel-container.js';

/** Runs pg_restore with these arguments and resolves with its standard output. */
export type RunPgRestore = (args: readonly string[]) => Promise<string>;

export interface PostDataPlan {
  /** SQL of each table's own post-data entries, by table id: run in the table's COPY transaction once its data is in. */
  readonly byTable: ReadonlyMap<number, string>;
  /** A `--use-list` file of the entries left for pg_restore after the commit (foreign keys, …); undefined: none. */
  readonly rest?: string;
}

/** One entry of `pg_restore --list`: `3206; 1259 16393 INDEX public a_v postgres`. */
interface TocEntry {
  readonly line: string;
  /** `"<classid> <objid>"`, the key of ContainerTable.postData. */
  readonly catalogId: string;
  /** From the entry's type on: what pg_restore's script header for it must start with. */
  readonly described: string;
}

const TOC_LINE = /^\d+; (\d+ \d+) (.+)$/;
const SCRIPT_END = '-- PostgreSQL database dump complete';
/** Settings pg_restore's script sets before an entry, only when they change from the entry before. */
const SETTING = /^SET (default_tablespace|default_table_access_method|search_path) = .*;$/;

/**
 * Splits a version-2 container's post-data archive (already in `archive`) by table: the entries the header lists under
 * a table become that table's SQL, taken from one `pg_restore --file=-` script of them all; everything else is left
 * for pg_restore after the commit. A script that does not split cleanly (an entry's text holding what looks like the
 * next entry's header) leaves everything for after the commit, as a version-1 container does.
 */
export async function planPostData(archive: string, dir: string, tables: readonly ContainerTable[], run: RunPgRestore): Promise<PostDataPlan> {
  const owner = new Map<string, number>();
  for (const t of tables) for (const id of t.postData ?? []) owner.set(id, t.id);
  const entries = (await run(['--list', archive])).split('\n').flatMap((line): TocEntry[] => {
    const m = TOC_LINE.exec(line);
    return m ? [{ line, catalogId: m[1]!, described: m[2]! }] : [];
  });
  const own = entries.filter((e) => owner.has(e.catalogId));
  const byTable = new Map<number, string>();
  let rest = entries.filter((e) => !owner.has(e.catalogId));
  if (own.length) {
    const list = join(dir, 'tables.list');
    await writeFile(list, own.map((e) => e.line).join('\n') + '\n', { mode: 0o600 });
    const pieces = splitScript(await run(['--file=-', `--use-list=${list}`, archive]), own);
    if (pieces) {
      own.forEach((e, i) => {
        const id = owner.get(e.catalogId)!;
        byTable.set(id, (byTable.get(id) ?? '') + pieces[i]);
      });
    } else {
      rest = entries;
    }
  }
  if (!rest.length) return { byTable };
  const path = join(dir, 'rest.list');
  await writeFile(path, rest.map((e) => e.line).join('\n') + '\n', { mode: 0o600 });
  return { byTable, rest: path };
}

/**
 * Each entry's SQL out of pg_restore's script, in the entries' order, each preceded by the settings in force at it
 * (pg_restore sets default_tablespace and the like only when they change, and the pieces run in another order).
 * Undefined when the script's entry headers do not match the entries one for one.
 */
function splitScript(script: string, entries: readonly TocEntry[]): string[] | undefined {
  const lines = script.split('\n');
  const starts: number[] = [];
  for (let i = 0; i + 2 < lines.length; i++) {
    if (lines[i] === '--' && lines[i + 1]!.startsWith('-- Name: ') && lines[i + 2] === '--') starts.push(i);
  }
  const end = lines.indexOf(SCRIPT_END) - 1;
  if (starts.length !== entries.length || end < 0 || (starts.length && end < starts.at(-1)!)) return undefined;
  const settings = new Map<string, string>();
  const noteSettings = (from: number, to: number) => {
    for (const line of lines.slice(from, to)) if (SETTING.test(line)) settings.set(line.slice(4, line.indexOf(' =')), line);
  };
  noteSettings(0, starts[0] ?? 0);
  const pieces: string[] = [];
  for (let i = 0; i < starts.length; i++) {
    const header = /^-- Name: .*; Type: (.+); Schema: /.exec(lines[starts[i]! + 1]!);
    if (!header || !entries[i]!.described.startsWith(`${header[1]} `)) return undefined;
    let bodyEnd = starts[i + 1] ?? end;
    const next = bodyEnd;
    // The settings the next entry needs come just before its header.
    while (bodyEnd > starts[i]! + 3 && (lines[bodyEnd - 1] === '' || SETTING.test(lines[bodyEnd - 1]!))) bodyEnd--;
    pieces.push([...settings.values(), ...lines.slice(starts[i]!, bodyEnd)].join('\n') + '\n');
    noteSettings(bodyEnd, next);
  }
  return pieces;
}
