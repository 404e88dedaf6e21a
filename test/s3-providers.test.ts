/**
 * S3 credentials from every source of the AWS SDK's default chain, against the real radosgw (with STS, so temporary
 * keys carry real session tokens that the server checks), and the provider's own part limit for Scaleway endpoints.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { DEFAULT_MAX_PARTS, providerMaxParts, SCALEWAY_MAX_PARTS } from '../src/s3/driver/part-plan.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { seedVariedDatabase } from './helpers/fixtures.js';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';
import { startS3Server, type S3TestServer } from '../testkit/s3-server.js';

const SCALEWAY_HOSTS = fileURLToPath(new URL('./helpers/scaleway-hosts.js', import.meta.url));

let pg: PgCluster;
let s3: S3TestServer;
let dir: string;
let credentialsFile: string;
let configFile: string;

before(async () => {
  [pg, s3] = await Promise.all([startPgCluster(), startS3Server()]);
  await seedVariedDatabase(pg, 'app', 200);
  dir = mkdtempSync(join(tmpdir(), 'copycat-s3-providers-'));
  credentialsFile = join(dir, 'credentials');
  configFile = join(dir, 'config');
  writeFileSync(credentialsFile, `[backup]\naws_access_key_id = ${s3.accessKeyId}\naws_secret_access_key = ${s3.secretAccessKey}\n`, { mode: 0o600 });
  // A role assumed through STS with the keys of the profile above: what the SDK does for role_arn + source_profile.
  writeFileSync(configFile, `[profile role]\nrole_arn = ${s3.roleArn}\nsource_profile = backup\n`, { mode: 0o600 });
});

after(async () => {
  await Promise.all([pg?.stop(), s3?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The environment of a run: the database, the endpoint, and no credentials at all (nothing of the machine's own, no
 * home directory with ~/.aws, no instance metadata) but `credentials`.
 */
function runEnv(credentials: Record<string, string>): Record<string, string> {
  const none = Object.fromEntries(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_SHARED_CREDENTIALS_FILE',
    'AWS_CONFIG_FILE', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    'AWS_CONTAINER_AUTHORIZATION_TOKEN', 'COPYCAT_KEY_FILE', 'COPYCAT_RECIPIENTS_FILE', 'COPYCAT_DESTINATION', 'COPYCAT_ENV_FILE'].map((name) => [name, '']));
  return {
    ...none, ...pg.env, HOME: dir, AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_ENDPOINT_URL_STS: s3.endpoint, AWS_REGION: s3.region, ...credentials,
  };
}

async function backupAndList(bucket: string, credentials: Record<string, string>, args: string[] = []): Promise<{ backup: CliResult; list: CliResult }> {
  const env = runEnv(credentials);
  const backup = await runCli(['backup', '-d', 'app', '--to', `s3://${bucket}/app`, '--no-encrypt', '--retain-days', '1', '--log-format', 'json', ...args], { env });
  const list = await runCli(['list', '--from', `s3://${bucket}/app`, '--json'], { env });
  return { backup, list };
}

function completeBackups(list: CliResult): number {
  assert.equal(list.code, 0, list.stderr);
  return (JSON.parse(list.stdout.toString()) as { status: string }[]).filter((b) => b.status === 'complete').length;
}

test('a profile of a credentials file, and no key in the environment: backup, list and check through radosgw', async () => {
  const bucket = await s3.createBucket({ objectLock: true });
  const profile = { AWS_SHARED_CREDENTIALS_FILE: credentialsFile, AWS_PROFILE: 'backup' };
  const { backup, list } = await backupAndList(bucket, profile);
  assert.equal(backup.code, 0, backup.stderr);
  assert.equal(completeBackups(list), 1);
  const check = await runCli(['check', '-d', 'app', '--to', `s3://${bucket}/app`, '--no-encrypt'], { env: runEnv(profile) });
  assert.equal(check.code, 0, check.stdout.toString() + check.stderr);
  assert.match(check.stdout.toString(), new RegExp(`ok +repository +credentials: profile "backup" \\(in ${credentialsFile}\\); locked`));

  const wrongProfile = await runCli(['list', '--from', `s3://${bucket}/app`], { env: runEnv({ ...profile, AWS_PROFILE: 'prod' }) });
  assert.equal(wrongProfile.code, 1);
  assert.match(wrongProfile.stderr, new RegExp(`AWS_PROFILE: no profile "prod": not in ${credentialsFile} or ${join(dir, '.aws', 'config')}`));
});

