import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { XenrelError, ExitCode, fsFailure } from '../errors.js';
import type { Cache } from '../content-cache/cache.js';
import type { LoadedConfig } from '../config/load.js';
import type { Lockfile } from '../model/lock.js';
import type { ProgressSink } from '../types.js';
import { serializeLock, LOCKFILE_NAME } from '../lock/lockfile.js';
import { entriesFromDir } from '../archive/entries.js';
import { writeArchive } from '../archive/write-archive.js';
import { DEFAULT_LEVELS, EXTENSIONS, type Compression } from '../archive/compress.js';
import { treeHash, type TreeEntry } from '../tree/hash.js';
import { walkTree } from '../tree/walk.js';
import { writeFileAtomic } from '../util/atomic.js';
import { collectGarbage } from '../util/collect-garbage.js';
import { removeOnInterrupt } from '../util/interrupt-cleanup.js';
import { vendor } from '../vendoring/vendor.js';
import { resultProjectEntries, type VerifyResult } from '../verify/types.js';
import { verifyTarball } from '../verify/verify.js';
import { buildReleaseInfo, RELEASE_INFO, renderReleaseInfo, type ReleaseInfo } from '../layout/release-info.js';
import { CONFIG_FILE, RELEASE_SBOM, projectEntries } from '../verify/owned.js';
import { writeRecord } from './record.js';
import { detectProject, dirtyFiles, projectSources, uncommittedFiles } from './project-tree.js';
import { BlobHashCache } from './blob-hash-cache.js';
import { streamedComponents, type StreamedComponents } from './component-sources.js';
import { assertKnownComponents } from '../components/names.js';
import { generateSbom } from '../sbom/sbom.js';
import { tarballPinWarnings } from '../xen/tarball-pins.js';
import { writeProvenance } from '../provenance/write.js';
import { signingKeyRef } from '../provenance/sign.js';

/** The SPDX SBOM inside a release (part of the whole-tree hash); a copy sits beside the tarball. */
export { RELEASE_SBOM };

/** Files from which a release collects garbage between its phases (below, it costs more than it saves). */
const LARGE_TREE = 10_000;

/** 1980-01-01: the floor for archive timestamps (zip and some gzip readers refuse older). */
export const MIN_MTIME = 315532800;

export interface ReleaseOptions {
  /** Bytes written (uncompressed tar, of the content's total) and read back, as two items. */
  progress?: ProgressSink;
  loaded: LoadedConfig;
  lock: Lockfile;
  cache: Cache;
  /** Output folder (default `<project>/dist`). */
  outDir?: string;
  /** Top directory and file name (default `<name>-<version>`). */
  prefix?: string;
  format?: Exclude<Compression, 'none'>;
  level?: number;
  allowDirty?: boolean;
  /** Seconds; default $SOURCE_DATE_EPOCH, else the HEAD commit time. */
  sourceDateEpoch?: number;
  without?: string[];
  /** Fetch what the cache lacks (the CLI passes the fetch stage). */
  fetch?: (lock: Lockfile, names: string[]) => Promise<void>;
  /** Write `<tarball>.intoto.jsonl` (SLSA provenance); default true. */
  provenance?: boolean;
  /** Sign the provenance (a DSSE envelope): an OpenPGP key id or fingerprint, or an OpenSSH key file. */
  sign?: string;
}

export interface ReleaseResult {
  file: string;
  name: string;
  version: string;
  sha256: string;
  size: number;
  tarSha256: string;
  mtime: number;
  sums: string;
  /** `DIR/NAME.spdx.json`, the same bytes as RELEASE_SBOM inside. */
  sbom: string;
  /** `DIR/NAME.release.json`: the anchor for the project's files, the lock and the SBOM. */
  record: string;
  info: ReleaseInfo;
  /** `DIR/<tarball>.intoto.jsonl`, unless provenance was turned off. */
  provenance?: string;
  verify: VerifyResult;
  project: 'git' | 'dir';
  /** Pins the tarball's make would ask for differently from the lock (src/xen/tarball-pins.ts). */
  warnings: string[];
}

function parseEpoch(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v))
    throw new XenrelError('E_USAGE', `SOURCE_DATE_EPOCH must be a whole number of seconds, not "${v}"`, {
      exitCode: ExitCode.usage,
    });
  return Number(v);
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The output folder, or the nearest of its parents that exists, is a folder xenrel may
 * write: checked before the release does any work, and nothing is created yet.
 */
