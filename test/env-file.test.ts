/**
 * `--env-file` / COPYCAT_ENV_FILE: the file is read exactly as systemd reads it (checked against systemd's own parser,
 * which its environment.d generator runs), what systemd would read differently is refused naming the line and never
 * the value, the real environment wins, an unsafe file is refused, and COPYCAT_BACKUP_OPTIONS is read by the CLI.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadEnvFile, parseEnvFile } from '../src/settings/env-file.js';
import { runCli } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'copycat-env-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** systemd's parser of environment files (env-file.c), as its environment.d generator runs it on one file. */
const GENERATOR = '/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator';

function systemdReads(text: string): Map<string, string> {
  assert.ok(existsSync(GENERATOR), `${GENERATOR} is missing: run scripts/install-deps.sh (Debian package systemd)`);
  const home = mkdtempSync(join(dir, 'home-'));
  mkdirSync(join(home, '.config', 'environment.d'), { recursive: true });
  writeFileSync(join(home, '.config', 'environment.d', '10-test.conf'), text);
  const out = execFileSync(GENERATOR, { env: { HOME: home, XDG_CONFIG_HOME: join(home, '.config') }, encoding: 'utf8' });
  // It prints KEY=value, or KEY="value" with \" \\ \` \$ escaped.
  return new Map(out.split('\n').filter(Boolean).map((line) => {
    const eq = line.indexOf('=');
    const value = line.slice(eq + 1);
    return [line.slice(0, eq), value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value];
  }));
}

// Every form a file of settings uses. No `$` (environment.d would expand it, EnvironmentFile= does not) and no empty
// value (environment.d refuses one, EnvironmentFile= sets it): both are checked on their own below.
const ACCEPTED = [
  'PLAIN=value',
  'SPACED = around the equals sign and at the end   ',
  '   INDENTED=key',
  'HASH=b # not a comment',
  'ESCAPED=a\\ b\\\\c\\"d',
  'TRAILING=kept\\ ',
  "INNER=it's \"quoted\" inside",
  "SINGLE='verbatim \\ \\n \"x\"'",
  'DOUBLE="a\\"b\\\\c\\`d\\e f"',
  "WHITE=   'x'   ",
  'URL=postgresql://user:pw@db.internal:5432/app?sslmode=require',
  '# a comment',
  '; another',
  '',
  'REPEATED=1',
  'REPEATED=2',
  'CRLF=windows\r',
].join('\n');

test('a file of simple lines reads exactly as systemd reads it', () => {
  const ours = parseEnvFile(ACCEPTED, 'test.env');
  const theirs = systemdReads(ACCEPTED);
  assert.equal(ours.get('SINGLE'), 'verbatim \\ \\n "x"');
  assert.equal(ours.get('DOUBLE'), 'a"b\\c`d\\e f');
  assert.equal(ours.get('HASH'), 'b # not a comment');
  assert.equal(ours.get('TRAILING'), 'kept ');
  for (const [name, value] of ours) assert.equal(value, theirs.get(name), `${name} as systemd reads it`);
  assert.equal(ours.size, 13);
  // What the generator cannot show: `$` is literal, and an empty value is set (as EnvironmentFile= sets it).
  assert.deepEqual([...parseEnvFile("DOLLAR=$HOME ${X}\nQUOTED='$y'\nEMPTY=\n", 't')], [['DOLLAR', '$HOME ${X}'], ['QUOTED', '$y'], ['EMPTY', '']]);
});

test('lines systemd would read differently, or skip, are refused naming the line, never the value', () => {
  const secret = 'Sup3rS3cret';
  const cases: [string, RegExp][] = [
    [`export PGPASSWORD=${secret}`, /line 2: "export PGPASSWORD" is not a variable name .*no "export"/],
    [`PGPASSWORD ${secret}`, /line 2: no "=" \(systemd ignores such a line\)/],
    [`1PG=${secret}`, /line 2: "1PG" is not a variable name/],
    [`PGPASSWORD='${secret}`, /line 2: PGPASSWORD: the single quote is not closed on this line/],
    [`PGPASSWORD="${secret}" more`, /line 2: PGPASSWORD: text after the closing quote/],
    [`PGPASSWORD=${secret}\\`, /line 2: PGPASSWORD: a backslash at the end of the line continues/],
    [`PGPASSWORD="${secret}\\`, /line 2: PGPASSWORD: a backslash at the end of the line continues/],
    ['# a comment that goes on \\', /line 2: a comment ending in a backslash continues onto the next line/],
  ];
  for (const [line, expected] of cases) {
    const text = `OK=1\n${line}\nNEXT=${secret}\n`;
    assert.throws(() => parseEnvFile(text, '/etc/app.env'), (err: Error) => {
      assert.match(err.message, /^\/etc\/app\.env /);
      assert.match(err.message, expected);
      assert.ok(!err.message.includes(secret), `the value stays out of: ${err.message}`);
      return true;
    }, line);
  }
  // What systemd does with two of them, which is why they are refused: the next line joins the value or the comment.
  assert.equal(systemdReads('A=one\\\nB=two\n').get('A'), 'oneB=two');
  assert.equal(systemdReads('# note \\\nC=three\n').get('C'), undefined);
  assert.throws(() => parseEnvFile('\uFEFFA=1\n', 'bom.env'), /bom\.env line 1: the file starts with a byte-order mark/);
  assert.deepEqual([...parseEnvFile('# even \\\\\nD=4\n', 't')], [['D', '4']], 'an escaped backslash ends a comment');
});

