import { sriHex } from '../util/sri.js';
import { fileNameOfUrl, versionFromFileName } from '../util/file-version.js';
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import ssri from 'ssri';
import type { Cache } from '../content-cache/cache.js';
import { readTar } from '../archive/reader.js';
import { serializeLock } from '../lock/lockfile.js';
import { runGit } from '../sources/git/run.js';
import { hasCommit } from '../sources/git/mirror.js';
import { checkCachedContent, openVerifiedContent } from '../sources/tarball.js';
import { localSourcePath } from '../sources/local.js';
import { compareBytewise } from '../tree/hash.js';
import { describeComponent } from '../components/dispatch.js';
import { isLockedGit, isLockedLocal, isLockedTarball } from '../model/kind.js';
import type { LockedChild, LockedComponent, LockedPatch, Lockfile } from '../model/lock.js';
import type { Config } from '../model/config.js';

/**
 * What an SBOM says about each source, gathered once from the lock (+ the config for
 * groups/description, + the cache for the bytes' sha256 and a license file) and then
 * rendered as SPDX or CycloneDX. Nothing here touches the network: facts the cache does not
 * hold are simply left out.
 */

export interface LicenseFile {
  /** Path inside the component (after a tarball's top folder). */
  path: string;
  sha256: string;
  sha1: string;
  /** The text (UTF-8), for SPDX's extracted licensing info; none above LICENSE_TEXT_MAX. */
  text?: string;
}

const LICENSE_TEXT_MAX = 256 * 1024;
const licenseText = (data: Buffer): string | undefined =>
  data.length <= LICENSE_TEXT_MAX ? data.toString('utf8') : undefined;

export interface SbomItem {
  /** Unique in the inventory: the component name, or `<component>/<child path>`. */
  id: string;
  name: string;
  /** The id of the component this one is nested in (children). */
  parent?: string;
  kind: 'git' | 'tarball' | 'local' | 'submodule' | 'wrap-git' | 'wrap-file';
  /** Tag/branch (git), the version in the file name (tarballs), else undefined. */
  version?: string;
  commit?: string;
  /** Git URL or tarball URL. */
  url?: string;
  /** Where the content sits in the Xen tree. */
  path: string;
  sha512?: string;
  sha256?: string;
  size?: number;
  /** Tree hash of the upstream content, and of what vendor places when it differs. */
  tree?: string;
  vendoredTree?: string;
  license?: string;
  licenseFile?: LicenseFile;
  patches?: LockedPatch[];
  groups?: string[];
  description?: string;
}

export interface SbomInventory {
  /** The project (`xen`) and its release version. */
  name: string;
  version?: string;
  /** Seconds since the epoch: the document's creation time (never the wall clock). */
  created: number;
  /** Hex sha256 of the serialized lock: the documents' ids derive from it. */
  lockSha256: string;
  items: SbomItem[];
}

export interface InventoryOptions {
  cache?: Cache;
  config?: Config;
  /** @deprecated `config` */
  manifest?: Config;
  /** The config's folder (to find `local:` inputs). */
  configRoot?: string;
  version?: string;
  /** Seconds; see sbomEpoch(). */
  created: number;
  without?: string[];
}

/** Names a license file has at the top of a source tree. */
const LICENSE_NAME = /^(?:COPYING|LICEN[CS]E)(?:[._-][A-Za-z0-9._-]+)?$/i;

/** Prefer the plainest name (`COPYING` before `COPYING.LIB`), then bytewise. */
export function pickLicenseName(names: string[]): string | undefined {
  const cands = names.filter((n) => LICENSE_NAME.test(n));
  const rank = (n: string) => (/^(COPYING|LICEN[CS]E)$/i.test(n) ? 0 : 1);
  return cands.sort((a, b) => rank(a) - rank(b) || compareBytewise(a, b))[0];
}

function hashBytes(data: Buffer): { sha256: string; sha1: string } {
  return {
    sha256: createHash('sha256').update(data).digest('hex'),
    sha1: createHash('sha1').update(data).digest('hex'),
  };
}

