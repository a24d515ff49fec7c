import { isFullCommit } from '../util/patterns.js';
import { lstat, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { entriesFromDir, type EntrySource } from '../archive/entries.js';
import { writeArchive } from '../archive/write-archive.js';
import { detectProject, projectContent } from '../release/project-tree.js';
import { isLockedGit, isLockedLocal, isLockedTarball } from '../model/kind.js';
import type { LockedTarball } from '../model/lock.js';
import { writeFileAtomic } from '../util/atomic.js';
import { compareBytewise } from '../tree/hash.js';
import { fileNameOfUrl, versionFromFileName } from '../util/file-version.js';
import { exportError, exportedComponents, type ExportContext } from './context.js';
import { exportComponentFile, tarballHashes, type ExportedFile } from './sources.js';
import { copyContentTo } from '../sources/tarball.js';

/**
 * Debian's multi-tarball orig layout (dpkg-source(1), format "3.0 (quilt)"):
 *   <src>_<ver>.orig.tar.gz              the project without its components, plus a
 *                                        relative symlink at each component's path
 *                                        (`tools/firmware/seabios-dir-remote -> ../../seabios`,
 *                                        `stubdom/newlib-1.16.0.tar.gz -> ../newlib/newlib-1.16.0.tar.gz`)
 *   <src>_<ver>.orig-<comp>.tar.gz       one per component; dpkg-source unpacks it into
 *                                        <comp>/ (stripping a single top folder)
 * so after `dpkg-source -x` every component is where Xen's make looks for it, with no
 * debian/rules step and no network.
 * Git components (and local folders) are deterministic tarballs of the commit's content,
 * nested sources included, patches not (they belong in debian/patches). Tarball components
 * are files to Xen's make (stubdom/Makefile unpacks `newlib-1.16.0.tar.gz` itself), and an
 * orig component is always unpacked into a folder: so the component tarball wraps the
 * upstream file, byte for byte, as `<comp>/<file name at its path>`.
 * Beside them: `SHA256SUMS`, `components` (`<comp> <path in the tree>` lines) and
 * `watch.components` (uscan v4 lines with `component=` for the unpacked components, to
 * append after the main line of debian/watch; the wrapped upstream files, which uscan
 * cannot wrap, as commented lines whose pattern matches the upstream file name, for
 * `uscan --report` style checks by hand).
 */

/** A source package name: lower case letters, digits, `+ - .`, two characters or more. */
export function debianSourceName(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9+.-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '');
  if (!/^[a-z0-9][a-z0-9+.-]+$/.test(s))
    throw exportError(
      `"${name}" cannot become a Debian source package name`,
      'set `name:` in the config to lower-case letters and digits',
    );
  return s;
}

/** An upstream version: starts with a digit, then `A-Za-z0-9.+~-` (a leading `v` dropped). */
export function debianUpstreamVersion(v: string | undefined): string {
  const s = (v ?? '').replace(/^v(?=\d)/, '').replace(/_/g, '~');
  if (!/^[0-9][A-Za-z0-9.+~-]*$/.test(s))
    throw exportError(
      `"${v ?? ''}" is not a Debian upstream version (it must start with a digit)`,
      'set `release: {version: X.Y.Z}` in the config',
    );
  return s;
}

