/**
 * A Scaleway Managed Database as the source. Which mode needs what is modeNeeds' rule (src/sources/scaleway/modes.ts);
 * the requirements here only ask it.
 */
import { CopycatError } from '../../errors.js';
import { DEFAULT_API_URL, DEFAULT_REGION, loadScalewayCredentials } from '../../sources/scaleway/config.js';
import { BACKUP_MODES, defaultMode, modeNeeds, type BackupMode } from '../../sources/scaleway/modes.js';
import { list, type Env, type Labelled, type ModeNeed, type Requirement, type RunFacts, type Setting } from '../setting.js';
import { positiveNumber } from '../values.js';

export function neededByMode(need: ModeNeed): Exclude<Requirement, 'flag'> {
  return {
    doc: `required by --mode ${list(BACKUP_MODES.filter((mode) => modeNeeds(mode).includes(need)))}`,
    when: (run) => (run.needs.includes(need) ? ` (needed by --mode ${run.mode})` : undefined),
  };
}

const scalewayMode = (run: RunFacts) => run.needs.length > 0;
const SCALEWAY_MODES = list(BACKUP_MODES.filter((mode) => modeNeeds(mode).length > 0));
const SCALEWAY: Pick<Setting, 'commands' | 'applies'> = { commands: ['backup'], applies: scalewayMode };

export const MODE: Setting<BackupMode> = {
  env: 'BACKUP_MODE',
  holds: 'how the backup takes its dump',
  defaultDoc: `${defaultMode('an instance')} when SCW_RDB_INSTANCE_ID is set, else ${defaultMode(undefined)}`,
  commands: ['backup'],
  flag: '--mode <mode>',
  choices: BACKUP_MODES,
};

export const SCW_INSTANCE: Setting<string> = {
  env: 'SCW_RDB_INSTANCE_ID',
  holds: 'the id of the Scaleway RDB instance to back up',
  commands: ['backup'],
  flag: '--scw-instance <id>',
  required: neededByMode('instance'),
};

export const SCW_PRIVATE_NETWORK: Setting<string> = {
  env: 'SCW_PRIVATE_NETWORK_ID',
  holds: 'the private network the temporary instance is attached to',
  commands: ['backup'],
  flag: '--scw-private-network <id>',
  required: neededByMode('privateNetwork'),
};

export const SCW_WAIT_HOURS: Setting<number> = {
  env: 'COPYCAT_SCW_WAIT_HOURS',
  holds: 'give up waiting for a Scaleway backup, export or instance after this many hours',
  commands: ['backup'],
  flag: '--scw-wait-hours <hours>',
  parse: positiveNumber('hours'),
  default: 18,
};

/** What keeps the Scaleway credentials (variables, then the scw config file) from loading: 'missing' for the secret. */
function credentialsProblem(env: Env): 'missing' | Labelled | undefined {
  try {
    loadScalewayCredentials({ env });
    return undefined;
  } catch (err) {
    if (err instanceof CopycatError && err.detail?.missing === 'SCW_SECRET_KEY') return 'missing';
    return { label: 'Scaleway settings', problem: (err as Error).message };
  }
}

export const SCW_SECRET_KEY: Setting<string> = {
  ...SCALEWAY,
  env: 'SCW_SECRET_KEY',
  holds: 'the Scaleway API secret key (or secret_key in ~/.config/scw/config.yaml)',
  secret: true,
  // The secret may come from the config file instead, so both a set and an unset variable load the credentials.
  required: {
    doc: `required by --mode ${SCALEWAY_MODES}, unless in the config file`,
    when: (run) => {
      const problem = credentialsProblem(run.env);
      return problem === 'missing' ? '' : problem;
    },
  },
  check: (_secret, run) => {
    const problem = credentialsProblem(run.env);
    return problem === 'missing' ? undefined : problem;
  },
};

export const SCW_ACCESS_KEY: Setting<string> = { ...SCALEWAY, env: 'SCW_ACCESS_KEY', holds: 'the Scaleway API access key', defaultDoc: 'the config file' };
export const SCW_DEFAULT_REGION: Setting<string> = { ...SCALEWAY, env: 'SCW_DEFAULT_REGION', holds: 'fr-par, nl-ams or pl-waw', defaultDoc: DEFAULT_REGION };
export const SCW_DEFAULT_PROJECT_ID: Setting<string> = { ...SCALEWAY, env: 'SCW_DEFAULT_PROJECT_ID', holds: 'the Scaleway project id', defaultDoc: 'the config file' };
export const SCW_API_URL: Setting<string> = { ...SCALEWAY, env: 'SCW_API_URL', holds: 'the Scaleway API URL', defaultDoc: DEFAULT_API_URL };
export const SCW_CONFIG_PATH: Setting<string> = {
  ...SCALEWAY, env: 'SCW_CONFIG_PATH', holds: 'the Scaleway CLI config file', defaultDoc: '~/.config/scw/config.yaml',
};
export const SCW_PROFILE: Setting<string> = {
  ...SCALEWAY, env: 'SCW_PROFILE', holds: 'the profile of the Scaleway CLI config file', defaultDoc: 'active_profile of the config file',
};
