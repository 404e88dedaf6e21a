import { randomBytes } from 'node:crypto';

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
