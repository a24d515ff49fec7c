import { LOCK_COPY, storeKind, storeRel } from '../layout/xenrel-dir.js';
import { lockedIntegrity, vendoredTreeOf } from '../model/kind.js';
import type { Lockfile } from '../model/lock.js';
import { parseLockText } from '../lock/lockfile.js';
import { RELEASE_INFO, parseReleaseInfo } from '../layout/release-info.js';
import type { Embedded } from './collect.js';
import type { ComponentExpectation, VerifyExpectations, VerifyResult } from './types.js';

/** Where `vendor` puts each locked component, and what the lock says it must hash to. */
export function expectationsFromLock(lock: Lockfile, without: string[] = []): VerifyExpectations {
  const components: Record<string, ComponentExpectation> = {};
  for (const [name, c] of Object.entries(lock.components)) {
    const prefix = storeRel(name, c);
    components[name] =
      storeKind(c) === 'tree'
        ? { prefix, tree: vendoredTreeOf(c), placedAt: c.path }
        : { prefix, integrity: lockedIntegrity(c) };
    if (without.includes(name)) components[name]!.without = true;
  }
  return { components };
}

export function embeddedExpectations(
  embedded: Embedded,
  problems: string[],
): { expect?: VerifyExpectations; source: VerifyResult['expectations'] } {
  const without = (embedded.without ?? '')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t')[0]!);
  if (embedded.releaseInfo !== undefined) {
    const { info, problem } = parseReleaseInfo(embedded.releaseInfo, RELEASE_INFO);
    if (info) {
      const components: Record<string, ComponentExpectation> = {};
      for (const [name, c] of Object.entries(info.components))
        components[name] = {
          prefix: c.path,
          tree: c.tree,
          integrity: c.integrity,
          without: without.includes(name) || undefined,
        };
      // The lock beside it says where make reads each folder (release.json names the store).
      const placed = placedPaths(embedded.lock);
      for (const [name, c] of Object.entries(components)) if (c.tree && placed.has(name)) c.placedAt = placed.get(name);
      return { expect: { components, tree: info.tree }, source: 'release.json' };
    }
    problems.push(`${problem}; not used`);
  }
  if (embedded.lock !== undefined) {
    try {
      return { expect: expectationsFromLock(parseLockText(embedded.lock, LOCK_COPY), without), source: 'lock' };
    } catch (err) {
      problems.push(`${LOCK_COPY}: cannot be used (${(err as Error).message})`);
    }
  }
  return { source: 'none' };
}

/** Each folder component's path in the tree, from the embedded lock (none when it cannot be read). */
function placedPaths(lockText: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (lockText === undefined) return out;
  try {
    for (const [name, c] of Object.entries(parseLockText(lockText, LOCK_COPY).components))
      if (storeKind(c) === 'tree') out.set(name, c.path);
  } catch {
    // reported where the lock itself is used
  }
  return out;
}
