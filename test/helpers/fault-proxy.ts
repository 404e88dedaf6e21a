// A fault-injecting HTTP proxy in front of the test radosgw, for tests of what copycat-db does when S3 misbehaves.
//
// Point the CLI at it with AWS_ENDPOINT_URL_S3=proxy.endpoint. Requests are forwarded byte for byte with the Host
// header the client sent (SigV4 signs the Host header: radosgw checks the signature against the Host it receives, so
// the proxy's host:port, as signed by the client, still verifies). Faults are armed per request predicate:
//
//   proxy.fault({ method: 'PUT', path: 'partNumber=' }, { kind: 'status', status: 503 }, { times: 2 });
//   proxy.fault({ method: 'GET', path: '.backup' }, { kind: 'truncate', afterBytes: 1000 });
//
// Every socket (client side and upstream) is destroyed by close(), so a fault that holds a request open never
// outlives the test.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

export interface FaultMatch {
  /** HTTP method (GET, PUT, POST, HEAD, DELETE). */
  readonly method?: string;
  /** Substring(s) of the request URL (path and query), e.g. 'partNumber=', '?uploads', '.manifest.json', 'versionId'. All must occur. */
  readonly path?: string | readonly string[];
  /** Substring(s) that must not occur in the request URL. */
  readonly notPath?: string | readonly string[];
  /** Any other condition. */
  readonly test?: (req: IncomingMessage) => boolean;
  /** Fire from the Nth request matching the above (1-based, default 1). */
  readonly nth?: number;
}

export type FaultAction =
  /** Answer this status with an S3-style XML error body (the request is not forwarded; its body is read and dropped). */
  | { readonly kind: 'status'; readonly status: number; readonly code?: string }
  /**
   * Forward the request, then destroy the client's connection (TCP RST) after `afterBytes` bytes of the response
   * body; with afterBytes undefined, before any of the response (the server acted, the client never hears).
   */
  | { readonly kind: 'reset'; readonly afterBytes?: number }
  /** Never answer: the request is not forwarded, its body is read, the connection stays open until close(). */
  | { readonly kind: 'hang' }
  /** Forward, send the full headers (so Content-Length announces the whole body) but only `afterBytes` bytes, then end the connection cleanly. */
  | { readonly kind: 'truncate'; readonly afterBytes: number }
  /** Forward, XOR the response body's byte at `offset` with `xor` (default 0x01). */
  | { readonly kind: 'flip'; readonly offset: number; readonly xor?: number };

export interface FaultOptions {
  /** How many matching requests get the fault (default 1; Infinity for all from the Nth on). */
  readonly times?: number;
}

export interface SeenRequest {
  readonly seq: number;
  readonly method: string;
  readonly url: string;
  readonly at: number;
  /** The fault applied, if any ("status 503", "hang", …). */
  fault?: string;
  /** Status the client was sent (undefined when none was: hang, reset before headers). */
  status?: number;
}

export interface Fault {
  readonly match: FaultMatch;
  readonly action: FaultAction;
  /** Requests that matched the predicate so far. */
  matched: number;
  /** Requests the fault was applied to so far. */
  applied: number;
  readonly times: number;
}

export interface FaultProxy {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly port: number;
  /** Every request seen, in arrival order. */
  readonly requests: SeenRequest[];
  /** Arms a fault; returns it (its `applied` counter says whether it fired). */
  fault(match: FaultMatch, action: FaultAction, opts?: FaultOptions): Fault;
  /** Disarms every fault (or one). */
  clear(fault?: Fault): void;
  /** Forgets the recorded requests. */
  resetLog(): void;
  /** Requests whose method and URL match (no nth). */
  seen(match: FaultMatch): SeenRequest[];
  /** Stops listening and destroys every socket, held requests included. Safe to call more than once. */
  close(): Promise<void>;
}

const list = (v: string | readonly string[] | undefined): readonly string[] => (v === undefined ? [] : typeof v === 'string' ? [v] : v);

function matches(m: FaultMatch, method: string, url: string, req?: IncomingMessage): boolean {
  if (m.method && m.method.toUpperCase() !== method.toUpperCase()) return false;
  if (!list(m.path).every((s) => url.includes(s))) return false;
  if (list(m.notPath).some((s) => url.includes(s))) return false;
  if (m.test && (!req || !m.test(req))) return false;
  return true;
}

function describe(action: FaultAction): string {
  switch (action.kind) {
    case 'status': return `status ${action.status}`;
    case 'reset': return action.afterBytes === undefined ? 'reset before response' : `reset after ${action.afterBytes} bytes`;
    case 'hang': return 'hang';
    case 'truncate': return `truncate after ${action.afterBytes} bytes`;
    case 'flip': return `flip byte ${action.offset}`;
  }
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'expect', 'upgrade', 'te', 'trailer']);

