/**
 * End-to-end benchmark: real pg_dump on a generated database, each way of backing it up measured in the same run,
 * interleaved (the order rotates every round), several rounds. Everything runs on throwaway local servers: a
 * PostgreSQL cluster (testkit/pg-cluster.ts) and a radosgw with Object Lock (scripts/s3-server.sh).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { startPgCluster, type PgCluster } from '../testkit/pg-cluster.js';
import { startS3Server, type S3TestServer } from '../testkit/s3-server.js';
import { createBenchDatabase, type DatabaseInfo } from './database.js';
import { CLI, copycat, dropDatabase, pathBytes, type Fixtures, type Method, type MethodGroup, type RunContext } from './method.js';
import { parallelPairs, sameRows } from './parallel.js';
import { findProcess, measure, median, processCpuSeconds, reapedChildrenCpuSeconds, round, type Measurement } from './measure.js';

export interface RunResult extends Measurement {
  readonly round: number;
  /** CPU seconds of PostgreSQL backends that finished during the run (the server side of pg_dump / pg_restore). */
  readonly backendCpuSeconds: number;
  /** CPU seconds of the S3 server's daemons (radosgw, OSD, monitor) during the run. */
  readonly s3ServerCpuSeconds: number;
  readonly outputBytes?: number;
  readonly error?: string;
}

export interface MethodResult {
  readonly id: string;
  readonly label: string;
  readonly group: MethodGroup;
  readonly database: string;
  readonly tableBytes: number;
  readonly runs: RunResult[];
  readonly skipped?: string;
}

export interface EndToEndResult {
  readonly machine: Record<string, unknown>;
  readonly options: Record<string, unknown>;
  readonly databases: DatabaseInfo[];
  readonly dumpBytes: number;
  readonly methods: MethodResult[];
  readonly seconds: number;
}