/** The top-level license file of `commit` in a mirror, from the blob (no checkout). */
async function gitLicenseFile(mirrorDir: string, commit: string): Promise<LicenseFile | undefined> {
  if (!(await hasCommit(mirrorDir, commit).catch(() => false))) return undefined;
  const ls = await runGit(['ls-tree', '-z', '--full-tree', `${commit}^{tree}`], { gitDir: mirrorDir });
  if (ls.code !== 0) return undefined;
  const blobs = new Map<string, string>();
  for (const rec of ls.stdout.toString('utf8').split('\0').filter(Boolean)) {
    const m = /^(100644|100755|100664) blob ([0-9a-f]+)\t(.+)$/s.exec(rec);
    if (m) blobs.set(m[3]!, m[2]!);
  }
  const name = pickLicenseName([...blobs.keys()]);
  if (!name) return undefined;
  const blob = await runGit(['cat-file', 'blob', blobs.get(name)!], { gitDir: mirrorDir });
  if (blob.code !== 0) return undefined;
  return { path: name, ...hashBytes(blob.stdout), text: licenseText(blob.stdout) };
}

/**
 * A license file at the top of a cached tar archive (directly, or under its one top
 * folder), hashed while the archive streams by once. Not a readable tar: none.
 */
async function tarLicenseFile(cache: Cache, integrity: string): Promise<LicenseFile | undefined> {
  const found = new Map<string, { sha256: string; sha1: string; text?: string }>();
  const tops = new Set<string>();
  try {
    await readTar(openVerifiedContent(cache, integrity), {
      onEntry: (e) => {
        const parts = e.path.split('/');
        tops.add(parts[0]!);
        if (e.type !== 'file' || parts.length > 2 || !LICENSE_NAME.test(parts[parts.length - 1]!)) return;
        const h256 = createHash('sha256');
        const h1 = createHash('sha1');
        const chunks: Buffer[] = [];
        let size = 0;
        return {
          write: (c) => {
            h256.update(c);
            h1.update(c);
            if ((size += c.length) <= LICENSE_TEXT_MAX) chunks.push(Buffer.from(c));
          },
          end: () =>
            void found.set(e.path, {
              sha256: h256.digest('hex'),
              sha1: h1.digest('hex'),
              text: size <= LICENSE_TEXT_MAX ? Buffer.concat(chunks).toString('utf8') : undefined,
            }),
        };
      },
    });
  } catch {
    return undefined;
  }
  // With one top folder the license sits in it; without, at the archive's root.
  const oneTop = tops.size === 1 ? [...tops][0]! : undefined;
  const names = [...found.keys()].filter((p) =>
    oneTop && p.includes('/') ? p.startsWith(`${oneTop}/`) : !p.includes('/'),
  );
  const rel = new Map(names.map((p) => [p.includes('/') ? p.slice(p.indexOf('/') + 1) : p, p]));
  const name = pickLicenseName([...rel.keys()]);
  return name ? { path: name, ...found.get(rel.get(name)!)! } : undefined;
}

async function dirLicenseFile(dir: string): Promise<LicenseFile | undefined> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const files: string[] = [];
  for (const n of names) if ((await lstat(join(dir, n)).catch(() => undefined))?.isFile()) files.push(n);
  const name = pickLicenseName(files);
  if (!name) return undefined;
  const data = await readFile(join(dir, name));
  return { path: name, ...hashBytes(data), text: licenseText(data) };
}

/** sha256 (hex) and size of cached bytes, re-hashed from the cache; none if not cached. */
async function cachedSha256(cache: Cache | undefined, integrity: string): Promise<string | undefined> {
  if (!cache) return undefined;
  const got = await checkCachedContent(cache, integrity).catch(() => undefined);
  return got?.status === 'ok' ? got.sha256 : undefined;
}

async function childItem(parent: SbomItem, path: string, c: LockedChild, cache: Cache | undefined): Promise<SbomItem> {
  const base = {
    id: `${parent.id}/${path}`,
    name: `${parent.name}/${path}`,
    parent: parent.id,
    path: `${parent.path}/${path}`,
    tree: c.tree,
  };
  if (c.kind === 'wrap-file') {
    const item: SbomItem = {
      ...base,
      kind: 'wrap-file',
      url: c.url,
      version: versionFromFileName(fileNameOfUrl(c.url)),
      sha512: sriHex(c.integrity, 'sha512'),
      sha256: c.sha256,
      size: c.size,
    };
    if (cache) item.licenseFile = await tarLicenseFile(cache, c.integrity);
    return item;
  }
  const item: SbomItem = { ...base, kind: c.kind, url: c.git, commit: c.commit, ...(c.ref ? { version: c.ref } : {}) };
  if (cache) item.licenseFile = await gitLicenseFile(cache.gitMirrorDir(c.git), c.commit);
  return item;
}