/** Response headers of the upstream answer, as a flat raw list, without hop-by-hop headers. */
function forwardHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (HOP_BY_HOP.has(raw[i]!.toLowerCase())) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/** XORs one byte of the stream at an absolute offset. */
class FlipByte extends Transform {
  private pos = 0;
  constructor(private readonly offset: number, private readonly xor: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const end = this.pos + chunk.length;
    if (this.offset >= this.pos && this.offset < end) {
      const copy = Buffer.from(chunk);
      copy[this.offset - this.pos]! ^= this.xor;
      chunk = copy;
    }
    this.pos = end;
    cb(null, chunk);
  }
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const faults: Fault[] = [];
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const upstreamRequests = new Set<http.ClientRequest>();
  const agent = new http.Agent({ keepAlive: false });
  let seq = 0;
  let closed = false;

  const pick = (req: IncomingMessage): Fault | undefined => {
    let chosen: Fault | undefined;
    for (const f of faults) {
      if (!matches(f.match, req.method ?? 'GET', req.url ?? '/', req)) continue;
      f.matched += 1;
      const nth = f.match.nth ?? 1;
      if (!chosen && f.matched >= nth && f.applied < f.times) {
        f.applied += 1;
        chosen = f;
      }
    }
    return chosen;
  };

  const forward = (req: IncomingMessage, onResponse: (res: IncomingMessage) => void, onError: (err: Error) => void): http.ClientRequest => {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      headers[name] = value; // host included, exactly as the client signed it
    }
    const up = http.request({
      host: upstream.hostname,
      port: upstream.port || 80,
      method: req.method,
      path: req.url,
      headers,
      agent,
      setHost: false,
    });
    upstreamRequests.add(up);
    up.on('close', () => upstreamRequests.delete(up));
    up.on('response', onResponse);
    up.on('error', onError);
    req.pipe(up);
    return up;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const seen: SeenRequest = { seq: ++seq, method: req.method ?? 'GET', url: req.url ?? '/', at: Date.now() };
    requests.push(seen);
    const fault = closed ? undefined : pick(req);
    const action = fault?.action;
    if (action) seen.fault = describe(action);
    const socket = req.socket;

    if (action?.kind === 'hang') {
      req.resume(); // the client finishes sending and waits for an answer that never comes
      return;
    }
    if (action?.kind === 'status') {
      req.resume();
      req.on('end', () => {
        const code = action.code ?? (action.status === 503 ? 'SlowDown' : 'InternalError');
        const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected by the test fault proxy</Message>` +
          `<RequestId>fault-${seen.seq}</RequestId><HostId>fault-proxy</HostId></Error>`;
        seen.status = action.status;
        res.writeHead(action.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), 'x-amz-request-id': `fault-${seen.seq}` });
        res.end(req.method === 'HEAD' ? undefined : body);
      });
      return;
    }

    const upReq = forward(req, (up) => {
      if (action?.kind === 'reset' && action.afterBytes === undefined) {
        // The server did the work; the client never hears about it.
        up.resume();
        up.on('end', () => socket.resetAndDestroy());
        return;
      }
      seen.status = up.statusCode;
      res.writeHead(up.statusCode ?? 502, up.statusMessage, forwardHeaders(up.rawHeaders));
      res.flushHeaders();
      if (action?.kind === 'reset' || action?.kind === 'truncate') {
        const limit = action.afterBytes!;
        let sent = 0;
        let done = false;
        const cut = (): void => {
          if (done) return;
          done = true;
          up.destroy();
          if (action.kind === 'reset') socket.resetAndDestroy();
          else socket.end(); // a clean FIN: the client sees a body shorter than its Content-Length
        };
        if (limit === 0) return cut();
        up.on('data', (chunk: Buffer) => {
          if (done) return;
          const room = limit - sent;
          const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
          sent += part.length;
          if (sent >= limit) {
            // The last bytes before the cut, then the cut once they are on their way.
            res.write(part, () => cut());
            up.pause();
          } else if (!res.write(part)) {
            up.pause();
            res.once('drain', () => up.resume());
          }
        });
        up.on('end', () => {
          // The body was shorter than the cut point: pass it whole.
          if (!done) res.end();
        });
        return;
      }
      if (action?.kind === 'flip') {
        up.pipe(new FlipByte(action.offset, action.xor ?? 0x01)).pipe(res);
        return;
      }
      up.pipe(res);
    }, () => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('fault proxy: upstream failed');
      } else {
        socket.destroy();
      }
    });
    // The client went away (or was cut off): do not leave the upstream request behind.
    res.on('close', () => {
      if (!res.writableFinished) upReq.destroy();
    });
  };

  const server = http.createServer(handle);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    requests,
    fault(match, action, opts = {}) {
      const f: Fault = { match, action, matched: 0, applied: 0, times: opts.times ?? 1 };
      faults.push(f);
      return f;
    },
    clear(fault) {
      if (!fault) faults.length = 0;
      else {
        const i = faults.indexOf(fault);
        if (i >= 0) faults.splice(i, 1);
      }
    },
    resetLog() {
      requests.length = 0;
    },
    seen(match) {
      return requests.filter((r) => matches({ ...match, test: undefined }, r.method, r.url));
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        closed = true;
        faults.length = 0;
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        for (const up of upstreamRequests) up.destroy();
        agent.destroy();
      });
      return closing;
    },
  };
}
