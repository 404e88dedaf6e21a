/**
 * The `scalewayRdb` source: asks Scaleway for a dump of one database and streams it.
 *   scw-export           backup the production instance's database, export it, download it
 *   snapshot-scw-export  restore the newest ready snapshot into a temporary instance, backup + download from that
 *   snapshot-pgdump      same temporary instance, but pg_dump over a private-network endpoint
 * The snapshot modes keep load off production; the temporary instance is deleted only after a clean run.
 */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { CopycatError, describeError } from '../../errors.js';
import { sniffHead, type DumpFormat } from '../../formats/archive.js';
import { ChildOutput } from '../../pg/child.js';
import { pgDumpCommand } from '../../pg/dump.js';
import { choosePgProgram, pgDumpNeed, type PgProgram, type PgProgramSearch } from '../../pg/programs.js';
import type { SourceFacts, SourceStage, StageContext } from '../../stage.js';
import { producerReadable, type Produce } from '../../streams.js';
import { ScalewayApi, type ApiRetryOptions, type DatabaseBackup } from './api.js';
import { loadScalewayCredentials, type ScalewayCredentials } from './config.js';
import { newDownloadStats, resumableDownload, type DownloadLocation, type DownloadRetryOptions, type DownloadStats } from './download.js';
import { redactUrl } from './timing.js';
import {
  TEMP_INSTANCE_NAME, attachPrivateNetwork, guardedDeleteTempInstance, newestReadySnapshot, removePublicEndpoints,
  waitInstanceReady, type InstanceWaitContext,
} from './temp-instance.js';
import { DEFAULT_WAIT_TIMING, waitFor, type WaitTiming } from './wait.js';

import { SCALEWAY_MODES, type ScalewayMode } from './modes.js';

export { SCALEWAY_MODES, type ScalewayMode };
export type PgSslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

const DAY = 24 * 3600_000;

export interface ScalewayRdbOptions {
  mode: ScalewayMode;
  /** The production instance (SCW_RDB_INSTANCE_ID). Never deleted. */
  instanceId: string;
  databaseName: string;
  /** Required by snapshot-pgdump: the private network the temporary instance joins (SCW_PRIVATE_NETWORK_ID). */
  privateNetworkId?: string;
  /** Fixed address (CIDR) for the private endpoint; default lets Scaleway's IPAM choose. */
  privateServiceIp?: string;

  /** Credentials resolved by the caller; otherwise read from `env` and the Scaleway config file. */
  credentials?: ScalewayCredentials;
  /** Where SCW_* variables are read (default process.env). */
  env?: Record<string, string | undefined>;
  configPath?: string;
  profile?: string;
  region?: string;

  /** Backup retention on Scaleway's side (default now + 30 days). */
  backupExpiresAt?: Date;
  /** Default `copycat-db-<database>-<UTC timestamp>`; Scaleway refuses dots. */
  backupName?: string;
  /** Node type of the temporary instance; default lets Scaleway reuse the snapshot's. */
  nodeType?: string;

  /** snapshot-pgdump: PGUSER / PGPASSWORD (and any other libpq variable) for pg_dump. */
  pgEnv?: Record<string, string>;
  /** snapshot-pgdump: libpq sslmode on the private endpoint (default `require`). */
  sslMode?: PgSslMode;
  pgDumpFormat?: 'custom' | 'plain';
  pgDumpArgs?: string[];
  /** snapshot-pgdump: where pg_dump is looked for (see choosePgProgram). */
  pgDumpPrograms?: PgProgramSearch;

  /** Give up waiting for any one resource after this long (default 18 h). */
  waitTimeoutMs?: number;
  /** First poll interval (default 5 s), growing to pollMaxMs (default 60 s). */
  pollInitialMs?: number;
  pollMaxMs?: number;
  /** At most one progress log line per interval (default 60 s). */
  progressIntervalMs?: number;
  apiRetry?: ApiRetryOptions;
  downloadRetry?: DownloadRetryOptions;
  /** A download connection silent this long counts as broken and is resumed (default 2 min). */
  downloadIdleTimeoutMs?: number;
  /** undici dispatcher for API calls and downloads (default: undici's global one). */
  dispatcher?: Dispatcher;
}

interface RunState {
  backupId?: string;
  backupSize?: number | null;
  snapshotId?: string;
  tempInstanceId?: string;
  tempInstanceDeleted?: boolean;
  tempInstanceLeft?: string;
  privateEndpoint?: { ip: string; port: number };
  download: DownloadStats;
  /** snapshot-pgdump: what its pg_dump dumped, known once the dump ended. */
  pgDump?: { database?: string; format: DumpFormat; serverVersion?: string; dumpVersion: string };
}

