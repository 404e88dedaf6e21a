/**
 * A local stand-in for Scaleway's Managed Database (RDB) API v1, faithful enough to run the scalewayRdb source against:
 * the documented paths under /rdb/v1/regions/{region}/, X-Auth-Token auth, status transitions on a clock, Scaleway's
 * error body shapes, and a presigned-style download URL serving REAL dump bytes with Range support. Faults (connection
 * resets mid-download, 5xx, bare 429s, slow answers, failed exports, early URL expiry) are injected per test,
 * and every request is recorded so tests can assert on what the client did (and did not) call.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EmulatorEndpoint {
  id: string;
  ip: string | null;
  port: number;
  name: string | null;
  hostname: string | null;
  private_network?: { private_network_id: string; service_ip: string; zone: string; provisioning_mode: string } | null;
  load_balancer?: Record<string, never> | null;
}

export interface EmulatorInstance {
  id: string;
  name: string;
  status: string;
  engine: string;
  region: string;
  project_id: string;
  organization_id: string;
  is_ha_cluster: boolean;
  node_type: string;
  endpoints: EmulatorEndpoint[];
  created_at: string;
  tags: string[];
}

export interface EmulatorBackup {
  id: string;
  instance_id: string;
  database_name: string;
  name: string;
  status: string;
  size: number | null;
  expires_at: string | null;
  created_at: string;
  updated_at: string | null;
  instance_name: string;
  download_url: string | null;
  download_url_expires_at: string | null;
  region: string;
  same_region: boolean;
}

export interface EmulatorSnapshot {
  id: string;
  instance_id: string;
  instance_name: string;
  name: string;
  status: string;
  size: number | null;
  expires_at: string | null;
  created_at: string;
  updated_at: string | null;
  node_type: string;
  region: string;
}

export interface EmulatorDelays {
  /** creating → ready for a backup (the instance is `backuping` meanwhile). */
  backupCreate: number;
  /** exporting → ready with a download_url (or → error when an export failure is injected). */
  backupExport: number;
  backupDelete: number;
  /** provisioning → ready for an instance created from a snapshot. */
  instanceCreate: number;
  /** configuring → ready after an endpoint is added or removed. */
  instanceConfigure: number;
  /** deleting → gone (GET answers not_found). */
  instanceDelete: number;
}

export interface DumpRequest {
  instanceId: string;
  instanceName: string;
  /** For an instance restored from a snapshot, the instance the snapshot was taken of; else instanceId. */
  sourceInstanceId: string;
  databaseName: string;
}

export interface ScalewayEmulatorOptions {
  /** The only X-Auth-Token accepted. */
  secretKey: string;
  /** Produces the archive a backup of this database contains (tests pass a real pg_dump -Fc). Called at backup creation. */
  dump(req: DumpRequest): Buffer | Uint8Array | Promise<Buffer | Uint8Array>;
  projectId?: string;
  delays?: Partial<EmulatorDelays>;
  /** Lifetime of a download_url (default 1 h). */
  downloadUrlTtlMs?: number;
  /** Address of the private-network endpoint given to an instance (default 10.42.0.N:5432). */
  privateEndpoint?(instance: EmulatorInstance): { ip: string; port: number };
  /** Called right after create-instance made an instance, e.g. to rename it behind the client's back. */
  onCreateInstance?(instance: EmulatorInstance): void;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. /rdb/v1/regions/fr-par/backups. */
  path: string;
  query: Record<string, string>;
  body: unknown;
  /** Status answered (0 when the connection was reset before headers). */
  status: number;
  range?: string;
  /** Whether an X-Auth-Token header came at all (its value is never recorded). */
  hadToken: boolean;
  at: number;
}

export type RequestPattern = string | RegExp;

