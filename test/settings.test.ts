/**
 * The declarations in src/settings: the flags each command gets from them match the flags types its action reads, the
 * start-up check derives each rule from them (the Scaleway modes from modeNeeds alone), and malformed flag values stay
 * commander's usage errors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { addProgramSettings, addSettings, checkInput } from '../src/cli/options.js';
import { OTHER_SOURCES } from '../src/s3/driver/credential-sources.js';
import { DESTINATION } from '../src/settings/catalog/backup.js';
import { SETTINGS } from '../src/settings/catalog/index.js';
import { RETAIN_DAYS } from '../src/settings/catalog/upload.js';
import { configProblems } from '../src/settings/check.js';
import type { BackupFlags, CheckFlags, ListFlags, PruneCommandFlags, RestoreFlags, VerifyFlags, ExportFlags, ShowFlags } from '../src/settings/flags.js';
import { COMMANDS, commandsOf, longFlag, type CommandName, type Env } from '../src/settings/setting.js';
import { BACKUP_MODES, modeNeeds } from '../src/sources/scaleway/modes.js';
import { runCli } from './helpers/cli.js';

/** The keys of each flags type, checked both ways by the compiler: a flag the type lacks (or the reverse) fails below. */
const BACKUP_KEYS = {
  to: true, database: true, mode: true, scwInstance: true, scwPrivateNetwork: true, scwWaitHours: true, format: true, jobs: true,
  compression: true, keyFile: true, encrypt: true, level: true, workers: true, s3Endpoint: true, s3Region: true, s3Timeout: true,
  retainDays: true, lockMode: true, allowUnlocked: true, checksum: true, maxParts: true, partSize: true, expectedSize: true,
  concurrency: true, prune: true, olderThan: true, keepLast: true, recipient: true, recipientsFile: true, pgBinDir: true,
  keepDaily: true, keepWeekly: true, keepMonthly: true, keepYearly: true, globals: true, allDatabases: true,
} satisfies Record<keyof BackupFlags, true>;
const FLAG_KEYS: { readonly [C in CommandName]: Record<string, true> } = {
  backup: BACKUP_KEYS,
  check: { ...BACKUP_KEYS, json: true } satisfies Record<keyof CheckFlags, true>,
  restore: {
    from: true, backup: true, toDatabase: true, create: true, jobs: true, compression: true, keyFile: true, encrypt: true,
    s3Endpoint: true, s3Region: true, s3Timeout: true, identity: true, keepOwners: true, table: true, schema: true, excludeSchema: true,
    useList: true, excludeTable: true, globals: true, pgBinDir: true, legacyRclone: true, rcloneConfig: true, rcloneRemote: true,
  } satisfies Record<keyof RestoreFlags, true>,
  list: {
    from: true, json: true, s3Endpoint: true, s3Region: true, s3Timeout: true, keyFile: true, identity: true, legacyRclone: true,
    rcloneConfig: true, rcloneRemote: true,
  } satisfies Record<keyof ListFlags, true>,
  prune: {
    from: true, dryRun: true, s3Endpoint: true, s3Region: true, s3Timeout: true, olderThan: true, keepLast: true, json: true,
    keepDaily: true, keepWeekly: true, keepMonthly: true, keepYearly: true,
  } satisfies Record<keyof PruneCommandFlags, true>,
  verify: {
    from: true, backup: true, keyFile: true, scratchDatabase: true, maintenanceDatabase: true, check: true, scrub: true,
    scrubFile: true, keep: true, replace: true, allowEmpty: true, json: true, s3Endpoint: true, s3Region: true, s3Timeout: true,
    identity: true, pgBinDir: true, legacyRclone: true, rcloneConfig: true, rcloneRemote: true,
  } satisfies Record<keyof VerifyFlags, true>,
  show: { from: true, json: true, s3Endpoint: true, s3Region: true, s3Timeout: true } satisfies Record<keyof ShowFlags, true>,
  export: {
    from: true, to: true, backup: true, keyFile: true, identity: true, s3Endpoint: true, s3Region: true, s3Timeout: true,
  } satisfies Record<keyof ExportFlags, true>,
};

