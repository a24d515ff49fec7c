/**
 * A small project with every kind of source, for the sbom/export/diff tests:
 *   seabios   git, tag rel-1.17.0, COPYING at the top, group firmware
 *   qemu-xen  git, tag v9.0.0, LICENSE, a submodule roms/dtc (its own COPYING)
 *   newlib    tarball served on 127.0.0.1 with newlib-1.16.0/COPYING.NEWLIB
 * `project()` writes the config into a fresh folder and runs `xenrel lock` there.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GitFixtures, type TestRepo } from './git-repos.js';
import { startHttpServer, type TestHttpServer } from './http-server.js';
import { runCli } from './cli.js';
import { runInProcess } from './in-process.js';
import { tempDirs } from './tmp.js';

export const SEABIOS_COPYING = 'GNU LESSER GENERAL PUBLIC LICENSE\nVersion 3\n';
export const DTC_COPYING = 'GNU GENERAL PUBLIC LICENSE\nVersion 2\n';
export const NEWLIB_COPYING = 'newlib: a collection of free licenses\n';
export const sha256Hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export class SourcesWorld {
  readonly tmp = tempDirs();
  fx!: GitFixtures;
  seabios!: TestRepo;
  qemu!: TestRepo;
  dtc!: TestRepo;
  server!: TestHttpServer;
  newlibTgz!: Buffer;
  cacheDir!: string;

  static async create(): Promise<SourcesWorld> {
    const w = new SourcesWorld();
    w.fx = await GitFixtures.create();
    w.seabios = await w.fx.repo('seabios', {
      files: { Makefile: 'all:\n', COPYING: SEABIOS_COPYING, 'COPYING.LESSER': 'extra\n', 'src/bios.c': 'int bios;\n' },
    });
    await w.seabios.commit('release');
    await w.seabios.tag('rel-1.17.0', { annotated: true });
    w.dtc = await w.fx.repo('dtc', { files: { COPYING: DTC_COPYING, 'dtc.c': 'int dtc;\n' } });
    await w.dtc.commit('dtc');
    w.qemu = await w.fx.repo('qemu-xen', {
      files: { LICENSE: 'GPL-2.0 and others\n', configure: { content: '#!/bin/sh\n', exec: true } },
    });
    await w.qemu.commit('qemu');
    await w.qemu.addSubmodule('roms/dtc', w.dtc);
    await w.qemu.commit('add dtc');
    await w.qemu.tag('v9.0.0', { annotated: true });
    const d = await w.tmp.make();
    await mkdir(join(d, 'newlib-1.16.0'));
    await writeFile(join(d, 'newlib-1.16.0', 'README'), 'newlib\n');
    await writeFile(join(d, 'newlib-1.16.0', 'COPYING.NEWLIB'), NEWLIB_COPYING);
    w.newlibTgz = execFileSync('tar', [
      '-C',
      d,
      '--owner=0',
      '--group=0',
      '--mtime=@1700000000',
      '-czf',
      '-',
      'newlib-1.16.0',
    ]);
    w.server = await startHttpServer({ files: { '/newlib-1.16.0.tar.gz': w.newlibTgz } });
    w.cacheDir = await w.tmp.make('xenrel-cache-');
    return w;
  }

  config(opts: { seabiosRef?: string; qemuRef?: string } = {}): string {
    return `version: 1
name: xen
release:
  version: 4.22.0
components:
  seabios:
    git: ${this.seabios.url}
    ref: ${opts.seabiosRef ?? 'rel-1.17.0'}
    path: tools/firmware/seabios-dir-remote
    license: LGPL-3.0-only
    groups: [firmware]
  qemu-xen:
    git: ${this.qemu.url}
    ref: ${opts.qemuRef ?? 'v9.0.0'}
    path: tools/qemu-xen-dir-remote
    license: GPL-2.0-only
  newlib:
    url: ${this.server.url}/newlib-1.16.0.tar.gz
    path: stubdom/newlib-1.16.0.tar.gz
    license: LicenseRef-newlib
`;
  }

  get env(): NodeJS.ProcessEnv {
    return { ...this.fx.env, SOURCE_DATE_EPOCH: '1767225600' };
  }

  /** A plain folder project with a config, locked (and so fetched into the cache). */
  async project(opts: { seabiosRef?: string; qemuRef?: string } = {}): Promise<string> {
    const dir = await this.tmp.make('xenrel-proj-');
    await writeFile(join(dir, 'xenrel.config.yaml'), this.config(opts));
    await writeFile(join(dir, 'Makefile'), 'all:\n');
    const r = await runInProcess(['lock', '--cache', this.cacheDir], { cwd: dir, env: this.env });
    if (r.code !== 0) throw new Error(`xenrel lock failed: ${r.stderr}`);
    const f = await runInProcess(['fetch', '--cache', this.cacheDir], { cwd: dir, env: this.env });
    if (f.code !== 0) throw new Error(`xenrel fetch failed: ${f.stderr}`);
    return dir;
  }

  /** A command in this process (test/helpers/in-process.ts), for what it prints and writes. */
  cli(dir: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    return runInProcess([...args, '--cache', this.cacheDir], { cwd: dir, env: { ...this.env, ...env } });
  }

  /** The same through the built binary, for what its process does. */
  binary(dir: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    return runCli([...args, '--cache', this.cacheDir], { cwd: dir, env: { ...this.env, ...env } });
  }

  async cleanup(): Promise<void> {
    await this.server?.close();
    await this.fx?.cleanup();
    await this.tmp.cleanup();
  }
}
