/**
 * The deployment files: the systemd units pass `systemd-analyze verify` exactly as shipped, carry the hardening and
 * the memory bound the README documents; the Dockerfile has its key lines; the documented settings are the real ones.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { SETTINGS } from '../src/settings/catalog/index.js';
import { COMMANDS, commandsOf } from '../src/settings/setting.js';
import { settingsTable, TABLE_BEGIN, TABLE_END } from '../src/settings/table.js';
import { DEFAULT_CONCURRENCY, DEFAULT_PART_SIZE } from '../src/s3/driver/part-plan.js';
import { MIB } from '../src/units.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UNITS_DIR = join(ROOT, 'deploy', 'systemd');
const UNITS = ['copycat-db.service', 'copycat-db.timer', 'copycat-db@.service', 'copycat-db@.timer'];
/** The run's own peak (test/memory.test.ts asserts the pipeline stays under this) plus headroom for the SDK and V8. */
const PIPELINE_BOUND = 200 * MIB;

type Unit = Map<string, Map<string, string[]>>;

function parseUnit(text: string): Unit {
  const sections: Unit = new Map();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const m = /^([A-Za-z0-9]+)=(.*)$/.exec(line);
    assert.ok(m && current, `not a unit line: ${line}`);
    current!.set(m![1]!, [...(current!.get(m![1]!) ?? []), m![2]!]);
  }
  return sections;
}

const unit = (name: string) => parseUnit(readFileSync(join(UNITS_DIR, name), 'utf8'));
const one = (u: Unit, section: string, key: string) => {
  const values = u.get(section)?.get(key);
  assert.ok(values?.length === 1, `[${section}] ${key}= set once (got ${JSON.stringify(values)})`);
  return values![0]!;
};

function systemdAnalyze(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * verify needs every binary an ExecStart names and the standard units (sysinit.target, …). A throwaway --root holds
 * copies of the system's units, a stand-in /usr/bin/copycat-db and the unit files exactly as shipped.
 */
function verify(files: Record<string, string>, names: string[]): { status: number | null; output: string } {
  const bin = systemdAnalyze();
  assert.ok(bin, 'systemd-analyze is missing: run scripts/install-deps.sh (Debian package systemd)');
  const root = mkdtempSync(join(tmpdir(), 'copycat-units-'));
  try {
    const systemUnits = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(d));
    assert.ok(systemUnits, 'no system unit directory');
    cpSync(systemUnits, join(root, 'usr/lib/systemd/system'), { recursive: true, dereference: false, verbatimSymlinks: true });
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    writeFileSync(join(root, 'usr/bin/copycat-db'), '#!/bin/sh\n');
    chmodSync(join(root, 'usr/bin/copycat-db'), 0o755);
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(root, 'etc/systemd/system', name), text);
    const r = spawnSync(bin!, ['verify', `--root=${root}`, ...names], { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_COLOR: '0' } });
    return { status: r.status, output: (r.stdout + r.stderr).trim() };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const shipped = () => Object.fromEntries(UNITS.map((name) => [name, readFileSync(join(UNITS_DIR, name), 'utf8')]));

test('systemd-analyze verify accepts the units as shipped, without a single warning', () => {
  assert.deepEqual(readdirSync(UNITS_DIR).sort(), [...UNITS].sort());
  const r = verify(shipped(), ['copycat-db.service', 'copycat-db.timer', 'copycat-db@app.service', 'copycat-db@app.timer']);
  assert.equal(r.output, '', 'no warnings');
  assert.equal(r.status, 0);
});

test('the verify check can fail: a mistyped setting in a unit is reported', () => {
  const files = shipped();
  files['copycat-db.service'] = files['copycat-db.service']!.replace('MemoryMax=512M', 'MemoryMax=lots\nProtectSytem=strict');
  const r = verify(files, ['copycat-db.service']);
  assert.match(r.output, /Invalid memory limit 'lots'/);
  assert.match(r.output, /Unknown key.*ProtectSytem/);
});

