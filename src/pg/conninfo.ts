import { userInfo } from 'node:os';
import { CopycatError } from '../errors.js';

/**
 * libpq connection strings (`postgresql://user:secret@host/db?sslmode=require`, `host=h dbname=app password=secret`)
 * taken apart, so that a password given in `--database` never reaches a command line (`ps` shows every process's
 * argv to every user), a log line or a manifest: children receive the parts as the PG* variables libpq reads, the
 * password as PGPASSWORD, and everything else records only the database name.
 */

/** Each connection keyword libpq also reads from the environment, with its variable (libpq-envars). */
const ENV_VARS: Readonly<Record<string, string>> = {
  host: 'PGHOST', hostaddr: 'PGHOSTADDR', port: 'PGPORT', dbname: 'PGDATABASE', user: 'PGUSER', password: 'PGPASSWORD',
  passfile: 'PGPASSFILE', require_auth: 'PGREQUIREAUTH', channel_binding: 'PGCHANNELBINDING', service: 'PGSERVICE',
  options: 'PGOPTIONS', application_name: 'PGAPPNAME', sslmode: 'PGSSLMODE', sslnegotiation: 'PGSSLNEGOTIATION',
  requiressl: 'PGREQUIRESSL', sslcompression: 'PGSSLCOMPRESSION', sslcert: 'PGSSLCERT', sslkey: 'PGSSLKEY',
  sslcertmode: 'PGSSLCERTMODE', sslrootcert: 'PGSSLROOTCERT', sslcrl: 'PGSSLCRL', sslcrldir: 'PGSSLCRLDIR',
  sslsni: 'PGSSLSNI', requirepeer: 'PGREQUIREPEER', ssl_min_protocol_version: 'PGSSLMINPROTOCOLVERSION',
  ssl_max_protocol_version: 'PGSSLMAXPROTOCOLVERSION', gssencmode: 'PGGSSENCMODE', krbsrvname: 'PGKRBSRVNAME',
  gsslib: 'PGGSSLIB', gssdelegation: 'PGGSSDELEGATION', connect_timeout: 'PGCONNECT_TIMEOUT',
  client_encoding: 'PGCLIENTENCODING', target_session_attrs: 'PGTARGETSESSIONATTRS', load_balance_hosts: 'PGLOADBALANCEHOSTS',
};

const URI_PREFIX = /^postgres(?:ql)?:\/\//;

/** libpq's own test (recognized_connection_string): a URI prefix or an `=` makes a dbname a connection string. */
export function isConnectionString(text: string): boolean {
  return URI_PREFIX.test(text) || text.includes('=');
}

/**
 * Keyword → value of either form, by libpq's rules (later keywords win). Errors describe the problem, never quote the
 * string: it may hold a password.
 */
export function parseConnectionString(text: string, label = '--database'): Map<string, string> {
  const fail = (problem: string) =>
    new CopycatError('OPTION_INVALID', `${label}: the connection string has ${problem} — see "Connection Strings" in the libpq documentation`);
  const values = URI_PREFIX.test(text) ? parseUri(text, fail) : parseKeywordValue(text, fail);
  for (const keyword of values.keys()) {
    if (!(keyword in ENV_VARS)) {
      // Only a plain keyword is named: a mistyped string could put a password where the keyword is expected.
      const named = /^[a-z_]{1,40}$/.test(keyword) ? `parameter "${keyword}"` : 'a parameter';
      throw new CopycatError('OPTION_INVALID', `${label}: connection ${named} is unknown or has no PG* environment variable ` +
        '(copycat-db passes connection settings to pg_dump only through the environment) — set it in a service file and pass service=NAME');
    }
  }
  return values;
}

/** `keyword = value` pairs separated by whitespace; a value is 'quoted' or bare, and `\` escapes the next character. */
function parseKeywordValue(text: string, fail: (problem: string) => Error): Map<string, string> {
  const values = new Map<string, string>();
  const space = /\s/;
  let i = 0;
  while (i < text.length) {
    if (space.test(text[i]!)) { i++; continue; }
    let keyword = '';
    while (i < text.length && text[i] !== '=' && !space.test(text[i]!)) keyword += text[i++];
    while (i < text.length && space.test(text[i]!)) i++;
    if (text[i] !== '=') throw fail('a parameter without "="');
    i++;
    while (i < text.length && space.test(text[i]!)) i++;
    let value = '';
    if (text[i] === "'") {
      i++;
      for (;;) {
        if (i >= text.length) throw fail('an unterminated quoted value');
        if (text[i] === '\\') { i++; if (i < text.length) value += text[i++]; continue; }
        if (text[i] === "'") { i++; break; }
        value += text[i++];
      }
    } else {
      while (i < text.length && !space.test(text[i]!)) {
        if (text[i] === '\\') i++;
        if (i < text.length) value += text[i++];
      }
    }
    values.set(keyword, value);
  }
  return values;
}