async function componentItem(name: string, c: LockedComponent, o: InventoryOptions): Promise<SbomItem> {
  const spec = (o.config ?? o.manifest)?.components[name];
  const item: SbomItem = { id: name, name, path: c.path, kind: 'local' };
  // License is metadata: the config's word wins over the lock's copy, which `lock --check`
  // does not fail on when it is stale.
  const license = spec?.license ?? c.license;
  if (license) item.license = license;
  if (spec?.groups?.length) item.groups = spec.groups;
  if (spec?.description) item.description = spec.description;
  if (c.tree) item.tree = c.tree;
  if ('vendoredTree' in c && c.vendoredTree) item.vendoredTree = c.vendoredTree;
  if ('patches' in c && c.patches?.length) item.patches = c.patches;
  const d = describeComponent(c);
  // Fields a kind lacks are undefined here and dropped below.
  Object.assign(item, {
    kind: d.kind,
    url: d.url,
    commit: d.commit,
    size: d.size,
    sha512: d.digest?.algorithm === 'sha512' ? d.digest.hex : undefined,
    version: d.version,
  });
  // Where the license text and the bytes' sha256 are found is each kind's own: the git
  // mirror, the cached download, the file or folder beside the config.
  if (isLockedGit(c)) {
    if (o.cache) item.licenseFile = await gitLicenseFile(o.cache.gitMirrorDir(c.git), c.commit);
  } else if (isLockedTarball(c)) {
    item.sha256 = sriHex(c.integrity, 'sha256') ?? (await cachedSha256(o.cache, c.integrity));
    if (o.cache && item.sha256) item.licenseFile = await tarLicenseFile(o.cache, c.integrity);
  } else if (isLockedLocal(c)) {
    if (o.configRoot) {
      const abs = localSourcePath(o.configRoot, c.local);
      if (c.tree) item.licenseFile = await dirLicenseFile(abs);
      else if (c.integrity) {
        const data = await readFile(abs).catch(() => undefined);
        if (data && ssri.checkData(data, c.integrity)) item.sha256 = hashBytes(data).sha256;
      }
    }
  }
  for (const k of Object.keys(item) as (keyof SbomItem)[]) if (item[k] === undefined) delete item[k];
  return item;
}

/** Every component (bytewise name order) and, after each, its nested children, transitively. */
export async function collectInventory(lock: Lockfile, o: InventoryOptions): Promise<SbomInventory> {
  const without = new Set(o.without ?? []);
  const items: SbomItem[] = [];
  for (const name of Object.keys(lock.components).sort(compareBytewise)) {
    if (without.has(name)) continue;
    const c = lock.components[name]!;
    const item = await componentItem(name, c, o);
    items.push(item);
    const children = isLockedGit(c) ? Object.entries(c.children ?? {}).sort(([a], [b]) => compareBytewise(a, b)) : [];
    // Children are keyed by their full path: `a/b` is nested in `a` when `a` is a child too.
    for (const [path, child] of children) {
      const owner = children
        .map(([p]) => p)
        .filter((p) => path.startsWith(`${p}/`))
        .sort((a, b) => b.length - a.length)[0];
      const parent = owner ? items.find((i) => i.id === `${name}/${owner}`)! : item;
      const rel = owner ? path.slice(owner.length + 1) : path;
      const ci = await childItem(parent, rel, child, o.cache);
      for (const k of Object.keys(ci) as (keyof SbomItem)[]) if (ci[k] === undefined) delete ci[k];
      items.push(ci);
    }
  }
  return {
    name: lock.name,
    ...(o.version ? { version: o.version } : {}),
    created: o.created,
    lockSha256: createHash('sha256')
      .update(serializeLock(lock))
      .update(`\0${[...without].sort().join(',')}\0${o.version ?? ''}`)
      .digest('hex'),
    items,
  };
}

/** A stable UUID (RFC 4122 layout, version nibble 5) from a hex digest. */
export function uuidFromHex(hex: string): string {
  const h = hex.slice(0, 32).split('');
  h[12] = '5';
  h[16] = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}

/** ISO 8601 UTC without milliseconds, as both formats want it. */
export const isoSeconds = (epoch: number) => new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
