import { git, runGit } from './run.js';
import { listGitlinks } from './tree.js';

export interface Submodule {
  name: string;
  path: string;
  /** Absolute URL: relative ones (`./x`, `../x`) resolved against the parent's URL. */
  url: string;
  /** URL as written in .gitmodules. */
  rawUrl: string;
  /** The gitlink's commit at that path, when the tree has one. */
  commit?: string;
  branch?: string;
}

/** Git's rule for relative submodule URLs: each `../` drops one path component of the parent URL. */
export function resolveSubmoduleUrl(parentUrl: string, url: string): string {
  if (!url.startsWith('./') && !url.startsWith('../')) return url;
  let prefix = '';
  let path = parentUrl.replace(/\/+$/, '');
  const scheme = /^([a-z][a-z0-9+.-]*:\/\/[^/]*)(.*)$/i.exec(path);
  const scp = scheme ? undefined : /^([^/:]+:)(.*)$/.exec(path);
  if (scheme) [, prefix, path] = scheme as unknown as [string, string, string];
  else if (scp) [, prefix, path] = scp as unknown as [string, string, string];
  const parts = path.split('/');
  const floor = parts[0] === '' ? 1 : 0;
  let rest = url;
  for (;;) {
    if (rest.startsWith('./')) rest = rest.slice(2);
    else if (rest.startsWith('../')) {
      rest = rest.slice(3);
      if (parts.length > floor) parts.pop();
    } else break;
  }
  return prefix + [...parts, rest].join('/');
}

/** `.gitmodules` at `commit`, with each submodule's gitlink commit. Empty when there is none. */
export async function readGitmodules(mirrorDir: string, commit: string, parentUrl: string): Promise<Submodule[]> {
  if ((await runGit(['cat-file', '-e', `${commit}:.gitmodules`], { gitDir: mirrorDir })).code !== 0) return [];
  const out = await git(['config', '-z', '--blob', `${commit}:.gitmodules`, '--list'], {
    gitDir: mirrorDir,
    what: `reading .gitmodules at ${commit}`,
  });
  const byName = new Map<string, Partial<Submodule>>();
  for (const rec of out.split('\0')) {
    const nl = rec.indexOf('\n');
    if (nl < 0) continue;
    const key = rec.slice(0, nl);
    const value = rec.slice(nl + 1);
    const m = /^submodule\.(.+)\.([^.]+)$/.exec(key);
    if (!m) continue;
    const [, name, field] = m as unknown as [string, string, string];
    const s = byName.get(name) ?? { name };
    if (field === 'path') s.path = value;
    else if (field === 'url') s.rawUrl = value;
    else if (field === 'branch') s.branch = value;
    byName.set(name, s);
  }
  const links = new Map((await listGitlinks(mirrorDir, commit)).map((g) => [g.path, g.commit]));
  const subs: Submodule[] = [];
  for (const s of byName.values()) {
    if (!s.path || !s.rawUrl) continue;
    const c = links.get(s.path);
    subs.push({
      name: s.name!,
      path: s.path,
      url: resolveSubmoduleUrl(parentUrl, s.rawUrl),
      rawUrl: s.rawUrl,
      ...(c ? { commit: c } : {}),
      ...(s.branch ? { branch: s.branch } : {}),
    });
  }
  return subs.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
