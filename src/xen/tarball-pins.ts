import { access, mkdir, mkdtemp, readdir, rm, symlink, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { isLockedGit, isLockedLocal, isLockedTarball } from '../model/kind.js';
import type { LockedComponent, Lockfile } from '../model/lock.js';
import { describeComponent } from '../components/dispatch.js';
import { knownComponents } from './knowledge.js';
import { lockedPins } from './locked-pins.js';
import { pinsToConfig, type DerivedComponent } from './pins-to-config.js';
import { readXenPins } from './read-pins.js';

/**
 * What a release tarball's make will ask for, against what the lock pins: GNU make
 * evaluates the tarball's own Config.mk, etherboot Makefile and stubdom variables with the
 * tarball's `.config` (xenrel's block, plus the project's lines when it carries them) —
 * no environment, no command line, a default configure. Every pin make would ask for
 * differently is a fetch the shim will refuse on the build machine.
 */

const gitKey = (u: string) => u.replace(/\/+$/, '').replace(/\.git$/, '');

/** The project's files as they go into the tarball, when they are not on disk as such. */
export interface TarballFiles {
  paths: readonly string[];
  /** The content of those of `rels` that exist. */
  readAll(rels: readonly string[]): Promise<Map<string, Buffer>>;
}

/** What make reads to evaluate the pins: Config.mk and what it includes, and the fetch makefiles. */
const PIN_FILES = (p: string) =>
  p === 'Config.mk' ||
  p.startsWith('config/') ||
  p === 'tools/firmware/etherboot/Makefile' ||
  p === 'stubdom/Makefile' ||
  p === 'stubdom/configure.ac';

/**
 * Warnings, one per pin the tarball's make would not ask for as locked, naming the make
 * variable and where it is set. `project` is the project content as it goes into the
 * tarball: a folder, or files read from git; `dotConfig` the tarball's `.config`.
 * Not a Xen tree (no Config.mk): none.
 */
export async function tarballPinWarnings(
  project: string | TarballFiles,
  dotConfig: string | undefined,
  lock: Lockfile,
  without: string[] = [],
): Promise<string[]> {
  const isXen =
    typeof project === 'string'
      ? await access(join(project, 'Config.mk')).then(
          () => true,
          () => false,
        )
      : project.paths.includes('Config.mk');
  if (!isXen) return [];
  // A view of the tarball: the project's files make reads, and the tarball's .config.
  const view = await mkdtemp(join(tmpdir(), 'xenrel-tarball-view-'));
  try {
    if (typeof project === 'string') {
      for (const name of await readdir(project))
        if (name !== '.config' && name !== '.xenrel') await symlink(resolve(project, name), join(view, name));
    } else {
      for (const [rel, data] of await project.readAll(project.paths.filter(PIN_FILES))) {
        await mkdir(dirname(join(view, rel)), { recursive: true });
        await writeFile(join(view, rel), data);
      }
    }
    const config = dotConfig === undefined ? undefined : await readFile(dotConfig, 'utf8').catch(() => undefined);
    if (config !== undefined) await writeFile(join(view, '.config'), config);
    const pins = await readXenPins(view, { lockedPins: true, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    return comparePins(pinsToConfig(pins).components, lock, without);
  } finally {
    await rm(view, { recursive: true, force: true });
  }
}

/** What the shim serves for a component: its URL, with a git pin's ref. */
function served(name: string, c: LockedComponent): string {
  const d = describeComponent(c);
  return d.commit ? `${d.url} (${d.version})` : (d.url ?? name);
}

function comparePins(derived: DerivedComponent[], lock: Lockfile, without: string[]): string[] {
  const out: string[] = [];
  const known = knownComponents();
  for (const [name, c] of Object.entries(lock.components).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (without.includes(name) || isLockedLocal(c)) continue;
    const d =
      derived.find((x) => x.name === name && x.sources.length) ??
      derived.find((x) => x.spec.path === c.path && x.sources.length);
    const say = (field: 'git' | 'ref' | 'url', asked: string, locked: string) => {
      const vars = d!.sources.filter((s) => (field === 'url' ? s.field === 'url' : s.field === field));
      const named = vars.map((v) => `${v.variable} (${v.where})`).join(', ') || 'its make variables';
      out.push(
        `${name}: the release tarball's make would ask for ${asked} (${named}), but the lock pins ${locked}; the shim will refuse that fetch`,
      );
    };
    if (!d) {
      if (!known[name] && !Object.values(known).some((k) => k.path === c.path))
        out.push(
          `${name}: no make variable of Xen that xenrel knows names it, so the release tarball's make asks for whatever its makefiles say; the shim serves only ${served(name, c)}`,
        );
      continue;
    }
    if (isLockedGit(c)) {
      if (d.spec.git && gitKey(d.spec.git) !== gitKey(c.git)) say('git', d.spec.git, c.git);
      if (d.spec.ref && d.spec.ref !== c.ref && d.spec.ref !== c.commit) say('ref', d.spec.ref, c.ref);
    } else if (isLockedTarball(c) && d.spec.url && d.spec.url !== c.url) {
      // An unconfigured tree without stubdom/configure.ac names no version: compare the base URL only.
      const noVersion = d.sources.some((s) => s.variable.endsWith('_VERSION') && s.value === '');
      const base = (u: string) => u.slice(0, u.lastIndexOf('/'));
      if (!noVersion || base(d.spec.url) !== base(c.url))
        say('url', noVersion ? `${base(d.spec.url)}/…` : d.spec.url, c.url);
    }
  }
  // What the tarball's make names and no locked component provides: the offline build breaks
  // there if it is configured to fetch it (optional parts, such as OVMF, only then).
  const locked = Object.entries(lock.components);
  const missing = derived.filter(
    (d) =>
      d.sources.length &&
      !without.includes(d.name) &&
      !locked.some(([name, c]) => name === d.name || c.path === d.spec.path),
  );
  if (missing.length)
    out.push(
      `the lock has nothing for ${missing.length === 1 ? 'one download' : `${missing.length} downloads`} of the release tarball's make: ${missing
        .map((d) => `${d.name} (${d.sources[0]!.variable}, ${d.sources[0]!.where})`)
        .join(
          ', ',
        )}; a build configured to use ${missing.length === 1 ? 'it' : 'them'} is refused by the shim (\`xenrel init --check\` lists what the tree pins)`,
    );
  // Pins the block cannot carry (a URL make cannot hold, a file name the Makefile does not fetch).
  for (const u of lockedPins(lock, without).unpinned)
    if (known[u.component]?.vars?.length && !out.some((o) => o.startsWith(`${u.component}:`)))
      out.push(`${u.component}: ${u.reason}`);
  return out;
}
