/**
 * S3 locations: credentials (from the environment or the AWS SDK's other sources, never flags), endpoint, region and
 * request timeout. Credentials need not be keys: any source the SDK's default chain reads will do (credential-sources).
 */
import { readFileSync } from 'node:fs';
import { configuredSource, findProfile, OTHER_SOURCES } from '../../s3/driver/credential-sources.js';
import type { Env, RunFacts, Setting } from '../setting.js';
import { isHttpUrl, isOneOf, wholeNumber } from '../values.js';

const S3: Pick<Setting, 'commands' | 'applies'> = {
  commands: ['backup', 'restore', 'list', 'prune', 'verify', 'show', 'export'],
  applies: (run: RunFacts) => run.location?.kind === 's3',
};

const given = (env: Env, name: string): boolean => !!env[name];
/** An rclone crypt remote over an S3 remote with its own keys needs none from the environment. */
const remoteHasKeys = (run: RunFacts): boolean => {
  const target = run.legacy?.remote?.target;
  return target?.kind === 's3' && !!target.accessKeyId && !!target.secretAccessKey;
};

export const AWS_ACCESS_KEY_ID: Setting<string> = {
  ...S3,
  env: 'AWS_ACCESS_KEY_ID',
  holds: 'the S3 access key id',
  required: {
    doc: 'required for s3:// unless another source of credentials is configured (below) or the --rclone-remote has its own',
    when: (run) => (remoteHasKeys(run) ? undefined : given(run.env, 'AWS_SECRET_ACCESS_KEY') ? ' (AWS_SECRET_ACCESS_KEY is set without it)'
      : configuredSource(run.env) ? undefined : ` (with AWS_SECRET_ACCESS_KEY), or another source of credentials: ${OTHER_SOURCES}`),
  },
};

export const AWS_SECRET_ACCESS_KEY: Setting<string> = {
  ...S3,
  env: 'AWS_SECRET_ACCESS_KEY',
  holds: 'the S3 secret key',
  secret: true,
  required: {
    doc: 'with AWS_ACCESS_KEY_ID',
    when: (run) => (given(run.env, 'AWS_ACCESS_KEY_ID') ? ' (AWS_ACCESS_KEY_ID is set without it; credentials never come from flags)' : undefined),
  },
};

export const AWS_SESSION_TOKEN: Setting<string> = {
  ...S3,
  env: 'AWS_SESSION_TOKEN',
  holds: 'the session token of temporary keys, with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
  secret: true,
  check: (_token, run, holds) => (given(run.env, 'AWS_ACCESS_KEY_ID') ? undefined : `set without AWS_ACCESS_KEY_ID — ${holds}`),
};

export const AWS_PROFILE: Setting<string> = {
  ...S3,
  env: 'AWS_PROFILE',
  holds: 'the profile of the AWS shared files to take credentials from (keys, role_arn with source_profile, credential_process, sso)',
  defaultDoc: 'default, when the files have it',
  // The SDK would silently take the profile over the keys: two sources at once is a mistake worth stopping for.
  check: (name, run, holds) => {
    if (given(run.env, 'AWS_ACCESS_KEY_ID')) return 'set together with AWS_ACCESS_KEY_ID: the AWS SDK would use the profile and ignore the keys — unset one of them';
    const profile = findProfile(run.env);
    return profile.found ? undefined : `no profile "${name}": ${profile.problem} — ${holds}`;
  },
};

/** A file the SDK must read: its absence would silently mean another source, or none. */
function readableFile(path: string, _run: RunFacts, holds: string): string | undefined {
  try {
    readFileSync(path);
    return undefined;
  } catch (err) {
    return `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? err}) — ${holds}`;
  }
}

export const AWS_SHARED_CREDENTIALS_FILE: Setting<string> = {
  ...S3, env: 'AWS_SHARED_CREDENTIALS_FILE', holds: 'the AWS shared credentials file', defaultDoc: '~/.aws/credentials', check: readableFile,
};

