import { startCensus, type TableCount } from '../pg/census.js';
import { ChildOutput } from '../pg/child.js';
import { pgDumpCommand, type PgDumpSettings } from '../pg/dump.js';
import type { PgProgram } from '../pg/programs.js';
import type { SourceStage } from '../stage.js';

export interface PgDumpOptions extends PgDumpSettings {
  /**
   * Also count every table's rows in the snapshot pg_dump dumps, for `facts().tables` (see startCensus): verify
   * then checks a restore against them. Skipped with a warning where pg_dump's arguments make the count unreliable.
   */
  readonly countTables?: boolean;
}

/**
 * Spawns pg_dump and streams its stdout; a non-zero exit fails the run with pg_dump's own message. The pg_dump is the
 * one `programs` finds for the server's version (one older than the server is refused before anything starts).
 * `expectedSize()` is pg_database_size; `facts()` asks the server's version if that did not already learn it.
 */
export function pgDump(opts: PgDumpOptions = {}): SourceStage {
  const dump = pgDumpCommand(opts);
  let tables: Promise<TableCount[] | undefined> | undefined;
  let program: PgProgram | undefined;
  return {
    name: 'pg_dump',
    async create(ctx) {
      tables = undefined;
      program = await dump.choose(ctx.log);
      const census = opts.countTables
        ? await startCensus({ env: dump.env, database: dump.database, args: dump.args, signal: ctx.signal, log: ctx.log })
        : undefined;
      const out = new ChildOutput(dump.program(program, census ? [`--snapshot=${census.snapshot}`] : []));
      // Once pg_dump exited the snapshot is free: the census ends its transaction as soon as its counts are in, so
      // its connection never outlives the run, whether or not anyone asks for facts().
      if (census) out.once('end', () => (tables = census.tables()));
      return out;
    },
    expectedSize: () => dump.databaseSize(),
    async facts() {
      const counted = await tables;
      return {
        kind: 'pg_dump',
        database: dump.database,
        serverVersion: await dump.serverVersion(),
        ...(program ? { dumpVersion: program.version.text } : {}),
        format: dump.format,
        ...(counted ? { tables: counted } : {}),
      };
    },
    info() {
      const serverVersion = dump.knownServerVersion;
      return { database: dump.database, format: dump.format, ...(serverVersion ? { serverVersion } : {}),
        ...(program ? { pgDump: program.command, dumpVersion: program.version.text } : {}) };
    },
  };
}
