import { access, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Cache } from '../content-cache/cache.js';
import { assertKnownComponents } from '../components/names.js';
import { ExitCode, XenrelError } from '../errors.js';
import { diffLocks, type ComponentChange } from '../lock/diff.js';
import { readLock, writeLock } from '../lock/lockfile.js';
import { lockProject } from '../lock/resolve.js';
import { loadConfig } from '../config/load.js';
import { ensureCommit } from '../sources/git/mirror.js';
import { resolveRef } from '../sources/git/refs.js';
import { runGit } from '../sources/git/run.js';
import { describeComponent } from '../components/dispatch.js';
import type { LoadedConfig } from '../config/load.js';
import type { ProgressSink } from '../types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkGitUpstream } from '../upstream/check.js';
import { readXenPins } from '../xen/read-pins.js';
import { setConfigScalar } from './config-edit.js';
import { applyLineEdits, planLineEdit, type LineEdit } from './make-edit.js';

export interface BumpOptions {
  loaded: LoadedConfig;
  lockFile: string;
  cache: Cache;
  name: string;
  /** Tag, branch or commit (git); a version or a URL (tarball). Default: the newest tag of the pin's series. */
  to?: string;
  /** Edit files that have uncommitted changes. */
  allowDirty?: boolean;
  /** Leave the Xen tree's make variables alone. */
  configOnly?: boolean;
  progress?: ProgressSink;
}

export interface LogEntry {
  commit: string;
  subject: string;
}

export interface BumpResult {
  name: string;
  kind: 'git' | 'tarball';
  from: { pin: string; commit?: string; integrity?: string };
  to: { pin: string; commit?: string; integrity?: string };
  /** Nothing to do: the pin is already the newest. */
  unchanged: boolean;
  configEdit?: { file: string; field: string };
  treeEdits: LineEdit[];
  /** Make variables of the component that could not be rewritten, with the reason. */
  skipped: string[];
  /** Upstream commits between the old and the new pin (git), oldest last as `git log` prints them. */
  log: LogEntry[];
  direction?: 'forward' | 'backward' | 'unrelated' | 'same';
  changes: ComponentChange[];
  warnings: string[];
}

const VERSION_IN_NAME = /(?<![0-9A-Za-z])(?:[0-9a-f]{40}|\d+(?:\.\d+)+[a-z]?\d*)(?![0-9])/;

/** The version string a tarball URL's file name carries (`newlib-1.16.0.tar.gz` → `1.16.0`). */
export function versionInUrl(url: string): string | undefined {
  const base = new URL(url).pathname.split('/').pop() ?? '';
  return VERSION_IN_NAME.exec(base.replace(/\.(tar\.(gz|bz2|xz|zst)|tgz|tbz2?|txz|zip)$/i, ''))?.[0];
}

/** Strip terminal control characters from upstream text (commit subjects) before printing it. */
const clean = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '');

async function gitLog(mirrorDir: string, range: string): Promise<LogEntry[]> {
  const r = await runGit(['log', '--no-decorate', '--format=%H%x09%s', range, '--'], { gitDir: mirrorDir });
  if (r.code !== 0) return [];
  return r.stdout
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [commit, ...rest] = l.split('\t');
      return { commit: commit!, subject: clean(rest.join('\t')) };
    });
}

const isAncestor = async (dir: string, a: string, b: string) =>
  (await runGit(['merge-base', '--is-ancestor', a, b], { gitDir: dir })).code === 0;

/** Refuse to edit files with uncommitted changes (the bump should be one reviewable diff). */
async function assertClean(root: string, files: string[]): Promise<void> {
  const r = await runGit(
    ['status', '--porcelain', '--untracked-files=no', '--', ...files.map((f) => relative(root, f))],
    { cwd: root },
  );
  if (r.code !== 0) return; // not a git work tree: nothing to compare against
  const dirty = r.stdout
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.slice(3));
  if (dirty.length)
    throw new XenrelError('E_DIRTY', `bump would edit files with uncommitted changes: ${dirty.join(', ')}`, {
      exitCode: ExitCode.usage,
      hint: 'commit or stash them first so the bump is one reviewable change, or pass --allow-dirty',
      details: { dirty },
    });
}

