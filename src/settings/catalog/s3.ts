/** S3 locations: credentials (from the environment only, never flags), endpoint, region and request timeout. */
import type { RunFacts, Setting } from '../setting.js';
import { isHttpUrl, wholeNumber } from '../values.js';

const S3: Pick<Setting, 'commands' | 'applies'> = {
  commands: ['backup', 'restore', 'list', 'prune', 'verify', 'show', 'export'],
  applies: (run: RunFacts) => run.location?.kind === 's3',
};

/** An rclone crypt remote over an S3 remote with its own keys needs none from the environment. */
const remoteHasKeys = (run: RunFacts): boolean => {
  const target = run.legacy?.remote?.target;
  return target?.kind === 's3' && !!target.accessKeyId && !!target.secretAccessKey;
};
const CREDENTIAL_DOC = 'required for s3:// (unless the --rclone-remote has its own)';

export const AWS_ACCESS_KEY_ID: Setting<string> = {
  ...S3,
  env: 'AWS_ACCESS_KEY_ID',
  holds: 'the S3 access key id',
  required: { doc: CREDENTIAL_DOC, when: (run) => (remoteHasKeys(run) ? undefined : '') },
};

export const AWS_SECRET_ACCESS_KEY: Setting<string> = {
  ...S3,
  env: 'AWS_SECRET_ACCESS_KEY',
  holds: 'the S3 secret key',
  secret: true,
  required: { doc: CREDENTIAL_DOC, when: (run) => (remoteHasKeys(run) ? undefined : ' (credentials come only from the environment, never from flags)') },
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
