/**
 * The small "Xen tree" the release tests cut: a committed git project whose config locks
 * two components — a git SeaBIOS (with an executable file) and a newlib tarball served
 * over HTTP on 127.0.0.1 — with the lock committed beside it.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runInProcess } from './in-process.js';
import { GitFixtures, type TestRepo } from './git-repos.js';
import { startHttpServer, type TestHttpServer } from './http-server.js';
import type { tempDirs } from './tmp.js';

export interface ReleaseProjectOptions {
  /** Created as `<parent>/xen` instead of a fresh temp folder. */
  parent?: string;
  /** More files of the project, by path. */
  extra?: Record<string, string>;
  /** Xen's own tarball script, executable, as in the real tree. */
  mktarball?: boolean;
  /** A tag on the project's commit. */
  tag?: string;
  /** `release.repository` in the config. */
  repository?: string;
}

export interface ReleaseUpstreams {
  fx: GitFixtures;
  seabios: TestRepo;
  server: TestHttpServer;
  newlibTgz: Buffer;
  /** The cache every command of the test uses. */
  cacheDir: string;
  config(opts?: Pick<ReleaseProjectOptions, 'repository'>): string;
  /** A committed project with the config and its lock. */
  gitProject(opts?: ReleaseProjectOptions): Promise<string>;
  close(): Promise<void>;
}

export const GIT_DATES = { GIT_AUTHOR_DATE: '@1700000000 +0000', GIT_COMMITTER_DATE: '@1700000000 +0000' };

export async function startReleaseUpstreams(tmp: ReturnType<typeof tempDirs>): Promise<ReleaseUpstreams> {
  const fx = await GitFixtures.create();
  const seabios = await fx.repo('seabios', {
    files: { Makefile: 'all:\n', 'src/bios.c': 'int bios;\n', 'tools/gen.sh': { content: '#!/bin/sh\n', exec: true } },
  });
  await seabios.commit('release');
  await seabios.tag('rel-1.17.0', { annotated: true });
  const d = await tmp.make();
  await mkdir(join(d, 'newlib-1.16.0'));
  await writeFile(join(d, 'newlib-1.16.0', 'README'), 'newlib\n');
  const newlibTgz = execFileSync('tar', ['-C', d, '-czf', '-', 'newlib-1.16.0']);
  const server = await startHttpServer({ files: { '/newlib-1.16.0.tar.gz': newlibTgz } });
  const cacheDir = await tmp.make('xenrel-cache-');

  const config = (opts: Pick<ReleaseProjectOptions, 'repository'> = {}) => `version: 1
name: xen
release:
  version: 4.22.0
${opts.repository ? `  repository: ${opts.repository}\n` : ''}components:
  seabios:
    git: ${seabios.url}
    ref: rel-1.17.0
    path: tools/firmware/seabios-dir-remote
  newlib:
    url: ${server.url}/newlib-1.16.0.tar.gz
    path: stubdom/newlib-1.16.0.tar.gz
`;

  async function gitProject(opts: ReleaseProjectOptions = {}): Promise<string> {
    const dir = opts.parent ? join(opts.parent, 'xen') : await tmp.make('xenrel-xen-');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'xenrel.config.yaml'), config(opts));
    await writeFile(join(dir, 'Makefile'), 'all:\n\t@echo xen\n');
    if (opts.mktarball) {
      await mkdir(join(dir, 'tools', 'misc'), { recursive: true });
      await writeFile(join(dir, 'tools', 'misc', 'mktarball'), '#!/bin/sh\n');
      await chmod(join(dir, 'tools', 'misc', 'mktarball'), 0o755);
    }
    for (const [p, c] of Object.entries(opts.extra ?? {})) {
      await mkdir(join(dir, p, '..'), { recursive: true });
      await writeFile(join(dir, p), c);
    }
    const r = await runInProcess(['lock', '--cache', cacheDir], { cwd: dir, env: fx.env });
    expect(r.code, r.stderr).toBe(0);
    const git = [
      ['init', '-q'],
      ['add', '-A'],
      ['commit', '-q', '-m', 'xen'],
      ...(opts.tag ? [['tag', opts.tag]] : []),
    ];
    for (const args of git) execFileSync('git', args, { cwd: dir, env: { ...fx.env, ...GIT_DATES } });
    return dir;
  }

  return {
    fx,
    seabios,
    server,
    newlibTgz,
    cacheDir,
    config,
    gitProject,
    async close() {
      await server.close();
      await fx.cleanup();
    },
  };
}
