// A throwaway, loopback-only S3 server (Ceph radosgw, with versioning and Object Lock) for tests.
// It runs scripts/s3-server.sh in a fresh temporary folder; `scripts/s3-server.sh install` must have run once.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';

export interface S3TestServer {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** A role the test user may assume through STS at `endpoint` (AssumeRole), for temporary keys with a session token. */
  roleArn: string;
  /** The standard AWS variables that point copycat-db (or any S3 tool) at this server. */
  env: Record<string, string>;
  /** An S3Client configured for radosgw (path style, checksums only when required). */
  client: S3Client;
  /** The cluster's folder (state.env, pids/, log/): for tests that look at the server itself. */
  dir: string;
  /** Creates a bucket with a unique name and returns the name. objectLock implies versioning. */
  createBucket(opts?: { objectLock?: boolean; versioning?: boolean }): Promise<string>;
  /** Stops the cluster and removes its folder. Safe to call more than once. */
  stop(): Promise<void>;
}

// Compiled to dist/testkit/s3-server.js: the repo root is two levels up. The second candidate serves a run
// straight from the TypeScript source (testkit/s3-server.ts).
const SCRIPT_CANDIDATES = [
  fileURLToPath(new URL('../../scripts/s3-server.sh', import.meta.url)),
  fileURLToPath(new URL('../scripts/s3-server.sh', import.meta.url)),
];
export const S3_SERVER_SCRIPT: string = SCRIPT_CANDIDATES.find((p) => existsSync(p)) ?? SCRIPT_CANDIDATES[0]!;

const START_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 90_000;

/** Runs `bash scripts/s3-server.sh ARGS…`; rejects with the script's stderr on failure. */
export function runS3ServerScript(
  args: string[],
  timeoutMs = START_TIMEOUT_MS,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('bash', [S3_SERVER_SCRIPT, ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const e = new Error(`${path.basename(S3_SERVER_SCRIPT)} ${args.join(' ')} failed: ${err.message}\n${stderr}`);
        (e as Error & { cause?: unknown }).cause = err;
        reject(e);
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

/** Parses the `export NAME=VALUE` lines that `start` and `env` print. */
export function parseExports(stdout: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

// Servers not stopped when the process ends are stopped synchronously on the way out, so that a failing test file
// leaves no cluster behind.
const live = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const cleanup = (): void => {
    for (const dir of live) {
      try {
        execFileSync('bash', [S3_SERVER_SCRIPT, 'stop', dir], { stdio: 'ignore', timeout: STOP_TIMEOUT_MS });
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
    live.clear();
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      cleanup();
      process.kill(process.pid, sig); // the handler is gone now: die of the signal as before
    });
  }
}

let bucketSeq = 0;
function uniqueBucketName(): string {
  // 3–63 characters, lower case, digits and hyphens.
  bucketSeq += 1;
  return `copycat-${Date.now().toString(36)}-${process.pid.toString(36)}-${bucketSeq}-${randomBytes(3).toString('hex')}`;
}

async function startInNewFolder(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'copycat-s3-'));
  live.add(dir);
  try {
    const { stdout } = await runS3ServerScript(['start', dir]);
    return { dir, env: parseExports(stdout) };
  } catch (err) {
    live.delete(dir);
    await runS3ServerScript(['stop', dir], STOP_TIMEOUT_MS).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Starts a fresh cluster in a new temporary folder (about 5 s with the default memstore). A start that fails is tried
 * once more in another folder: on a loaded two-core machine Ceph's daemons occasionally give up while booting (an
 * OSD marking itself down before radosgw answers), which says nothing about the code under test. The first failure
 * is still printed.
 */
export async function startS3Server(): Promise<S3TestServer> {
  installExitHook();
  let started: { dir: string; env: Record<string, string> };
  try {
    started = await startInNewFolder();
  } catch (err) {
    process.stderr.write(`startS3Server: first start failed, trying once more: ${(err as Error).message.split('\n').slice(0, 2).join(' ')}\n`);
    started = await startInNewFolder();
  }
  const { dir, env } = started;
  const endpoint = env['AWS_ENDPOINT_URL_S3'];
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  const region = env['AWS_REGION'] ?? 'us-east-1';
  if (!endpoint || !accessKeyId || !secretAccessKey) {
    throw new Error(`s3-server.sh start printed no endpoint or credentials (folder ${dir})`);
  }
  const client = new S3Client({
    endpoint,
    region,
    credentials: { accessKeyId, secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });

  let stopping: Promise<void> | undefined;
  const server: S3TestServer = {
    endpoint,
    accessKeyId,
    secretAccessKey,
    region,
    roleArn: 'arn:aws:iam:::role/copycat-test',
    env: { AWS_ENDPOINT_URL_S3: endpoint, AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_REGION: region },
    client,
    dir,
    async createBucket(opts = {}) {
      const name = uniqueBucketName();
      await client.send(
        new CreateBucketCommand({ Bucket: name, ...(opts.objectLock ? { ObjectLockEnabledForBucket: true } : {}) }),
      );
      if (opts.versioning && !opts.objectLock) {
        await client.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
      }
      return name;
    },
    stop() {
      stopping ??= (async () => {
        client.destroy();
        await runS3ServerScript(['stop', dir], STOP_TIMEOUT_MS);
        live.delete(dir);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  return server;
}

let shared: Promise<S3TestServer> | undefined;

/**
 * One server shared by every caller in this process (node --test runs each test file in its own process).
 * Stopped when the process exits, or earlier by stopSharedS3Server(). Give each test its own bucket.
 */
export function sharedS3Server(): Promise<S3TestServer> {
  if (!shared) {
    const starting: Promise<S3TestServer> = startS3Server().then(
      (server) => {
        const stop = server.stop.bind(server);
        // Stopping the shared server by hand makes the next call start a new one.
        server.stop = () => {
          if (shared === starting) shared = undefined;
          return stop();
        };
        return server;
      },
      (err: unknown) => {
        if (shared === starting) shared = undefined;
        throw err;
      },
    );
    shared = starting;
  }
  return shared;
}

export async function stopSharedS3Server(): Promise<void> {
  const s = shared;
  shared = undefined;
  if (s) await (await s).stop();
}
