import pLimit from 'p-limit';
import { XenrelError, ExitCode, toReported, type ReportedError } from '../errors.js';
import type { Cache } from '../content-cache/cache.js';
import type { LoadedConfig } from '../config/load.js';
import type { Lockfile } from '../model/lock.js';
import type { ProgressSink } from '../types.js';
import { isLockedGit, isLockedTarball } from '../model/kind.js';
import { fetchGit } from '../sources/git/source.js';
import { fetchTarball } from '../sources/tarball.js';
import { verifyLocal } from '../sources/local.js';
import { assertKnownComponents } from '../components.js';
import { mirrorsFor } from '../lock/resolve.js';
import { withProgress } from '../util/progress.js';
import { compareBytewise } from '../tree/hash.js';
import { fetchChildren } from '../nested/children.js';
import { checkSigner } from '../lock/signatures.js';

export interface FetchOptions {
  lock: Lockfile;
  cache: Cache;
  /** For mirrors and local paths; optional so a bare lockfile can be fetched. */
  loaded?: LoadedConfig;
  names?: string[];
  offline?: boolean;
  /** Only the mirrors, never an upstream URL (`--premirror-only`). */
  premirrorOnly?: boolean;
  jobs?: number;
  progress?: ProgressSink;
}

export interface FetchOutcome {
  name: string;
  kind: 'git' | 'tarball' | 'local';
  status: 'cached' | 'fetched' | 'verified' | 'failed';
  source?: string;
  error?: ReportedError;
}

/**
 * lock → cache. Every component is attempted (so one run names every problem); the
 * thrown error, if any, summarises the failures with the worst exit code.
 */
export async function fetchAll(opts: FetchOptions): Promise<FetchOutcome[]> {
  const all = Object.keys(opts.lock.components).sort(compareBytewise);
  if (opts.names?.length) assertKnownComponents(opts.names, all);
  const names = opts.names?.length ? all.filter((n) => opts.names!.includes(n)) : all;
  await opts.cache.init();
  const limit = pLimit(Math.max(1, opts.jobs ?? 4));
  // Sources report their own start/advance; the one `done` line per component is ours.
  const progress: ProgressSink | undefined = opts.progress && withProgress(opts.progress, { done: () => {} });
  const outcomes = await Promise.all(
    names.map((name) =>
      limit(async (): Promise<FetchOutcome> => {
        const locked = opts.lock.components[name]!;
        const kind = isLockedGit(locked) ? 'git' : isLockedTarball(locked) ? 'tarball' : 'local';
        try {
          if (isLockedGit(locked)) {
            const r = await fetchGit(name, locked, opts.cache, { offline: opts.offline, progress, mirrors: mirrorsFor(opts.loaded, name), premirrorOnly: opts.premirrorOnly });
            // Nested sources (submodules, meson wraps): each verified like a component of its own.
            const nested = locked.children
              ? await fetchChildren(name, locked.children, opts.cache, {
                  offline: opts.offline,
                  progress,
                  mirrors: mirrorsFor(opts.loaded, name),
                  premirrorOnly: opts.premirrorOnly,
                })
              : { fetched: 0 };
            const cached = r.cached && nested.fetched === 0;
            // A fresh download is checked against the signer the lock recorded.
            if (locked.signer && !r.cached && opts.loaded)
              await checkSigner(name, opts.loaded.config.components[name], locked, opts.cache, opts.loaded.root, { expected: locked.signer });
            const n = Object.keys(locked.children ?? {}).length;
            opts.progress?.done?.(name, `${cached ? 'in cache' : `fetched ${locked.commit.slice(0, 12)}`}${n ? ` (+${n} nested)` : ''}`);
            return { name, kind, status: cached ? 'cached' : 'fetched', source: r.source ?? locked.git };
          }
          if (isLockedTarball(locked)) {
            const r = await fetchTarball({
              name,
              url: locked.url,
              mirrors: mirrorsFor(opts.loaded, name),
              expected: { integrity: locked.integrity, size: locked.size },
              cache: opts.cache,
              offline: opts.offline,
              ...(opts.premirrorOnly ? { sourcesMode: 'mirrors-only' as const } : {}),
              progress,
            });
            if (locked.signer && !r.cached && opts.loaded)
              await checkSigner(name, opts.loaded.config.components[name], locked, opts.cache, opts.loaded.root, { expected: locked.signer });
            opts.progress?.done?.(name, r.cached ? 'in cache' : `fetched from ${r.source}`);
            return { name, kind, status: r.cached ? 'cached' : 'fetched', source: r.source };
          }
          if (!opts.loaded) throw new XenrelError('E_CONFIG', `component ${name}: a local source needs the config to find its path`, { exitCode: ExitCode.usage });
          await verifyLocal(name, locked, opts.loaded.root);
          opts.progress?.done?.(name, 'local, verified');
          return { name, kind, status: 'verified' };
        } catch (err) {
          const error = toReported(err);
          opts.progress?.done?.(name, `failed: ${error.code}`);
          return { name, kind, status: 'failed', error };
        }
      }),
    ),
  );
  const failed = outcomes.filter((o) => o.status === 'failed');
  if (failed.length) {
    const exitCode = Math.max(...failed.map((f) => f.error!.exitCode)) as 1 | 2 | 3;
    const offlineMissing = failed.filter((f) => f.error!.code === 'E_OFFLINE_MISSING').map((f) => f.name);
    const notMirrored = failed.filter((f) => f.error!.code === 'E_PREMIRROR_MISSING').map((f) => f.name);
    if (notMirrored.length === failed.length)
      throw new XenrelError(
        'E_PREMIRROR_MISSING',
        `--premirror-only, and in no mirror: ${notMirrored.join(', ')}\n${failed.map((f) => `  ${f.name}: ${f.error!.message}`).join('\n')}`,
        {
          exitCode: ExitCode.fetch,
          hint: failed[0]!.error!.hint,
          details: { outcomes },
        },
      );
    const message =
      offlineMissing.length === failed.length
        ? `offline, and not in the cache: ${offlineMissing.join(', ')}`
        : `${failed.length} of ${names.length} components failed:\n${failed.map((f) => `  ${f.name}: ${f.error!.message}`).join('\n')}`;
    // One failure class across the failed components keeps its code; mixed ones are E_FETCH,
    // and each outcome in the details keeps its own.
    const codes = [...new Set(failed.map((f) => f.error!.code))];
    throw new XenrelError(codes.length === 1 ? codes[0]! : 'E_FETCH', message, {
      exitCode,
      hint: offlineMissing.length ? 'run `xenrel fetch` once with network access (or point mirrors: at a reachable mirror)' : failed[0]!.error!.hint,
      details: { outcomes },
    });
  }
  return outcomes;
}