test('the service: oneshot, environment file, check then backup, hardening, a memory bound above the documented peak', () => {
  for (const name of ['copycat-db.service', 'copycat-db@.service']) {
    const u = unit(name);
    const s = (key: string) => one(u, 'Service', key);
    assert.equal(s('Type'), 'oneshot', name);
    assert.equal(s('EnvironmentFile'), name.includes('@') ? '/etc/copycat-db/%i.env' : '/etc/copycat-db/copycat-db.env');
    // Every setting comes from the environment file, COPYCAT_BACKUP_OPTIONS included (the CLI reads it itself).
    assert.equal(s('ExecStart'), '/usr/bin/copycat-db backup');
    assert.equal(s('ExecStartPre'), '-/usr/bin/copycat-db check --json', 'a check first, which does not stop the backup');
    for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['PrivateTmp', 'yes'], ['ProtectHome', 'yes']]) {
      assert.equal(s(key!), value, `${name}: ${key}`);
    }
    assert.match(s('ReadWritePaths'), /node-exporter/, 'the metrics directory stays writable');
    assert.equal(s('RuntimeDirectory'), 'copycat-db', 'the lock directory (/run/copycat-db)');
    assert.notEqual(s('User'), 'root');
    const max = /^(\d+)M$/.exec(s('MemoryMax'));
    assert.ok(max, 'MemoryMax in MiB');
    const sinkBuffers = DEFAULT_PART_SIZE * (DEFAULT_CONCURRENCY + 1);
    assert.equal(sinkBuffers, 80 * MIB, 'the README and the unit comment say 80 MiB');
    assert.ok(Number(max![1]) * MIB >= PIPELINE_BOUND + sinkBuffers, `${name}: MemoryMax covers the pipeline and the S3 parts`);
  }
  assert.match(readFileSync(join(UNITS_DIR, 'copycat-db.service'), 'utf8'), /~115 MiB .*\n.*80 MiB/, 'the reasoning is in a comment');
});

test('the timers: daily, catch up after downtime, spread over half an hour', () => {
  for (const name of ['copycat-db.timer', 'copycat-db@.timer']) {
    const u = unit(name);
    assert.equal(one(u, 'Timer', 'OnCalendar'), 'daily');
    assert.equal(one(u, 'Timer', 'Persistent'), 'true');
    assert.equal(one(u, 'Timer', 'RandomizedDelaySec'), '30m');
    assert.equal(one(u, 'Install', 'WantedBy'), 'timers.target');
  }
});

test('the Dockerfile: two stages, npm ci + tsc, slim runtime with the PostgreSQL clients 13 to 18 from apt.postgresql.org and tini, not root', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const lines = text.split('\n').filter((l) => !l.startsWith('#'));
  const froms = lines.filter((l) => /^FROM /.test(l));
  assert.deepEqual(froms, ['FROM node:24-bookworm AS build', 'FROM node:24-bookworm-slim']);
  const build = text.slice(text.indexOf(froms[0]!), text.indexOf(froms[1]!));
  const runtime = text.slice(text.indexOf(froms[1]!));
  assert.match(build, /npm ci\b/);
  assert.match(build, /tsc -p \./);
  assert.match(build, /npm prune --omit=dev/);
  assert.match(runtime, /apt-get install[^\n]*\btini\b/);
  // The PostgreSQL project's repository, its key pinned to it, then a client of every supported major.
  assert.match(runtime, /curl [^\n]*-o (\S+\.asc) https:\/\/www\.postgresql\.org\/media\/keys\/ACCC4CF8\.asc/);
  assert.match(runtime, /deb \[signed-by=\/usr\/share\/postgresql-common\/pgdg\/apt\.postgresql\.org\.asc\] https:\/\/apt\.postgresql\.org\/pub\/repos\/apt \$\{VERSION_CODENAME\}-pgdg main/);
  const pgdg = runtime.indexOf('/etc/apt/sources.list.d/pgdg.list');
  for (const major of [13, 14, 15, 16, 17, 18]) {
    const at = runtime.search(new RegExp(`\\bpostgresql-client-${major}\\b`));
    assert.ok(at > pgdg && pgdg > 0, `postgresql-client-${major} is installed after the PostgreSQL repository is added`);
  }
  for (const path of ['bin', 'dist', 'node_modules', 'package.json']) {
    assert.match(runtime, new RegExp(`COPY --from=build \\S*/${path.replace('.', '\\.')} `), `the runtime gets ${path}`);
  }
  const user = /^USER (\S+)$/m.exec(runtime);
  assert.ok(user && !['root', '0'].includes(user[1]!), 'a non-root user');
  const entrypoint = /^ENTRYPOINT (.+)$/m.exec(runtime);
  assert.deepEqual(JSON.parse(entrypoint![1]!), ['tini', '--', 'copycat-db']);
  // What the build copies must not be excluded from the build context.
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const m of build.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
    for (const source of m[1]!.split(/\s+/)) assert.ok(!ignored.includes(source), `${source} is copied but .dockerignore excludes it`);
  }
  // The entry script imports the compiled CLI from where the image puts it.
  assert.match(readFileSync(join(ROOT, 'bin', 'copycat-db.js'), 'utf8'), /\.\.\/dist\/src\/cli\/main\.js/);
});