export interface EmulatorFaults {
  /** The next `times` downloads send `afterBytes` bytes of their body, then the connection is reset. */
  resetDownloadAfter(afterBytes: number, times?: number): void;
  /** The next `count` requests matching `pattern` (tested against "METHOD /path") answer `status` (default 500). */
  failNext(pattern: RequestPattern, count: number, opts?: { status?: number; body?: string; contentType?: string }): void;
  /** The next `count` matching requests answer 429 as Scaleway's edge proxy does: no Retry-After, no body. */
  rateLimitNext(pattern: RequestPattern, count: number): void;
  /** Matching requests wait `ms` before being handled (for `count` requests, default all). */
  delay(pattern: RequestPattern, ms: number, count?: number): void;
  /** The next `count` exports end in status `error` instead of ready. */
  failNextExport(count?: number): void;
  /** Every download URL handed out so far answers 403 from now on, although its expires_at is still in the future. */
  revokeDownloadUrls(): void;
  clear(): void;
}

export interface ScalewayEmulator {
  /** Base URL to use as SCW_API_URL. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  readonly faults: EmulatorFaults;
  readonly instances: ReadonlyMap<string, EmulatorInstance>;
  readonly backups: ReadonlyMap<string, EmulatorBackup>;
  readonly snapshots: ReadonlyMap<string, EmulatorSnapshot>;
  /** Adds a ready instance (with a public load-balancer endpoint) in `region` (default fr-par). */
  addInstance(init: { name: string; id?: string; region?: string; status?: string; databases?: string[] }): EmulatorInstance;
  addSnapshot(init: { instanceId: string; id?: string; name?: string; status?: string; createdAt?: Date; region?: string }): EmulatorSnapshot;
  /** Requests whose "METHOD /path" matches. */
  calls(pattern: RequestPattern): RecordedRequest[];
  close(): Promise<void>;
}

const REGIONS = new Set(['fr-par', 'nl-ams', 'pl-waw']);
const STABLE_INSTANCE = new Set(['ready', 'error', 'locked', 'disk_full', 'unknown']);

class ApiError extends Error {
  constructor(readonly status: number, readonly body: Record<string, unknown>) {
    super(String(body.message));
  }
}

const notFound = (resource: string, id: string) =>
  new ApiError(404, { message: 'resource is not found', resource, resource_id: id, type: 'not_found' });
const transient = (resource: string, id: string, state: string) =>
  new ApiError(409, { current_state: state, message: 'resource is in a transient state', resource, resource_id: id, type: 'transient_state' });
const invalid = (argument: string, help: string, reason = 'constraint') =>
  new ApiError(400, { details: [{ argument_name: argument, help_message: help, reason }], message: 'invalid argument(s)', type: 'invalid_arguments' });

function matches(p: RequestPattern, line: string): boolean {
  return typeof p === 'string' ? line.includes(p) : p.test(line);
}

