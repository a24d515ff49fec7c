/**
 * A real HTTP(S) server on 127.0.0.1 for tests and the demo, with scripted misbehaviour.
 *
 *   const srv = await startHttpServer({ files: { '/a.tar.gz': bytes } });
 *   srv.setFault('/a.tar.gz', { kind: 'drop', afterBytes: 500, times: 1 });
 *   … fetch srv.url + '/a.tar.gz' …
 *   srv.requests   // every request: method, path, headers, status, bytes sent
 *   await srv.close();
 *
 * Files are served with a strong ETag (derived from the bytes) and a fixed Last-Modified;
 * single `Range: bytes=N-` / `bytes=N-M` requests get 206 + Content-Range, honouring
 * `If-Range`. Faults are per path; each applies to `times` requests (default: all) after
 * skipping the first `skip` requests for that path, and several may apply at once.
 * A mirror is simply a second server.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { join, normalize } from 'node:path';

export type Fault =
  /** Destroy the socket after sending `afterBytes` body bytes (Content-Length announces the whole). */
  | { kind: 'drop'; afterBytes: number }
  /** End the response gracefully (FIN) after `afterBytes` body bytes, Content-Length announcing the whole. */
  | { kind: 'truncate'; afterBytes: number }
  /** Answer with this status (and an optional Retry-After, seconds or an HTTP date). */
  | { kind: 'status'; status: number; retryAfter?: string }
  /** Announce this Content-Length but send the real body (more or fewer bytes, then close). */
  | { kind: 'content-length'; declared: number }
  /** Ignore Range: always answer 200 with the whole body. */
  | { kind: 'ignore-range' }
  /** Ignore If-Range: answer a Range with 206 even if the validator no longer matches (a broken server). */
  | { kind: 'ignore-if-range' }
  /** Answer a Range request with 206 but this (wrong) Content-Range start/total. */
  | { kind: 'wrong-content-range'; start?: number; total?: number }
  /** Send headers (and `afterBytes` body bytes), then nothing until the client gives up. */
  | { kind: 'stall'; afterBytes?: number }
  /** Redirect to a path on this server or an absolute URL. */
  | { kind: 'redirect'; to: string; status?: 301 | 302 | 303 | 307 | 308 }
  /** Flip one bit of the byte at `offset` (length and headers stay right). */
  | { kind: 'flip-byte'; offset: number }
  /** Serve these bytes instead of the file (the ETag follows the bytes: "content changed"). */
  | { kind: 'body'; body: Buffer | string }
  /** Send the body slowly: `bytes` per chunk, `delayMs` between chunks (progress output). */
  | { kind: 'slow'; bytes: number; delayMs: number }
  /** Replace the ETag (content unchanged). `null` sends none. */
  | { kind: 'etag'; etag: string | null };

export type ScriptedFault = Fault & { times?: number; skip?: number };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  status?: number;
  /** Body bytes written to the socket for this request. */
  bytesSent: number;
  /** Time the request arrived (ms since epoch). */
  at: number;
}

export interface HttpServerOptions {
  files?: Record<string, Buffer | string>;
  /** Serve files below this directory (after `files`). */
  dir?: string;
  /** Serve over TLS with this key and certificate (see makeSelfSignedCert). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Bytes per write; small chunks make mid-body faults land mid-body. */
  chunkSize?: number;
  /** Last-Modified for every file. */
  lastModified?: Date;
}