async function checkOutDir(outDir: string): Promise<void> {
  const hint = '--out must name a folder you can write (it is made if missing)';
  for (let d = outDir; ; d = dirname(d)) {
    let st;
    try {
      st = await stat(d);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Missing, or below a file: the parent tells which.
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(d) !== d) continue;
      throw fsFailure(err, `the output folder ${outDir}`, hint);
    }
    if (!st.isDirectory())
      throw new XenrelError('E_FS', `the output folder ${outDir}: ${d} is not a folder`, {
        exitCode: ExitCode.fetch,
        hint,
        details: { errno: 'ENOTDIR' },
      });
    await access(d, constants.W_OK).catch((err: unknown) => {
      throw fsFailure(err, `the output folder ${outDir}: ${d} is not writable`, hint);
    });
    return;
  }
}

/**
 * Leftovers of a killed release whose process is gone: temp files in the output folder
 * (`.<name>.xenrel-tmp-<pid>-…`) and staging folders in $TMPDIR (`xenrel-release-<pid>-…`).
 */
async function removeStaleReleaseTemps(outDir: string): Promise<void> {
  for (const n of await readdir(outDir).catch(() => [] as string[])) {
    const m = /\.xenrel-tmp-(\d+)-[0-9a-f]+$/.exec(n);
    if (m && !processAlive(Number(m[1]))) await unlink(join(outDir, n)).catch(() => {});
  }
  for (const n of await readdir(tmpdir()).catch(() => [] as string[])) {
    const m = /^xenrel-release-(\d+)-/.exec(n);
    if (m && !processAlive(Number(m[1]))) await rm(join(tmpdir(), n), { recursive: true, force: true }).catch(() => {});
  }
}

/** `sha256sum -c` format; lines for other files already in SHA256SUMS are kept. */
async function updateSums(outDir: string, file: string, sha256: string): Promise<string> {
  const sumsFile = join(outDir, 'SHA256SUMS');
  const old = await readFile(sumsFile, 'utf8').catch(() => '');
  const lines = new Map<string, string>();
  for (const l of old.split('\n')) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(l);
    if (m) lines.set(m[2]!, m[1]!);
  }
  lines.set(basename(file), sha256);
  const text = [...lines.keys()]
    .sort()
    .map((f) => `${lines.get(f)}  ${f}\n`)
    .join('');
  await writeFileAtomic(sumsFile, text);
  return sumsFile;
}

/**
 * Cuts `<prefix>.tar.<fmt>`: the project (git archive of HEAD, or the folder), each locked
 * component once in `.xenrel/sources/`, the shim and its `.config` block, `xenrel.lock`
 * and `.xenrel/release.json`. Deterministic, written atomically, verified before success.
 * The user's work tree is never modified; the project's files are read from git objects
 * (or the folder), and the components from the cache, straight into the archive. Only
 * xenrel's own files are staged, with the components vendor must build in a folder.
 */