export async function startScalewayEmulator(opts: ScalewayEmulatorOptions): Promise<ScalewayEmulator> {
  const delays: EmulatorDelays = {
    backupCreate: 20, backupExport: 20, backupDelete: 10, instanceCreate: 30, instanceConfigure: 15, instanceDelete: 10,
    ...opts.delays,
  };
  const ttl = opts.downloadUrlTtlMs ?? 3600_000;
  const projectId = opts.projectId ?? randomUUID();
  const orgId = randomUUID();

  const instances = new Map<string, EmulatorInstance>();
  const instanceDbs = new Map<string, string[] | undefined>();
  const restoredFrom = new Map<string, string>();
  const backups = new Map<string, EmulatorBackup>();
  const backupBytes = new Map<string, Buffer>();
  const snapshots = new Map<string, EmulatorSnapshot>();
  const tokens = new Map<string, { backupId: string; expiresAt: number; revoked: boolean }>();
  const requests: RecordedRequest[] = [];

  // Status transitions happen on a clock but are applied lazily, before each request: no timers outlive the server.
  let pending: { at: number; run: () => void }[] = [];
  const later = (ms: number, run: () => void) => pending.push({ at: Date.now() + ms, run });
  const advance = () => {
    for (;;) {
      const now = Date.now();
      const due = pending.filter((p) => p.at <= now).sort((a, b) => a.at - b.at);
      if (due.length === 0) return;
      pending = pending.filter((p) => !due.includes(p));
      for (const d of due) d.run();
    }
  };

  let resets: { afterBytes: number; times: number }[] = [];
  let failures: { pattern: RequestPattern; count: number; status: number; body?: string; contentType?: string }[] = [];
  let rateLimits: { pattern: RequestPattern; count: number }[] = [];
  let slow: { pattern: RequestPattern; ms: number; count: number }[] = [];
  let exportErrors = 0;
  let privateIpSeq = 1;

  const now = () => new Date().toISOString();
  let base = '';

  const publicEndpoint = (): EmulatorEndpoint => ({
    id: randomUUID(), ip: `51.15.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`, port: 5432 + Math.floor(Math.random() * 1000),
    name: null, hostname: null, load_balancer: {}, private_network: null,
  });

  function addInstance(init: { name: string; id?: string; region?: string; status?: string; databases?: string[] }): EmulatorInstance {
    const inst: EmulatorInstance = {
      id: init.id ?? randomUUID(), name: init.name, status: init.status ?? 'ready', engine: 'PostgreSQL-15',
      region: init.region ?? 'fr-par', project_id: projectId, organization_id: orgId, is_ha_cluster: true,
      node_type: 'db-dev-s', endpoints: [publicEndpoint()], created_at: now(), tags: [],
    };
    instances.set(inst.id, inst);
    instanceDbs.set(inst.id, init.databases);
    return inst;
  }

  function addSnapshot(init: { instanceId: string; id?: string; name?: string; status?: string; createdAt?: Date; region?: string }): EmulatorSnapshot {
    const inst = instances.get(init.instanceId);
    const snap: EmulatorSnapshot = {
      id: init.id ?? randomUUID(), instance_id: init.instanceId, instance_name: inst?.name ?? '', name: init.name ?? `snap-${snapshots.size + 1}`,
      status: init.status ?? 'ready', size: 1 << 20, expires_at: null, created_at: (init.createdAt ?? new Date()).toISOString(),
      updated_at: null, node_type: inst?.node_type ?? 'db-dev-s', region: init.region ?? inst?.region ?? 'fr-par',
    };
    snapshots.set(snap.id, snap);
    return snap;
  }

  const getInstance = (region: string, id: string) => {
    const i = instances.get(id);
    if (!i || i.region !== region) throw notFound('instance', id);
    return i;
  };
  const getBackup = (region: string, id: string) => {
    const b = backups.get(id);
    if (!b || b.region !== region) throw notFound('database_backup', id);
    return b;
  };
  const getSnapshot = (region: string, id: string) => {
    const s = snapshots.get(id);
    if (!s || s.region !== region) throw notFound('snapshot', id);
    return s;
  };
  const requireStable = (i: EmulatorInstance) => {
    if (!STABLE_INSTANCE.has(i.status)) throw transient('instance', i.id, i.status);
  };
  const configure = (i: EmulatorInstance, change: () => void) => {
    i.status = 'configuring';
    later(delays.instanceConfigure, () => {
      change();
      if (i.status === 'configuring') i.status = 'ready';
    });
  };

  function paginate<T>(items: T[], q: URLSearchParams): T[] {
    const page = Math.max(1, Number(q.get('page') ?? 1));
    const size = Math.max(1, Math.min(100, Number(q.get('page_size') ?? 20)));
    return items.slice((page - 1) * size, page * size);
  }
  function order<T extends { created_at: string; name: string; status: string }>(items: T[], orderBy: string | null): T[] {
    const [field, dir] = (orderBy ?? 'created_at_asc').split(/_(?=asc$|desc$)/);
    const key = field === 'name' ? 'name' : field === 'status' ? 'status' : 'created_at';
    const sorted = [...items].sort((a, b) => (a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0));
    return dir === 'desc' ? sorted.reverse() : sorted;
  }

  async function api(method: string, region: string, rest: string, q: URLSearchParams, body: Record<string, unknown>): Promise<[number, unknown]> {
    let m: RegExpExecArray | null;

    if (rest === '/backups' && method === 'POST') {
      const instanceId = String(body.instance_id ?? '');
      if (!instanceId) throw invalid('instance_id', 'required', 'required');
      const name = body.name;
      if (typeof name !== 'string' || !name) throw invalid('name', 'required', 'required');
      if (name.includes('.')) throw invalid('name', 'must not contain dots');
      const db = body.database_name;
      if (typeof db !== 'string' || !db) throw invalid('database_name', 'required', 'required');
      let expires: string | null = null;
      if (body.expires_at !== undefined && body.expires_at !== null) {
        const t = Date.parse(String(body.expires_at));
        if (Number.isNaN(t)) throw invalid('expires_at', 'must be an RFC 3339 date', 'format');
        if (t <= Date.now()) throw invalid('expires_at', 'must be in the future');
        expires = new Date(t).toISOString();
      }
      const inst = getInstance(region, instanceId);
      const dbs = instanceDbs.get(inst.id);
      if (dbs && !dbs.includes(db)) throw notFound('database', db);
      if (inst.status !== 'ready') throw transient('instance', inst.id, inst.status);
      const bytes = Buffer.from(await opts.dump({
        instanceId: inst.id, instanceName: inst.name, sourceInstanceId: restoredFrom.get(inst.id) ?? inst.id, databaseName: db,
      }));
      const b: EmulatorBackup = {
        id: randomUUID(), instance_id: inst.id, database_name: db, name, status: 'creating', size: null, expires_at: expires,
        created_at: now(), updated_at: null, instance_name: inst.name, download_url: null, download_url_expires_at: null,
        region, same_region: true,
      };
      backups.set(b.id, b);
      backupBytes.set(b.id, bytes);
      inst.status = 'backuping';
      later(delays.backupCreate, () => {
        if (b.status === 'creating') {
          b.status = 'ready';
          b.size = bytes.length;
          b.updated_at = now();
        }
        if (inst.status === 'backuping') inst.status = 'ready';
      });
      return [200, b];
    }
    if (rest === '/backups' && method === 'GET') {
      let list = [...backups.values()].filter((b) => b.region === region);
      const inst = q.get('instance_id');
      if (inst) list = list.filter((b) => b.instance_id === inst);
      const name = q.get('name');
      if (name) list = list.filter((b) => b.name.includes(name));
      list = order(list, q.get('order_by'));
      return [200, { database_backups: paginate(list, q), total_count: list.length }];
    }
    if ((m = /^\/backups\/([^/]+)$/.exec(rest))) {
      const b = getBackup(region, m[1]!);
      if (method === 'GET') return [200, b];
      if (method === 'PATCH') {
        if (body.name !== undefined) {
          if (typeof body.name !== 'string' || body.name.includes('.')) throw invalid('name', 'must not contain dots');
          b.name = body.name;
        }
        if (body.expires_at !== undefined) {
          const t = Date.parse(String(body.expires_at));
          if (Number.isNaN(t)) throw invalid('expires_at', 'must be an RFC 3339 date', 'format');
          b.expires_at = new Date(t).toISOString();
        }
        b.updated_at = now();
        return [200, b];
      }
      if (method === 'DELETE') {
        if (b.status !== 'ready' && b.status !== 'error') throw transient('database_backup', b.id, b.status);
        b.status = 'deleting';
        later(delays.backupDelete, () => {
          backups.delete(b.id);
          backupBytes.delete(b.id);
        });
        return [200, b];
      }
    }
    if ((m = /^\/backups\/([^/]+)\/export$/.exec(rest)) && method === 'POST') {
      const b = getBackup(region, m[1]!);
      if (b.status !== 'ready') throw transient('database_backup', b.id, b.status);
      b.status = 'exporting';
      b.download_url = null;
      b.download_url_expires_at = null;
      b.updated_at = now();
      const fail = exportErrors > 0;
      if (fail) exportErrors--;
      later(delays.backupExport, () => {
        if (b.status !== 'exporting') return;
        b.updated_at = now();
        if (fail) {
          b.status = 'error';
          return;
        }
        const token = randomBytes(12).toString('hex');
        const expiresAt = Date.now() + ttl;
        tokens.set(token, { backupId: b.id, expiresAt, revoked: false });
        const qs = `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=${Math.ceil(ttl / 1000)}&X-Amz-Signature=${randomBytes(16).toString('hex')}`;
        b.download_url = `${base}/download/${token}/${encodeURIComponent(b.name)}.custom?${qs}`;
        b.download_url_expires_at = new Date(expiresAt).toISOString();
        b.status = 'ready';
      });
      return [200, b];
    }

    if (rest === '/snapshots' && method === 'GET') {
      let list = [...snapshots.values()].filter((s) => s.region === region);
      const inst = q.get('instance_id');
      if (inst) list = list.filter((s) => s.instance_id === inst);
      list = order(list, q.get('order_by'));
      return [200, { snapshots: paginate(list, q), total_count: list.length }];
    }
    if ((m = /^\/snapshots\/([^/]+)$/.exec(rest)) && method === 'GET') return [200, getSnapshot(region, m[1]!)];
    if ((m = /^\/snapshots\/([^/]+)\/create-instance$/.exec(rest)) && method === 'POST') {
      const snap = getSnapshot(region, m[1]!);
      const name = body.instance_name;
      if (typeof name !== 'string' || !name) throw invalid('instance_name', 'required', 'required');
      if (snap.status !== 'ready') throw transient('snapshot', snap.id, snap.status);
      const inst = addInstance({ name, region, status: 'provisioning', databases: instanceDbs.get(snap.instance_id) });
      inst.is_ha_cluster = body.is_ha_cluster === true;
      inst.node_type = typeof body.node_type === 'string' ? body.node_type : snap.node_type;
      restoredFrom.set(inst.id, restoredFrom.get(snap.instance_id) ?? snap.instance_id);
      later(delays.instanceCreate, () => {
        if (inst.status === 'provisioning') inst.status = 'ready';
      });
      opts.onCreateInstance?.(inst);
      return [200, inst];
    }

    if ((m = /^\/instances\/([^/]+)$/.exec(rest))) {
      const inst = getInstance(region, m[1]!);
      if (method === 'GET') return [200, inst];
      if (method === 'DELETE') {
        requireStable(inst);
        inst.status = 'deleting';
        later(delays.instanceDelete, () => instances.delete(inst.id));
        return [200, inst];
      }
    }
    if ((m = /^\/instances\/([^/]+)\/databases$/.exec(rest)) && method === 'GET') {
      const inst = getInstance(region, m[1]!);
      // Paginated as every list of the API (page, page_size up to 100), in name order.
      const dbs = [...(instanceDbs.get(inst.id) ?? [])].sort().map((name) => ({ name, owner: 'postgres', managed: true, size: 0 }));
      return [200, { databases: paginate(dbs, q), total_count: dbs.length }];
    }
    if ((m = /^\/instances\/([^/]+)\/endpoints$/.exec(rest)) && method === 'POST') {
      const inst = getInstance(region, m[1]!);
      const spec = body.endpoint_spec as Record<string, Record<string, unknown> | undefined> | undefined;
      if (!spec || typeof spec !== 'object') throw invalid('endpoint_spec', 'required', 'required');
      let ep: EmulatorEndpoint;
      if (spec.private_network) {
        const pnId = spec.private_network.private_network_id;
        if (typeof pnId !== 'string' || !pnId) throw invalid('endpoint_spec.private_network.private_network_id', 'required', 'required');
        if (spec.private_network.service_ip === undefined && spec.private_network.ipam_config === undefined) {
          throw invalid('endpoint_spec.private_network', 'one of service_ip or ipam_config must be set');
        }
        if (inst.status !== 'ready') throw transient('instance', inst.id, inst.status);
        const addr = opts.privateEndpoint?.(inst) ?? { ip: `10.42.0.${privateIpSeq++}`, port: 5432 };
        ep = {
          id: randomUUID(), ip: addr.ip, port: addr.port, name: null, hostname: null, load_balancer: null,
          private_network: {
            private_network_id: pnId, service_ip: String(spec.private_network.service_ip ?? `${addr.ip}/24`), zone: `${region}-1`,
            provisioning_mode: spec.private_network.ipam_config !== undefined ? 'ipam' : 'static',
          },
        };
      } else if (spec.load_balancer) {
        if (inst.status !== 'ready') throw transient('instance', inst.id, inst.status);
        ep = publicEndpoint();
      } else {
        throw invalid('endpoint_spec', 'one of private_network or load_balancer must be set');
      }
      // Like the real service, the endpoint shows on the instance only once the instance is configured.
      configure(inst, () => inst.endpoints.push(ep));
      return [200, ep];
    }
    if ((m = /^\/endpoints\/([^/]+)$/.exec(rest)) && method === 'DELETE') {
      const id = m[1]!;
      const inst = [...instances.values()].find((i) => i.region === region && i.endpoints.some((e) => e.id === id));
      if (!inst) throw notFound('endpoint', id);
      if (inst.status !== 'ready') throw transient('instance', inst.id, inst.status);
      configure(inst, () => (inst.endpoints = inst.endpoints.filter((e) => e.id !== id)));
      return [204, undefined];
    }
    throw new ApiError(404, { message: `unknown route ${method} ${rest}`, type: 'not_found' });
  }

  function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (body === undefined) {
      res.writeHead(status, headers).end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers }).end(text);
  }

  function download(req: IncomingMessage, res: ServerResponse, token: string, rec: RecordedRequest): void {
    const t = tokens.get(token);
    const xml = (status: number, code: string, message: string) => {
      rec.status = status;
      res.writeHead(status, { 'content-type': 'application/xml' })
        .end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
    };
    if (!t) return xml(404, 'NoSuchKey', 'The specified key does not exist.');
    if (t.revoked || Date.now() >= t.expiresAt) return xml(403, 'AccessDenied', 'Request has expired');
    const bytes = backupBytes.get(t.backupId);
    if (!bytes) return xml(404, 'NoSuchKey', 'The specified key does not exist.');

    const total = bytes.length;
    let start = 0;
    let end = total - 1;
    let status = 200;
    const range = req.headers.range;
    if (range) {
      const r = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (!r || (r[1] === '' && r[2] === '')) {
        rec.status = 416;
        return void res.writeHead(416, { 'content-range': `bytes */${total}` }).end();
      }
      if (r[1] === '') {
        start = Math.max(0, total - Number(r[2]));
      } else {
        start = Number(r[1]);
        if (r[2] !== '') end = Math.min(end, Number(r[2]));
      }
      if (start >= total || start > end) {
        rec.status = 416;
        return void res.writeHead(416, { 'content-range': `bytes */${total}` }).end();
      }
      status = 206;
    }
    const body = bytes.subarray(start, end + 1);
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream', 'content-length': body.length, 'accept-ranges': 'bytes', etag: `"${t.backupId}"`,
    };
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${total}`;
    rec.status = status;
    res.writeHead(status, headers);

    const reset = resets.find((r) => r.times > 0);
    if (reset) reset.times--;
    const limit = reset ? Math.min(reset.afterBytes, body.length) : body.length;
    let off = 0;
    const pump = () => {
      while (off < limit) {
        const chunk = body.subarray(off, Math.min(limit, off + 16 * 1024));
        off += chunk.length;
        if (off >= limit && reset) {
          // Flush what was promised, then drop the TCP connection the way a flaky network does.
          res.write(chunk, () => res.socket?.destroy());
          return;
        }
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (reset) res.socket?.destroy();
      else res.end();
    };
    pump();
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks)).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { message: `emulator bug: ${String(err)}`, type: 'internal_error' });
        else res.destroy();
      });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    const text = raw.toString('utf8');
    let body: unknown;
    let badJson = false;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
        badJson = true;
      }
    }
    const rec: RecordedRequest = {
      method, path: u.pathname, query: Object.fromEntries(u.searchParams), body, status: 0,
      range: req.headers.range, hadToken: req.headers['x-auth-token'] !== undefined, at: Date.now(),
    };
    requests.push(rec);
    const line = `${method} ${u.pathname}`;
    res.on('finish', () => (rec.status ||= res.statusCode));

    const s = slow.find((d) => d.count > 0 && matches(d.pattern, line));
    if (s) {
      s.count--;
      await new Promise((r) => setTimeout(r, s.ms));
    }
    advance();

    const dl = /^\/download\/([0-9a-f]+)(\/.*)?$/.exec(u.pathname);
    if (!dl && !u.pathname.startsWith('/rdb/v1/regions/')) {
      return sendJson(res, 404, { message: 'resource is not found', type: 'not_found' });
    }
    // Presigned download URLs need no token; every API path does.
    if (!dl && req.headers['x-auth-token'] !== opts.secretKey) {
      return sendJson(res, 401, {
        message: 'authentication is denied', method: 'api_key',
        reason: req.headers['x-auth-token'] === undefined ? 'not_found' : 'invalid_argument', type: 'denied_authentication',
      });
    }
    const rl = rateLimits.find((r) => r.count > 0 && matches(r.pattern, line));
    if (rl) {
      rl.count--;
      return sendJson(res, 429, undefined, { 'x-envoy-ratelimited': 'true', 'content-length': '0' });
    }
    const f = failures.find((x) => x.count > 0 && matches(x.pattern, line));
    if (f) {
      f.count--;
      const b = f.body ?? JSON.stringify({ message: 'internal server error', type: 'internal_error' });
      return void res.writeHead(f.status, { 'content-type': f.contentType ?? 'application/json', 'content-length': Buffer.byteLength(b) }).end(b);
    }
    if (dl) {
      if (method !== 'GET') return sendJson(res, 405, undefined);
      return download(req, res, dl[1]!, rec);
    }

    const m = /^\/rdb\/v1\/regions\/([^/]+)(\/.*)$/.exec(u.pathname);
    if (!m) return sendJson(res, 404, { message: 'resource is not found', type: 'not_found' });
    const region = m[1]!;
    try {
      if (!REGIONS.has(region)) throw invalid('region', `unknown region; use one of ${[...REGIONS].join(', ')}`);
      if (badJson) throw new ApiError(400, { message: 'invalid JSON body', type: 'invalid_request_error' });
      const obj = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
      const [status, out] = await api(method, region, m[2]!, u.searchParams, obj);
      sendJson(res, status, out);
    } catch (err) {
      if (err instanceof ApiError) return sendJson(res, err.status, err.body);
      throw err;
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const faults: EmulatorFaults = {
    resetDownloadAfter(afterBytes, times = 1) {
      resets.push({ afterBytes, times });
    },
    failNext(pattern, count, o = {}) {
      failures.push({ pattern, count, status: o.status ?? 500, body: o.body, contentType: o.contentType });
    },
    rateLimitNext(pattern, count) {
      rateLimits.push({ pattern, count });
    },
    delay(pattern, ms, count = Number.POSITIVE_INFINITY) {
      slow.push({ pattern, ms, count });
    },
    failNextExport(count = 1) {
      exportErrors += count;
    },
    revokeDownloadUrls() {
      for (const t of tokens.values()) t.revoked = true;
    },
    clear() {
      resets = [];
      failures = [];
      rateLimits = [];
      slow = [];
      exportErrors = 0;
    },
  };

  return {
    url: base,
    requests,
    faults,
    instances,
    backups,
    snapshots,
    addInstance,
    addSnapshot,
    calls: (pattern) => requests.filter((r) => matches(pattern, `${r.method} ${r.path}`)),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
