/**
 * Where the AWS SDK's default chain would find S3 credentials, judged from the environment and the shared files alone
 * (no network, no SDK): what the start-up check accepts as configured, and what an error names as tried.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

type Env = Readonly<Record<string, string | undefined>>;

export interface CredentialSource {
  /** `keys in the environment`, `profile "backup"`, `web identity`, `container credentials`, `instance metadata`. */
  readonly name: string;
  /**
   * Whether this environment configures it. Instance metadata counts only with AWS_EC2_METADATA_DISABLED=false: that
   * an instance has a role cannot be seen without asking the network.
   */
  readonly configured: boolean;
  /** What was found: `AWS_ACCESS_KEY_ID not set`, `in /root/.aws/credentials`. */
  readonly state: string;
}

/** How the start-up check's message lists the ways to give credentials besides the keys. */
export const OTHER_SOURCES = 'AWS_PROFILE (a profile of ~/.aws/credentials or ~/.aws/config), AWS_WEB_IDENTITY_TOKEN_FILE with ' +
  'AWS_ROLE_ARN, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI, or AWS_EC2_METADATA_DISABLED=false for an instance role';

const set = (value: string | undefined): value is string => value !== undefined && value !== '';

/** The sources in the order the SDK's default chain tries them. */
export function credentialSources(env: Env): CredentialSource[] {
  const keys = set(env.AWS_ACCESS_KEY_ID) && set(env.AWS_SECRET_ACCESS_KEY);
  const profile = findProfile(env);
  const webIdentity = set(env.AWS_WEB_IDENTITY_TOKEN_FILE) && set(env.AWS_ROLE_ARN);
  const container = env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
  const metadata = env.AWS_EC2_METADATA_DISABLED;
  return [
    {
      name: 'keys in the environment',
      configured: keys,
      state: keys ? `AWS_ACCESS_KEY_ID${set(env.AWS_SESSION_TOKEN) ? ', AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN' : ' and AWS_SECRET_ACCESS_KEY'}`
        : set(env.AWS_ACCESS_KEY_ID) ? 'AWS_SECRET_ACCESS_KEY not set' : 'AWS_ACCESS_KEY_ID not set',
    },
    { name: `profile "${profile.name}"`, configured: profile.found !== undefined, state: profile.found ? `in ${profile.found}` : profile.problem },
    {
      name: 'web identity',
      configured: webIdentity,
      state: webIdentity ? `AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN` : `${set(env.AWS_WEB_IDENTITY_TOKEN_FILE) ? 'AWS_ROLE_ARN' : 'AWS_WEB_IDENTITY_TOKEN_FILE'} not set`,
    },
    { name: 'container credentials', configured: !!container, state: container ? 'AWS_CONTAINER_CREDENTIALS_*' : 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI not set' },
    {
      name: 'instance metadata',
      configured: metadata === 'false',
      state: set(metadata) && metadata !== 'false' ? `disabled by AWS_EC2_METADATA_DISABLED=${metadata}`
        : `at ${env.AWS_EC2_METADATA_SERVICE_ENDPOINT || 'http://169.254.169.254'}`,
    },
  ];
}

/** The source the SDK's chain would use first, if any is configured. */
export function configuredSource(env: Env): CredentialSource | undefined {
  return credentialSources(env).find((source) => source.configured);
}

/** Every source with what was found, for an error: `keys in the environment (AWS_ACCESS_KEY_ID not set), …`. */
export function describeSources(env: Env): string {
  return credentialSources(env).map((source) => `${source.name} (${source.state})`).join(', ');
}

/** The shared files the SDK reads: AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE, else ~/.aws/credentials and ~/.aws/config. */
export function sharedFiles(env: Env): { readonly credentials: string; readonly config: string } {
  const home = env.HOME || homedir();
  return {
    credentials: env.AWS_SHARED_CREDENTIALS_FILE || join(home, '.aws', 'credentials'),
    config: env.AWS_CONFIG_FILE || join(home, '.aws', 'config'),
  };
}

/** The profile the chain would read (AWS_PROFILE, else default) and the file that has it, or why none does. */
export function findProfile(env: Env): { readonly name: string; readonly found?: string; readonly problem: string } {
  const name = env.AWS_PROFILE || 'default';
  const files = sharedFiles(env);
  const unreadable: string[] = [];
  for (const [path, sections] of [[files.credentials, credentialsSections], [files.config, configSections]] as const) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') unreadable.push(`${path} cannot be read (${code ?? err})`);
      continue;
    }
    if (sections(text).includes(name)) return { name, found: path, problem: '' };
  }
  return { name, problem: [`not in ${files.credentials} or ${files.config}`, ...unreadable].join('; ') };
}

/** `[NAME]` headers, as the credentials file names profiles. */
function credentialsSections(text: string): string[] {
  return [...text.matchAll(/^\s*\[\s*([^\]]+?)\s*\]\s*$/gm)].map((m) => m[1]!);
}

/** `[profile NAME]` headers, and `[default]`, as the config file names profiles. */
function configSections(text: string): string[] {
  return credentialsSections(text).flatMap((header) => {
    const m = /^profile\s+(\S+)$/.exec(header);
    return m ? [m[1]!] : header === 'default' ? ['default'] : [];
  });
}
