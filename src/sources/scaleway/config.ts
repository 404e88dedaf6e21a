/**
 * Scaleway credentials and region: environment first, then the Scaleway CLI's config.yaml.
 * The config file is parsed by hand (no YAML dependency): it is a flat map of strings plus a `profiles:` map of flat maps.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CopycatError } from '../../errors.js';

export const DEFAULT_API_URL = 'https://api.scaleway.com';
export const DEFAULT_REGION = 'fr-par';

export interface ScalewayCredentials {
  accessKey?: string;
  /** Sent only as the X-Auth-Token header; never logged, never put in an error. */
  secretKey: string;
  region: string;
  projectId?: string;
  apiUrl: string;
  /** Where the values came from ("env", "/root/.config/scw/config.yaml (profile prod)"): safe to log. */
  origin: string;
}

export interface ScwConfigFile {
  /** Top-level scalar keys (access_key, secret_key, default_region, active_profile...). */
  values: Record<string, string>;
  profiles: Record<string, Record<string, string>>;
}

export interface LoadCredentialsOptions {
  env?: Record<string, string | undefined>;
  /** Overrides SCW_CONFIG_PATH. */
  configPath?: string;
  /** Overrides SCW_PROFILE and active_profile. */
  profile?: string;
  /** Overrides SCW_DEFAULT_REGION and the file's default_region. */
  region?: string;
}

const KEYS = {
  accessKey: { env: 'SCW_ACCESS_KEY', file: 'access_key' },
  secretKey: { env: 'SCW_SECRET_KEY', file: 'secret_key' },
  region: { env: 'SCW_DEFAULT_REGION', file: 'default_region' },
  projectId: { env: 'SCW_DEFAULT_PROJECT_ID', file: 'default_project_id' },
  apiUrl: { env: 'SCW_API_URL', file: 'api_url' },
} as const;

export function defaultConfigPath(env: Record<string, string | undefined> = process.env): string {
  return join(env.HOME || homedir(), '.config', 'scw', 'config.yaml');
}

export function loadScalewayCredentials(opts: LoadCredentialsOptions = {}): ScalewayCredentials {
  const env = opts.env ?? process.env;
  const explicitPath = opts.configPath ?? (env.SCW_CONFIG_PATH || undefined);
  const path = explicitPath ?? defaultConfigPath(env);

  let file: ScwConfigFile | undefined;
  if (existsSync(path)) {
    file = parseScwConfig(readFileSync(path, 'utf8'), path);
  } else if (explicitPath) {
    // A path someone set on purpose that does not exist is a mistake worth stopping for, not a silent fallback.
    throw new CopycatError('SCALEWAY_CONFIG', `Scaleway config file ${path} (SCW_CONFIG_PATH) does not exist`);
  }

  const profileName = opts.profile ?? (env.SCW_PROFILE || undefined) ?? file?.values.active_profile;
  let profile: Record<string, string> = {};
  if (profileName !== undefined && profileName !== 'default') {
    if (!file?.profiles[profileName]) {
      const known = Object.keys(file?.profiles ?? {});
      throw new CopycatError('SCALEWAY_CONFIG',
        `Scaleway profile "${profileName}" is not in ${file ? path : `${path} (file not found)`}` +
          (known.length ? `; profiles there: ${known.join(', ')}` : ''));
    }
    profile = file.profiles[profileName]!;
  }
  const fromFile = (key: string): string | undefined => profile[key] ?? file?.values[key];
  const used = { env: false, file: false };
  const pick = (k: keyof typeof KEYS): string | undefined => {
    const e = env[KEYS[k].env];
    if (e) {
      used.env = true;
      return e;
    }
    const f = fromFile(KEYS[k].file);
    if (f) used.file = true;
    return f || undefined;
  };

  const secretKey = pick('secretKey');
  const accessKey = pick('accessKey');
  const projectId = pick('projectId') ?? fromFile('default_organization_id');
  const apiUrl = (pick('apiUrl') ?? DEFAULT_API_URL).replace(/\/+$/, '');
  const region = opts.region ?? pick('region') ?? DEFAULT_REGION;
  const origin = [used.env ? 'env' : '', used.file ? `${path}${profileName ? ` (profile ${profileName})` : ''}` : '']
    .filter(Boolean).join(' + ') || 'defaults';

  if (!secretKey) {
    throw new CopycatError('SCALEWAY_CONFIG',
      `no Scaleway secret key: set SCW_SECRET_KEY (and SCW_ACCESS_KEY) or secret_key in ${path}` +
        (profileName ? ` (profile ${profileName})` : ''), { detail: { missing: 'SCW_SECRET_KEY' } });
  }
  // The region is spliced into URL paths: refuse anything that could change the path.
  if (!/^[a-z]{2}-[a-z]{3}$/.test(region)) {
    throw new CopycatError('SCALEWAY_CONFIG', `Scaleway region "${region}" is not a region name like fr-par, nl-ams or pl-waw`);
  }
  try {
    const u = new URL(apiUrl);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
  } catch {
    throw new CopycatError('SCALEWAY_CONFIG', `Scaleway API URL "${apiUrl}" (SCW_API_URL / api_url) is not an http(s) URL`);
  }
  return { accessKey, secretKey, region, projectId, apiUrl, origin };
}

