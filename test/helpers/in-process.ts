/**
 * A command run in the test's own process, through the same entry the binary uses
 * (src/shell/main.ts) with captured streams: for tests about what a command does, not about
 * the process that does it. A spawned `node dist/cli.js` costs some 0.3 s of CPU before the
 * command starts; this costs milliseconds once the modules are loaded.
 *
 * The command sees `cwd` as process.cwd() and `env` over process.env, as runCli would give
 * it; both are put back afterwards. Since they are process-wide, runs are queued one at a
 * time: tests that run commands at the same time (races, locks) must spawn them.
 */
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/shell/main.js';
import type { CliResult } from './cli.js';

let queue: Promise<unknown> = Promise.resolve();

export function runInProcess(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<CliResult> {
  const job = queue.then(() => once(args, opts));
  queue = job.catch(() => {});
  return job;
}

function collect() {
  const s = new PassThrough();
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return { s, text: () => Buffer.concat(chunks).toString('utf8') };
}

function setEnv(env: NodeJS.ProcessEnv) {
  for (const k of Object.keys(process.env)) if (!(k in env) || env[k] === undefined) delete process.env[k];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) process.env[k] = v;
}

async function once(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<CliResult> {
  const savedEnv = { ...process.env };
  const savedCwd = process.cwd();
  const out = collect();
  const err = collect();
  // runCli's child has /dev/null for stdin.
  const stdin = Readable.from([]);
  setEnv({ ...process.env, NO_COLOR: '1', ...opts.env });
  process.chdir(opts.cwd);
  let code: number;
  try {
    code = await main(args, { stdin, stdout: out.s, stderr: err.s });
  } catch (e) {
    // What Node does with an uncaught error at the top: the stack on stderr, exit 1.
    err.s.write(`${(e as Error)?.stack ?? String(e)}\n`);
    code = 1;
  } finally {
    process.chdir(savedCwd);
    setEnv(savedEnv);
  }
  // Let the last writes reach the collectors.
  await new Promise((r) => setImmediate(r));
  return { code, stdout: out.text(), stderr: err.text() };
}