test('the settings table in README Operating is the one the declarations generate (npm run docs)', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Operating');
  assert.ok(start >= 0, 'README has an Operating section');
  const next = readme.indexOf('\n## ', start + 1);
  const operating = readme.slice(start, next < 0 ? undefined : next);
  const begin = operating.indexOf(TABLE_BEGIN);
  const end = operating.indexOf(TABLE_END);
  assert.ok(begin >= 0 && end > begin, `README Operating holds the ${TABLE_BEGIN} … ${TABLE_END} block`);
  assert.equal(operating.slice(begin + TABLE_BEGIN.length, end), `\n${settingsTable()}\n`, 'the table is stale: run npm run docs');
});

test('every variable is in the env sample, and every line of the sample is a declared variable', () => {
  const sample = readFileSync(join(ROOT, 'deploy', 'copycat-db.env.sample'), 'utf8');
  const names = SETTINGS.flatMap((s) => (s.env ? [s.env] : []));
  for (const name of names) assert.match(sample, new RegExp(`^#?${name}=`, 'm'), `the env sample lists ${name}`);
  for (const line of sample.split('\n')) {
    if (!line || line.startsWith('# ') || line === '#') continue;
    const m = /^#?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    assert.ok(m, `an environment-file line: ${line}`);
    assert.ok(names.includes(m![1]!), `${m![1]} in the env sample is a declared variable`);
  }
});

test('each --help names the variable behind every flag that has one', () => {
  const help = (...args: string[]) => execFileSync(process.execPath, [join(ROOT, 'bin', 'copycat-db.js'), ...args, '--help'], { encoding: 'utf8' });
  for (const command of COMMANDS) {
    const text = help(command);
    for (const setting of SETTINGS.filter((s) => s.env && s.flag && !s.program && commandsOf(s).includes(command))) {
      assert.match(text, new RegExp(`env:\\s+${setting.env}\\b`), `${command} --help names ${setting.env}`);
    }
  }
  for (const setting of SETTINGS.filter((s) => s.program)) assert.match(help(), new RegExp(`env:\\s+${setting.env}\\b`));
});

test('the Kubernetes CronJob sets only declared settings, never runs two backups at once, and mounts no key file', () => {
  const cronjob = readFileSync(join(ROOT, 'deploy', 'kubernetes', 'cronjob.yaml'), 'utf8');
  const declared = new Set(SETTINGS.flatMap((s) => [s.env, s.fallbackEnv]).filter(Boolean));
  const names = [...cronjob.matchAll(/\{ name: ([A-Z][A-Z0-9_]*), value:/g)].map((m) => m[1]!);
  assert.ok(names.length >= 8, 'the CronJob sets its settings in env');
  for (const name of names) assert.ok(declared.has(name), `${name} in the CronJob is a declared setting`);
  assert.match(cronjob, /^\s+concurrencyPolicy: Forbid$/m);
  assert.match(cronjob, /COPYCAT_RECIPIENTS_FILE/);
  assert.doesNotMatch(cronjob, /COPYCAT_KEY_FILE|COPYCAT_IDENTITY_FILE/, 'the cluster writes backups it cannot read');
});
