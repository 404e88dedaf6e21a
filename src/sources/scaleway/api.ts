/**
 * Scaleway RDB HTTP client: one place for auth, retries and turning error bodies into one readable line.
 * Uses undici's `request` (not fetch) so tests and callers can hand in their own dispatcher.
 */
import { request, type Dispatcher } from 'undici';
import { CopycatError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { silentLogger } from '../../log.js';
import { backoffDelay, sleep, throwIfAborted, type Backoff } from './timing.js';

export type BackupStatus = 'unknown' | 'creating' | 'ready' | 'restoring' | 'deleting' | 'error' | 'exporting' | 'locked';

export interface DatabaseBackup {
  id: string;
  instance_id: string;
  database_name: string;
  name: string;
  status: BackupStatus | string;
  size: number | null;
  expires_at: string | null;
  created_at: string | null;
  updated_at: string | null;
  instance_name: string;
  download_url: string | null;
  download_url_expires_at: string | null;
  region: string;
  same_region: boolean;
}

export interface Snapshot {
  id: string;
  instance_id: string;
  name: string;
  status: string;
  size: number | null;
  created_at: string | null;
  expires_at?: string | null;
  region: string;
}

/** A database of an instance, as GET /instances/{id}/databases lists them. */
export interface InstanceDatabase {
  name: string;
  owner: string;
  managed: boolean;
  size: number;
}

export interface Endpoint {
  id: string;
  ip: string | null;
  port: number;
  name: string | null;
  hostname?: string | null;
  private_network?: { private_network_id: string; service_ip?: string; zone?: string } | null;
  load_balancer?: Record<string, never> | null;
  direct_access?: Record<string, never> | null;
}

export interface Instance {
  id: string;
  name: string;
  status: string;
  engine: string;
  region: string;
  is_ha_cluster?: boolean;
  node_type?: string;
  endpoints: Endpoint[];
}

export interface PrivateNetworkSpec {
  private_network_id: string;
  /** Fixed address in the private network (CIDR); without it Scaleway's IPAM picks one. */
  service_ip?: string;
  ipam_config?: Record<string, never>;
}

/** Body shapes Scaleway documents for non-2xx answers. */
interface ScalewayErrorBody {
  message?: string;
  type?: string;
  resource?: string;
  resource_id?: string;
  current_state?: string;
  help_message?: string;
  details?: Array<{ argument_name?: string; reason?: string; help_message?: string; resource?: string; quota?: number; current?: number; action?: string }>;
  fields?: Record<string, string[] | string>;
  method?: string;
  reason?: string;
}

export class ScalewayApiError extends CopycatError {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly type: string | undefined,
    options?: { cause?: unknown; body?: Record<string, unknown> },
  ) {
    super('SCALEWAY_API', message, options);
    this.name = 'ScalewayApiError';
    this.body = options?.body;
  }

  /** The parsed error body (resource, resource_id, current_state...), when Scaleway sent JSON. */
  readonly body: Record<string, unknown> | undefined;
}

export interface ApiRetryOptions extends Partial<Backoff> {
  /** Attempts for one call when the API answers 5xx or the connection fails (default 6). */
  attempts?: number;
  /** Attempts when the API answers 429 (default 20): rate limits pass, so they get more patience. */
  rateLimitAttempts?: number;
}

export interface ScalewayApiOptions {
  apiUrl: string;
  region: string;
  secretKey: string;
  signal?: AbortSignal;
  log?: Logger;
  dispatcher?: Dispatcher;
  retry?: ApiRetryOptions;
  /** Per-request headers/body timeout (default 60 s): the RDB API answers fast or not at all. */
  requestTimeoutMs?: number;
}

type Query = Record<string, string | number | boolean | undefined>;

const TRANSIENT_NETWORK = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/** Failures where the request certainly never reached Scaleway, so even a non-idempotent call may be sent again. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
  }
  return codes;
}

/** Connection-level failures worth another try (as opposed to our own abort or a programming error). */
export function isTransientNetworkError(err: unknown): boolean {
  return errorCodes(err).some((c) => TRANSIENT_NETWORK.has(c));
}