test('a role assumed through STS: temporary keys whose session token the server checks, from a profile or the environment', async () => {
  const bucket = await s3.createBucket({ objectLock: true });
  const role = { AWS_SHARED_CREDENTIALS_FILE: credentialsFile, AWS_CONFIG_FILE: configFile, AWS_PROFILE: 'role' };
  const { backup, list } = await backupAndList(bucket, role);
  assert.equal(backup.code, 0, backup.stderr);
  assert.equal(completeBackups(list), 1);

  // The same role's keys, as a scheduler that assumed it would put them in the environment.
  const keys = await defaultProvider({ profile: 'role', filepath: credentialsFile, configFilepath: configFile, clientConfig: { endpoint: s3.endpoint, region: s3.region } })();
  assert.ok(keys.sessionToken && keys.expiration, 'temporary keys from radosgw STS');
  const temporary = { AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.secretAccessKey, AWS_SESSION_TOKEN: keys.sessionToken };
  const fromEnv = await backupAndList(bucket, temporary, ['--log-level', 'debug']);
  assert.equal(fromEnv.backup.code, 0, fromEnv.backup.stderr);
  assert.equal(completeBackups(fromEnv.list), 2);
  for (const output of [fromEnv.backup.stdout.toString(), fromEnv.backup.stderr]) {
    assert.ok(!output.includes(keys.sessionToken!) && !output.includes(keys.secretAccessKey), 'neither the token nor the secret reaches the logs');
  }

  const { AWS_SESSION_TOKEN: _, ...withoutToken } = temporary;
  const refused = await runCli(['list', '--from', `s3://${bucket}/app`], { env: runEnv(withoutToken) });
  assert.equal(refused.code, 1, 'without the token the server refuses the same keys: the token is sent and checked');
  assert.match(refused.stderr, /cannot list s3:\/\/.*(AccessDenied|InvalidAccessKeyId)/);
});

test('container credentials: an endpoint serving the role\'s temporary keys, as ECS and EKS Pod Identity do', async () => {
  const bucket = await s3.createBucket({ objectLock: true });
  const keys = await defaultProvider({ profile: 'role', filepath: credentialsFile, configFilepath: configFile, clientConfig: { endpoint: s3.endpoint, region: s3.region } })();
  const seen: IncomingHttpHeaders[] = [];
  const agent = createHttpServer((req, res) => {
    seen.push(req.headers);
    if (req.headers.authorization !== 'pod-token') return void res.writeHead(401).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
      AccessKeyId: keys.accessKeyId, SecretAccessKey: keys.secretAccessKey, Token: keys.sessionToken, Expiration: keys.expiration!.toISOString(),
    }));
  });
  await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(agent.address() as { port: number }).port}/v1/credentials`;
    const { backup, list } = await backupAndList(bucket, { AWS_CONTAINER_CREDENTIALS_FULL_URI: url, AWS_CONTAINER_AUTHORIZATION_TOKEN: 'pod-token' });
    assert.equal(backup.code, 0, backup.stderr);
    assert.equal(completeBackups(list), 1);
    assert.ok(seen.length >= 2 && seen.every((h) => h.authorization === 'pod-token'), 'each run asked the endpoint, with its token');
  } finally {
    agent.close();
  }
});

test('web identity: the start-up check takes it as a source, the SDK presents the token to STS, and a refusal names it', async () => {
  const bucket = await s3.createBucket({ objectLock: true });
  const token = join(dir, 'token');
  writeFileSync(token, 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjb3B5Y2F0In0.c2lnbmF0dXJl');
  // radosgw knows no OpenID Connect provider here, so its STS refuses the token: the chain stops there and says so.
  const r = await runCli(['list', '--from', `s3://${bucket}/app`], { env: runEnv({ AWS_WEB_IDENTITY_TOKEN_FILE: token, AWS_ROLE_ARN: s3.roleArn }) });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no S3 credentials \(.*HTTP 403.*\); the sources of the AWS SDK's chain, in the order it tries them: .*web identity \(AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN\)/);
});