export interface EndToEndOptions {
  /** Table data (heap + TOAST) of the main database. */
  readonly size: number;
  /** Further databases on which only copycat-db's backups run: peak RSS must not grow with size. */
  readonly memorySizes: readonly number[];
  readonly rounds: number;
  readonly restoreRounds: number;
  /** Job counts of the parallel comparison (issue #7), which runs `restoreRounds` rounds; empty: not run. */
  readonly parallelJobs: readonly number[];
  /** Only the methods whose id matches (the limit always runs: everything is a ratio to it). */
  readonly only?: RegExp;
  readonly workDir: string;
  readonly s3Store: 'memstore' | 'bluestore';
  readonly log: (line: string) => void;
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const node = process.execPath;

const BACKUP_METHODS: readonly Method[] = [
  { id: 'limit', label: '`pg_dump -Fc -Z0 > /dev/null` (the limit)', group: 'backup', needs: [],
    command: (r) => `pg_dump -Fc -Z0 -d ${shq(r.database)} > /dev/null` },
  { id: 'copycat-file-z3', label: '`copycat-db backup --to file:` zstd -3 (default workers: one per core), encrypted', group: 'backup', needs: [],
    command: (r) => copycat('backup', '-d', r.database, '--to', `file:${r.outFile}`, '--level', '3', '--key-file', r.fx.keyFile),
    output: (r) => pathBytes(r.outFile) },
  { id: 'copycat-file-z3-w0', label: '`copycat-db backup --to file:` zstd -3 `--workers 0` (zstd on the event loop), encrypted', group: 'backup', needs: [],
    command: (r) => copycat('backup', '-d', r.database, '--to', `file:${r.outFile}`, '--level', '3', '--workers', '0', '--key-file', r.fx.keyFile),
    output: (r) => pathBytes(r.outFile) },
  { id: 'copycat-file-z1', label: '`copycat-db backup --to file:` zstd -1, encrypted', group: 'backup', needs: [],
    command: (r) => copycat('backup', '-d', r.database, '--to', `file:${r.outFile}`, '--level', '1', '--key-file', r.fx.keyFile),
    output: (r) => pathBytes(r.outFile) },
  { id: 'copycat-s3-z3', label: '`copycat-db backup --to s3://` zstd -3, encrypted, locked', group: 'backup', needs: [],
    command: (r) => copycat('backup', '-d', r.database, '--to', `s3://${r.fx.lockedBucket}/${r.prefix}`, '--level', '3', '--key-file', r.fx.keyFile,
      '--retain-days', '1', '--no-prune'),
    output: (_r, m) => storedBytes(m) },
  { id: 'shell-file', label: '`pg_dump -Fc -Z0 | zstd -3 -T2 | age > file`', group: 'backup', needs: ['zstd', 'age'],
    command: (r) => `pg_dump -Fc -Z0 -d ${shq(r.database)} | zstd -q -3 -T2 | age -r ${r.fx.ageRecipient} > ${shq(r.outFile)}`,
    output: (r) => pathBytes(r.outFile) },
  { id: 'shell-s3', label: '`pg_dump -Fc -Z0 | zstd -3 -T0 | age | rclone rcat` to S3', group: 'backup', needs: ['zstd', 'age', 'rclone'],
    command: (r) => `pg_dump -Fc -Z0 -d ${shq(r.database)} | zstd -q -3 -T0 | age -r ${r.fx.ageRecipient} | ` +
      `rclone rcat benchs3:${r.fx.plainBucket}/shell/${r.database}-${r.round}.zst.age` },
  { id: 'seed', label: "seed's way: `pg_dump -Fc` to a file, then `rclone copy` to a crypt remote", group: 'backup', needs: ['rclone'],
    command: (r) => `pg_dump -Fc -d ${shq(r.database)} -f seed.dump && rclone copyto seed.dump benchcrypt:${r.database}-${r.round}.dump && ` +
      'stat -c %s seed.dump >&2 && rm seed.dump',
    output: (_r, m) => Number(/(\d+)\s*$/.exec(m.stderrTail)?.[1]) || undefined },
];

const FLOOR_METHODS: readonly Method[] = [1, 3].map((level): Method => ({
  id: `floor-zstd${level}`, label: `zstd -${level} --single-thread on the dump (CPU for the floor)`, group: 'floor', needs: ['zstd'],
  command: (r) => `zstd -q -${level} --single-thread -c ${shq(r.fx.plainDump)} > /dev/null`,
}));

const RESTORE_METHODS: readonly Method[] = [
  { id: 'copycat-restore', label: '`copycat-db restore --from s3://` (decrypt, decompress, verify)', group: 'restore', needs: [],
    before: (r) => r.fx.cluster.createDatabase(r.restoreTarget),
    command: (r) => copycat('restore', '--from', `s3://${r.fx.lockedBucket}/${r.prefix}`, '--to-database', r.restoreTarget, '--key-file', r.fx.keyFile),
    check: sameRows,
    after: (r) => dropDatabase(r.fx.cluster, r.restoreTarget) },
  { id: 'pg_restore-file', label: '`pg_restore` from a local uncompressed custom-format file', group: 'restore', needs: [],
    before: (r) => r.fx.cluster.createDatabase(r.restoreTarget),
    command: (r) => ['pg_restore', '--no-owner', '--no-privileges', '--exit-on-error', '--single-transaction', `--dbname=${r.restoreTarget}`, r.fx.plainDump],
    check: sameRows,
    after: (r) => dropDatabase(r.fx.cluster, r.restoreTarget) },
];

const MEMORY_METHOD_IDS = ['copycat-file-z3', 'copycat-s3-z3'];

function storedBytes(m: Measurement): number | undefined {
  const match = /stored_bytes=(\d+)/.exec(m.stderrTail);
  return match ? Number(match[1]) : undefined;
}

/** Waits (at most 10 s) until no session is connected to the databases a run used, then a little for the reaping. */
async function backendsGone(cluster: PgCluster, ...databases: string[]): Promise<void> {
  const list = databases.map((d) => `'${d.replace(/'/g, "''")}'`).join(', ');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const [row] = await cluster.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname IN (${list}) AND pid <> pg_backend_pid()`);
    if (row?.n === '0') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 200));
}

function have(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

export function machineFacts(): Record<string, unknown> {
  const cpu = /model name\s*:\s*(.*)/.exec(safeRead('/proc/cpuinfo'))?.[1];
  return {
    cpus: availableParallelism(),
    cpu,
    memoryGiB: round(Number(/MemTotal:\s+(\d+)/.exec(safeRead('/proc/meminfo'))?.[1] ?? 0) / 1024 / 1024, 1),
    loadAverage: loadavg().map((l) => round(l, 2)),
    node: process.version,
    pgDump: spawnSync('pg_dump', ['--version'], { encoding: 'utf8' }).stdout?.trim(),
    zstd: spawnSync('zstd', ['--version'], { encoding: 'utf8' }).stdout?.trim().replace(/^\*+ | \*+$/g, ''),
    rclone: spawnSync('rclone', ['version'], { encoding: 'utf8' }).stdout?.split('\n')[0],
    age: spawnSync('age', ['--version'], { encoding: 'utf8' }).stdout?.trim(),
    date: new Date().toISOString(),
  };
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Runs the whole end-to-end benchmark; servers and files it made are gone when it settles. */
export async function runEndToEnd(opts: EndToEndOptions): Promise<EndToEndResult> {
  const started = performance.now();
  const log = opts.log;
  const machine = machineFacts();
  rmSync(opts.workDir, { recursive: true, force: true });
  mkdirSync(join(opts.workDir, 'runs'), { recursive: true });
  mkdirSync(join(opts.workDir, 'out'), { recursive: true });
  const fixturesDir = join(opts.workDir, 'fixtures');
  mkdirSync(fixturesDir, { recursive: true });

  let cluster: PgCluster | undefined;
  let s3: S3TestServer | undefined;
  const previousStore = process.env.S3_STORE;
  try {
    log(`starting PostgreSQL and the S3 server (${opts.s3Store})`);
    process.env.S3_STORE = opts.s3Store;
    [cluster, s3] = await Promise.all([startPgCluster(), startS3Server()]);
    const pgEnv = cluster.env;
    const databases: DatabaseInfo[] = [];
    const mainDb = 'bench_main';
    log(`generating ${mainDb}: ${(opts.size / 1e6).toFixed(0)} MB of table data`);
    databases.push(await createBenchDatabase(cluster, mainDb, opts.size, log));
    const memoryDbs: { name: string; size: number }[] = [];
    for (const [i, size] of opts.memorySizes.entries()) {
      const name = `bench_mem${i + 1}`;
      log(`generating ${name}: ${(size / 1e6).toFixed(0)} MB of table data`);
      databases.push(await createBenchDatabase(cluster, name, size, log));
      memoryDbs.push({ name, size: databases.at(-1)!.tableBytes });
    }

    const plainDump = join(fixturesDir, 'plain.dump');
    execFileSync('pg_dump', ['-Fc', '-Z0', '-d', mainDb, '-f', plainDump], { env: { ...process.env, ...pgEnv } });
    const dumpBytes = statSync(plainDump).size;
    log(`dump of ${mainDb}: ${(dumpBytes / 1e6).toFixed(0)} MB`);

    const keyFile = join(fixturesDir, 'backup.key');
    execFileSync(node, [CLI, 'keygen', keyFile], { stdio: 'ignore' });
    let ageRecipient = 'age1missing';
    if (have('age-keygen')) {
      const out = spawnSync('age-keygen', ['-o', join(fixturesDir, 'age.key')], { encoding: 'utf8' });
      ageRecipient = /age1[0-9a-z]+/.exec(`${out.stdout}${out.stderr}`)?.[0] ?? ageRecipient;
    }
    const lockedBucket = await s3.createBucket({ objectLock: true });
    const plainBucket = await s3.createBucket();
    const rcloneConf = join(fixturesDir, 'rclone.conf');
    writeFileSync(rcloneConf, '');
    const obscured = have('rclone') ? execFileSync('rclone', ['obscure', 'copycat-bench-crypt-password'], { encoding: 'utf8' }).trim() : '';
    const env: Record<string, string | undefined> = {
      ...pgEnv,
      // A CA bundle meant for the sandbox's outbound proxy makes rclone refuse its plain-HTTP endpoint.
      AWS_CA_BUNDLE: undefined,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: s3.region,
      RCLONE_CONFIG: rcloneConf,
      RCLONE_CONFIG_BENCHS3_TYPE: 's3',
      RCLONE_CONFIG_BENCHS3_PROVIDER: 'Ceph',
      RCLONE_CONFIG_BENCHS3_ENDPOINT: s3.endpoint,
      RCLONE_CONFIG_BENCHS3_ACCESS_KEY_ID: s3.accessKeyId,
      RCLONE_CONFIG_BENCHS3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      RCLONE_CONFIG_BENCHS3_REGION: s3.region,
      RCLONE_CONFIG_BENCHS3_NO_CHECK_BUCKET: 'true',
      RCLONE_CONFIG_BENCHCRYPT_TYPE: 'crypt',
      RCLONE_CONFIG_BENCHCRYPT_REMOTE: `benchs3:${plainBucket}/seed`,
      RCLONE_CONFIG_BENCHCRYPT_PASSWORD: obscured,
    };
    const fx: Fixtures = { keyFile, ageRecipient, lockedBucket, plainBucket, plainDump, cluster };
    const postmaster = findProcess(['-p', String(cluster.port), '-D']);
    const s3Pids = ['rgw', 'osd', 'mon'].map((d) => Number(safeRead(join(s3!.dir, 'pids', d)).trim())).filter((p) => p > 0);

    const selected = (m: Method) => m.id === 'limit' || !opts.only || opts.only.test(m.id);
    const results = new Map<string, MethodResult>();
    const resultFor = (m: Method, database: DatabaseInfo): MethodResult => {
      const key = `${m.id}@${database.name}`;
      let r = results.get(key);
      if (!r) {
        const missing = m.needs.filter((p) => !have(p));
        r = { id: m.id, label: m.label, group: m.group, database: database.name, tableBytes: database.tableBytes, runs: [],
          ...(missing.length ? { skipped: `${missing.join(', ')} not installed (scripts/install-deps.sh installs them)` } : {}) };
        results.set(key, r);
      }
      return r;
    };

    let seq = 0;
    const runOne = async (m: Method, database: DatabaseInfo, prefix: string, round: number): Promise<void> => {
      const result = resultFor(m, database);
      if (result.skipped) return;
      const tempDir = join(opts.workDir, 'runs', `${++seq}-${m.id}`);
      mkdirSync(tempDir, { recursive: true });
      const run: RunContext = { round, database: database.name, tempDir, outFile: join(opts.workDir, 'out', `${m.id}-${round}.backup`), env, fx,
        prefix, restoreTarget: `restore_${seq}` };
      await m.before?.(run);
      const backend0 = postmaster ? reapedChildrenCpuSeconds(postmaster) : 0;
      const server0 = s3Pids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
      const measured = await measure(m.command(run), { env, tempDir, timeoutMs: 3 * 3600_000 });
      // A backend exits a moment after its client: wait for the postmaster to reap them before reading its children's CPU.
      await backendsGone(fx.cluster, database.name, run.restoreTarget);
      const backendCpuSeconds = postmaster ? reapedChildrenCpuSeconds(postmaster) - backend0 : NaN;
      const s3ServerCpuSeconds = s3Pids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0) - server0;
      const outputBytes = m.output?.(run, measured);
      const wrong = measured.exitCode === 0 ? await m.check?.(run) : undefined;
      await m.after?.(run);
      rmSync(run.outFile, { force: true });
      rmSync(tempDir, { recursive: true, force: true });
      const error = measured.exitCode === 0 ? wrong : `exit code ${measured.exitCode}: ${measured.stderrTail}`;
      result.runs.push({ ...measured, round, backendCpuSeconds: round2(backendCpuSeconds), s3ServerCpuSeconds: round2(s3ServerCpuSeconds),
        ...(outputBytes !== undefined ? { outputBytes } : {}), ...(error ? { error } : {}) });
      log(`  round ${round} ${m.id}${database.name === mainDb ? '' : ` (${database.name})`}: ${error ? `FAILED ${error}` :
        `${measured.seconds.toFixed(2)} s, CPU ${measured.cpuSeconds.toFixed(1)} s, tree RSS ${measured.peakTreeRssMiB.toFixed(0)} MiB, temp ${(measured.tempPeakBytes / 1e6).toFixed(0)} MB`}` +
        ` (load ${loadavg()[0]!.toFixed(2)})`);
    };

    const rotate = <T>(list: readonly T[], by: number): T[] => list.map((_, i) => list[(i + by) % list.length]!);
    const backups = [...BACKUP_METHODS.filter(selected), ...FLOOR_METHODS.filter(selected)];
    const main = databases[0]!;
    for (let r = 1; r <= opts.rounds; r++) {
      log(`backup round ${r} of ${opts.rounds} (load ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
      for (const m of rotate(backups, r - 1)) await runOne(m, main, 'main', r);
    }

    const restores = RESTORE_METHODS.filter(selected);
    if (restores.length && opts.restoreRounds > 0) {
      if (!results.get(`copycat-s3-z3@${mainDb}`)?.runs.some((x) => !x.error)) {
        log('one copycat-db backup to S3 for the restores');
        await runOne(BACKUP_METHODS.find((m) => m.id === 'copycat-s3-z3')!, main, 'main', 0);
      }
      for (let r = 1; r <= opts.restoreRounds; r++) {
        log(`restore round ${r} of ${opts.restoreRounds}`);
        for (const m of rotate(restores, r - 1)) await runOne(m, main, 'main', r);
      }
    }

    // Each pair runs backup then restore; the pairs' order rotates every round like everything else.
    const pairs = parallelPairs(opts.parallelJobs, join(opts.workDir, 'parallel')).map((pair) => pair.filter(selected)).filter((pair) => pair.length);
    for (let r = 1; r <= (pairs.length ? opts.restoreRounds : 0); r++) {
      log(`parallel comparison round ${r} of ${opts.restoreRounds}`);
      for (const pair of rotate(pairs, r - 1)) {
        for (const m of pair) await runOne(m, main, 'main', r);
      }
    }

    const memoryMethods = BACKUP_METHODS.filter((m) => MEMORY_METHOD_IDS.includes(m.id) && selected(m))
      .map((m): Method => ({ ...m, group: 'memory' }));
    for (const [i, db] of memoryDbs.entries()) {
      const info = databases[i + 1]!;
      for (let r = 1; r <= Math.min(opts.rounds, 2); r++) {
        log(`memory round ${r} on ${db.name}`);
        for (const m of rotate(memoryMethods, r - 1)) await runOne(m, info, db.name, r);
      }
    }

    return {
      machine: { ...machine, loadAverageAfter: loadavg().map((l) => round(l, 2)) },
      options: { size: opts.size, memorySizes: opts.memorySizes, rounds: opts.rounds, restoreRounds: opts.restoreRounds, parallelJobs: opts.parallelJobs, s3Store: opts.s3Store,
        ...(opts.only ? { only: String(opts.only) } : {}) },
      databases,
      dumpBytes,
      methods: [...results.values()],
      seconds: round((performance.now() - started) / 1000, 1),
    };
  } finally {
    log('stopping the servers');
    await Promise.allSettled([cluster?.stop(), s3?.stop()]);
    if (previousStore === undefined) delete process.env.S3_STORE;
    else process.env.S3_STORE = previousStore;
    rmSync(opts.workDir, { recursive: true, force: true });
  }
}