/** One line out of a Scaleway error body: "invalid_arguments: name: must not contain dots". */
export function describeScalewayError(status: number, statusText: string, text: string): { type?: string; text: string; body?: Record<string, unknown> } {
  let body: ScalewayErrorBody | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as ScalewayErrorBody;
  } catch {
    // Not JSON (a gateway page, an empty body): the HTTP status is all there is.
  }
  if (!body || (!body.type && !body.message)) return { text: `HTTP ${status}${statusText ? ` ${statusText}` : ''}` };

  const type = body.type;
  const parts: string[] = [];
  const details = Array.isArray(body.details) ? body.details : [];
  const fields = body.fields && typeof body.fields === 'object' ? Object.entries(body.fields) : [];
  const subject = [body.resource, body.resource_id].filter(Boolean).join(' ');
  switch (type) {
    case 'invalid_arguments':
      for (const d of details) parts.push(`${d.argument_name ?? '?'}: ${d.help_message || d.reason || 'invalid'}`);
      break;
    case 'quotas_exceeded':
      for (const d of details) parts.push(`${d.resource ?? 'quota'}: ${d.current ?? '?'}/${d.quota ?? '?'} used`);
      break;
    case 'permissions_denied':
      for (const d of details) parts.push(`missing permission to ${d.action ?? '?'} ${d.resource ?? ''}`.trim());
      break;
    case 'transient_state':
      parts.push(`${subject || 'resource'} is ${body.current_state ?? 'in a transient state'}`);
      break;
  }
  for (const [field, msgs] of fields) parts.push(`${field}: ${Array.isArray(msgs) ? msgs.join(', ') : String(msgs)}`);
  // Once details are listed the generic message ("invalid argument(s)") adds nothing; otherwise it is the news.
  if (parts.length === 0) parts.push(subject && body.message ? `${subject}: ${body.message}` : body.message || subject || `HTTP ${status}`);
  if (type === 'denied_authentication') parts.push('check SCW_SECRET_KEY (or secret_key in the Scaleway config.yaml)');
  if (type === 'permissions_denied') parts.push('the API key needs RelationalDatabasesFullAccess on the project');
  const text2 = parts.join('; ');
  return { type, text: type ? `${type}: ${text2}` : text2, body: body as Record<string, unknown> };
}

export class ScalewayApi {
  private readonly base: string;
  private readonly retry: Required<ApiRetryOptions>;

  constructor(private readonly opts: ScalewayApiOptions) {
    this.base = `${opts.apiUrl.replace(/\/+$/, '')}`;
    this.retry = {
      attempts: opts.retry?.attempts ?? 6,
      rateLimitAttempts: opts.retry?.rateLimitAttempts ?? 20,
      initialMs: opts.retry?.initialMs ?? 1000,
      maxMs: opts.retry?.maxMs ?? 30_000,
      factor: opts.retry?.factor ?? 2,
    };
  }

  get region(): string {
    return this.opts.region;
  }

  /** The path as it appears in messages: `/rdb/v1/regions/fr-par/backups`. */
  path(rel: string): string {
    return `/rdb/v1/regions/${this.opts.region}${rel}`;
  }

  /**
   * `idempotent: false` is for calls whose duplicate costs money (create-instance): those are retried only when the
   * request provably never arrived (connection refused, DNS, connect timeout) or was turned away (429, 503).
   */
  async call<T>(method: Dispatcher.HttpMethod, rel: string, opts: { query?: Query; body?: unknown; idempotent?: boolean } = {}): Promise<T> {
    const idempotent = opts.idempotent ?? true;
    const path = this.path(rel);
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) qs.set(k, String(v));
    const url = `${this.base}${path}${qs.size ? `?${qs}` : ''}`;
    const what = `Scaleway API ${method} ${path}`;
    const log = this.opts.log ?? silentLogger;
    const timeout = this.opts.requestTimeoutMs ?? 60_000;
    let failures = 0;
    let rateLimited = 0;