test('instance metadata: a metadata service that never answers fails the run within seconds, naming every source', async () => {
  const silent: Server = createServer(() => {}); // accepts connections, never answers
  const connections: number[] = [];
  silent.on('connection', () => connections.push(Date.now()));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const endpoint = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const started = Date.now();
    const r = await runCli(['list', '--from', 's3://some-bucket/app'], {
      env: runEnv({ AWS_EC2_METADATA_DISABLED: 'false', AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoint }), killAfterMs: 60_000,
    });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(r.code, 1, r.stderr);
    assert.ok(seconds < 15, `bounded: ${seconds} s`);
    assert.ok(connections.length >= 1, 'the metadata service was asked');
    assert.match(r.stderr, new RegExp('no S3 credentials \\(.*\\); the sources of the AWS SDK\'s chain, in the order it tries them: ' +
      'keys in the environment \\(AWS_ACCESS_KEY_ID not set\\), profile "default" \\(not in .*\\), web identity \\(AWS_WEB_IDENTITY_TOKEN_FILE not set\\), ' +
      `container credentials \\(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI not set\\), instance metadata \\(at ${endpoint}\\) — set AWS_ACCESS_KEY_ID`));
  } finally {
    silent.close();
  }
});

test("an endpoint on Scaleway's domain gets its 1,000-part limit; --max-parts (or COPYCAT_MAX_PARTS) says otherwise", async () => {
  for (const [endpoint, parts] of [
    ['https://s3.fr-par.scw.cloud', SCALEWAY_MAX_PARTS], ['https://S3.NL-AMS.SCW.CLOUD./', SCALEWAY_MAX_PARTS], ['http://scw.cloud:8000', SCALEWAY_MAX_PARTS],
    ['https://s3.us-east-1.amazonaws.com', DEFAULT_MAX_PARTS], ['https://evilscw.cloud', DEFAULT_MAX_PARTS], ['https://scw.cloud.example.com', DEFAULT_MAX_PARTS],
    [undefined, DEFAULT_MAX_PARTS], ['not a url', DEFAULT_MAX_PARTS],
  ] as const) assert.equal(providerMaxParts(endpoint), parts, String(endpoint));

  const bucket = await s3.createBucket({ objectLock: true });
  const keys = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
  // s3.fr-par.scw.cloud resolves to the local radosgw in the copycat-db under test (helpers/scaleway-hosts).
  const scaleway = { ...keys, AWS_ENDPOINT_URL_S3: s3.endpoint.replace('127.0.0.1', 's3.fr-par.scw.cloud'), NODE_OPTIONS: `--import=${SCALEWAY_HOSTS}` };
  const plannedParts = async (env: Record<string, string>, args: string[] = []) => {
    const { backup } = await backupAndList(bucket, env, args);
    assert.equal(backup.code, 0, backup.stderr);
    const start = backup.stdout.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event: string; maxParts?: number })
      .find((e) => e.event === 's3.upload.start');
    return start!.maxParts;
  };
  assert.equal(await plannedParts(scaleway), 1000);
  assert.equal(await plannedParts(scaleway, ['--max-parts', '4000']), 4000);
  assert.equal(await plannedParts({ ...scaleway, COPYCAT_MAX_PARTS: '2000' }), 2000);
  assert.equal(await plannedParts(keys), 10_000, 'radosgw at 127.0.0.1: S3\'s own limit');
});