function round2(n: number): number {
  return Number.isFinite(n) ? round(n, 2) : n;
}

/** The summary of one method's runs: medians, and the extremes that show the noise. */
export function summarize(m: MethodResult) {
  const ok = m.runs.filter((r) => !r.error);
  const pick = (f: (r: RunResult) => number) => ok.map(f);
  return {
    runs: m.runs.length,
    failed: m.runs.length - ok.length,
    seconds: median(pick((r) => r.seconds)),
    min: Math.min(...pick((r) => r.seconds)),
    max: Math.max(...pick((r) => r.seconds)),
    cpuSeconds: median(pick((r) => r.cpuSeconds)),
    backendCpuSeconds: median(pick((r) => r.backendCpuSeconds)),
    s3ServerCpuSeconds: median(pick((r) => r.s3ServerCpuSeconds)),
    peakTreeRssMiB: Math.max(...pick((r) => r.peakTreeRssMiB)),
    tempPeakBytes: Math.max(...pick((r) => r.tempPeakBytes)),
    diskWrittenBytes: Math.max(...pick((r) => r.diskWrittenBytes)),
    outputBytes: median(pick((r) => r.outputBytes ?? NaN)),
    programsRssMiB: ok.reduce<Record<string, number>>((acc, r) => {
      for (const [k, v] of Object.entries(r.programsRssMiB)) acc[k] = Math.max(acc[k] ?? 0, v);
      return acc;
    }, {}),
  };
}

export function existsTool(name: string): boolean {
  return existsSync(name) || have(name);
}