/**
 * Parses the Scaleway CLI config shape. Errors name the file and line but never echo the line, which may hold a key.
 * Keys nested deeper than a profile's own keys, and lists, are skipped: the CLI has none that matter here.
 */
export function parseScwConfig(text: string, file = 'config.yaml'): ScwConfigFile {
  const values: Record<string, string> = {};
  const profiles: Record<string, Record<string, string>> = {};
  const fail = (line: number, why: string): never => {
    throw new CopycatError('SCALEWAY_CONFIG', `cannot read Scaleway config ${file}, line ${line}: ${why}`);
  };

  // Where we are: inside `profiles:` (and which profile), or inside some other top-level map we skip.
  let block: 'none' | 'profiles' | 'skip' = 'none';
  let profileIndent: number | undefined;
  let current: Record<string, string> | undefined;
  let keyIndent: number | undefined;
  let skipDeeperThan: number | undefined;

  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const raw = stripComment(lines[i]!);
    if (raw.trim() === '' || raw.trim() === '---' || raw.trim() === '...') continue;
    const lead = /^[ \t]*/.exec(raw)![0];
    if (lead.includes('\t')) fail(n, 'tabs are not allowed for indentation in YAML');
    const indent = lead.length;
    const body = raw.slice(indent).trimEnd();

    if (skipDeeperThan !== undefined) {
      if (indent > skipDeeperThan) continue;
      skipDeeperThan = undefined;
    }
    if (body.startsWith('- ') || body === '-') {
      if (indent === 0) fail(n, 'a top-level list is not a Scaleway config');
      continue;
    }
    const m = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s:'"][^:]*?)\s*:(?:\s+(.*))?$/.exec(body);
    if (!m) fail(n, 'expected "key: value"');
    const key = unquote(m![1]!, n, fail);
    const rest = (m![2] ?? '').trim();
    const isMap = rest === '' || rest === '{}';
    if (rest.startsWith('{') && rest !== '{}') fail(n, 'flow-style maps ({...}) are not supported; use one key per line');
    if (rest.startsWith('[') || rest.startsWith('|') || rest.startsWith('>')) {
      // Lists and block scalars are never credentials; skip them and anything indented under them.
      skipDeeperThan = indent;
      continue;
    }
    const value = isMap ? undefined : scalar(rest, n, fail);

    if (indent === 0) {
      current = undefined;
      keyIndent = undefined;
      if (isMap) {
        block = key === 'profiles' ? 'profiles' : 'skip';
        profileIndent = undefined;
        if (block === 'skip') skipDeeperThan = 0;
      } else {
        block = 'none';
        if (value !== undefined) values[key] = value;
      }
      continue;
    }
    if (block !== 'profiles') fail(n, 'unexpected indentation');
    profileIndent ??= indent;
    if (indent < profileIndent) fail(n, 'inconsistent indentation under profiles:');
    if (indent === profileIndent) {
      if (!isMap) fail(n, `profiles: entries must be maps of settings (profile "${key}")`);
      current = profiles[key] = {};
      keyIndent = undefined;
      continue;
    }
    if (!current) fail(n, 'unexpected indentation');
    keyIndent ??= indent;
    if (indent !== keyIndent) fail(n, 'inconsistent indentation inside a profile');
    if (isMap) {
      skipDeeperThan = indent;
      continue;
    }
    if (value !== undefined) current![key] = value;
  }
  return { values, profiles };
}

function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || line[i - 1] === ' ' || line[i - 1] === '\t')) {
      return line.slice(0, i);
    }
  }
  return line;
}

function scalar(text: string, line: number, fail: (line: number, why: string) => never): string | undefined {
  if (text === '~' || text === 'null' || text === 'Null' || text === 'NULL') return undefined;
  return unquote(text, line, fail);
}

function unquote(text: string, line: number, fail: (line: number, why: string) => never): string {
  if (text.startsWith('"')) {
    if (text.length < 2 || !text.endsWith('"')) fail(line, 'unterminated double-quoted string');
    return text.slice(1, -1).replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', '0': '\0' } as Record<string, string>)[c] ?? c);
  }
  if (text.startsWith("'")) {
    if (text.length < 2 || !text.endsWith("'")) fail(line, 'unterminated single-quoted string');
    return text.slice(1, -1).replace(/''/g, "'");
  }
  return text;
}