/** Every variable a setting declares: unset while a test parses, so the machine's own environment cannot leak in. */
const VARIABLES = SETTINGS.flatMap((s) => [s.env, s.fallbackEnv]).filter((v): v is string => v !== undefined);

/** Parses argv as the CLI does, with `env` as the whole environment: the options the action gets and the start-up check's problems. */
function parse(command: CommandName, args: string[], env: Env = {}): { options: Record<string, unknown>; problems: string[] } {
  const names = [...VARIABLES, ...Object.keys(env)];
  const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
  for (const name of names) delete process.env[name];
  Object.assign(process.env, env); // commander reads a flag's variable from process.env
  try {
    let result = { options: {}, problems: [] as string[] };
    const program = addProgramSettings(new Command('copycat-db').exitOverride());
    addSettings(program.command(command), command).action((flags: Record<string, unknown>, parsed: Command) => {
      result = { options: flags, problems: configProblems({ ...checkInput(parsed), env }) };
    });
    program.parse([command, ...args], { from: 'user' });
    return result;
  } finally {
    for (const name of names) delete process.env[name];
    for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value;
  }
}

function check(command: CommandName, args: string[], env: Env = {}): string[] {
  return parse(command, args, env).problems;
}

test('each command gets exactly the flags its flags type has', () => {
  for (const name of COMMANDS) {
    const command = addSettings(new Command(name), name);
    const keys = command.options.map((o) => o.attributeName()).sort();
    assert.deepEqual(keys, Object.keys(FLAG_KEYS[name]).sort(), name);
  }
});

test('list, prune and verify take s3:// and file:DIR, never - or a single file; backup and restore take them too', () => {
  for (const command of ['list', 'prune', 'verify'] as const) {
    assert.deepEqual(check(command, ['--from', '-']), [`--from: "-" is not a backup repository — ${command} works on s3://BUCKET/PREFIX or file:DIR (an existing directory)`]);
    assert.deepEqual(check(command, ['--from', 'file:/var/backups/app/']), []);
    assert.match(check(command, ['--from', 'file:/var/backups/app.backup'])[0]!, /"file:\/var\/backups\/app.backup" is not a backup repository/);
    assert.deepEqual(check(command, [], { COPYCAT_DESTINATION: '-' }), [`COPYCAT_DESTINATION: "-" is not a backup repository — ${command} works on s3://BUCKET/PREFIX or file:DIR (an existing directory)`]);
  }
  assert.deepEqual(check('backup', ['--to', '-', '--no-encrypt']), []);
  assert.deepEqual(check('restore', ['--from', '-', '--to-database', 'app', '--no-encrypt']), []);
  assert.match(check('list', ['--from', 'ftp://x'])[0]!, /^--from: unsupported location "ftp:\/\/x"/);
  assert.deepEqual(check('list', []), ['COPYCAT_DESTINATION: not set — the backup location: s3://BUCKET/PREFIX, or file:PATH (or pass --from)']);
});

test('the Scaleway modes: what each needs is modeNeeds, named by flag or variable', () => {
  const names = { instance: 'SCW_RDB_INSTANCE_ID', database: 'PGDATABASE', privateNetwork: 'SCW_PRIVATE_NETWORK_ID' } as const;
  const env = { SCW_SECRET_KEY: 'secret', SCW_CONFIG_PATH: '' };
  for (const mode of BACKUP_MODES) {
    const problems = check('backup', ['--to', '-', '--no-encrypt', '--mode', mode], env);
    const expected = modeNeeds(mode).map((need) => `${names[need]}: not set — ${SETTINGS.find((s) => s.env === names[need])!.holds} (needed by --mode ${mode})`);
    assert.deepEqual(problems.sort(), expected.sort(), mode);
  }
  // An instance alone chooses scw-export (defaultMode), which then needs the database.
  assert.deepEqual(check('backup', ['--to', '-', '--no-encrypt', '--scw-instance', 'i-1'], env),
    ['PGDATABASE: not set — the database to dump (needed by --mode scw-export)']);
  assert.deepEqual(check('backup', ['--to', '-', '--no-encrypt', '-d', ''], { ...env, SCW_RDB_INSTANCE_ID: 'i-1' }),
    ['--database: not set — the database to dump (needed by --mode scw-export)'], 'an empty flag is unset, named by its flag');
  assert.deepEqual(check('backup', ['--to', '-', '--no-encrypt', '--mode', 'scw-export', '-d', 'app', '--scw-instance', 'i'], { SCW_CONFIG_PATH: '' }),
    ['SCW_SECRET_KEY: not set — the Scaleway API secret key (or secret_key in ~/.config/scw/config.yaml)']);
});