/** `postgresql://[user[:password]@][host][:port][,…][/dbname][?keyword=value&…]`, each part percent-decoded. */
function parseUri(text: string, fail: (problem: string) => Error): Map<string, string> {
  const values = new Map<string, string>();
  const decode = (part: string): string => {
    try {
      if (part.includes('%00')) throw new Error('NUL');
      return decodeURIComponent(part);
    } catch {
      throw fail('an invalid percent-encoding');
    }
  };
  let rest = text.replace(URI_PREFIX, '');
  // As libpq: credentials are whatever precedes the first "@" that comes before any "/".
  const at = rest.search(/[@/]/);
  if (at >= 0 && rest[at] === '@') {
    const credentials = rest.slice(0, at);
    const colon = credentials.indexOf(':');
    const user = colon < 0 ? credentials : credentials.slice(0, colon);
    if (user) values.set('user', decode(user));
    if (colon >= 0 && colon < credentials.length - 1) values.set('password', decode(credentials.slice(colon + 1)));
    rest = rest.slice(at + 1);
  }
  const hosts: string[] = [];
  const ports: string[] = [];
  for (;;) {
    // One host ("[IPv6]" or up to : / ? ,) and its optional port.
    const m = rest.match(/^(?:\[([^\]]*)\]|([^:/?,\[]*))(?::([^/?,]*))?/)!; // always matches, if only the empty string
    if (m[1] === '') throw fail('an empty IPv6 host');
    hosts.push(m[1] ?? m[2]!);
    ports.push(m[3] ?? '');
    rest = rest.slice(m[0].length);
    if (rest[0] !== ',') break;
    rest = rest.slice(1);
  }
  if (rest && !'/?'.includes(rest[0]!)) throw fail('an unexpected character after the host');
  if (hosts.join('')) values.set('host', decode(hosts.join(',')));
  if (ports.join('')) values.set('port', decode(ports.join(',')));
  const query = rest.indexOf('?');
  const path = query < 0 ? rest.slice(1) : rest.slice(1, query);
  if (path) values.set('dbname', decode(path));
  if (query >= 0) {
    const params = rest.slice(query + 1).replace(/&$/, '');
    for (const pair of params ? params.split('&') : []) {
      const parts = pair.split('=');
      if (parts.length !== 2) throw fail('a query parameter without exactly one "="');
      const [keyword, value] = [decode(parts[0]!), decode(parts[1]!)];
      // libpq's JDBC compatibility: ssl=true means sslmode=require.
      if (keyword === 'ssl' && value === 'true') values.set('sslmode', 'require');
      else values.set(keyword, value);
    }
  }
  return values;
}

/** A `--database` value resolved: the database name, safe to log and record, and the libpq variables for children. */
export interface DatabaseTarget {
  /** The database name only; undefined when neither the value nor PGDATABASE names one (libpq's default then). */
  readonly database?: string;
  /** `env` with the connection string's parts as PG* variables (password: PGPASSWORD) and PGDATABASE set to `database`. */
  readonly env: Record<string, string>;
}

/**
 * Resolves a database name or connection string (default: PGDATABASE of `env`, then of the process) on top of the
 * caller's libpq variables. Parts the string names override them, as in libpq; parts it leaves out keep them. A plain
 * name stays as it is. Resolve the caller's value once: a parsed name is never parsed again.
 */
export function databaseTarget(value: string | undefined, env: Record<string, string> = {}, label = '--database'): DatabaseTarget {
  const merged: Record<string, string | undefined> = { ...process.env, ...env };
  const given = value ?? merged.PGDATABASE;
  if (given === undefined || given === '') return { database: undefined, env };
  if (!isConnectionString(given)) return { database: given, env: { ...env, PGDATABASE: given } };
  const vars: Record<string, string> = {};
  for (const [keyword, v] of parseConnectionString(given, label)) vars[ENV_VARS[keyword]!] = v;
  // A string without dbname gets libpq's default: a plain PGDATABASE, else the user name.
  const plainEnvDatabase = merged.PGDATABASE && !isConnectionString(merged.PGDATABASE) ? merged.PGDATABASE : undefined;
  const database = vars.PGDATABASE || plainEnvDatabase || vars.PGUSER || merged.PGUSER || userInfo().username;
  return { database, env: { ...env, ...vars, PGDATABASE: database } };
}

/**
 * The same connection to another database: a connection string's other parts are kept and its dbname replaced, as a
 * keyword/value string (where libpq takes the name literally, whatever it holds); a plain name, or none, only names
 * the database, the rest coming from the PG* variables as before.
 */
export function withDatabase(value: string | undefined, database: string, label = '--database'): string {
  const parts = value !== undefined && isConnectionString(value) ? parseConnectionString(value, label) : new Map<string, string>();
  parts.set('dbname', database);
  return [...parts].map(([keyword, v]) => `${keyword}='${v.replace(/[\\']/g, '\\$&')}'`).join(' ');
}
