/** Scaleway credentials (env + config.yaml profiles), error-body formatting and the small helpers: no network, no database. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inspect } from 'node:util';
import { after, test } from 'node:test';
import { CopycatError } from '../src/errors.js';
import { describeScalewayError } from '../src/sources/scaleway/api.js';
import { loadScalewayCredentials, parseScwConfig } from '../src/sources/scaleway/config.js';
import { producerReadable } from '../src/streams.js';
import { sniffArchiveFormat } from '../src/formats/archive.js';
import { defaultBackupName } from '../src/sources/scaleway/source.js';
import { redactUrl } from '../src/sources/scaleway/timing.js';
import { formatDuration } from '../src/units.js';
import { waitFor, DEFAULT_WAIT_TIMING } from '../src/sources/scaleway/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'copycat-scw-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TOP_SECRET = '11111111-1111-1111-1111-111111111111';
const PROD_SECRET = 'prod-secret-#not-a-comment';

const CONFIG = `# Scaleway CLI config
---
access_key: SCWXXXXXXXXXXXXXXXXX
secret_key: "${TOP_SECRET}"
default_organization_id: org-1
default_project_id: proj-top
default_region: fr-par
default_zone: fr-par-1
send_telemetry: false
active_profile: prod   # the one used unless SCW_PROFILE says otherwise
profiles:
  prod:
    access_key: SCWPRODPRODPRODPROD
    secret_key: '${PROD_SECRET}'
    default_region: nl-ams
    default_project_id: proj-prod

  staging:
    secret_key: staging-secret
    default_region: pl-waw
    default_zone: ~
`;

function writeConfig(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function configError(fn: () => unknown): CopycatError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CopycatError, inspect(err));
    assert.equal(err.code, 'SCALEWAY_CONFIG');
    return err;
  }
  assert.fail('expected SCALEWAY_CONFIG');
}

test('config.yaml: top-level keys, profiles, quotes, comments', () => {
  const parsed = parseScwConfig(CONFIG);
  assert.equal(parsed.values.secret_key, TOP_SECRET);
  assert.equal(parsed.values.active_profile, 'prod');
  assert.equal(parsed.values.send_telemetry, 'false');
  assert.deepEqual(parsed.profiles.prod, {
    access_key: 'SCWPRODPRODPRODPROD', secret_key: PROD_SECRET, default_region: 'nl-ams', default_project_id: 'proj-prod',
  });
  assert.deepEqual(parsed.profiles.staging, { secret_key: 'staging-secret', default_region: 'pl-waw' });
});

test('config.yaml: other maps and lists are skipped, odd shapes are named by line without echoing it', () => {
  const parsed = parseScwConfig('secret_key: a\nsome_map:\n  nested: x\n  deeper:\n    k: v\nlist: [1, 2]\nitems:\n  - one\nregion_after: fr-par\n');
  assert.deepEqual(parsed.values, { secret_key: 'a', region_after: 'fr-par' });
  assert.deepEqual(parsed.profiles, {});
  const err = configError(() => parseScwConfig(`access_key: SCW1\nsecret_key "${TOP_SECRET}"\n`, '/x/config.yaml'));
  assert.equal(err.message, 'cannot read Scaleway config /x/config.yaml, line 2: expected "key: value"');
  assert.match(configError(() => parseScwConfig('profiles:\n\tprod:\n')).message, /line 2: tabs/);
  assert.match(configError(() => parseScwConfig('profiles:\n    prod:\n      a: b\n  bad:\n')).message, /line 4: inconsistent indentation/);
});

test('credentials: active_profile from the file, SCW_PROFILE overrides it, env overrides both', () => {
  const path = writeConfig('config.yaml', CONFIG);
  const prod = loadScalewayCredentials({ env: { SCW_CONFIG_PATH: path } });
  assert.equal(prod.secretKey, PROD_SECRET);
  assert.equal(prod.accessKey, 'SCWPRODPRODPRODPROD');
  assert.equal(prod.region, 'nl-ams');
  assert.equal(prod.projectId, 'proj-prod');
  assert.equal(prod.apiUrl, 'https://api.scaleway.com');
  assert.equal(prod.origin, `${path} (profile prod)`);

  const staging = loadScalewayCredentials({ env: { SCW_CONFIG_PATH: path, SCW_PROFILE: 'staging' } });
  assert.equal(staging.secretKey, 'staging-secret');
  assert.equal(staging.accessKey, 'SCWXXXXXXXXXXXXXXXXX', 'keys a profile lacks fall back to the top level');
  assert.equal(staging.region, 'pl-waw');
  assert.equal(staging.projectId, 'proj-top');

  const top = loadScalewayCredentials({ env: { SCW_CONFIG_PATH: path, SCW_PROFILE: 'default' } });
  assert.equal(top.secretKey, TOP_SECRET);
  assert.equal(top.region, 'fr-par');

  const env = loadScalewayCredentials({
    env: { SCW_CONFIG_PATH: path, SCW_SECRET_KEY: 'env-secret', SCW_DEFAULT_REGION: 'fr-par', SCW_API_URL: 'http://127.0.0.1:9/' },
  });
  assert.equal(env.secretKey, 'env-secret');
  assert.equal(env.region, 'fr-par');
  assert.equal(env.accessKey, 'SCWPRODPRODPRODPROD');
  assert.equal(env.apiUrl, 'http://127.0.0.1:9');
  assert.equal(env.origin, `env + ${path} (profile prod)`);
  assert.equal(loadScalewayCredentials({ env: { SCW_CONFIG_PATH: path }, region: 'pl-waw' }).region, 'pl-waw');
});

test('credentials: the default path is ~/.config/scw/config.yaml; env alone is enough without a file', () => {
  const home = join(dir, 'home');
  mkdirSync(join(home, '.config', 'scw'), { recursive: true });
  writeFileSync(join(home, '.config', 'scw', 'config.yaml'), 'secret_key: from-home\ndefault_region: pl-waw\n');
  const fromHome = loadScalewayCredentials({ env: { HOME: home } });
  assert.equal(fromHome.secretKey, 'from-home');
  assert.equal(fromHome.region, 'pl-waw');
  const envOnly = loadScalewayCredentials({ env: { HOME: join(dir, 'nowhere'), SCW_SECRET_KEY: 'k' } });
  assert.deepEqual([envOnly.secretKey, envOnly.region, envOnly.origin], ['k', 'fr-par', 'env']);
});

test('credentials: clear errors that never contain a key', () => {
  const path = writeConfig('config2.yaml', CONFIG);
  const noProfile = configError(() => loadScalewayCredentials({ env: { SCW_CONFIG_PATH: path, SCW_PROFILE: 'nope' } }));
  assert.equal(noProfile.message, `Scaleway profile "nope" is not in ${path}; profiles there: prod, staging`);
  const missing = configError(() => loadScalewayCredentials({ env: { SCW_CONFIG_PATH: join(dir, 'absent.yaml') } }));
  assert.match(missing.message, /absent\.yaml \(SCW_CONFIG_PATH\) does not exist/);
  const noKey = configError(() => loadScalewayCredentials({ env: { HOME: join(dir, 'nowhere') } }));
  assert.match(noKey.message, /no Scaleway secret key: set SCW_SECRET_KEY/);
  const region = configError(() => loadScalewayCredentials({ env: { SCW_CONFIG_PATH: path, SCW_DEFAULT_REGION: 'fr-par/../x' } }));
  assert.match(region.message, /region "fr-par\/\.\.\/x" is not a region name/);
  for (const e of [noProfile, missing, noKey, region]) {
    const text = `${e.message} ${inspect(e)}`;
    assert.ok(!text.includes(TOP_SECRET) && !text.includes(PROD_SECRET), text);
  }
});

test('Scaleway error bodies in one line', () => {
  const d = (status: number, body: unknown, statusText = '') => describeScalewayError(status, statusText, typeof body === 'string' ? body : JSON.stringify(body)).text;
  assert.equal(d(400, {
    details: [{ argument_name: 'name', reason: 'constraint', help_message: 'must not contain dots' },
      { argument_name: 'expires_at', reason: 'constraint', help_message: 'must be in the future' }],
    message: 'invalid argument(s)', type: 'invalid_arguments',
  }), 'invalid_arguments: name: must not contain dots; expires_at: must be in the future');
  assert.equal(d(400, { message: 'validation error', type: 'invalid_arguments', fields: { name: ['too long', 'bad chars'] } }),
    'invalid_arguments: name: too long, bad chars');
  assert.equal(d(409, { current_state: 'provisioning', message: 'resource is in a transient state', resource: 'instance', resource_id: 'abc', type: 'transient_state' }),
    'transient_state: instance abc is provisioning');
  assert.equal(d(404, { message: 'resource is not found', resource: 'database_backup', resource_id: 'b1', type: 'not_found' }),
    'not_found: database_backup b1: resource is not found');
  assert.equal(d(403, { message: 'quota(s) exceeded for this resource', type: 'quotas_exceeded', details: [{ resource: 'rdb_instances', quota: 3, current: 3 }] }),
    'quotas_exceeded: rdb_instances: 3/3 used');
  assert.equal(d(403, { message: 'insufficient permissions', type: 'permissions_denied', details: [{ resource: 'instance', action: 'delete' }] }),
    'permissions_denied: missing permission to delete instance; the API key needs RelationalDatabasesFullAccess on the project');
  assert.equal(d(502, '<html>Bad Gateway</html>', 'Bad Gateway'), 'HTTP 502 Bad Gateway');
  assert.equal(d(500, ''), 'HTTP 500');
});

test('archive format is sniffed from the first bytes', () => {
  assert.equal(sniffArchiveFormat(Buffer.from('PGDMP\x01\x0e\x00')), 'custom');
  assert.equal(sniffArchiveFormat(Buffer.from('--\n-- PostgreSQL database dump\n')), 'plain');
  assert.equal(sniffArchiveFormat(Buffer.from('SET statement_timeout = 0;')), 'plain');
  assert.equal(sniffArchiveFormat(Buffer.from([0x1f, 0x8b, 0x08, 0x00])), 'unknown');
  assert.equal(sniffArchiveFormat(Buffer.alloc(0)), 'unknown');
});

test('small helpers: durations, redacted URLs, backup names without dots', () => {
  assert.equal(formatDuration(250), '250ms');
  assert.equal(formatDuration(3_723_000), '1h 2m 3s');
  assert.equal(formatDuration(18 * 3600_000), '18h');
  assert.equal(redactUrl('https://s3.fr-par.scw.cloud/bucket/backup.custom?X-Amz-Signature=abc'), 'https://s3.fr-par.scw.cloud/bucket/backup.custom?…');
  assert.equal(defaultBackupName('my.app db', new Date('2025-03-04T05:06:07.891Z')), 'copycat-db-my-app-db-20250304T050607Z');
});

test('waitFor logs progress at most once per interval and gives up with SCALEWAY_TIMEOUT', async () => {
  const events: string[] = [];
  const t0 = Date.now();
  await assert.rejects(waitFor({
    resource: 'backup b1', goal: 'ready', poll: async () => 'creating', status: (s) => s, done: () => false,
    timing: { ...DEFAULT_WAIT_TIMING, pollInitialMs: 1, pollMaxMs: 2, timeoutMs: 300, progressIntervalMs: 100 },
    log: { log: (_l, e) => events.push(e) },
  }), (err: unknown) => err instanceof CopycatError && err.code === 'SCALEWAY_TIMEOUT' &&
    /^timed out waiting for backup b1 to be ready: still "creating" after \d+ms \(\d+ polls\); raise the waitTimeoutMs option \(now 300ms\)/.test(err.message));
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 300 && elapsed < 1000, `waited ${elapsed} ms`);
  const progress = events.filter((e) => e === 'scaleway.wait').length;
  assert.ok(progress >= 2 && progress <= 4, `${progress} progress lines in 300 ms at one per 100 ms`);
});

test('producerReadable: the producer waits for a slow consumer, and destroy aborts it', async () => {
  let written = 0;
  let signalSeen: AbortSignal | undefined;
  const stream = producerReadable(async (write, signal) => {
    signalSeen = signal;
    for (let i = 0; i < 200; i++) {
      await write(Buffer.alloc(16 * 1024));
      written++;
    }
  }, undefined, 64 * 1024);
  let received = 0;
  let maxAhead = 0;
  await pipeline(stream, new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _e, cb) {
      received += chunk.length;
      maxAhead = Math.max(maxAhead, written * 16 * 1024 - received);
      setTimeout(cb, 0);
    },
  }));
  assert.equal(received, 200 * 16 * 1024);
  assert.ok(maxAhead <= 160 * 1024, `producer ran ${maxAhead} bytes ahead of the consumer`);

  assert.equal(signalSeen?.aborted, false);

  // A producer stuck on a read that never comes (a silent connection) is released by destroy, not waited for.
  let stuckSignal: AbortSignal | undefined;
  const stuck = producerReadable(async (_write, signal) => {
    stuckSignal = signal;
    await new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
  }, undefined);
  stuck.resume();
  await new Promise((r) => setImmediate(r));
  stuck.destroy();
  await new Promise((r) => stuck.once('close', r));
  assert.equal(stuckSignal?.aborted, true);
});