test('the start-up check: labels, empty values, fallbacks, and variables only some commands read', () => {
  assert.deepEqual(check('backup', ['--to', '-'], { COPYCAT_KEY_FILE: '' }),
    ['COPYCAT_KEY_FILE: not set — path of the 32-byte key from copycat-db keygen (or --key-file PATH, or --no-encrypt)']);
  assert.deepEqual(check('backup', ['--to', '-', '--key-file', '/nonexistent.key']),
    ['--key-file: /nonexistent.key does not exist — path of the 32-byte key from copycat-db keygen']);
  assert.deepEqual(check('restore', ['--from', 's3://bucket/app', '--to-database', 'app'], { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'secret' }), [],
    'a key is optional when the manifest says how the backup was stored');

  const s3 = { COPYCAT_DESTINATION: 's3://bucket/app', AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'secret' };
  assert.deepEqual(check('list', [], { ...s3, AWS_ENDPOINT_URL: 'nope' }), ['AWS_ENDPOINT_URL: "nope" is not an http(s) URL — the S3 endpoint URL for non-AWS providers, e.g. https://s3.fr-par.scw.cloud']);
  assert.deepEqual(check('list', ['--s3-region', 'a/b'], { ...s3, AWS_DEFAULT_REGION: 'x y' }), ['--s3-region: "a/b" is not a region name — the S3 region, e.g. fr-par']);
  assert.deepEqual(check('list', [], { ...s3, AWS_ACCESS_KEY_ID: '' }), ['AWS_ACCESS_KEY_ID: not set — the S3 access key id (AWS_SECRET_ACCESS_KEY is set without it)']);

  // The monitoring variables belong to backup; their flags work anywhere.
  assert.deepEqual(check('list', [], { ...s3, COPYCAT_PING_URL: 'ftp://x' }), []);
  assert.deepEqual(check('list', ['--ping-url', 'ftp://x'], s3), ['--ping-url: not an http(s) URL — a healthchecks.io-style ping URL (http or https): URL/start, URL, URL/fail']);
  assert.deepEqual(check('backup', ['--to', '-', '--no-encrypt'], { COPYCAT_PING_URL: 'ftp://x', COPYCAT_LOG_FORMAT: 'xml' }), [
    'COPYCAT_LOG_FORMAT: "xml" is not a log format — json or text',
    'COPYCAT_PING_URL: not an http(s) URL — a healthchecks.io-style ping URL (http or https): URL/start, URL, URL/fail',
  ]);
  // libpq's variables matter only where libpq connects.
  assert.deepEqual(check('backup', ['--to', '-', '--no-encrypt'], { PGPORT: 'x' }), ['PGPORT: "x" is not a port number — the PostgreSQL port (1-65535)']);
  assert.deepEqual(check('backup', ['--to', '-', '--no-encrypt', '--mode', 'scw-export', '-d', 'app', '--scw-instance', 'i'], { PGPORT: 'x', SCW_SECRET_KEY: 's', SCW_CONFIG_PATH: '' }), []);
});