export function scalewayRdb(options: ScalewayRdbOptions): SourceStage {
  validate(options);
  let state: RunState = { download: newDownloadStats() };
  let run: Promise<Created> | undefined;

  return {
    name: `scaleway-rdb:${options.mode}`,
    create(ctx) {
      state = { download: newDownloadStats() };
      run = createStream(options, ctx, state);
      return run.then(({ stream }) => stream);
    },
    /**
     * Known once the backup is ready, i.e. when create() resolves, so this waits for create(). Before create() there
     * is nothing to measure yet (undefined), and a failed create() also gives undefined rather than a second error.
     */
    async expectedSize() {
      if (!run) return undefined;
      return run.then(({ size }) => size(), () => undefined).catch(() => undefined);
    },
    info() {
      const d = state.download;
      return {
        mode: options.mode,
        instanceId: options.instanceId,
        database: options.databaseName,
        backupId: state.backupId,
        backupSize: state.backupSize ?? undefined,
        snapshotId: state.snapshotId,
        tempInstanceId: state.tempInstanceId,
        tempInstanceDeleted: state.tempInstanceDeleted,
        tempInstanceLeft: state.tempInstanceLeft,
        privateEndpoint: state.privateEndpoint,
        archiveFormat: d.archiveFormat,
        firstBytes: d.head.toString('hex'),
        bytes: d.bytes,
        resumes: d.resumes,
        reexports: d.reexports,
        ...(state.pgDump ? { pgDump: state.pgDump } : {}),
      };
    },
    async facts(): Promise<SourceFacts> {
      const sniffed = state.download.archiveFormat;
      return {
        kind: `scaleway-${options.mode}`,
        database: options.databaseName,
        ...(state.pgDump?.serverVersion ? { serverVersion: state.pgDump.serverVersion } : {}),
        ...(state.pgDump ? { dumpVersion: state.pgDump.dumpVersion } : {}),
        format: state.pgDump?.format ?? (sniffed === 'custom' || sniffed === 'plain' ? sniffed : 'unknown'),
      };
    },
  };
}

function validate(o: ScalewayRdbOptions): void {
  const bad = (what: string) => {
    throw new CopycatError('SCALEWAY_CONFIG', what);
  };
  if (!SCALEWAY_MODES.includes(o.mode)) bad(`unknown Scaleway mode "${String(o.mode)}"; use one of ${SCALEWAY_MODES.join(', ')}`);
  if (!o.instanceId) bad('no Scaleway instance id: set SCW_RDB_INSTANCE_ID');
  if (!o.databaseName) bad('no database name for the Scaleway backup');
  if (o.mode === 'snapshot-pgdump') {
    if (!o.privateNetworkId) bad('mode snapshot-pgdump needs a private network id (SCW_PRIVATE_NETWORK_ID)');
    // Checked before a billed instance exists, not after pg_dump fails on it.
    if (!o.pgEnv?.PGUSER) bad('mode snapshot-pgdump needs database credentials: PGUSER (and PGPASSWORD) for pg_dump');
  }
}

function timingOf(o: ScalewayRdbOptions): WaitTiming {
  return {
    ...DEFAULT_WAIT_TIMING,
    ...(o.waitTimeoutMs !== undefined ? { timeoutMs: o.waitTimeoutMs } : {}),
    ...(o.pollInitialMs !== undefined ? { pollInitialMs: o.pollInitialMs } : {}),
    ...(o.pollMaxMs !== undefined ? { pollMaxMs: o.pollMaxMs } : {}),
    ...(o.progressIntervalMs !== undefined ? { progressIntervalMs: o.progressIntervalMs } : {}),
  };
}

export function defaultBackupName(database: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
  return `copycat-db-${database.replace(/[^A-Za-z0-9_-]/g, '-')}-${stamp}`;
}

interface Created {
  stream: ReturnType<typeof producerReadable>;
  /** Called only when someone asks: for pg_dump it costs a database connection. */
  size: () => Promise<number | undefined>;
}

/** How the API is reached: the credentials (given, or from the variables and the config file), region, transport. */
type ScalewayConnection = Pick<ScalewayRdbOptions, 'credentials' | 'env' | 'configPath' | 'profile' | 'region' | 'dispatcher' | 'apiRetry'>;

function connect(o: ScalewayConnection, ctx: StageContext): { api: ScalewayApi; creds: ScalewayCredentials } {
  const creds = o.credentials ?? loadScalewayCredentials({ env: o.env, configPath: o.configPath, profile: o.profile, region: o.region });
  const api = new ScalewayApi({
    apiUrl: creds.apiUrl, region: o.region ?? creds.region, secretKey: creds.secretKey, signal: ctx.signal, log: ctx.log, dispatcher: o.dispatcher, retry: o.apiRetry,
  });
  return { api, creds };
}

