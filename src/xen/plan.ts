import { access, readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { Cache } from '../content-cache/cache.js';
import { describeComponent, opsFor } from '../components/dispatch.js';
import type { ComponentSpec, Config } from '../model/config.js';
import type { Lockfile } from '../model/lock.js';
import { SOURCES_DIR } from '../layout/xenrel-dir.js';
import type { BuildChoices } from './build-choices.js';
import { EXTFILES_UPSTREAM, NEEDS, STUBDOM_LIB_PREFIXES, parseConfigure } from './configure-options.js';
import { configureFlags, hostToolWarnings } from './host-tools.js';
import { knownComponents, stubdomLibOf } from './knowledge.js';
import { parseStubdomConfigureAc } from './read-pins.js';

/** One thing the build will download. */
export interface PlannedFetch {
  name: string;
  kind: 'git' | 'tarball';
  url: string;
  /** The pin: git ref, or the tarball's file name. */
  ref: string;
  /** Locked commit (git), when there is a lock. */
  commit?: string;
  /** Bytes, from the lock (tarballs); null when unknown (git, or no lock). */
  size: number | null;
  /** Verified content for the locked pin is in the cache. */
  cached: boolean;
  /** Already in the tree (make will not fetch it), or in the vendor store. */
  vendored: boolean;
  /** Whether the lock covers this component. */
  locked: boolean;
  path: string;
  groups: string[];
  /** Why the configuration needs it. */
  because: string;
}

export interface ExcludedFetch {
  name: string;
  /** The configure option (or default) responsible. */
  option: string;
  reason: string;
}

export interface BuildPlan {
  host: string;
  cmake: boolean;
  configure: string[];
  components: PlannedFetch[];
  excluded: ExcludedFetch[];
  /** configure arguments that change no download. */
  ignored: string[];
  warnings: string[];
}

export type PlanOptions = PlanInputs & ({ config: Config } | { /** @deprecated `config` */ manifest: Config });

interface PlanInputs {
  /** The Xen tree (the config's folder): for `vendored` and the tree's own stubdom URLs. */
  root: string;
  lock?: Lockfile;
  cache?: Cache;
  configure?: string[];
  /** configure's --host default (this machine). */
  host?: string;
  /** Whether cmake is installed (default: looked up on PATH). */
  cmake?: boolean;
  /** Whether a program is on the build machine's PATH (default: looked up on PATH). */
  hasProgram?: (name: string) => Promise<boolean>;
  /** The environment configure would run in (AC_ARG_VAR presets); default process.env. */
  env?: NodeJS.ProcessEnv;
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** `cmake` on PATH, as configure's AC_PATH_PROG would find it (honouring $CMAKE). */
export async function findProgram(name: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const preset = env[name.toUpperCase()];
  if (preset !== undefined) return preset !== ''; // AC_PATH_PROG takes a preset variable as it is
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) if (await exists(join(dir, name))) return true;
  return false;
}

/** Paths whose presence also makes Xen's make skip a fetch (the in-tree copies of a release tarball). */
const ALSO_SKIPPED_BY: Record<string, string[]> = {
  'qemu-xen': ['tools/qemu-xen'],
  'qemu-xen-traditional': ['tools/qemu-xen-traditional'],
  'mini-os': ['extras/mini-os'],
};

async function upstreamStubdomUrls(root: string): Promise<Record<string, string>> {
  // The tree's own stubdom/configure.ac wins over xenrel's built-in table.
  const out = { ...EXTFILES_UPSTREAM };
  const text = await readFile(join(root, 'stubdom/configure.ac'), 'utf8').catch(() => '');
  const byLib = new Map(Object.entries(knownComponents()).map(([n, s]) => [stubdomLibOf(s), n]));
  for (const d of parseStubdomConfigureAc(text)) {
    const name = byLib.get(d.lib);
    if (name && d.upstreamUrl && !d.noext) out[name] = d.upstreamUrl;
    else if (name && !d.upstreamUrl) delete out[name];
  }
  return out;
}

function needOf(name: string, spec: ComponentSpec, choices: BuildChoices) {
  const rule = NEEDS[name];
  if (rule) return rule(choices);
  return {
    needed: true as const,
    because: `not switched by Xen's configure${spec.configure?.when ? ` (${spec.configure.when})` : ''}`,
  };
}

export async function planBuild(opts: PlanOptions): Promise<BuildPlan> {
  const configure = opts.configure ?? [];
  const env = opts.env ?? process.env;
  const hasProgram = opts.hasProgram ?? ((name: string) => findProgram(name, { PATH: env.PATH }));
  const cmake = opts.cmake ?? (await findProgram('cmake', env));
  const stubdomAc = await readFile(join(opts.root, 'stubdom/configure.ac'), 'utf8').catch(() => undefined);
  const toolsAc = await readFile(join(opts.root, 'tools/configure.ac'), 'utf8').catch(() => undefined);
  const declared = stubdomAc === undefined ? [] : parseStubdomConfigureAc(stubdomAc).map((d) => d.lib);
  const { choices, ignored, warnings } = parseConfigure(configure, {
    host: opts.host,
    cmake,
    stubdomLibs: declared.length ? declared : STUBDOM_LIB_PREFIXES,
  });
  // Xen 4.21 dropped qemu-traditional; without the tree's configure.ac, assume it may be there.
  const tree = { qemuTraditional: toolsAc === undefined || toolsAc.includes('qemu-traditional') };
  warnings.push(...(await hostToolWarnings(choices, configureFlags(configure), tree, hasProgram, env)));
  const upstream = choices.extfiles ? {} : await upstreamStubdomUrls(opts.root);

  const components: PlannedFetch[] = [];
  const excluded: ExcludedFetch[] = [];
  for (const [name, spec] of Object.entries(('config' in opts ? opts.config : opts.manifest).components).sort(
    ([a], [b]) => (a < b ? -1 : a > b ? 1 : 0),
  )) {
    if (spec.local !== undefined) {
      excluded.push({
        name,
        option: `local: ${spec.local}`,
        reason: 'a prebuilt input from the config; nothing is downloaded',
      });
      continue;
    }
    const need = needOf(name, spec, choices);
    if (!need.needed) {
      excluded.push({ name, option: need.option, reason: need.reason });
      continue;
    }
    const locked = opts.lock?.components[name];
    const vendored =
      (await exists(join(opts.root, spec.path))) ||
      (await exists(join(opts.root, SOURCES_DIR, name))) ||
      (await Promise.all((ALSO_SKIPPED_BY[name] ?? []).map((p) => exists(join(opts.root, p))))).some(Boolean);
    let cached = false;
    if (locked && opts.cache) {
      // A report, not a check: a cache that cannot be read counts as not holding it.
      cached =
        (await opsFor(locked)
          .inCache(locked, opts.cache)
          .catch(() => false)) ?? false;
    }
    const groups = spec.groups ?? [];
    if (spec.git) {
      const lockedCommit = locked && describeComponent(locked).commit;
      components.push({
        name,
        kind: 'git',
        url: spec.git,
        ref: spec.ref!,
        ...(lockedCommit ? { commit: lockedCommit } : {}),
        size: null,
        cached,
        vendored,
        locked: Boolean(locked),
        path: spec.path,
        groups,
        because: need.because,
      });
    } else if (spec.url) {
      const file = spec.url.split('/').pop()!;
      const lib = stubdomLibOf(spec) ?? stubdomLibOf(knownComponents()[name] ?? { path: '' });
      const given = lib ? choices.libUrls[lib] : undefined;
      const url = given !== undefined ? `${given}/${file}` : upstream[name] ? `${upstream[name]}/${file}` : spec.url;
      components.push({
        name,
        kind: 'tarball',
        url,
        ref: file,
        size: (locked && opsFor(locked).downloadSize(locked)) ?? null,
        cached,
        vendored,
        locked: Boolean(locked),
        path: spec.path,
        groups,
        because:
          need.because +
          (given !== undefined
            ? ` — URL from ${choices.setBy[`url:${lib}`]}`
            : upstream[name]
              ? ` — URL from --disable-extfiles`
              : ''),
      });
    }
  }
  return { host: choices.host, cmake: choices.cmake, configure, components, excluded, ignored, warnings };
}
