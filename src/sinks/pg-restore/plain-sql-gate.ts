import { randomBytes } from 'node:crypto';
import { CopycatError } from '../../errors.js';
import type { CommitGate } from '../../pg/child.js';

/**
 * psql takes the end of its input as a normal end, and executes the meta-commands (`\!`, `\o`, `\copy`) it reads. So a
 * plain SQL dump goes to psql inside a session this gate frames:
 *
 * - `\restrict KEY` first, with a key only this process knows: psql then refuses every meta-command in the dump.
 *   pg_dump's own `\restrict`/`\unrestrict` pair (since 13.22/14.19/15.14/16.10/17.6) is dropped, matched by its key.
 * - `BEGIN` first and `COMMIT` only at the end, after every upstream check passed and the dump's own completion line
 *   was seen. Killed, or reading EOF early, psql leaves the transaction open and the server rolls it back.
 * - A deferred constraint trigger that fails any COMMIT without a token set just before ours, so a COMMIT inside the
 *   dump cannot commit part of it. pg_dump writes one pair around large objects (BEGIN;/COMMIT; in the BLOBS or LARGE
 *   OBJECTS entry): the gate drops exactly those two lines, since the whole restore is one transaction anyway.
 *
 * Lines are matched only where pg_dump writes them: a COPY block's rows (between `COPY … FROM stdin;` and `\.`) are
 * never touched.
 */
export function plainSqlGate(): CommitGate {
  const psqlKey = randomBytes(24).toString('hex');
  const token = randomBytes(24).toString('hex');
  let pending = EMPTY;
  let header = true;
  let inCopy = false;
  let inLargeObjects = false;
  let midLine = false;
  let dumpKey: string | undefined;
  let tail = Buffer.alloc(0);

  const keep = (line: string): boolean => {
    if (dumpKey !== undefined && line === `\\unrestrict ${dumpKey}`) return false;
    if (header) {
      const restrict = /^\\restrict ([A-Za-z0-9]+)$/.exec(line);
      if (restrict && dumpKey === undefined) {
        dumpKey = restrict[1]!;
        return false;
      }
      if (line !== '' && !line.startsWith('--')) header = false;
    }
    if (/^COPY .+ FROM stdin;$/.test(line)) inCopy = true;
    else if (/^-- Data for Name: .*; Type: (BLOBS|LARGE OBJECTS); Schema: /.test(line)) inLargeObjects = true;
    else if (inLargeObjects && line === 'BEGIN;') return false;
    else if (inLargeObjects && line === 'COMMIT;') {
      inLargeObjects = false;
      return false;
    }
    return true;
  };
  // Only short lines can be one of pg_dump's own; a long one is kept without decoding it.
  const keepLine = (line: Buffer): boolean => {
    if (line.length <= MAX_MATCHED_LINE) return keep(line.toString('latin1'));
    header = false;
    return true;
  };
  const remember = (out: readonly Buffer[]): readonly Buffer[] => {
    for (const piece of out) tail = Buffer.concat([tail, piece.subarray(-TAIL_BYTES)]).subarray(-TAIL_BYTES);
    return out;
  };

  return {
    start: () => Buffer.from([
      `\\restrict ${psqlKey}`,
      'BEGIN;',
      'CREATE TEMP TABLE copycat_restore_gate (at int);',
      'CREATE FUNCTION pg_temp.copycat_restore_gate() RETURNS trigger LANGUAGE plpgsql AS $gate$ BEGIN',
      `  IF current_setting('copycat.restore_gate', true) IS DISTINCT FROM '${token}' THEN`,
      "    RAISE EXCEPTION 'the SQL dump commits by itself before its end was verified: copycat-db restores a plain dump in one transaction';",
      '  END IF; RETURN NULL; END $gate$;',
      'CREATE CONSTRAINT TRIGGER copycat_restore_gate AFTER INSERT ON pg_temp.copycat_restore_gate',
      '  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_temp.copycat_restore_gate();',
      'ALTER TABLE pg_temp.copycat_restore_gate ENABLE ALWAYS TRIGGER copycat_restore_gate;',
      'INSERT INTO pg_temp.copycat_restore_gate VALUES (1);',
      '',
    ].join('\n')),
    write(chunk) {
      const all = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      pending = EMPTY;
      const out: Buffer[] = [];
      let from = 0; // the next byte to look at
      let run = 0; // the start of the bytes kept and not yet passed on
      let done = all.length; // bytes from here on wait for the next chunk
      while (from < all.length) {
        if (midLine) {
          // The rest of a line already passed on, undecoded.
          const nl = all.indexOf(10, from);
          if (nl === -1) break;
          from = nl + 1;
          midLine = false;
        } else if (inCopy) {
          // Rows pass untouched and undecoded: only the block's end marker, a line holding just "\.", is looked for.
          if (all.subarray(from, from + COPY_END.length).equals(COPY_END)) {
            inCopy = false;
            from += COPY_END.length;
            continue;
          }
          const end = all.indexOf(COPY_END_AFTER_ROW, from);
          if (end !== -1) {
            from = end + 1;
            continue;
          }
          const lineStart = Math.max(from, all.lastIndexOf(10) + 1);
          const partial = all.subarray(lineStart);
          if (partial.length < COPY_END.length && partial.equals(COPY_END.subarray(0, partial.length))) done = lineStart;
          else midLine = partial.length > 0;
          break;
        } else {
          const nl = all.indexOf(10, from);
          if (nl === -1) {
            // A long unfinished line cannot be one of pg_dump's own: pass it on rather than buffer it whole.
            if (all.length - from > MAX_MATCHED_LINE) {
              header = false;
              midLine = true;
            } else done = from;
            break;
          }
          if (!keepLine(all.subarray(from, nl))) {
            if (run < from) out.push(all.subarray(run, from));
            run = nl + 1;
          }
          from = nl + 1;
        }
      }
      if (run < done) out.push(all.subarray(run, done));
      pending = Buffer.from(all.subarray(done));
      return remember(out);
    },
    end() {
      const last = inCopy || keepLine(pending) ? remember([pending])[0]! : EMPTY;
      if (!DUMP_COMPLETE.test(tail.toString('latin1'))) {
        throw new CopycatError('TRUNCATED', 'the plain SQL dump does not end with pg_dump\'s "-- PostgreSQL database dump complete" line: ' +
          'it is truncated (or not a whole pg_dump dump); nothing was committed — restore another backup (copycat-db list)');
      }
      return Buffer.concat([last, Buffer.from(`\nSET LOCAL copycat.restore_gate = '${token}';\nCOMMIT;\n`)]);
    },
  };
}

/** The longest line the gate decodes to compare: pg_dump's own lines are short; `\restrict` keys are 64 characters. */
const MAX_MATCHED_LINE = 256;
const TAIL_BYTES = 512;
const EMPTY = Buffer.alloc(0);
const COPY_END = Buffer.from('\\.\n');
const COPY_END_AFTER_ROW = Buffer.from('\n\\.\n');
const DUMP_COMPLETE = /\n-- PostgreSQL database dump complete\n--\n\s*$/;
