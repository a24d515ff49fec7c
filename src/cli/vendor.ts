import { Command, Option } from 'clipanion';
import { checkError } from '../errors.js';
import { fetchAll } from '../fetch/fetch-all.js';
import { displayPath } from '../config/load.js';
import type { Report } from '../report/report.js';
import type { TreeDiff } from '../tree/hash.js';
import { vendor, vendorCheck, type CheckFinding } from '../vendoring/vendor.js';
import { BaseCommand } from './base.js';

/** "modified src/a.c, missing README, extra x" (at most `max` names per kind). */
export function describeDiff(d: TreeDiff, max = 10): string {
  const part = (label: string, list: string[]) =>
    list.length
      ? `${label} ${list.slice(0, max).join(', ')}${list.length > max ? ` (+${list.length - max} more)` : ''}`
      : '';
  return [part('modified', d.modified), part('missing', d.missing), part('extra', d.extra)].filter(Boolean).join('; ');
}

function describeFinding(f: CheckFinding): string {
  if (f.diff) return `${f.name}: ${f.where}: ${describeDiff(f.diff)}`;
  if (f.problem === 'missing') return `${f.name}: ${f.where}: missing${f.detail ? ` (${f.detail})` : ''}`;
  return `${f.name}: ${f.where}: ${f.problem}${f.detail ? ` (${f.detail})` : ''}`;
}

export class VendorCommand extends BaseCommand {
  static override paths = [['vendor']];
  static override usage = Command.Usage({
    description: 'Place every locked source in the tree and install the offline make shim',
    details: `
      Puts each component of \`xenrel.lock\` into the tree's store, \`.xenrel/sources/<name>/\`
      (a tarball as the file itself), verified against the lock; installs the shim
      (\`.xenrel/bin/git\`, \`.xenrel/bin/fetch\`, POSIX sh) and a copy of the lock; writes one
      marked block into \`.config\` that points Xen's \`GIT\` and \`FETCHER\` at the shim; and
      copies each component to the path Xen's make expects, so make skips its download.
      After \`make distclean\` (or in a release tarball) the shim re-creates those paths from
      the store when make asks. Anything the lock does not list is refused, never fetched.

      What the cache lacks is fetched first (\`--offline\` forbids that). A second run changes
      nothing and says so; after a local edit it restores the locked content and names each
      file it replaced. \`--check\` changes nothing and exits 1 naming every difference.

      \`--without NAME\` leaves a component out (a distribution's own qemu, say): the shim then
      refuses its fetch, and vendor prints the Xen configure option to use instead.
    `,
    examples: [
      ['Vendor everything', '$0 vendor'],
      ["Use the distribution's qemu", '$0 vendor --without qemu-xen'],
      ['Leave out every stub domain source (a group)', '$0 vendor --without stubdom'],
      ['Check a vendored tree in CI', '$0 vendor --check'],
      ['Only the store and the shim (the paths appear when make asks)', '$0 vendor --no-materialise'],
    ],
  });

  check = Option.Boolean('--check', false, {
    description: 'Compare the vendored tree with the lock; change nothing; exit 1 on any difference',
  });
  without = Option.Array('--without', [], { description: 'Leave this component or group out (repeatable)' });
  noMaterialise = Option.Boolean('--no-materialise', false, {
    description: 'Do not copy components to their paths; the shim serves them when make asks',
  });
  offline = Option.Boolean('--offline', false, { description: 'Use only the cache; fail naming what is missing' });

  async run(report: Report): Promise<void> {
    const { loaded, lock, lockFile } = await this.loadLocked();
    const root = loaded.root;

    if (this.check) {
      const res = await vendorCheck(
        lock,
        root,
        this.without.length ? { without: this.resolveWithout(loaded, this.without).names } : {},
      );
      report.set('check', res);
      for (const f of res.findings) report.output(describeFinding(f));
      for (const p of res.notMaterialised) report.info(`${p}: not present (the shim creates it when make asks)`);
      if (res.untracked.length)
        report.info(
          `${res.untracked.length} file(s) in component folders that the lock does not name (build outputs?): ${res.untracked.slice(0, 5).join(', ')}${res.untracked.length > 5 ? ', …' : ''}`,
        );
      if (!res.ok) {
        const names = [...new Set(res.findings.map((f) => f.name))];
        report.error(
          checkError(
            'E_VENDOR_DRIFT',
            `the vendored tree differs from ${displayPath(lockFile, this.cwd)}: ${names.join(', ')}`,
            {
              hint: 'run `xenrel vendor` to restore the locked content',
            },
          ),
        );
        return;
      }
      report.info(
        `vendored tree matches the lock (${Object.keys(lock.components).length - res.without.length} components${res.without.length ? `, ${res.without.length} left out` : ''})`,
      );
      return;
    }

    const cache = await this.openCache();
    const without = this.resolveWithout(loaded, this.without);
    const res = await vendor(lock, cache, root, {
      without: without.names,
      configRoot: loaded.root,
      materialise: !this.noMaterialise,
      fetch: async (l, names) => {
        await fetchAll({ lock: l, cache, loaded, names, offline: this.offline });
      },
    });
    report.set('vendor', {
      store: res.store.map(({ entries: _e, ...r }) => r),
      paths: res.paths,
      shim: res.shim,
      config: res.config,
      removedPaths: res.removedPaths,
      advice: res.advice,
      nothingToDo: res.nothingToDo,
    });
    for (const r of res.store) {
      if (r.action === 'placed') report.info(`placed ${r.name} in .xenrel/sources/${r.name}`);
      if (r.action === 'restored')
        report.output(
          `restored ${r.name} in .xenrel/sources/${r.name}: ${r.diff ? describeDiff(r.diff) : 'content replaced'}`,
        );
      if (r.action === 'removed') report.info(`removed ${r.name} from .xenrel/sources`);
    }
    for (const p of res.paths) {
      if (p.action === 'placed') report.info(`placed ${p.name} at ${p.path}`);
      if (p.action === 'restored')
        report.output(`restored ${p.name} at ${p.path}: ${p.diff ? describeDiff(p.diff) : 'content replaced'}`);
    }
    for (const p of res.removedPaths) report.info(`removed ${p} (left out)`);
    if (res.shim.length) report.info(`shim: wrote ${res.shim.join(', ')}`);
    if (res.config) report.info('.config: GIT and FETCHER now point at .xenrel/bin (block "BEGIN xenrel")');
    for (const a of res.advice) report.output(a);
    if (without.flags.length) report.output(`configure Xen with: ${without.flags.join(' ')}`);
    if (res.nothingToDo)
      report.output(
        `nothing to do: ${res.store.filter((r) => r.action === 'unchanged').length} components already vendored and unchanged`,
      );
    else
      report.info(
        `vendored ${res.store.filter((r) => r.action !== 'left-out' && r.action !== 'removed').length} components into ${displayPath(root, this.cwd) || '.'}; make will not touch the network`,
      );
  }
}