export interface TestHttpServer {
  /** `http://127.0.0.1:<port>` (or https). */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** TCP connections accepted so far (counts TLS handshakes that never became a request). */
  readonly connections: number;
  /** Requests for one path. */
  requestsFor(path: string): RecordedRequest[];
  setFile(path: string, body: Buffer | string): void;
  removeFile(path: string): void;
  setFault(path: string, faults: ScriptedFault | ScriptedFault[]): void;
  clearFaults(path?: string): void;
  /** Resolves once the server has written at least `n` body bytes for `path` (sum over requests). */
  waitForBytes(path: string, n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export const etagOf = (body: Buffer) => `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;

interface FaultState {
  fault: ScriptedFault;
  seen: number;
  used: number;
}

export async function startHttpServer(opts: HttpServerOptions = {}): Promise<TestHttpServer> {
  const files = new Map<string, Buffer>();
  for (const [p, b] of Object.entries(opts.files ?? {})) files.set(p, Buffer.from(b));
  const faults = new Map<string, FaultState[]>();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const chunkSize = opts.chunkSize ?? 16 * 1024;
  const lastModified = (opts.lastModified ?? new Date('2024-01-02T03:04:05Z')).toUTCString();
  const byteWaiters: Array<() => void> = [];

  async function lookup(path: string): Promise<Buffer | undefined> {
    const f = files.get(path);
    if (f) return f;
    if (!opts.dir) return undefined;
    const rel = normalize(decodeURIComponent(path)).replace(/^(\.\.(\/|$))+/, '');
    const abs = join(opts.dir, rel);
    if (!abs.startsWith(opts.dir)) return undefined;
    const st = await stat(abs).catch(() => undefined);
    return st?.isFile() ? readFile(abs) : undefined;
  }

  /** The faults that apply to this request (consuming their counts). */
  function activeFaults(path: string): Fault[] {
    const out: Fault[] = [];
    for (const st of faults.get(path) ?? []) {
      st.seen++;
      if (st.seen <= (st.fault.skip ?? 0)) continue;
      if (st.used >= (st.fault.times ?? Infinity)) continue;
      st.used++;
      out.push(st.fault);
    }
    return out;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, rec: RecordedRequest) {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const active = activeFaults(path);
    const find = <K extends Fault['kind']>(k: K) =>
      active.find((f) => f.kind === k) as Extract<Fault, { kind: K }> | undefined;
    const send = (status: number, headers: Record<string, string | number>, body?: string) => {
      rec.status = status;
      res.writeHead(status, headers);
      res.end(body);
    };

    const redirect = find('redirect');
    if (redirect) return send(redirect.status ?? 302, { location: redirect.to, 'content-length': 0 });
    const status = find('status');
    if (status)
      return send(
        status.status,
        {
          'content-type': 'text/plain',
          ...(status.retryAfter !== undefined ? { 'retry-after': status.retryAfter } : {}),
        },
        `scripted ${status.status}\n`,
      );

    let body = await lookup(path);
    const alt = find('body');
    if (alt) body = Buffer.from(alt.body);
    if (!body) return send(404, { 'content-type': 'text/plain' }, 'not found\n');
    const etagFault = find('etag');
    const etag = etagFault ? etagFault.etag : etagOf(body);
    const flip = find('flip-byte');
    if (flip && flip.offset < body.length) {
      body = Buffer.from(body);
      body[flip.offset] = body[flip.offset]! ^ 0x01; // offset < length: checked above
    }

    // Range handling (single range only).
    let start = 0;
    let end = body.length - 1;
    let code = 200;
    const range = req.headers.range;
    const ifRange = req.headers['if-range'] as string | undefined;
    const rangeValid =
      !ifRange ||
      !!find('ignore-if-range') ||
      (ifRange.startsWith('"') || ifRange.startsWith('W/') ? ifRange === etag : ifRange === lastModified);
    if (range && rangeValid && !find('ignore-range')) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (m) {
        start = Number(m[1]);
        end = m[2] ? Math.min(Number(m[2]), body.length - 1) : body.length - 1;
        if (start >= body.length) return send(416, { 'content-range': `bytes */${body.length}` });
        code = 206;
      }
    }
    const slice = body.subarray(start, end + 1);
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
      'last-modified': lastModified,
      'content-length': slice.length,
    };
    if (etag) headers.etag = etag;
    if (code === 206) {
      const wrong = find('wrong-content-range');
      headers['content-range'] = `bytes ${wrong?.start ?? start}-${end}/${wrong?.total ?? body.length}`;
    }
    const cl = find('content-length');
    if (cl) headers['content-length'] = cl.declared;
    rec.status = code;
    if (req.method === 'HEAD') {
      res.writeHead(code, headers);
      return res.end();
    }

    const drop = find('drop');
    const trunc = find('truncate');
    const stall = find('stall');
    let limit = slice.length;
    if (drop) limit = Math.min(limit, drop.afterBytes);
    if (trunc) limit = Math.min(limit, trunc.afterBytes);
    if (stall) limit = Math.min(limit, stall.afterBytes ?? 0);

    // A lying Content-Length has to bypass Node's own accounting: write the raw response.
    // (Over TLS, res.socket is the TLS socket, so this works for https too.)
    const sock = res.socket!;
    const head =
      `HTTP/1.1 ${code} ${code === 206 ? 'Partial Content' : 'OK'}\r\n` +
      Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('') +
      `connection: close\r\n\r\n`;
    sock.write(head);
    const slow = find('slow');
    const step = slow ? slow.bytes : chunkSize;
    for (let off = 0; off < limit; off += step) {
      if (slow && off > 0) await new Promise((r) => setTimeout(r, slow.delayMs));
      const piece = slice.subarray(off, Math.min(limit, off + step));
      rec.bytesSent += piece.length;
      const ok = sock.write(piece);
      for (const w of byteWaiters.splice(0)) w();
      if (!ok)
        await new Promise<void>((r) => {
          sock.once('drain', r);
          sock.once('close', r);
        });
      if (sock.destroyed) return;
    }
    if (stall) return; // silence; close() destroys the socket
    if (drop) return void sock.destroy();
    sock.end();
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: new URL(req.url ?? '/', 'http://x').pathname,
      headers: { ...req.headers },
      bytesSent: 0,
      at: Date.now(),
    };
    requests.push(rec);
    handle(req, res, rec).catch(() => res.socket?.destroy());
  };

  const server: Server = opts.tls
    ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert }, onRequest)
    : createHttpServer(onRequest);
  // Bodies are written raw (so Content-Length can lie), which leaves Node's parser out of
  // step: every body response says `connection: close` and ends the socket.
  let connections = 0;
  server.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_e, s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;

  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    get connections() {
      return connections;
    },
    requestsFor: (p) => requests.filter((r) => r.path === p),
    setFile: (p, b) => void files.set(p, Buffer.from(b)),
    removeFile: (p) => void files.delete(p),
    setFault(p, f) {
      faults.set(
        p,
        (Array.isArray(f) ? f : [f]).map((fault) => ({ fault, seen: 0, used: 0 })),
      );
    },
    clearFaults(p) {
      if (p) faults.delete(p);
      else faults.clear();
    },
    async waitForBytes(p, n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      const total = () => requests.filter((r) => r.path === p).reduce((s, r) => s + r.bytesSent, 0);
      while (total() < n) {
        if (Date.now() > deadline) throw new Error(`server sent only ${total()} of ${n} bytes for ${p}`);
        await new Promise<void>((r) => {
          byteWaiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * A self-signed certificate for 127.0.0.1/localhost (or `hosts`), made with the system
 * `openssl`. Returns undefined when openssl is missing.
 */
export async function makeSelfSignedCert(
  dir: string,
  hosts: string[] = ['IP:127.0.0.1', 'DNS:localhost'],
): Promise<{ key: string; cert: string } | undefined> {
  const { spawnSync } = await import('node:child_process');
  const keyFile = join(dir, `key-${Math.random().toString(36).slice(2)}.pem`);
  const certFile = `${keyFile}.crt`;
  const cn = hosts[0]!.replace(/^(IP|DNS):/, '');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=${hosts.join(',')}`,
    ],
    { stdio: 'ignore' },
  );
  if (r.status !== 0) return undefined;
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8') };
}