    for (;;) {
      throwIfAborted(this.opts.signal);
      let status: number;
      let text: string;
      let statusText = '';
      try {
        const res = await request(url, {
          method,
          headers: {
            'x-auth-token': this.opts.secretKey,
            accept: 'application/json',
            ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
          signal: this.opts.signal,
          dispatcher: this.opts.dispatcher,
          headersTimeout: timeout,
          bodyTimeout: timeout,
        });
        status = res.statusCode;
        statusText = res.statusText ?? '';
        text = await res.body.text();
      } catch (err) {
        throwIfAborted(this.opts.signal);
        if (!isTransientNetworkError(err)) throw err;
        failures++;
        const reason = errorSummary(err);
        if (!idempotent && !errorCodes(err).some((c) => NEVER_SENT.has(c))) {
          throw new ScalewayApiError(`${what}: connection broke and the call may have been carried out (${reason}); ` +
            'not retried, to avoid a duplicate: check the Scaleway console', undefined, undefined, { cause: err });
        }
        if (failures >= this.retry.attempts) {
          throw new ScalewayApiError(`${what}: connection failed ${failures} times, last: ${reason}`, undefined, undefined, { cause: err });
        }
        const wait = backoffDelay(this.retry, failures - 1);
        log.log('warn', 'scaleway.api.retry', { method, path, reason, attempt: failures, waitMs: wait });
        await sleep(wait, this.opts.signal);
        continue;
      }

      if (status >= 200 && status < 300) {
        if (!text) return undefined as T;
        try {
          return JSON.parse(text) as T;
        } catch (err) {
          throw new ScalewayApiError(`${what}: answered ${status} with a body that is not JSON`, status, undefined, { cause: err });
        }
      }

      if (status === 429) {
        rateLimited++;
        if (rateLimited >= this.retry.rateLimitAttempts) {
          throw new ScalewayApiError(`${what}: still rate limited (429) after ${rateLimited} attempts`, status, 'rate_limited');
        }
        // Scaleway's edge proxy answers 429 bare (no Retry-After, no body): the wait is ours to choose.
        const wait = backoffDelay(this.retry, rateLimited - 1);
        log.log('warn', 'scaleway.api.rate_limited', { method, path, waitMs: wait, attempt: rateLimited });
        await sleep(wait, this.opts.signal);
        continue;
      }

      const described = describeScalewayError(status, statusText, text);
      if (status >= 500 && (idempotent || status === 503)) {
        failures++;
        if (failures < this.retry.attempts) {
          const wait = backoffDelay(this.retry, failures - 1);
          log.log('warn', 'scaleway.api.retry', { method, path, status, reason: described.text, attempt: failures, waitMs: wait });
          await sleep(wait, this.opts.signal);
          continue;
        }
        throw new ScalewayApiError(`${what}: ${described.text} (after ${failures} attempts)`, status, described.type, { body: described.body });
      }
      const unsure = status >= 500 && !idempotent ? ' (not retried: it may have been carried out; check the Scaleway console)' : '';
      throw new ScalewayApiError(`${what}: ${described.text}${unsure}`, status, described.type, { body: described.body });
    }
  }

  createBackup(body: { instance_id: string; database_name: string; name: string; expires_at: string }): Promise<DatabaseBackup> {
    return this.call('POST', '/backups', { body });
  }

  getBackup(id: string): Promise<DatabaseBackup> {
    return this.call('GET', `/backups/${enc(id)}`);
  }

  exportBackup(id: string): Promise<DatabaseBackup> {
    return this.call('POST', `/backups/${enc(id)}/export`, { body: {} });
  }

  /** Every item of a paginated listing: page after page (100 each) until total_count are in, or a page is empty. */
  private async listAll<T>(rel: string, field: string, query: Query): Promise<T[]> {
    const items: T[] = [];
    for (let page = 1; ; page++) {
      const res = await this.call<Record<string, unknown>>('GET', rel, { query: { ...query, page, page_size: 100 } });
      const got = (res[field] as T[] | undefined) ?? [];
      items.push(...got);
      if (got.length === 0 || items.length >= Number(res.total_count ?? 0)) return items;
    }
  }

  listSnapshots(query: { instance_id: string; order_by?: string }): Promise<Snapshot[]> {
    return this.listAll('/snapshots', 'snapshots', query);
  }

  listDatabases(instanceId: string): Promise<InstanceDatabase[]> {
    return this.listAll(`/instances/${enc(instanceId)}/databases`, 'databases', {});
  }

  createInstanceFromSnapshot(snapshotId: string, body: { instance_name: string; is_ha_cluster: boolean; node_type?: string }): Promise<Instance> {
    // A duplicate here is a billed instance this run does not know about, hence no blind retries.
    return this.call('POST', `/snapshots/${enc(snapshotId)}/create-instance`, { body, idempotent: false });
  }

  getInstance(id: string): Promise<Instance> {
    return this.call('GET', `/instances/${enc(id)}`);
  }

  deleteInstance(id: string): Promise<Instance> {
    return this.call('DELETE', `/instances/${enc(id)}`);
  }

  deleteEndpoint(endpointId: string): Promise<void> {
    return this.call('DELETE', `/endpoints/${enc(endpointId)}`);
  }

  createPrivateEndpoint(instanceId: string, privateNetwork: PrivateNetworkSpec): Promise<Endpoint> {
    return this.call('POST', `/instances/${enc(instanceId)}/endpoints`, { body: { endpoint_spec: { private_network: privateNetwork } } });
  }
}

/** IDs come from config and API answers; encoding keeps a stray "/" or "?" from turning into another call. */
function enc(id: string): string {
  return encodeURIComponent(id);
}

export function errorSummary(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return `${typeof code === 'string' ? `${code} ` : ''}${err.message}`.trim();
}
