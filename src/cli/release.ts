import { Command, Option } from 'clipanion';
import { basename, dirname, relative } from 'node:path';
import { usageError } from '../errors.js';
import { fetchAll } from '../fetch/fetch-all.js';
import { displayPath } from '../config/load.js';
import { human, type Report } from '../report/report.js';
import { release } from '../release/release.js';
import { withProgress } from '../util/progress.js';
import { isLockedGit, isLockedTarball } from '../model/kind.js';
import type { Lockfile } from '../model/lock.js';
import { levelOption } from './numeric-options.js';
import { BaseCommand } from './base.js';

const shellQuote = (s: string) => (/^[A-Za-z0-9_./:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** One row per component (and nested source, indented): what a release manager checks at a glance. */
export function summaryRows(lock: Lockfile, without: string[]): string[][] {
  const rows: string[][] = [];
  for (const [n, c] of Object.entries(lock.components).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (without.includes(n)) continue;
    if (isLockedGit(c)) {
      rows.push([n, `${c.ref} (${c.commit.slice(0, 12)})`, '-']);
      for (const [p, child] of Object.entries(c.children ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        rows.push([
          `  ${n}/${p}`,
          child.kind === 'wrap-file'
            ? basename(child.url)
            : `${child.ref ?? child.kind} (${child.commit.slice(0, 12)})`,
          child.kind === 'wrap-file' ? human(child.size) : '-',
        ]);
    } else if (isLockedTarball(c)) rows.push([n, basename(new URL(c.url).pathname), human(c.size)]);
    else rows.push([n, `local ${c.local}`, '-']);
  }
  return rows;
}

const FORMATS = ['gz', 'xz', 'zst'] as const;

/** What --reproduce takes from the tarball instead. */
const RECORDED = ['--out', '--prefix', '--format', '--allow-dirty', '--without'] as const;

export class ReleaseCommand extends BaseCommand {
  static override paths = [['release']];
  static override usage = Command.Usage({
    description: 'Cut a self-contained, byte-reproducible release tarball',
    details: `
      Writes \`DIR/NAME.tar.gz\` (\`NAME\` = \`<name>-<version>\`, the version from \`release.version\`
      in the config or \`git describe\`) and \`DIR/SHA256SUMS\` in \`sha256sum -c\` format. The
      tarball holds the project as \`git archive HEAD\` gives it (a folder that is not a git work
      tree is taken whole), every locked component once under \`.xenrel/sources/\` (fetched into
      the cache first if missing), the offline make shim and its \`.config\` block,
      \`xenrel.lock\`, and \`.xenrel/release.json\` with the tree hash of the whole and of each
      component. \`make\` on the extracted tarball never touches the network.

      The same commit, lock and xenrel give byte-identical tarballs: entries in bytewise order,
      mtime from \`SOURCE_DATE_EPOCH\` or else the HEAD commit time, owner 0, modes 0644/0755,
      no gzip name or time. Nothing appears under the final name until the tarball is complete,
      and it is read back and verified before the command succeeds. Your work tree is never
      modified: the project's files are read from git (or the folder), the components from the
      cache, straight into the tarball; only xenrel's own small files are staged in $TMPDIR.

      Beside the tarball goes \`NAME.tar.gz.intoto.jsonl\`: SLSA provenance v1 (an in-toto
      statement, build type \`https://xenrel.dev/release/v1\`) naming the tarball's sha256, the
      options that shaped it and every pin of the lock; the same inputs write the same bytes.
      \`--sign KEY\` wraps it in a signed DSSE envelope: KEY is an OpenSSH private key file (or a
      file with KEY.pub beside it, or an OpenSSH public key whose private half ssh-agent holds),
      signed with \`ssh-keygen -Y sign -n xenrel-provenance\`; anything else is an OpenPGP key
      id, fingerprint or user id, signed by \`gpg --detach-sign\` from your keyring
      (\`GNUPGHOME\`). \`xenrel verify TARBALL --provenance FILE --key KEY\` checks it.
    `,
    examples: [
      ['Cut dist/xen-4.22.0.tar.gz', '$0 release'],
      ['xz, into another folder', '$0 release --format xz --out /srv/releases'],
      ['Reproduce a release byte for byte', 'SOURCE_DATE_EPOCH=1767225600 $0 release'],
      ['Sign the provenance with an SSH key', '$0 release --sign ~/.ssh/id_ed25519'],
      ['Prove a release reproduces, from its own records', '$0 release --reproduce dist/xen-4.22.0.tar.gz'],
    ],
  });

  out = Option.String('--out', { description: 'Output folder (default: dist/ in the project)' });
  prefix = Option.String('--prefix', { description: 'Top directory and file name (default: <name>-<version>)' });
  format = Option.String('--format', 'gz', { description: 'gz (default), xz or zst' });
  level = Option.String('--level', {
    description: 'Compression level (gzip 1-9, default 9; xz 0-9, default 6; zst 1-19, default 19)',
  });
  allowDirty = Option.Boolean('--allow-dirty', false, { description: 'Include uncommitted changes to tracked files' });
  without = Option.Array('--without', [], { description: 'Leave this component or group out (repeatable)' });
  offline = Option.Boolean('--offline', false, { description: 'Use only the cache' });
  provenance = Option.Boolean('--provenance', true, {
    description: 'Write NAME.intoto.jsonl, SLSA provenance (default; --no-provenance to skip)',
  });
  sign = Option.String('--sign', {
    description: 'Sign the provenance: an OpenSSH private key file, or an OpenPGP key id, fingerprint or user id',
  });
  reproduce = Option.String('--reproduce', {
    description:
      'Cut TARBALL again from what it records, in a clean clone with another umask, locale, time zone, mtimes and user, and compare byte for byte',
  });

  async run(report: Report): Promise<void> {
    if (!(FORMATS as readonly string[]).includes(this.format))
      throw usageError(`--format must be one of ${FORMATS.join(', ')}, not "${this.format}"`);
    // The format comes from the tarball: the child release checks the level against it.
    if (this.reproduce !== undefined) return this.runReproduce(report, this.reproduce);
    const level = levelOption(this.format as (typeof FORMATS)[number], this.level);
    const { loaded, lock } = await this.loadLocked();
    const cache = await this.openCache();
    const without = this.resolveWithout(loaded, this.without).names;
    const r = await release({
      progress: report,
      loaded,
      lock,
      cache,
      outDir: this.out,
      prefix: this.prefix,
      format: this.format as (typeof FORMATS)[number],
      level,
      allowDirty: this.allowDirty,
      without,
      provenance: this.provenance,
      sign: this.sign,
      fetch: async (l, names) => {
        // Say what had to be downloaded; components already in the cache go without a line.
        const quietCached = withProgress(report, {
          info: () => {},
          done: (n, status) => void (status !== 'in cache' && report.done(n, status)),
        });
        await fetchAll({ lock: l, cache, loaded, names, offline: this.offline, progress: quietCached });
      },
    });
    const shown = displayPath(r.file, this.cwd);
    for (const w of r.warnings) report.warn(w);
    report.set('tarball', shown);
    report.set('sha256', r.sha256);
    report.set('tarSha256', r.tarSha256);
    report.set('size', r.size);
    report.set('mtime', r.mtime);
    report.set('release', r.info);
    report.set('sha256sums', displayPath(r.sums, this.cwd));
    report.set('sbom', displayPath(r.sbom, this.cwd));
    if (r.provenance) report.set('provenance', displayPath(r.provenance, this.cwd));
    report.info(`${shown}: ${human(r.size)}, verified`);
    report.table(summaryRows(lock, this.without), ['COMPONENT', 'VERSION', 'SIZE']);
    report.output(`${r.sha256}  ${basename(r.file)}`);
    report.info(`SBOM (SPDX 2.3): ${displayPath(r.sbom, this.cwd)}, also inside as .xenrel/sbom.spdx.json`);
    if (r.provenance)
      report.info(`provenance (SLSA v1${this.sign ? ', signed' : ''}): ${displayPath(r.provenance, this.cwd)}`);
    // sha256sum -c looks for the listed file beside where it runs: go to the output folder.
    const outRel = relative(this.cwd, dirname(r.sums));
    const check = `${outRel ? `cd ${shellQuote(outRel)} && ` : ''}sha256sum -c ${basename(r.sums)}`;
    report.info(`packagers verify it with:\n  ${check}\n  xenrel verify ${shellQuote(shown)} --upstream`);
  }

  private async runReproduce(report: Report, tarball: string): Promise<void> {
    const given = [
      this.out,
      this.prefix,
      this.format !== 'gz' || undefined,
      this.allowDirty || undefined,
      this.without.length || undefined,
    ];
    const clash = RECORDED.filter((_, i) => given[i] !== undefined);
    if (clash.length)
      throw usageError(
        `--reproduce takes ${clash.join(', ')} from the tarball: leave ${clash.length > 1 ? 'them' : 'it'} out`,
      );
    const [{ runReproduce }, loaded, cache] = await Promise.all([
      import('./release-reproduce.js'),
      this.loadConfig(),
      this.openCache(),
    ]);
    await runReproduce(report, {
      tarball,
      cwd: this.cwd,
      loaded,
      cacheDir: cache.root,
      config: this.config,
      level: this.level,
      offline: this.offline,
    });
  }
}