/** A component name: `[a-z0-9-]`, not starting or ending with `-`. */
export function debianComponentName(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Where the version sits in an upstream file name, and the class of characters it is made
 * of: `ipxe-git-<commit>.tar.gz` (a hex commit), `polarssl-1.1.4-gpl.tgz` (a version with a
 * suffix after it), `newlib-1.16.0.tar.gz`.
 */
export function fileNameVersion(file: string): { at: number; version: string; charClass: string } | undefined {
  const git = /-git-([0-9a-f]{7,40})(?=[._-])/.exec(file);
  if (git) return { at: git.index + git[0].length - git[1]!.length, version: git[1]!, charClass: '[0-9a-f]+' };
  const m = /[-_]v?(\d+(?:\.\d+)*)(?=[._-])/.exec(file);
  if (m) return { at: m.index + m[0].length - m[1]!.length, version: m[1]!, charClass: '[\\d.]+' };
  const v = versionFromFileName(file);
  return v ? { at: file.lastIndexOf(v), version: v, charClass: '[\\w.+~]+' } : undefined;
}

/** A uscan regex for a file name: the version replaced by a capture group; any .tar.* compression. */
export function watchPattern(file: string): string | undefined {
  const v = fileNameVersion(file);
  if (!v) return undefined;
  const tail = reEscape(file.slice(v.at + v.version.length)).replace(
    /\\\.tar\\\.(gz|bz2|xz)$/,
    '\\.tar\\.(?:gz|bz2|xz)',
  );
  return `${reEscape(file.slice(0, v.at))}(${v.charClass})${tail}`;
}

function watchLine(comp: string, c: ReturnType<typeof exportedComponents>[number][1]): string {
  if (isLockedTarball(c)) {
    const file = fileNameOfUrl(c.url);
    const dir = c.url.slice(0, c.url.length - file.length);
    const pat = watchPattern(file);
    if (!pat) return `# ${comp}: ${c.url} has no version in its name; uscan cannot watch it`;
    return [
      `# ${comp}: Xen's make wants the file ${c.path} itself, so orig-${comp} wraps the upstream file`,
      `# (uscan cannot); this line finds new upstream versions, then run \`xenrel export\` again:`,
      `# opts="component=${comp}" \\`,
      `#   ${dir} ${pat}`,
    ].join('\n');
  }
  if (isLockedGit(c)) {
    const v = /\d[\d.]*$/.exec(c.ref)?.[0];
    if (v && !isFullCommit(c.ref)) {
      const prefix = c.ref
        .slice(0, c.ref.length - v.length)
        .replace(/^refs\/tags\//, '')
        .replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      return `opts="mode=git, pgpmode=none, component=${comp}" \\\n  ${c.git} refs/tags/${prefix}([\\d.]+)`;
    }
    return `opts="mode=git, pgpmode=none, pretty=0.0~git%cd.%h, component=${comp}" \\\n  ${c.git} HEAD`;
  }
  return `# ${comp}: a local input; nothing to watch`;
}

export async function exportDebian(
  ctx: ExportContext,
  outDir: string,
): Promise<{ dir: string; files: ExportedFile[] }> {
  const src = debianSourceName(ctx.lock.name);
  const ver = debianUpstreamVersion(ctx.version);
  await mkdir(outDir, { recursive: true });
  const comps = new Map<string, string>();
  const files: ExportedFile[] = [];
  const listing: string[] = [];
  const links: EntrySource[] = [];
  const watch: string[] = [
    `# uscan v4 lines for ${src}'s components (generated by xenrel): append them after the main line of debian/watch.`,
  ];
  for (const [name, c] of exportedComponents(ctx)) {
    const comp = debianComponentName(name);
    if (!comp)
      throw exportError(
        `component "${name}" cannot become a Debian component name ([a-z0-9-])`,
        'rename it in the config',
      );
    if (comps.has(comp))
      throw exportError(
        `components ${comps.get(comp)} and ${name} both become the Debian component "${comp}"`,
        'rename one of them in the config',
      );
    comps.set(comp, name);
    if (isLockedLocal(c) && !c.tree) {
      ctx.warn?.(`${name}: a prebuilt local file (${c.local}) is not a source; not exported`);
      continue;
    }
    if (
      await lstat(join(ctx.loaded.root, comp)).then(
        () => true,
        () => false,
      )
    )
      throw exportError(
        `component ${name}: the project already has "${comp}" at its top, where dpkg-source would unpack orig-${comp}`,
        'rename the component in the config',
      );
    const fileName = `${src}_${ver}.orig-${comp}.tar.gz`;
    const f = isLockedTarball(c)
      ? await wrapUpstreamFile(name, c, { ctx, outDir, fileName, comp })
      : await exportComponentFile(name, c, {
          cache: ctx.cache,
          configRoot: ctx.loaded.root,
          outDir,
          fileName,
          topDir: comp,
          epoch: ctx.epoch,
        });
    if (!f) continue;
    files.push(f);
    listing.push(`${comp} ${c.path}\n`);
    // Where Xen's make looks: a relative symlink into the unpacked component.
    const target = isLockedTarball(c) ? `${comp}/${posix.basename(c.path)}` : comp;
    links.push({ kind: 'symlink', path: c.path, target: posix.relative(posix.dirname(c.path), target) });
    watch.push(watchLine(comp, c));
  }
  // The project itself, without what the component tarballs carry.
  const project = await detectProject(ctx.loaded.root);
  const stage = await mkdtemp(join(tmpdir(), 'xenrel-debian-'));
  try {
    const content = await projectContent(project, stage, { lock: ctx.lock, outDir, cacheRoot: ctx.cache.root });
    const file = `${src}_${ver}.orig.tar.gz`;
    const entries = [...(await entriesFromDir(content.root, { skip: content.skip })), ...links];
    const w = await writeArchive(entries, {
      out: join(outDir, file),
      format: 'gz',
      topDir: `${src}-${ver}`,
      mtime: ctx.epoch,
    });
    files.unshift({ component: '', file, sha256: w.sha256, sha512: '', size: w.size });
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  const sorted = [...files].sort((a, b) => compareBytewise(a.file, b.file));
  await writeFileAtomic(join(outDir, 'SHA256SUMS'), sorted.map((f) => `${f.sha256}  ${f.file}\n`).join(''));
  await writeFileAtomic(join(outDir, 'components'), listing.join(''));
  await writeFileAtomic(join(outDir, 'watch.components'), `${watch.join('\n')}\n`);
  return { dir: outDir, files };
}

/** `<comp>/<file>` holding the upstream bytes untouched (verified from the cache). */
async function wrapUpstreamFile(
  name: string,
  c: LockedTarball,
  o: { ctx: ExportContext; outDir: string; fileName: string; comp: string },
): Promise<ExportedFile> {
  const h = await tarballHashes(o.ctx.cache, c.integrity, name);
  const stage = await mkdtemp(join(tmpdir(), 'xenrel-debian-'));
  try {
    const inner = join(stage, 'file');
    await copyContentTo(o.ctx.cache, c.integrity, inner);
    const entry: EntrySource = {
      kind: 'file',
      path: posix.basename(c.path),
      executable: false,
      size: h.size,
      content: { type: 'path', abs: inner },
    };
    const w = await writeArchive([entry], {
      out: join(o.outDir, o.fileName),
      format: 'gz',
      topDir: o.comp,
      mtime: o.ctx.epoch,
    });
    return { component: name, file: o.fileName, sha256: w.sha256, sha512: '', size: w.size, url: c.url };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
