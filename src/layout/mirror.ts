import { urlKey } from '../content-cache/cache.js';

/**
 * Where things live in a static mirror (`xenrel mirror DIR`), relative to its base URL.
 * `fetch` derives the same paths from a component's URL, so a mirror needs no index to be
 * used; `xenrel-mirror.json` is for people and tools.
 *
 *   <basename of url>            tarballs, the flat layout XEN_EXTFILES_URL expects
 *   by-hash/sha512/<hex>         every tarball by the sha512 of its bytes
 *   git/<basename>.git           a bare repository for the dumb HTTP protocol
 *   git/<basename>-<key>.git     the same, when two git URLs share a basename
 *   xenrel-mirror.json           the index
 */
export const MIRROR_INDEX = 'xenrel-mirror.json';

/** The last path segment of a git URL without `.git`, safe as a file name. */
export function gitBaseName(url: string): string {
  const last = url.replace(/\/+$/, '').split(/[/:]/).pop() ?? '';
  return (
    last
      .replace(/\.git$/, '')
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .replace(/^\.+/, '') || 'repo'
  );
}

/** `git/<basename>.git`, the first place fetch looks. */
export function gitMirrorPath(url: string): string {
  return `git/${gitBaseName(url)}.git`;
}

/** The unambiguous name used when another URL already holds `git/<basename>.git`. */
export function gitMirrorAltPath(url: string): string {
  return `git/${gitBaseName(url)}-${urlKey(url).slice(0, 12)}.git`;
}

/** Repository URLs to try in a mirror base URL for the git URL `url`, in order. */
export function gitMirrorCandidates(mirrorBase: string, url: string): string[] {
  const base = mirrorBase.replace(/\/+$/, '');
  return [`${base}/${gitMirrorPath(url)}`, `${base}/${gitMirrorAltPath(url)}`];
}

/**
 * The file name a tarball URL is published under (`<mirror>/<basename>`, as fetch asks
 * for it), or undefined when the basename cannot be a plain file name (empty, `..`, an
 * encoded slash): such a file is only published by hash.
 */
export function tarballFileName(url: string): string | undefined {
  let name: string;
  try {
    name = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  } catch {
    return undefined;
  }
  if (
    !name ||
    name === '.' ||
    name === '..' ||
    /[/\\\0]/.test(name) ||
    name === MIRROR_INDEX ||
    name === 'by-hash' ||
    name === 'git'
  )
    return undefined;
  return name;
}

/** `by-hash/sha512/<hex>` for an `sha512-<base64>` integrity. */
export function byHashPath(integrity: string): string {
  const m = /(?:^|\s)sha512-([A-Za-z0-9+/=]+)/.exec(integrity);
  if (!m) throw new Error(`no sha512 in integrity ${integrity}`);
  return `by-hash/sha512/${Buffer.from(m[1]!, 'base64').toString('hex')}`;
}