/**
 * `xenrel bump NAME [--to REF]`: move a pin in the config (and in the Xen make variable it
 * came from), re-lock that component, and return the upstream log between the old and the
 * new commit. Every file is edited in place (only the pin's bytes change) and written
 * atomically; if re-locking fails, the edited files are put back as they were.
 */
export async function bump(opts: BumpOptions): Promise<BumpResult> {
  const { loaded, cache, name } = opts;
  const spec = loaded.config.components[name];
  if (!spec) assertKnownComponents([name], Object.keys(loaded.config.components));
  if (!spec!.git && !spec!.url)
    throw new XenrelError('E_USAGE', `component ${name} is a local source: there is no upstream pin to bump`, {
      exitCode: ExitCode.usage,
      hint: 'change its files and run `xenrel lock`',
    });
  const existing = await readLock(opts.lockFile);
  const old = existing?.components[name];
  const was = old && describeComponent(old);
  const warnings: string[] = [];
  const result: BumpResult = {
    name,
    kind: spec!.git ? 'git' : 'tarball',
    from: { pin: '' },
    to: { pin: '' },
    unchanged: false,
    treeEdits: [],
    skipped: [],
    log: [],
    changes: [],
    warnings,
  };

  let field: 'ref' | 'url';
  let oldPin: string;
  let newPin: string;
  /** Values as they appear in the make variables: [old, new]. */
  const varValues: [string, string][] = [];

  if (spec!.git) {
    field = 'ref';
    oldPin = spec!.ref!;
    const lockedCommit = was?.commit && was.url === spec!.git ? was.commit : undefined;
    result.from = { pin: oldPin, ...(lockedCommit ? { commit: lockedCommit } : {}) };
    if (opts.to) newPin = opts.to;
    else {
      const up = await checkGitUpstream(name, spec!, lockedCommit, cache);
      if (up.newer.length) newPin = up.newer[0]!;
      else if (up.refKind === 'branch')
        newPin = oldPin; // a branch pin: take its current commit
      else {
        result.to = result.from;
        result.unchanged = true;
        warnings.push(
          up.refKind === 'commit' && !up.baseTag
            ? `${oldPin} is a commit with no tag before it in the cache; pass --to REF`
            : `${up.baseTag ?? oldPin} is the newest tag of its series upstream; nothing to bump (pass --to REF to pin something else)`,
        );
        return result;
      }
    }
    try {
      await resolveRef(spec!.git, newPin, cache, { label: name });
    } catch (err) {
      if (err instanceof XenrelError && err.code === 'E_REF_NOT_FOUND')
        throw new XenrelError(err.code, `cannot bump ${name}: ${err.message.replace(/^component \S+: /, '')}`, {
          exitCode: ExitCode.usage,
          hint: err.hint,
          details: err.details,
        });
      throw err;
    }
    varValues.push([oldPin, newPin]);
  } else {
    field = 'url';
    oldPin = spec!.url!;
    result.from = { pin: oldPin, ...(was?.kind === 'tarball' ? { integrity: was.integrity } : {}) };
    if (!opts.to)
      throw new XenrelError(
        'E_USAGE',
        `component ${name} is a tarball: say what to bump it to with --to VERSION or --to URL`,
        {
          exitCode: ExitCode.usage,
          hint: `e.g. \`xenrel bump ${name} --to ${versionInUrl(oldPin) ? 'NEW-VERSION' : 'https://…/file.tar.gz'}\``,
        },
      );
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(opts.to)) newPin = opts.to;
    else {
      const v = versionInUrl(oldPin);
      if (!v)
        throw new XenrelError('E_USAGE', `component ${name}: no version in ${oldPin} to replace with ${opts.to}`, {
          exitCode: ExitCode.usage,
          hint: 'pass the full new URL with --to',
        });
      newPin = oldPin.split(v).join(opts.to);
      varValues.push([v, opts.to]);
    }
    const oldV = versionInUrl(oldPin);
    const newV = versionInUrl(newPin);
    if (oldV && newV && !varValues.length) varValues.push([oldV, newV]);
  }
  result.to = { pin: newPin };
  if (newPin === oldPin && result.kind === 'tarball') {
    result.unchanged = true;
    warnings.push(`${name} is already at ${newPin}`);
    return result;
  }

  // Plan every edit before writing any.
  const configText = await readFile(loaded.file, 'utf8');
  const newConfig =
    newPin === oldPin ? configText : setConfigScalar(configText, loaded.file, ['components', name, field], newPin);
  if (newPin !== oldPin) result.configEdit = { file: loaded.file, field };
  const edits: LineEdit[] = [];
  const treeRoot = loaded.root;
  const isXenTree = await access(join(treeRoot, 'Config.mk')).then(
    () => true,
    () => false,
  );
  if (!opts.configOnly && spec!.vars?.length && isXenTree && newPin !== oldPin) {
    const pins = await readXenPins(treeRoot);
    for (const v of spec!.vars) {
      const mv = pins.vars[v];
      const pair = varValues.find(([o]) => mv?.value === o);
      if (!mv || !pair) continue;
      if (!mv.file || !mv.line) {
        result.skipped.push(`${v} comes from the ${mv.origin}, not a file: change it there`);
        continue;
      }
      const e = await planLineEdit(treeRoot, mv.file, mv.line, v, pair[0], pair[1]);
      if ('refused' in e) result.skipped.push(`${v}: ${e.refused}; change it by hand`);
      else edits.push(e);
    }
  }
  if (!opts.allowDirty) await assertClean(treeRoot, [loaded.file, ...edits.map((e) => join(treeRoot, e.file))]);

  // Write, re-lock; put everything back if re-locking fails.
  if (newConfig !== configText) await writeFileAtomic(loaded.file, newConfig);
  let originals = new Map<string, string>();
  try {
    originals = await applyLineEdits(treeRoot, edits);
    const reloaded = await loadConfig({ cwd: loaded.root, config: loaded.file });
    const { lock, warnings: lw } = await lockProject({
      loaded: reloaded,
      cache,
      existing,
      update: [name],
      progress: opts.progress,
    });
    warnings.push(...lw);
    await writeLock(opts.lockFile, lock);
    result.changes = diffLocks(existing, lock);
    // Re-locked from a git or url pin: a commit or an integrity, never a local input's.
    const now = describeComponent(lock.components[name]!);
    if (now.commit) result.to.commit = now.commit;
    if (now.integrity) result.to.integrity = now.integrity;
  } catch (err) {
    await writeFileAtomic(loaded.file, configText).catch(() => {});
    for (const [file, text] of originals) await writeFileAtomic(file, text).catch(() => {});
    throw err;
  }
  result.treeEdits = edits;

  // The upstream log between the two commits, from the cache's mirror.
  if (spec!.git && result.to.commit) {
    const newC = result.to.commit;
    let oldC = result.from.commit;
    if (!oldC)
      oldC = await resolveRef(spec!.git, oldPin, cache, { label: name }).then(
        (r) => r.commit,
        () => undefined,
      );
    if (oldC) {
      const mirror = await ensureCommit(spec!.git, oldC, cache, { label: name }).then(
        (m) => m.mirrorDir,
        () => undefined,
      );
      if (!mirror) warnings.push(`the old commit ${oldC} is no longer upstream: no log`);
      else if (oldC === newC) result.direction = 'same';
      else if (await isAncestor(mirror, oldC, newC)) {
        result.direction = 'forward';
        result.log = await gitLog(mirror, `${oldC}..${newC}`);
      } else if (await isAncestor(mirror, newC, oldC)) {
        result.direction = 'backward';
        result.log = await gitLog(mirror, `${newC}..${oldC}`);
      } else {
        result.direction = 'unrelated';
        result.log = await gitLog(mirror, `${oldC}..${newC}`);
      }
    }
  }
  return result;
}
