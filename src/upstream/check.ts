import { stat } from 'node:fs/promises';
import pLimit from 'p-limit';
import type { Cache } from '../content-cache/cache.js';
import { lsRemote } from '../sources/git/refs.js';
import { FULL_COMMIT_SHA1 as FULL_SHA } from '../util/patterns.js';
import { runGit } from '../sources/git/run.js';
import { fetchTarball } from '../sources/tarball.js';
import { toReported, type ReportedError } from '../errors.js';
import { compareBytewise } from '../tree/hash.js';
import { describeComponent, specOps } from '../components/dispatch.js';
import type { ComponentSpec } from '../model/config.js';
import type { LoadedConfig } from '../config/load.js';
import type { Lockfile } from '../model/lock.js';
import type { ProgressSink } from '../types.js';
import { newerTags } from './versions.js';

/** What upstream has for one component, compared with its pin and lock. */
export interface UpstreamStatus {
  name: string;
  kind: 'git' | 'tarball' | 'local';
  pin: string;
  /** What the pin is upstream (git). */
  refKind?: 'tag' | 'branch' | 'commit';
  /** The locked commit or integrity. */
  locked?: string;
  /** The commit the tag or branch points at now (git). */
  current?: string;
  /** The tag or branch no longer points at the locked commit. */
  moved?: boolean;
  /** For a commit pin: the nearest tag before it (from the cache's mirror), the base of `newer`. */
  baseTag?: string;
  /** Tags of the pin's series newer than it, newest first. */
  newer: string[];
  /** For a branch pin: branches of the same series that are newer (`stable-4.19` → `stable-4.20`). */
  newerBranches?: string[];
  /** Tarball: the bytes at the URL now differ from the lock. */
  changed?: boolean;
  /** Tarball: integrity of the bytes upstream serves now. */
  upstreamIntegrity?: string;
  /** Why this component could not be checked (network error…); the others still are. */
  error?: ReportedError;
}

export interface UpstreamOptions {
  loaded: LoadedConfig;
  lock?: Lockfile;
  cache: Cache;
  names?: string[];
  jobs?: number;
  progress?: ProgressSink;
}

/** `git describe --tags --abbrev=0 <commit>` in the cache's mirror, when it has the commit. */
async function nearestTag(cache: Cache, url: string, commit: string): Promise<string | undefined> {
  const dir = cache.gitMirrorDir(url);
  if (!(await stat(dir).catch(() => undefined))) return undefined;
  const r = await runGit(['describe', '--tags', '--abbrev=0', commit], { gitDir: dir });
  return r.code === 0 ? r.stdout.toString().trim() || undefined : undefined;
}

