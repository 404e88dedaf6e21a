import { Readable } from 'node:stream';
import { dumpGlobals, type DumpedGlobals, type GlobalsSettings } from '../pg/globals.js';
import type { SourceStage } from '../stage.js';

export interface PgGlobalsStage extends SourceStage {
  /** Once the run ended: false when the server refused to show role passwords and the roles were dumped without them. */
  rolePasswords(): boolean | undefined;
}

/**
 * The server's roles, memberships and tablespaces (`pg_dumpall --globals-only`, see dumpGlobals): small, so read
 * whole before the first byte goes on, which lets a refusal of role passwords be retried without them.
 */
export function pgGlobals(settings: GlobalsSettings = {}): PgGlobalsStage {
  let dumped: DumpedGlobals | undefined;
  return {
    name: 'pg_dumpall',
    async create(ctx) {
      dumped = await dumpGlobals(settings, ctx.log, ctx.signal);
      return Readable.from([dumped.sql]);
    },
    rolePasswords: () => dumped?.rolePasswords,
    info: () => ({ program: 'pg_dumpall', ...(dumped ? { rolePasswords: dumped.rolePasswords } : {}) }),
  };
}