/** The names of every database of an instance, sorted (`backup --all-databases` with a Scaleway mode). */
export async function instanceDatabases(o: ScalewayConnection & { readonly instanceId: string }, ctx: StageContext): Promise<string[]> {
  return (await connect(o, ctx).api.listDatabases(o.instanceId)).map((d) => d.name).sort();
}

async function createStream(o: ScalewayRdbOptions, ctx: StageContext, state: RunState): Promise<Created> {
  const { api, creds } = connect(o, ctx);
  ctx.log.log('info', 'scaleway.start', {
    mode: o.mode, instanceId: o.instanceId, databaseName: o.databaseName, region: api.region, apiUrl: redactUrl(creds.apiUrl), credentials: creds.origin,
  });
  const c: InstanceWaitContext = { api, timing: timingOf(o), signal: ctx.signal, log: ctx.log };

  if (o.mode === 'scw-export') {
    await waitInstanceReady(c, o.instanceId, 'ready for a backup');
    const dl = await prepareDownload(o, c, o.instanceId, state);
    return { stream: producerReadable(downloadProducer(o, c, dl, state), ctx.signal), size: async () => dl.size };
  }

  // Snapshot modes. A pg_dump too old for the instance's engine is refused before a billed instance exists.
  const pgDump = o.mode === 'snapshot-pgdump' ? await choosePgDumpFor(api, o, ctx) : undefined;
  // From here on a billed instance may exist: every failure must say where it is.
  let produce: Produce;
  let size: () => Promise<number | undefined>;
  let dumpStream: Readable | undefined;
  const leave = (why: unknown) => {
    if (!state.tempInstanceId || state.tempInstanceDeleted) return;
    state.tempInstanceLeft = describeError(why);
    ctx.log.log('warn', 'scaleway.temp_instance.left', {
      id: state.tempInstanceId, name: TEMP_INSTANCE_NAME, reason: state.tempInstanceLeft,
      message: `temporary instance ${state.tempInstanceId} (${TEMP_INSTANCE_NAME}) was left in place after a failure; ` +
        'inspect it and delete it yourself (scw rdb instance delete) when done',
    });
  };
  try {
    const snapshot = await newestReadySnapshot(api, o.instanceId);
    state.snapshotId = snapshot.id;
    const inst = await api.createInstanceFromSnapshot(snapshot.id, {
      instance_name: TEMP_INSTANCE_NAME, is_ha_cluster: false, ...(o.nodeType ? { node_type: o.nodeType } : {}),
    });
    state.tempInstanceId = inst.id;
    ctx.log.log('info', 'scaleway.temp_instance.created', { id: inst.id, name: inst.name, snapshotId: snapshot.id, snapshotCreatedAt: snapshot.created_at });
    await waitInstanceReady(c, inst.id, 'ready after restoring the snapshot');
    await removePublicEndpoints(c, inst.id);

    if (o.mode === 'snapshot-scw-export') {
      const dl = await prepareDownload(o, c, inst.id, state);
      produce = downloadProducer(o, c, dl, state);
      size = async () => dl.size;
    } else {
      const ep = await attachPrivateNetwork(c, inst.id, o.privateNetworkId!, o.privateServiceIp);
      const host = ep.ip ?? ep.hostname!;
      state.privateEndpoint = { ip: host, port: ep.port };
      const command = pgDumpCommand({
        database: o.databaseName,
        format: o.pgDumpFormat ?? 'custom',
        env: { ...o.pgEnv, PGHOST: host, PGPORT: String(ep.port), PGSSLMODE: o.sslMode ?? 'require' },
        args: o.pgDumpArgs,
      });
      const dump = (dumpStream = new ChildOutput(command.program(pgDump!)));
      // pg_database_size is the on-disk size: a rough upper bound that still sizes multipart parts sensibly.
      size = () => command.databaseSize();
      produce = async (write, signal) => {
        const stop = () => dump.destroy();
        signal.addEventListener('abort', stop, { once: true });
        try {
          const d = state.download;
          for await (const chunk of dump as AsyncIterable<Buffer>) {
            sniffHead(d, chunk);
            d.bytes += chunk.length;
            await write(chunk);
          }
          // Asked now: the temporary instance is deleted before anyone asks for facts().
          await command.serverVersion();
        } finally {
          signal.removeEventListener('abort', stop);
          const serverVersion = command.knownServerVersion;
          state.pgDump = { database: command.database, format: command.format, ...(serverVersion ? { serverVersion } : {}),
            dumpVersion: pgDump!.version.text };
        }
      };
    }
  } catch (err) {
    leave(err);
    throw err;
  }

  const tempId = state.tempInstanceId;
  const stream = producerReadable(async (write, signal) => {
    await produce(write, signal);
    // Cleanup happens before the stream ends, so a run that reports success has also released the instance.
    try {
      await guardedDeleteTempInstance(api, tempId!, { productionInstanceId: o.instanceId, createdInstanceId: tempId }, ctx.log);
      state.tempInstanceDeleted = true;
    } catch (err) {
      if (signal.aborted) throw err;
      // The dump is complete and good; failing the backup over a cleanup problem would throw it away.
      state.tempInstanceLeft = describeError(err);
      ctx.log.log('error', 'scaleway.temp_instance.left', {
        id: tempId, name: TEMP_INSTANCE_NAME, reason: state.tempInstanceLeft,
        message: `the dump finished but temporary instance ${tempId} (${TEMP_INSTANCE_NAME}) was not deleted; delete it yourself`,
      });
    }
  }, ctx.signal);
  stream.once('close', () => {
    // pg_dump was spawned in create(); if our stream dies before reading it all, the child must not outlive it.
    dumpStream?.destroy();
    if (!state.tempInstanceDeleted && !state.tempInstanceLeft) leave(stream.errored ?? 'the stream was closed before the dump finished');
  });
  return { stream, size };
}