export async function checkGitUpstream(
  name: string,
  spec: Pick<ComponentSpec, 'git' | 'ref'>,
  lockedCommit: string | undefined,
  cache: Cache,
): Promise<UpstreamStatus> {
  const url = spec.git!;
  const ref = spec.ref!;
  const refs = await lsRemote(url, { label: name });
  const tags = [...refs.keys()].filter((k) => k.startsWith('refs/tags/')).map((k) => k.slice(10));
  const branches = [...refs.keys()].filter((k) => k.startsWith('refs/heads/')).map((k) => k.slice(11));
  const base: UpstreamStatus = {
    name,
    kind: 'git',
    pin: ref,
    newer: [],
    ...(lockedCommit ? { locked: lockedCommit } : {}),
  };
  const short = ref.replace(/^refs\/(tags|heads)\//, '');
  const tag = ref.startsWith('refs/heads/') ? undefined : refs.get(`refs/tags/${short}`);
  const branch = ref.startsWith('refs/tags/') ? undefined : refs.get(`refs/heads/${short}`);
  if (tag) {
    const current = tag.peeled ?? tag.oid;
    return {
      ...base,
      refKind: 'tag',
      current,
      moved: lockedCommit !== undefined && current !== lockedCommit,
      newer: newerTags(short, tags),
    };
  }
  if (branch) {
    const newerBranches = newerTags(short, branches);
    return {
      ...base,
      refKind: 'branch',
      current: branch.oid,
      moved: lockedCommit !== undefined && branch.oid !== lockedCommit,
      ...(newerBranches.length ? { newerBranches } : {}),
    };
  }
  // A commit (full or abbreviated): the series is that of the nearest tag before it.
  const commit = lockedCommit ?? (FULL_SHA.test(ref) ? ref : undefined);
  const baseTag = commit ? await nearestTag(cache, url, commit) : undefined;
  return { ...base, refKind: 'commit', ...(baseTag ? { baseTag, newer: newerTags(baseTag, tags) } : {}) };
}

/**
 * `status --upstream`: per component, newer tags of the pin's series, whether a tag or
 * branch moved away from the lock, whether a tarball's bytes changed. Writes nothing but
 * the cache; a component that cannot be checked gets an `error`, the others go on.
 */
export async function upstreamStatus(opts: UpstreamOptions): Promise<UpstreamStatus[]> {
  const { config } = opts.loaded;
  const names = (opts.names?.length ? opts.names : Object.keys(config.components)).sort(compareBytewise);
  const limit = pLimit(Math.max(1, opts.jobs ?? 4));
  return Promise.all(
    names.map((name) =>
      limit(async (): Promise<UpstreamStatus> => {
        const spec = config.components[name]!;
        const locked = opts.lock?.components[name];
        const ops = specOps(spec);
        const { kind } = ops;
        const pin = ops.pinOf(spec);
        try {
          // What the lock pinned, when its entry still names the config's origin.
          const d = locked && describeComponent(locked);
          const was = d?.kind === kind && d.origin === (spec.git ?? spec.url) ? d : undefined;
          if (kind === 'git') return await checkGitUpstream(name, spec, was?.commit, opts.cache);
          if (kind === 'tarball' && spec.url) {
            const got = await fetchTarball({
              name,
              url: spec.url,
              mirrors: [],
              cache: opts.cache,
              sourcesMode: 'url-only',
              useCache: false,
              allowHttp: true,
              retry: { retries: 1 },
            });
            return {
              name,
              kind,
              pin,
              newer: [],
              ...(was ? { locked: was.integrity, changed: got.integrity !== was.integrity } : {}),
              upstreamIntegrity: got.integrity,
            };
          }
          return { name, kind, pin, newer: [] };
        } catch (err) {
          const error = toReported(err);
          opts.progress?.warn?.(`${name}: could not check upstream: ${error.message.split('\n')[0]}`);
          return { name, kind, pin, newer: [], error };
        }
      }),
    ),
  );
}

/** One line for people: what upstream has. */
export function describeUpstream(s: UpstreamStatus): string {
  if (s.error) return `error: ${s.error.message.split('\n')[0]}`;
  const parts: string[] = [];
  if (s.kind === 'git') {
    if (s.moved) parts.push(`${s.refKind} moved to ${s.current!.slice(0, 12)} (locked ${s.locked!.slice(0, 12)})`);
    if (s.newer.length)
      parts.push(
        `newer: ${s.newer.slice(0, 5).join(', ')}${s.newer.length > 5 ? `, … (${s.newer.length})` : ''}${s.baseTag ? ` (after ${s.baseTag})` : ''}`,
      );
    if (s.newerBranches?.length) parts.push(`newer branches: ${s.newerBranches.slice(0, 3).join(', ')}`);
    if (!parts.length)
      parts.push(s.refKind === 'commit' && !s.baseTag ? 'commit pin (no tag series known)' : 'up to date');
  } else if (s.kind === 'tarball') {
    parts.push(s.changed === undefined ? 'not locked yet' : s.changed ? 'upstream bytes CHANGED' : 'bytes unchanged');
  } else parts.push('local');
  return parts.join('; ');
}
