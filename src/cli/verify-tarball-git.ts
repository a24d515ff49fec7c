import type { Cache } from '../content-cache/cache.js';
import { XenrelError } from '../errors.js';
import type { LoadedConfig } from '../config/load.js';
import { isLockedTarball } from '../model/kind.js';
import type { Lockfile } from '../model/lock.js';
import type { Report } from '../report/report.js';
import { archiveLimits } from '../components/tarball.js';
import type { TarballGitComparison } from '../verify/tarball-git.js';

/** The config, when one is found (or named): without it there are no cross-references to check. */
async function configIfAny(cwd: string, config: string | undefined): Promise<LoadedConfig | undefined> {
  const { loadConfig } = await import('../config/load.js');
  try {
    return await loadConfig({ cwd, config });
  } catch (err) {
    if (!config && err instanceof XenrelError && err.code === 'E_NO_CONFIG') return undefined;
    throw err;
  }
}

/**
 * `verify --upstream`: each tarball component with an `upstreamGit` cross-reference, read
 * from the cache the pins were just re-fetched into, against its git tag. Returns the
 * comparisons; the caller fails the command when one is not ok.
 */
export async function checkTarballsAgainstGit(
  report: Report,
  o: { cwd: string; config?: string; lock: Lockfile; cache: Cache; skip: ReadonlySet<string> },
): Promise<TarballGitComparison[]> {
  const loaded = await configIfAny(o.cwd, o.config);
  const wanted = Object.entries(loaded?.config.components ?? {}).filter(([, c]) => c.upstreamGit);
  if (!wanted.length) return [];
  const { compareTarballWithGit } = await import('../verify/tarball-git.js');
  const out: TarballGitComparison[] = [];
  for (const [name, spec] of wanted.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const locked = o.lock.components[name];
    if (!locked || !isLockedTarball(locked)) {
      report.warn(
        `component ${name}: upstreamGit is set but the lock has no tarball of that name: not compared with git`,
      );
      continue;
    }
    if (o.skip.has(name)) continue; // its re-fetch failed, and says so already
    const g = spec.upstreamGit!;
    report.info(`comparing ${name}'s tarball with ${g.url} at ${g.tag ?? g.commit}`);
    const r = await compareTarballWithGit({
      component: name,
      integrity: locked.integrity,
      upstreamGit: g,
      cache: o.cache,
      limits: archiveLimits(spec.limits),
    });
    out.push(r);
    const head = `${r.ok ? 'ok      ' : 'differs '} ${name}  tarball against git ${r.git.ref} (${r.git.commit.slice(0, 12)}): ${r.files} files`;
    report.output(head);
    for (const p of r.onlyInTarball) report.output(`    only in tarball: ${p}`);
    for (const d of r.differs) report.output(`    differs: ${d.path} (${d.what})`);
    for (const p of r.generated) report.info(`    generated (allowed by upstreamGit.generated): ${p}`);
    for (const p of r.onlyInGit) report.info(`    only in git: ${p}`);
  }
  return out;
}