test('--legacy-rclone: a crypt remote replaces --from and, with its own keys, the S3 variables; without one, --from and the password', () => {
  const dir = mkdtempSync(join(tmpdir(), 'copycat-settings-rclone-'));
  try {
    const conf = join(dir, 'rclone.conf');
    const obscured = '3J-6Yw63Gb3tWi5zZf4P0nP9tA'; // any base64url of 16+ bytes reveals to something
    writeFileSync(conf, `[keyed]\ntype = s3\naccess_key_id = a\nsecret_access_key = b\n\n[bare]\ntype = s3\n\n` +
      `[old]\ntype = crypt\nremote = keyed:bucket/old\nfilename_encryption = off\npassword = ${obscured}\n\n` +
      `[old-bare]\ntype = crypt\nremote = bare:bucket/old\nfilename_encryption = off\npassword = ${obscured}\n\n[plain]\ntype = crypt\nremote = /x\n`);
    const legacy = ['--legacy-rclone', '--rclone-config', conf];
    // The destination (the new repository) is not read with a remote, and the remote's keys need no AWS variables.
    assert.deepEqual(check('restore', [...legacy, '--rclone-remote', 'old', '--to-database', 'x'], { COPYCAT_DESTINATION: 'ftp://new' }), []);
    assert.deepEqual(check('list', [...legacy, '--rclone-remote', 'old-bare']), [
      `AWS_ACCESS_KEY_ID: not set — the S3 access key id (with AWS_SECRET_ACCESS_KEY), or another source of credentials: ${OTHER_SOURCES}`,
    ]);
    assert.deepEqual(check('verify', [...legacy, '--rclone-remote', 'nope']), [`--rclone-remote: no remote [nope] in ${conf} (it has keyed, bare, old, old-bare, plain): pass the crypt remote's name to --rclone-remote`]);
    assert.match(check('list', [...legacy, '--rclone-remote', 'plain'])[0]!, /^--rclone-remote: rclone remote \[plain\] in .*: filename_encryption is standard \(rclone's default\)/);
    assert.deepEqual(check('list', ['--legacy-rclone', '--rclone-config', join(dir, 'absent'), '--rclone-remote', 'old']),
      [`--rclone-config: cannot read the rclone config ${join(dir, 'absent')}: ENOENT — pass --rclone-config PATH (or set RCLONE_CONFIG)`], 'reported once');
    const saved = { HOME: process.env.HOME, XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME };
    try {
      assert.match(check('list', ['--legacy-rclone', '--rclone-remote', 'old'], { HOME: dir, XDG_CONFIG_HOME: '' })[0]!,
        new RegExp(`^--rclone-remote: cannot read the rclone config ${dir}/.config/rclone/rclone.conf: ENOENT`), "rclone's default path");
    } finally {
      for (const [name, value] of Object.entries(saved)) if (value === undefined) delete process.env[name]; else process.env[name] = value;
    }
    // Without a remote: --from, a repository, and the password for what reads data.
    assert.deepEqual(check('restore', ['--legacy-rclone', '--from', `file:${dir}`, '--to-database', 'x']),
      ['COPYCAT_RCLONE_PASSWORD: not set — with --legacy-rclone and no --rclone-remote: the crypt remote\'s password, plain (rclone reveal prints an obscured one) (or --rclone-remote NAME, which has it)']);
    assert.deepEqual(check('verify', ['--legacy-rclone', '--from', `file:${dir}`], { COPYCAT_RCLONE_PASSWORD: 'pw' }), []);
    assert.deepEqual(check('list', ['--legacy-rclone', '--from', `file:${dir}`]), [], 'list reads no data: no password');
    assert.deepEqual(check('restore', ['--legacy-rclone', '--from', '-', '--to-database', 'x'], { COPYCAT_RCLONE_PASSWORD: 'pw' }),
      ['--from: "-" is not a backup repository — restore --legacy-rclone works on s3://BUCKET/PREFIX or file:DIR (an existing directory)']);
    // Without --legacy-rclone, none of it is read.
    assert.deepEqual(check('list', ['--from', `file:${dir}`], { COPYCAT_RCLONE_REMOTE: 'nope', RCLONE_CONFIG: join(dir, 'absent') }), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--pg-bin-dir (COPYCAT_PG_BIN_DIR) is an existing directory, for backup, restore and verify', () => {
  const holds = 'the directory of the pg_dump, pg_restore and psql to run, e.g. /usr/lib/postgresql/17/bin';
  assert.deepEqual(check('backup', ['--to', '-', '--no-encrypt', '--pg-bin-dir', '/nonexistent/bin']), [`--pg-bin-dir: /nonexistent/bin is not a directory — ${holds}`]);
  assert.deepEqual(check('restore', ['--from', '-', '--no-encrypt', '--to-database', 'app'], { COPYCAT_PG_BIN_DIR: '/etc/hostname' }),
    [`COPYCAT_PG_BIN_DIR: /etc/hostname is not a directory — ${holds}`]);
  assert.deepEqual(check('verify', ['--from', 'file:/var/backups/app/', '--pg-bin-dir', '/usr/bin']), []);
});

test('a malformed flag or variable behind a flag is a usage error (exit 2) that names the flag', async () => {
  const env = { COPYCAT_DESTINATION: '-', COPYCAT_KEY_FILE: '' };
  const level = await runCli(['backup', '--level', '0'], { env });
  assert.equal(level.code, 2);
  assert.match(level.stderr, /option '--level <n>' argument '0' is invalid\. --level must be a whole number from 1 to 19/);
  const mode = await runCli(['backup'], { env: { ...env, BACKUP_MODE: 'nightly' } });
  assert.equal(mode.code, 2);
  assert.match(mode.stderr, /option '--mode <mode>' value 'nightly' from env 'BACKUP_MODE' is invalid\. --mode takes pgdump, scw-export, snapshot-scw-export or snapshot-pgdump/);
  const format = await runCli(['backup', '--format', 'tar'], { env });
  assert.equal(format.code, 2);
  assert.match(format.stderr, /--format takes custom, plain or parallel/);
  // An empty variable is unset, whatever its parser: BACKUP_MODE= and COPYCAT_S3_TIMEOUT= reach the start-up check.
  const empty = await runCli(['backup'], { env: { ...env, BACKUP_MODE: '', COPYCAT_S3_TIMEOUT: '' } });
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /1 setting is missing or invalid: COPYCAT_KEY_FILE: not set/);
});

test('every flag of backup (and so of check) has a variable: COPYCAT_ and its name, unless libpq or Scaleway name it', () => {
  const own = (flag: string) => `COPYCAT_${longFlag(flag).slice(2).replace(/^no-/, '').replaceAll('-', '_').toUpperCase()}`;
  for (const setting of SETTINGS.filter((s) => s.flag && !s.program && commandsOf(s).includes('backup'))) {
    assert.ok(setting.env, `${setting.flag} has a variable`);
    if (setting.env!.startsWith('COPYCAT_') && setting !== DESTINATION) assert.equal(setting.env, own(setting.flag!));
  }
  assert.deepEqual(commandsOf(RETAIN_DAYS), ['backup', 'check']);
  const { options, problems } = parse('backup', ['--to', '-', '--level', '9'], {
    COPYCAT_ENCRYPT: 'false', COPYCAT_LEVEL: '4', COPYCAT_FORMAT: 'plain', COPYCAT_RETAIN_DAYS: '40', COPYCAT_MAX_PARTS: '1000',
    COPYCAT_PART_SIZE: '64MiB', COPYCAT_PRUNE: 'false', COPYCAT_ALLOW_UNLOCKED: 'true', COPYCAT_KEEP_LAST: '7', COPYCAT_RECIPIENT: '',
  });
  assert.deepEqual(problems, [], 'COPYCAT_ENCRYPT=false needs no key');
  const { workers, ...set } = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  assert.equal(typeof workers, 'number');
  assert.deepEqual(set, {
    to: '-', encrypt: false, level: 9, format: 'plain', retainDays: 40, maxParts: 1000, partSize: 64 << 20, prune: false, allowUnlocked: true,
    keepLast: 7, compression: 'zstd', lockMode: 'COMPLIANCE', checksum: 'md5', concurrency: 4, olderThan: 30, scwWaitHours: 18,
  }, 'the command line wins (--level), the variables fill the rest; an empty COPYCAT_RECIPIENT is no recipient');
  assert.deepEqual(check('backup', ['--to', '-', '--no-encrypt'], { COPYCAT_RETAIN_DAYS: '0' }),
    ['COPYCAT_RETAIN_DAYS: "0" is not a whole number of days from 1 to 18250 — pass the Object Lock retention in days, e.g. --retain-days 30']);
});

test("a switch's variable takes true or false: anything else is a usage error, and the command line wins", () => {
  assert.equal(parse('backup', ['--to', '-', '--no-prune'], { COPYCAT_PRUNE: 'true' }).options.prune, false);
  assert.equal(parse('backup', ['--to', '-'], { COPYCAT_PRUNE: 'true' }).options.prune, true);
  assert.equal(parse('backup', ['--to', '-'], { COPYCAT_ALLOW_UNLOCKED: 'false' }).options.allowUnlocked, false, 'false is false, not "set"');
  assert.equal(parse('backup', ['--to', '-'], { COPYCAT_GLOBALS: 'true' }).options.globals, true);
  assert.equal(parse('restore', ['--from', 'file:/x/', '--to-database', 'x'], { COPYCAT_GLOBALS: 'true' }).options.globals, undefined,
    "a shared environment file never makes a restore apply roles: restore's --globals has no variable");
  assert.equal(parse('prune', ['--from', 'file:/x/'], { COPYCAT_KEEP_LAST: '9' }).options.keepLast, 9, 'prune reads the backup policy');
  for (const [name, text] of [['COPYCAT_PRUNE', 'no'], ['COPYCAT_ENCRYPT', '0'], ['COPYCAT_ALLOW_UNLOCKED', 'yes']]) {
    assert.throws(() => parse('backup', ['--to', '-'], { [name!]: text! }),
      (err: CommanderError) => err.exitCode === 2 && err.message.includes(`from env '${name}' is invalid. ${name} takes true or false`));
  }
});

test('S3 credentials: keys, or any other source of the AWS SDK chain; the start-up check names the ways, and refuses two at once', () => {
  const home = mkdtempSync(join(tmpdir(), 'copycat-aws-'));
  try {
    const s3 = { COPYCAT_DESTINATION: 's3://bucket/app', HOME: home };
    const credentials = join(home, 'credentials');
    const config = join(home, 'config');
    const token = join(home, 'token');
    writeFileSync(credentials, '[default]\naws_access_key_id = a\n\n[ base ]\naws_access_key_id = b\n');
    writeFileSync(config, '[profile backup]\nrole_arn = arn:aws:iam:::role/x\nsource_profile = base\n[other]\nregion = x\n');
    writeFileSync(token, 'eyJ…');

    assert.equal(OTHER_SOURCES, 'AWS_PROFILE (a profile of ~/.aws/credentials or ~/.aws/config), AWS_WEB_IDENTITY_TOKEN_FILE with ' +
      'AWS_ROLE_ARN, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI, or AWS_EC2_METADATA_DISABLED=false for an instance role');
    assert.deepEqual(check('list', [], s3), [`AWS_ACCESS_KEY_ID: not set — the S3 access key id (with AWS_SECRET_ACCESS_KEY), or another source of credentials: ${OTHER_SOURCES}`]);
    assert.deepEqual(check('list', [], { ...s3, AWS_ACCESS_KEY_ID: 'id' }),
      ['AWS_SECRET_ACCESS_KEY: not set — the S3 secret key (AWS_ACCESS_KEY_ID is set without it; credentials never come from flags)']);
    assert.deepEqual(check('list', [], { ...s3, AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't' }), []);
    assert.deepEqual(check('list', [], { ...s3, AWS_SESSION_TOKEN: 't', AWS_EC2_METADATA_DISABLED: 'false' }),
      ['AWS_SESSION_TOKEN: set without AWS_ACCESS_KEY_ID — the session token of temporary keys, with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY']);

    // Profiles: named, or `default`, in the credentials file ([NAME]) or the config file ([profile NAME]).
    assert.deepEqual(check('list', [], { ...s3, AWS_SHARED_CREDENTIALS_FILE: credentials }), [], 'the default profile');
    assert.deepEqual(check('list', [], { ...s3, AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_PROFILE: 'base' }), []);
    assert.deepEqual(check('list', [], { ...s3, AWS_CONFIG_FILE: config, AWS_PROFILE: 'backup' }), []);
    mkdirSync(join(home, '.aws'));
    writeFileSync(join(home, '.aws', 'credentials'), '[home]\n');
    assert.deepEqual(check('list', [], { ...s3, AWS_PROFILE: 'home' }), [], '~/.aws/credentials by default');
    const noKeys = `AWS_ACCESS_KEY_ID: not set — the S3 access key id (with AWS_SECRET_ACCESS_KEY), or another source of credentials: ${OTHER_SOURCES}`;
    assert.deepEqual(check('list', [], { ...s3, AWS_CONFIG_FILE: config, AWS_PROFILE: 'other' }), [noKeys,
      `AWS_PROFILE: no profile "other": not in ${join(home, '.aws', 'credentials')} or ${config} — the profile of the AWS shared files ` +
      'to take credentials from (keys, role_arn with source_profile, credential_process, sso)',
    ], 'a config file section without "profile" is no profile');
    assert.deepEqual(check('list', [], { ...s3, AWS_SHARED_CREDENTIALS_FILE: join(home, 'nope') }),
      [noKeys, `AWS_SHARED_CREDENTIALS_FILE: cannot read ${join(home, 'nope')} (ENOENT) — the AWS shared credentials file`]);
    assert.deepEqual(check('list', [], { ...s3, AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_PROFILE: 'base', AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 's' }),
      ['AWS_PROFILE: set together with AWS_ACCESS_KEY_ID: the AWS SDK would use the profile and ignore the keys — unset one of them']);

    // Web identity, container credentials, the instance's role.
    assert.deepEqual(check('list', [], { ...s3, AWS_WEB_IDENTITY_TOKEN_FILE: token, AWS_ROLE_ARN: 'arn:aws:iam::1:role/r' }), []);
    assert.deepEqual(check('list', [], { ...s3, AWS_WEB_IDENTITY_TOKEN_FILE: token }),
      [noKeys, 'AWS_ROLE_ARN: not set — the role to assume with the web identity token (AWS_WEB_IDENTITY_TOKEN_FILE is set without it)']);
    assert.deepEqual(check('list', [], { ...s3, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/x' }), []);
    assert.deepEqual(check('list', [], { ...s3, AWS_CONTAINER_CREDENTIALS_FULL_URI: 'ftp://x' }),
      ['AWS_CONTAINER_CREDENTIALS_FULL_URI: not an http(s) URL — the URL of a container credentials endpoint (EKS Pod Identity sets it)']);
    assert.deepEqual(check('list', [], { ...s3, AWS_EC2_METADATA_DISABLED: 'false' }), []);
    assert.equal(check('list', [], { ...s3, AWS_EC2_METADATA_DISABLED: 'true' }).length, 1, 'true disables it: keys are asked for');
    assert.match(check('list', [], { ...s3, AWS_EC2_METADATA_DISABLED: 'no', AWS_ACCESS_KEY_ID: 'i', AWS_SECRET_ACCESS_KEY: 's' })[0]!, /^AWS_EC2_METADATA_DISABLED: "no" is not true or false/);
    assert.deepEqual(check('list', ['--from', 'file:/x/'], { HOME: home }), [], 'none of this for a directory repository');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
