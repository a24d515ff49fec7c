import pLimit from 'p-limit';
import { XenrelError, ExitCode, toReported, type ReportedError } from '../errors.js';
import type { Cache } from '../content-cache/cache.js';
import type { LoadedConfig } from '../config/load.js';
import type { Lockfile } from '../model/lock.js';
import type { ProgressSink } from '../types.js';
import { kindOf, type ComponentKind } from '../model/kind.js';
import { opsFor } from '../components/dispatch.js';
import { assertKnownComponents } from '../components/names.js';
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
  kind: ComponentKind;
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
        const kind = kindOf(locked);
        const ctx = {
          cache: opts.cache,
          configRoot: opts.loaded?.root,
          mirrors: mirrorsFor(opts.loaded, name),
          offline: opts.offline,
          premirrorOnly: opts.premirrorOnly,
          progress,
        };
        try {
          const own = await opsFor(locked).fetch(name, locked, ctx);
          // Nested sources (submodules, meson wraps): each verified like a component of its own.
          const children = 'children' in locked ? locked.children : undefined;
          const nested = children ? await fetchChildren(name, children, opts.cache, ctx) : { fetched: 0 };
          const status = own.status === 'cached' && nested.fetched > 0 ? 'fetched' : own.status;
          // A fresh download is checked against the signer the lock recorded.
          if ('signer' in locked && locked.signer && own.status === 'fetched' && opts.loaded)
            await checkSigner(name, opts.loaded.config.components[name], locked, opts.cache, opts.loaded.root, {
              expected: locked.signer,
            });
          const n = Object.keys(children ?? {}).length;
          opts.progress?.done?.(name, `${status === 'cached' ? 'in cache' : own.line}${n ? ` (+${n} nested)` : ''}`);
          return { name, kind, status, ...(own.source !== undefined ? { source: own.source } : {}) };
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
      hint: offlineMissing.length
        ? 'run `xenrel fetch` once with network access (or point mirrors: at a reachable mirror)'
        : failed[0]!.error!.hint,
      details: { outcomes },
    });
  }
  return outcomes;
}
