import { quoteLiteral } from './quote.js';

/** Session settings pg_dump uses, so COPY text output is the same whatever the role's or database's defaults. */
export function dumpSessionSql(encoding: string): string {
  return sessionSql(encoding, [`SET extra_float_digits TO 3`]);
}

/** Session settings pg_restore uses for loading data. */
export function restoreSessionSql(encoding: string): string {
  return sessionSql(encoding, [`SET standard_conforming_strings = on`, `SET xmloption = content`, `SET check_function_bodies = false`]);
}

/** What both ends set, as pg_dump and pg_restore do: data in the dump's encoding and formats, no timeouts, no search path. */
function sessionSql(encoding: string, own: readonly string[]): string {
  return [
    `SET client_encoding TO ${quoteLiteral(encoding)}`,
    `SET DateStyle = ISO`,
    `SET IntervalStyle = postgres`,
    ...own,
    `SET statement_timeout = 0`,
    `SET lock_timeout = 0`,
    `SET idle_in_transaction_session_timeout = 0`,
    // An error instead of a row-security policy silently leaving out the rows this role may not see or write.
    `SET row_security = off`,
    `SELECT pg_catalog.set_config('search_path', '', false)`,
  ].join('; ');
}
