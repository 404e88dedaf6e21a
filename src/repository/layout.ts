import { randomBytes } from 'node:crypto';
import { CopycatError } from '../errors.js';

/**
 * Object names under a prefix: PREFIX/ID.backup (the stored bytes), PREFIX/ID.globals (the roles and tablespaces, for
 * backups taken with --globals) and PREFIX/ID.manifest.json (written last, only once the other objects' locks are
 * verified). IDs sort by time, so listing order is backup order.
 */
export function newBackupId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

const ID_PATTERN = /^\d{8}T\d{6}Z-[0-9a-f]{4}$/;

export function isBackupId(id: string): boolean {
  return ID_PATTERN.test(id);
}

function join(prefix: string, name: string): string {
  return prefix ? `${prefix.replace(/\/+$/, '')}/${name}` : name;
}

export const dataKey = (prefix: string, id: string): string => join(prefix, `${id}.backup`);
export const globalsKey = (prefix: string, id: string): string => join(prefix, `${id}.globals`);
export const manifestKey = (prefix: string, id: string): string => join(prefix, `${id}.manifest.json`);

/** Where `copycat-db check` writes its short-lived test object: not a backup's name, so nothing else reads it. */
export const probeKey = (prefix: string, now = new Date()): string => join(prefix, `.copycat-check/${newBackupId(now)}`);

/** The listing prefix: keys directly under PREFIX/, never a sibling prefix that merely starts the same. */
export const listPrefix = (prefix: string): string => (prefix ? `${prefix.replace(/\/+$/, '')}/` : '');

/** Splits a key under the prefix into its backup id and kind, or undefined for keys that are not ours. */
export function parseKey(prefix: string, key: string): { id: string; kind: ObjectKind } | undefined {
  const base = listPrefix(prefix);
  if (!key.startsWith(base)) return undefined;
  const name = key.slice(base.length);
  const match = /^(.+)\.(backup|globals|manifest\.json)$/.exec(name);
  if (!match || !isBackupId(match[1]!)) return undefined;
  return { id: match[1]!, kind: KINDS[match[2]!]! };
}

/** The objects of one backup: its dump, its globals (optional) and its manifest. */
export type ObjectKind = 'data' | 'globals' | 'manifest';
const KINDS: Readonly<Record<string, ObjectKind>> = { backup: 'data', globals: 'globals', 'manifest.json': 'manifest' };

/*
 * Several databases in one repository: each database's backups under PREFIX/DBNAME/, laid out as above. A database
 * name may hold any character but NUL; in a key (and a directory name) it is percent-encoded byte by byte, except
 * letters, digits, `_`, `-` and `.` (never a leading one: no `.`, `..` or hidden directory). The encoding is one to
 * one, so two databases never share a prefix, and a segment that is not exactly how a name encodes is not a database's.
 */
const PLAIN = /^[A-Za-z0-9_.-]$/;

/** The key segment of a database's prefix: `app`, `my%20db`, `%2Ehidden`. */
export function databaseSegment(name: string): string {
  if (!name) throw new CopycatError('DATABASE_NAME_INVALID', 'an empty database name has no prefix in a repository: name the database');
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && PLAIN.test(c) && !(out === '' && c === '.') ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The database a segment names, or undefined when it is not exactly a name's encoding. */
export function databaseOfSegment(segment: string): string | undefined {
  if (!/^(?:[A-Za-z0-9_.-]|%[0-9A-F]{2})+$/.test(segment)) return undefined;
  const bytes = Buffer.from(segment.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  const name = bytes.toString('utf8');
  return databaseSegment(name) === segment ? name : undefined;
}

/** The database whose backup key this is, one level under the prefix (PREFIX/DBNAME/ID.kind), or undefined. */
export function databaseOfKey(prefix: string, key: string): string | undefined {
  const base = listPrefix(prefix);
  if (!key.startsWith(base)) return undefined;
  const [segment, ...rest] = key.slice(base.length).split('/');
  if (rest.length !== 1 || !segment) return undefined;
  const database = databaseOfSegment(segment);
  return database !== undefined && parseKey(join(prefix, segment), key) ? database : undefined;
}