test('loading: the environment wins over the file (an empty variable does not), and an unsafe file is refused', () => {
  const path = join(dir, 'app.env');
  writeFileSync(path, 'PGHOST=from-file\nPGPORT=5433\nPGUSER=file-user\n', { mode: 0o600 });
  const env: NodeJS.ProcessEnv = { PGHOST: 'from-env', PGPORT: '' };
  loadEnvFile(path, env);
  assert.deepEqual(env, { PGHOST: 'from-env', PGPORT: '5433', PGUSER: 'file-user' });

  chmodSync(path, 0o644);
  assert.throws(() => loadEnvFile(path, {}), { code: 'ENV_FILE_UNSAFE', message: new RegExp(`${path} is readable by every user \\(mode 644\\).*chmod 600`) });
  chmodSync(path, 0o620);
  assert.throws(() => loadEnvFile(path, {}), { code: 'ENV_FILE_UNSAFE', message: /writable by others than its owner \(mode 620\)/ });
  chmodSync(path, 0o640);
  assert.doesNotThrow(() => loadEnvFile(path, {}), 'a group that runs copycat-db may read it');
  assert.throws(() => loadEnvFile(join(dir, 'missing.env'), {}), { code: 'ENV_FILE_UNREADABLE', message: /missing\.env \(--env-file, COPYCAT_ENV_FILE\): ENOENT/ });
});

test('the CLI: --env-file and COPYCAT_ENV_FILE give a run the settings of the unit; the environment and flags win', async () => {
  const repo = join(dir, 'repo');
  const other = join(dir, 'other');
  mkdirSync(repo);
  mkdirSync(other);
  const file = join(dir, 'unit.env');
  writeFileSync(file, `# as the unit has it\nCOPYCAT_DESTINATION=file:${repo}/\nCOPYCAT_LOG_LEVEL = warn\n`, { mode: 0o600 });
  const clean = { COPYCAT_DESTINATION: '', COPYCAT_ENV_FILE: '', COPYCAT_LOG_LEVEL: '' };

  for (const run of [['list', '--env-file', file], ['--env-file', file, 'list'], [`--env-file=${file}`, 'list']]) {
    const r = await runCli(run, { env: clean });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'no backups\n', run.join(' '));
  }
  const byVariable = await runCli(['list'], { env: { ...clean, COPYCAT_ENV_FILE: file } });
  assert.equal(byVariable.stdout.toString(), 'no backups\n', byVariable.stderr);

  // A variable of the environment wins: the file points at repo, the environment at a directory that is not there.
  const missing = join(dir, 'nowhere', 'x') + '/';
  const envWins = await runCli(['list', '--env-file', file], { env: { ...clean, COPYCAT_DESTINATION: `file:${missing}` } });
  assert.equal(envWins.code, 1);
  assert.match(envWins.stderr, new RegExp(`cannot read the repository file:${missing.slice(0, -1)}`));
  const flagWins = await runCli(['list', '--env-file', file, '--from', `file:${other}/`], { env: clean });
  assert.equal(flagWins.code, 0, flagWins.stderr);

  writeFileSync(file, 'PGPASSWORD=Sup3rS3cret\nPGPASSWORD Sup3rS3cret\n');
  const bad = await runCli(['list', '--env-file', file], { env: clean });
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, `copycat-db: error: ${file} line 2: no "=" (systemd ignores such a line) — write plain KEY=value lines (see deploy/copycat-db.env.sample)\n`);
});

test('COPYCAT_BACKUP_OPTIONS: read by the CLI (under systemd, Docker or a shell), before the command line, by backup and check only', async () => {
  const env = { COPYCAT_DESTINATION: '-', COPYCAT_BACKUP_OPTIONS: '  --retain-days 0   --level 5 ', COPYCAT_ENV_FILE: '', PGHOST: join(dir, 'no-socket') };
  const settingsLine = (stdout: Buffer) => stdout.toString().split('\n').find((l) => / settings /.test(l));
  const fromOptions = await runCli(['check', '--no-encrypt'], { env });
  assert.equal(fromOptions.code, 1);
  assert.match(settingsLine(fromOptions.stdout)!, /^FAILED +settings +--retain-days: "0" is not a whole number of days from 1 to 18250/);
  const flagWins = await runCli(['check', '--no-encrypt', '--retain-days', '7'], { env });
  assert.match(settingsLine(flagWins.stdout)!, /^ok +settings /, flagWins.stdout.toString());
  const usage = await runCli(['backup', '--no-encrypt'], { env: { ...env, COPYCAT_BACKUP_OPTIONS: '--level 0' } });
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--level must be a whole number from 1 to 19/);
  // list takes no backup flags: the options are not its business.
  const list = await runCli(['list', '--from', `file:${dir}/`], { env: { ...env, COPYCAT_BACKUP_OPTIONS: '--level 0' } });
  assert.equal(list.code, 0, list.stderr);
});