export const AWS_CONFIG_FILE: Setting<string> = { ...S3, env: 'AWS_CONFIG_FILE', holds: 'the AWS shared config file', defaultDoc: '~/.aws/config', check: readableFile };

export const AWS_WEB_IDENTITY_TOKEN_FILE: Setting<string> = {
  ...S3,
  env: 'AWS_WEB_IDENTITY_TOKEN_FILE',
  holds: 'a web identity token file (a Kubernetes service account token, EKS IRSA), exchanged for the role AWS_ROLE_ARN',
  required: { doc: 'with AWS_ROLE_ARN', when: (run) => (given(run.env, 'AWS_ROLE_ARN') ? ' (AWS_ROLE_ARN is set without it)' : undefined) },
  check: readableFile,
};

export const AWS_ROLE_ARN: Setting<string> = {
  ...S3,
  env: 'AWS_ROLE_ARN',
  holds: 'the role to assume with the web identity token',
  required: {
    doc: 'with AWS_WEB_IDENTITY_TOKEN_FILE',
    when: (run) => (given(run.env, 'AWS_WEB_IDENTITY_TOKEN_FILE') ? ' (AWS_WEB_IDENTITY_TOKEN_FILE is set without it)' : undefined),
  },
};

export const AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: Setting<string> = {
  ...S3, env: 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', holds: "the path of an ECS task role's credentials (ECS sets it)",
};

export const AWS_CONTAINER_CREDENTIALS_FULL_URI: Setting<string> = {
  ...S3,
  env: 'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  holds: 'the URL of a container credentials endpoint (EKS Pod Identity sets it)',
  check: (url, _run, holds) => (isHttpUrl(url) ? undefined : `not an http(s) URL — ${holds}`),
};

export const AWS_CONTAINER_AUTHORIZATION_TOKEN: Setting<string> = {
  ...S3, env: 'AWS_CONTAINER_AUTHORIZATION_TOKEN', holds: 'the token sent to the container credentials endpoint', secret: true,
};

export const AWS_EC2_METADATA_DISABLED: Setting<string> = {
  ...S3,
  env: 'AWS_EC2_METADATA_DISABLED',
  holds: "false: take the EC2 instance role's credentials from the instance metadata service when no other source is " +
    'configured (the start-up check cannot see a role without asking the network, so it asks for this); true: never ask it',
  defaultDoc: 'asked last by the SDK, but not counted as configured',
  check: isOneOf(['true', 'false'], 'true or false'),
};

export const S3_ENDPOINT: Setting<string> = {
  ...S3,
  env: 'AWS_ENDPOINT_URL_S3',
  fallbackEnv: 'AWS_ENDPOINT_URL',
  holds: 'the S3 endpoint URL for non-AWS providers, e.g. https://s3.fr-par.scw.cloud',
  defaultDoc: 'AWS',
  flag: '--s3-endpoint <url>',
  check: (url, _run, holds) => (isHttpUrl(url) ? undefined : `"${url}" is not an http(s) URL — ${holds}`),
};

export const S3_REGION: Setting<string> = {
  ...S3,
  env: 'AWS_REGION',
  fallbackEnv: 'AWS_DEFAULT_REGION',
  holds: 'the S3 region, e.g. fr-par',
  defaultDoc: 'us-east-1',
  flag: '--s3-region <region>',
  check: (region, _run, holds) => (/^[a-z0-9][a-z0-9_-]*$/i.test(region) ? undefined : `"${region}" is not a region name — ${holds}`),
};

export const S3_TIMEOUT: Setting<number> = {
  ...S3,
  env: 'COPYCAT_S3_TIMEOUT',
  holds: 'seconds (1-3600) an S3 request may move no byte before it fails and is retried, 6 attempts in all',
  defaultDoc: '60',
  flag: '--s3-timeout <seconds>',
  parse: wholeNumber(1, 3600),
};