/** The pg_dump for the production instance's engine (`PostgreSQL-15`): the temporary instance runs the same. */
async function choosePgDumpFor(api: ScalewayApi, o: ScalewayRdbOptions, ctx: StageContext): Promise<PgProgram> {
  const { engine } = await api.getInstance(o.instanceId);
  return choosePgProgram('pg_dump', o.pgDumpPrograms, pgDumpNeed(/^PostgreSQL-(\d+)/i.exec(engine)?.[1]), ctx.log);
}

interface PreparedDownload {
  what: string;
  backup: DatabaseBackup;
  first: DownloadLocation;
  size: number | undefined;
}

function backupWaitSpec(c: InstanceWaitContext, id: string, what: string, goal: string, done: (b: DatabaseBackup) => boolean) {
  return {
    resource: what,
    goal,
    poll: () => c.api.getBackup(id),
    status: (b: DatabaseBackup) => b.status,
    done,
    failed: (b: DatabaseBackup) =>
      ['error', 'locked', 'unknown'].includes(b.status) ? `backup is "${b.status}"${goal === 'exported' ? ' (the export failed)' : ''}` : undefined,
    timing: c.timing,
    signal: c.signal,
    log: c.log,
  };
}

const urlUsable = (b: DatabaseBackup) => !!b.download_url && (!b.download_url_expires_at || Date.parse(b.download_url_expires_at) > Date.now());

/** Export and wait for a fresh download_url; Scaleway exports a backup to a presigned object URL. */
async function exportBackup(c: InstanceWaitContext, id: string, what: string): Promise<DatabaseBackup> {
  const started = await c.api.exportBackup(id);
  c.log.log('info', 'scaleway.backup.export', { backupId: id, status: started.status });
  return waitFor(backupWaitSpec(c, id, what, 'exported', (b) => b.status === 'ready' && urlUsable(b)));
}

async function prepareDownload(o: ScalewayRdbOptions, c: InstanceWaitContext, instanceId: string, state: RunState): Promise<PreparedDownload> {
  const expiresAt = (o.backupExpiresAt ?? new Date(Date.now() + 30 * DAY)).toISOString();
  const name = o.backupName ?? defaultBackupName(o.databaseName);
  let backup = await c.api.createBackup({ instance_id: instanceId, database_name: o.databaseName, name, expires_at: expiresAt });
  state.backupId = backup.id;
  const what = `backup ${backup.id} (database "${o.databaseName}" of instance ${instanceId})`;
  c.log.log('info', 'scaleway.backup.created', { backupId: backup.id, name, instanceId, databaseName: o.databaseName, expiresAt });
  backup = await waitFor(backupWaitSpec(c, backup.id, what, 'ready', (b) => b.status === 'ready'));
  state.backupSize = backup.size;
  if (!urlUsable(backup)) backup = await exportBackup(c, backup.id, what);
  return {
    what,
    backup,
    first: { url: backup.download_url!, expiresAt: backup.download_url_expires_at },
    size: typeof backup.size === 'number' ? backup.size : undefined,
  };
}

function downloadProducer(o: ScalewayRdbOptions, c: InstanceWaitContext, dl: PreparedDownload, state: RunState): Produce {
  return resumableDownload({
    what: dl.what,
    first: dl.first,
    refresh: async () => {
      const b = await exportBackup(c, dl.backup.id, dl.what);
      return { url: b.download_url!, expiresAt: b.download_url_expires_at };
    },
    log: c.log,
    dispatcher: o.dispatcher,
    retry: o.downloadRetry,
    idleTimeoutMs: o.downloadIdleTimeoutMs,
    progressIntervalMs: c.timing.progressIntervalMs,
  }, state.download);
}