export async function release(opts: ReleaseOptions): Promise<ReleaseResult> {
  const { loaded, lock } = opts;
  if (opts.sign !== undefined) {
    if (opts.provenance === false)
      throw new XenrelError('E_USAGE', 'signing needs the provenance: drop --no-provenance, or --sign', {
        exitCode: ExitCode.usage,
      });
    await signingKeyRef(opts.sign);
  }
  const project = await detectProject(loaded.root, { describe: !loaded.config.release?.version });
  if (project.kind === 'git' && !opts.allowDirty) {
    const dirty = await dirtyFiles(project.root);
    if (dirty.length)
      throw new XenrelError(
        'E_DIRTY',
        `the work tree has uncommitted changes: ${dirty.slice(0, 5).join(', ')}${dirty.length > 5 ? `, and ${dirty.length - 5} more` : ''}`,
        {
          exitCode: ExitCode.usage,
          hint: 'commit or stash them (a release is cut from HEAD), or pass --allow-dirty to include them',
        },
      );
  }
  const version = loaded.config.release?.version ?? project.describe;
  if (!opts.prefix && !version)
    throw new XenrelError(
      'E_NO_VERSION',
      'no release version: the config has no release.version and the project is not a git repository',
      {
        exitCode: ExitCode.usage,
        hint: 'add `release: {version: X.Y.Z}` to the config, or pass --prefix NAME',
      },
    );
  const name = opts.prefix ?? loaded.config.release?.prefix ?? `${loaded.config.name}-${version}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(name))
    throw new XenrelError('E_USAGE', `"${name}" cannot be a tarball name (letters, digits, ".", "_", "+", "-")`, {
      exitCode: ExitCode.usage,
    });
  const format = opts.format ?? 'gz';
  const mtime = Math.max(
    MIN_MTIME,
    opts.sourceDateEpoch ?? parseEpoch(process.env.SOURCE_DATE_EPOCH) ?? project.commitTime ?? MIN_MTIME,
  );
  const outDir = resolve(opts.outDir ?? join(loaded.root, 'dist'));
  const out = join(outDir, `${name}${EXTENSIONS[format]}`);
  const without = opts.without ?? [];

  await checkOutDir(outDir);
  await removeStaleReleaseTemps(outDir);
  assertKnownComponents(without, Object.keys(lock.components));
  const names = Object.keys(lock.components)
    .sort()
    .filter((n) => !without.includes(n));
  const hashCache = await BlobHashCache.open(opts.cache.root);
  // The project's files come straight from git (or the folder).
  const content = await projectSources(project, {
    lock,
    outDir,
    cacheRoot: opts.cache.root,
    allowDirty: opts.allowDirty,
    exclude: [LOCKFILE_NAME, '.config'],
    hashCache,
  });
  let components: StreamedComponents | undefined;
  const staging = await mkdtemp(join(tmpdir(), `xenrel-release-${process.pid}-`));
  const forgetStaging = removeOnInterrupt(staging);
  // Between the rename and a good read-back, the tarball is not a release yet.
  let forgetOut = () => {};
  try {
    if (opts.fetch) await opts.fetch(lock, names);
    // Components come from the cache into the archive; only those vendor must build in a
    // folder (nested sources, patches, local ones) are placed in the staging store.
    components = await streamedComponents(lock, opts.cache, names, { hashCache });
    // xenrel's part: store, shim, the project's .config with the block, lock, SBOM.
    const extra = join(staging, 'extra');
    await mkdir(extra);
    const dotConfig = await content.read('.config');
    if (dotConfig) await writeFile(join(extra, '.config'), dotConfig);
    // Placing into the staging folder is an internal step: no per-component lines for it.
    await vendor(lock, opts.cache, extra, {
      materialise: false,
      without,
      configRoot: loaded.root,
      streamed: components.placed,
    });
    await writeFileAtomic(join(extra, LOCKFILE_NAME), serializeLock(lock));
    // GNU make reads the tarball's makefiles meanwhile, while the archive is planned and written.
    const pinWarnings = tarballPinWarnings(
      { paths: content.entries.filter((e) => e.mode !== '120000').map((e) => e.path), readAll: content.readAll },
      join(extra, '.config'),
      lock,
      without,
    );
    pinWarnings.catch(() => {}); // awaited below
    const sbom = await generateSbom(lock, {
      format: 'spdx',
      cache: opts.cache,
      config: loaded.config,
      configRoot: loaded.root,
      version: version ?? name,
      created: mtime,
      without,
    });
    await writeFileAtomic(join(extra, RELEASE_SBOM), sbom);

    const entries: TreeEntry[] = [
      ...content.entries,
      ...components.entries,
      ...(await walkTree(extra, { ignoreNames: [] })),
    ];
    const configText = await readFile(join(extra, CONFIG_FILE), 'utf8').catch(() => undefined);
    const projectTree = treeHash(projectEntries(entries, configText));
    const committed =
      project.kind === 'git' && !(opts.allowDirty && (await dirtyFiles(project.root)).length)
        ? project.commit
        : undefined;
    // The commit release.json names is where --reproduce and verify --upstream look for them.
    const notCommitted = committed
      ? await uncommittedFiles(project.root, [loaded.file, join(loaded.root, LOCKFILE_NAME)])
      : [];
    const info = buildReleaseInfo({
      name,
      compression: format,
      tree: treeHash(entries.filter((e) => e.path !== RELEASE_INFO)),
      project: { tree: projectTree, commit: committed },
      lock,
      without,
    });
    await writeFileAtomic(join(extra, RELEASE_INFO), renderReleaseInfo(info));

    // Every blob is hashed by now: the cache is saved before the write, so that it is not held
    // through it (a wrong entry still fails the read-back, which drops the saved cache).
    await hashCache.save();
    hashCache.clear();
    // A large tree's planning leaves MiBs of garbage: gone before the writer adds its own.
    // The tree-hash entries are in release.json now: the write and the read-back need none.
    const large = entries.length >= LARGE_TREE;
    for (const list of [entries, content.entries, components.entries]) list.length = 0;
    if (large) collectGarbage();
    const sources = [...content.sources, ...components.sources, ...(await entriesFromDir(extra, { ignoreNames: [] }))];
    // Every file's sha256 is known by now: the writer does not hash again.
    const writing = `writing ${basename(out)}`;
    const contentBytes = sources.reduce((n, s) => n + (s.kind === 'file' ? s.size : 0), 0);
    opts.progress?.start?.(writing, contentBytes);
    const written = await writeArchive(sources, {
      out,
      format,
      level: opts.level,
      topDir: name,
      mtime,
      hashFiles: false,
      onContentBytes: opts.progress ? (n) => opts.progress!.advance?.(writing, n) : undefined,
    }).catch(async (err) => {
      // A blob of another size than the cache said: the cache may be the cause.
      if (err instanceof XenrelError && err.code === 'E_FILE_CHANGED') await hashCache.drop();
      throw err;
    });
    opts.progress?.done?.(writing, '');
    forgetOut = removeOnInterrupt(out);
    const warnings = await pinWarnings;
    if (notCommitted.length)
      warnings.push(
        `${notCommitted.join(' and ')} ${notCommitted.length > 1 ? 'are' : 'is'} not committed as used: release.json names commit ${committed!.slice(0, 12)}, where \`release --reproduce\` and \`verify --upstream\` will not find ${notCommitted.length > 1 ? 'them' : 'it'} as used (commit, then release again)`,
      );
    await content.close();
    await components.close();
    // The read-back needs none of the file lists: let them go first, so a large tree is not
    // held twice (the record takes the project's files from the read-back).
    for (const list of [sources, content.sources, components.sources]) list.length = 0;

    if (large) collectGarbage();
    // Like `meson dist`: read back what was written before calling it a release.
    const verify = await verifyTarball(out, {
      expectedTopDir: name,
      lock,
      without,
      progress: opts.progress,
      progressLabel: `reading back ${basename(out)}`,
    });
    // What was read back is what release.json says: the project's files as the tarball holds them.
    const projectFiles = verify.project?.tree === projectTree ? resultProjectEntries(verify) : undefined;
    if (!verify.ok || !projectFiles) {
      await unlink(out).catch(() => {});
      // The blob-hash cache fed release.json's tree hash: never trust it again after this.
      await hashCache.drop();
      throw new XenrelError('E_RELEASE_VERIFY', `the tarball written to ${out} does not verify; it was removed`, {
        exitCode: ExitCode.checkFailed,
        hint: 'run `xenrel verify` on a vendored tree to see why, and report it',
        details: { verify },
      });
    }
    if (large) collectGarbage();
    forgetOut();
    const sums = await updateSums(outDir, out, written.sha256);
    const sbomFile = join(outDir, `${name}.spdx.json`);
    await writeFileAtomic(sbomFile, sbom);
    const record = await writeRecord({
      outDir,
      name,
      tarball: out,
      sha256: written.sha256,
      size: written.size,
      lock,
      sbom,
      without,
      project: { entries: projectFiles, commit: committed, repository: loaded.config.release?.repository },
    });
    await updateSums(outDir, record.file, record.sha256);
    const provenance = await writeProvenance({
      tarball: out,
      sha256: written.sha256,
      lock,
      write: opts.provenance ?? true,
      sign: opts.sign,
      parameters: {
        prefix: name,
        version: version ?? name,
        compression: { format, level: opts.level ?? DEFAULT_LEVELS[format] },
        sourceDateEpoch: mtime,
        without,
        project: { commit: committed, repository: loaded.config.release?.repository },
      },
      project: { tree: info.project!.tree, commit: committed, repository: loaded.config.release?.repository },
    });
    return {
      file: out,
      name,
      version: version ?? name,
      sha256: written.sha256,
      size: written.size,
      tarSha256: written.tarSha256,
      mtime,
      sums,
      sbom: sbomFile,
      record: record.file,
      info,
      ...(provenance ? { provenance } : {}),
      verify,
      project: project.kind,
      warnings,
    };
  } finally {
    await content.close().catch(() => {});
    await components?.close().catch(() => {});
    await rm(staging, { recursive: true, force: true });
    forgetStaging();
    forgetOut();
  }
}
