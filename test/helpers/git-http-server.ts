/**
 * Git's smart HTTP protocol on 127.0.0.1, served by the real `git http-backend` (as CGI),
 * with one scripted misbehaviour: `stall` makes the server take a request and then send
 * nothing, never closing, so only the client's own bounds can end the wait. `packBytesPerSecond`
 * sends each pack no faster than that, so a clone lasts long enough to watch its progress.
 *
 *   const srv = await startGitHttpServer(rootDir);   // serves rootDir/<name> as /<name>
 *   srv.stall = 'pack';        // answer info/refs and ls-refs, stall the pack request
 *   srv.stall = 'all';         // accept the connection, stall every request
 *   srv.url('seabios')         // http://127.0.0.1:PORT/seabios
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface GitHttpServer {
  stall: 'none' | 'pack' | 'all';
  /** Send packs at this rate at most (0: as fast as git gives them). */
  packBytesPerSecond: number;
  /** Requests stalled so far. */
  stalled: number;
  url(name: string): string;
  close(): Promise<void>;
}

export async function startGitHttpServer(root: string, env: NodeJS.ProcessEnv = process.env): Promise<GitHttpServer> {
  const sockets = new Set<Socket>();
  const state = { stall: 'none' as GitHttpServer['stall'], stalled: 0, packBytesPerSecond: 0 };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body = Buffer.concat(chunks);
    const plain = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
    const isPack = req.method === 'POST' && (plain.includes('command=fetch') || plain.includes('want '));
    if (state.stall === 'all' || (state.stall === 'pack' && isPack)) {
      state.stalled++;
      return; // never answer, never close
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const child = spawn('git', ['http-backend'], {
      env: {
        ...env,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        CONTENT_LENGTH: String(body.length),
        HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_ADDR: '127.0.0.1',
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    child.stdin.on('error', () => {}); // git gone early (EPIPE): its reply, or none, says why
    child.stdin.end(body);
    body = Buffer.alloc(0);
    const out: Buffer[] = [];
    for await (const c of child.stdout) out.push(c as Buffer);
    const all = Buffer.concat(out);
    const split = all.indexOf('\r\n\r\n') >= 0 ? all.indexOf('\r\n\r\n') : all.indexOf('\n\n');
    const sepLen = all.indexOf('\r\n\r\n') >= 0 ? 4 : 2;
    const head = all.subarray(0, split).toString('latin1');
    let status = 200;
    for (const line of head.split(/\r?\n/)) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      const k = line.slice(0, i).trim();
      const v = line.slice(i + 1).trim();
      if (/^status$/i.test(k)) status = Number(v.split(' ')[0]);
      else res.setHeader(k, v);
    }
    res.statusCode = status;
    const payload = all.subarray(split + sepLen);
    if (!isPack || !state.packBytesPerSecond) return void res.end(payload);
    const step = 64 * 1024;
    for (let i = 0; i < payload.length; i += step) {
      if (!res.write(payload.subarray(i, i + step))) await new Promise((r) => res.once('drain', r));
      await new Promise((r) => setTimeout(r, (step / state.packBytesPerSecond) * 1000));
    }
    res.end();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    get stall() {
      return state.stall;
    },
    set stall(v) {
      state.stall = v;
    },
    get stalled() {
      return state.stalled;
    },
    get packBytesPerSecond() {
      return state.packBytesPerSecond;
    },
    set packBytesPerSecond(v) {
      state.packBytesPerSecond = v;
    },
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
