import { spawn } from 'node:child_process';
import { chown, cp, lchown, lutimes, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { randomInt } from 'node:crypto';
import { XenrelError, ExitCode, type ExitCodeValue } from '../errors.js';
import { EXTENSIONS, type Compression } from '../archive/compress.js';
import { git, runGit } from '../sources/git/run.js';
import { LOCKFILE_NAME, serializeLock } from '../lock/lockfile.js';
import { XENREL_VERSION } from '../version.js';
import { compareTarballs, describeComparison, type TarballComparison } from './compare-tarballs.js';
import { readTarballInputs } from './tarball-inputs.js';

/**
 * `release --reproduce`: cuts a release again from what the tarball records (the commit in
 * release.json, the lock inside, its name, compression, left-out components and mtime), in
 * a fresh clone at another path, by a child process whose umask, locale, time zone, file
 * mtimes and (as root) user differ from the caller's, then compares the two byte for byte.
 * A child process, because umask, locale, time zone and user are per process.
 */

export interface ReproduceOptions {
  tarball: string;
  /** The git work tree the release was cut from: its repository holds the commit. */
  projectRoot: string;
  /** The config file, relative to projectRoot, when it is not the one release finds itself. */
  config?: string;
  cacheDir: string;
  /** The argv that runs xenrel, e.g. `[process.execPath, '/…/dist/cli.js']`. */
  command: [string, ...string[]];
  /** Compression level: not recorded in the tarball (default: release's default). */
  level?: number;
  offline?: boolean;
  /** Lines saying what is being done (the CLI prints them). */
  onInfo?: (line: string) => void;
}

export interface ReproduceResult {
  reproduced: boolean;
  name: string;
  commit: string;
  /** Where the commit came from: release.json, or HEAD when release.json names none. */
  commitFrom: 'release.json' | 'HEAD';
  /** What differed between the two runs, e.g. `umask 0077 (yours 0022)`. */
  varied: string[];
  /** What could not be varied, and why. */
  notVaried: string[];
  /** The mtime given to the release, when it is not the commit time it would default to. */
  sourceDateEpoch?: number;
  comparison: TarballComparison;
  /** Where the tarballs differ, the first difference first (empty when reproduced). */
  differences: string[];
  /** release.json's xenrel version, when it is not this one (bytes may then differ). */
  otherXenrel?: string;
}

const NOBODY = 'nobody';

/** A non-root account to run as, when this process may switch users. */
async function otherUser(): Promise<{ uid: number; gid: number } | string> {
  if (process.getuid?.() !== 0) return 'not running as root';
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === NOBODY && Number(uid) > 0) return { uid: Number(uid), gid: Number(gid) };
  }
  return `no "${NOBODY}" account in /etc/passwd`;
}

/** Every file, folder and link under `dir` (`.git` left out when `skipGit`), deepest last. */
async function allPaths(dir: string, skipGit: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (skipGit && e.name === '.git') continue;
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...(await allPaths(p, false)));
  }
  return out;
}

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await chown(dir, uid, gid);
  for (const p of await allPaths(dir, false)) await lchown(p, uid, gid);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runChild(
  argv: string[],
  o: { cwd: string; env: NodeJS.ProcessEnv; umask: number; user?: { uid: number; gid: number } },
): Promise<Run> {
  // spawn sets no umask: a shell sets it, then becomes the command.
  const script = `umask ${o.umask.toString(8).padStart(4, '0')} && exec "$@"`;
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script, 'sh', ...argv], {
      cwd: o.cwd,
      env: o.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(o.user ?? {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const locale = (env: NodeJS.ProcessEnv) => env.LC_ALL || env.LC_CTYPE || env.LANG || '';

/** Cuts the release TARBALL records again, elsewhere and otherwise, and compares. */
export async function reproduceRelease(opts: ReproduceOptions): Promise<ReproduceResult> {
  const info = opts.onInfo ?? (() => {});
  const inputs = await readTarballInputs(opts.tarball);
  const { info: rel } = inputs;
  const format = rel.compression as Compression;
  if (!(format in EXTENSIONS) || format === 'none')
    throw new XenrelError(
      'E_REPRODUCE_INPUT',
      `${opts.tarball}: release.json names compression "${rel.compression}", which release does not write`,
      {
        exitCode: ExitCode.usage,
      },
    );

  let commit = rel.project?.commit;
  const commitFrom = commit ? 'release.json' : 'HEAD';
  if (!commit) {
    const head = await runGit(['rev-parse', '--verify', '-q', 'HEAD^{commit}'], { cwd: opts.projectRoot });
    if (head.code !== 0)
      throw new XenrelError(
        'E_REPRODUCE_INPUT',
        `${opts.tarball} names no commit and ${opts.projectRoot} is not a git work tree: there is nothing to cut it again from`,
        {
          exitCode: ExitCode.usage,
        },
      );
    commit = head.stdout.toString('utf8').trim();
    info(
      `${basename(opts.tarball)} names no commit (it was cut from a folder or with uncommitted changes): reproducing from HEAD (${commit.slice(0, 12)})`,
    );
  }

  const work = await mkdtemp(join(tmpdir(), 'xenrel-reproduce-'));
  try {
    // A clone, not a work tree of the user's repository: a fresh path, fresh files, and
    // (--no-hardlinks) no object shared with the user's repository, which may be chowned below.
    const checkout = join(work, `checkout-${randomInt(1e9)}`);
    await git(['clone', '-q', '--no-checkout', '--no-hardlinks', opts.projectRoot, checkout], {
      what: `cloning ${opts.projectRoot}`,
    });
    if ((await runGit(['cat-file', '-e', `${commit}^{commit}`], { cwd: checkout })).code !== 0)
      throw new XenrelError(
        'E_REPRODUCE_INPUT',
        `commit ${commit} (from ${commitFrom}) is not reachable from any branch or tag of ${opts.projectRoot}`,
        {
          exitCode: ExitCode.usage,
          hint: 'fetch the commit the release was cut from (a tag, or the release branch) into the project',
        },
      );
    await git(['checkout', '-q', '--detach', commit], { cwd: checkout });
    const commitTime = Number((await git(['log', '-1', '--format=%ct', commit], { cwd: checkout })).trim());

    // The lock inside the tarball is the lock to release; the commit's own must agree.
    const configDir = opts.config ? join(checkout, opts.config, '..') : checkout;
    const lockFile = join(configDir, LOCKFILE_NAME);
    const lockText = serializeLock(inputs.lock);
    const committed = await readFile(lockFile, 'utf8').catch(() => undefined);
    if (committed !== undefined && committed !== lockText) {
      const tracked =
        (await runGit(['ls-files', '--error-unmatch', relative(checkout, lockFile)], { cwd: checkout })).code === 0;
      if (tracked)
        throw new XenrelError(
          'E_REPRODUCE_LOCK',
          `the lock inside ${basename(opts.tarball)} is not the ${LOCKFILE_NAME} committed at ${commit.slice(0, 12)}: it was not cut from that commit's lock`,
          {
            exitCode: ExitCode.checkFailed,
          },
        );
    }
    if (committed !== lockText) await writeFile(lockFile, lockText);

    const varied = [`path ${checkout}`];
    const notVaried: string[] = [];
    // Every file gets a random mtime in the last year: the release must not read them.
    const now = Date.now() / 1000;
    for (const p of await allPaths(checkout, true)) {
      const t = now - randomInt(365 * 86400);
      await lutimes(p, t, t);
    }
    varied.push('file mtimes (random)');

    const callerUmask = process.umask();
    const umask = callerUmask === 0o077 ? 0o022 : 0o077;
    varied.push(`umask ${umask.toString(8).padStart(4, '0')} (yours ${callerUmask.toString(8).padStart(4, '0')})`);
    const lc = locale(process.env) === 'C' ? 'C.UTF-8' : 'C';
    varied.push(`LC_ALL=${lc} (yours ${locale(process.env) || 'unset'})`);
    // POSIX TZ strings: no tzdata needed. UTC+14, or UTC-12 for a caller already there.
    const tz = process.env.TZ === 'XRT-14' ? 'AOE+12' : 'XRT-14';
    varied.push(`TZ=${tz} (yours ${process.env.TZ || 'unset'})`);

    const out = join(work, 'out');
    const home = join(work, 'home');
    const tmp = join(work, 'tmp');
    for (const d of [out, home, tmp]) await mkdir(d);
    let cache = opts.cacheDir;
    let user: { uid: number; gid: number } | undefined;
    const other = await otherUser();
    const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: lc, LANG: lc, TZ: tz, TMPDIR: tmp, NO_COLOR: '1' };
    delete env.SOURCE_DATE_EPOCH;
    delete env.XENREL_CACHE;
    if (typeof other === 'string') notVaried.push(`the user was not varied: ${other}`);
    else {
      // The other user must be able to run this xenrel at all (it may sit in a private folder).
      const probe = await runChild([...opts.command, '--version'], {
        cwd: tmpdir(),
        env: { ...env, HOME: home },
        umask,
        user: other,
      }).catch(() => ({ code: 1 }) as Run);
      if (probe.code !== 0) notVaried.push(`the user was not varied: ${NOBODY} cannot run ${opts.command.at(-1)}`);
      else {
        // A private copy of the cache, owned by that user: the user's own is neither exposed nor changed.
        cache = join(work, 'cache');
        if (await stat(opts.cacheDir).catch(() => undefined))
          await cp(opts.cacheDir, cache, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
        else await mkdir(cache);
        await chownTree(work, other.uid, other.gid);
        user = other;
        // A fresh home: the caller's git and XDG config may sit where that user cannot read.
        env.HOME = home;
        for (const k of ['GIT_CONFIG_GLOBAL', 'XDG_CONFIG_HOME', 'XDG_CACHE_HOME']) delete env[k];
        varied.push(`user ${NOBODY} (uid ${other.uid}, yours 0), with a copy of the cache`);
      }
    }

    // release takes the mtime from SOURCE_DATE_EPOCH, else the commit time: give the one the tarball has.
    const sourceDateEpoch = inputs.mtime === commitTime ? undefined : inputs.mtime;
    if (sourceDateEpoch !== undefined) env.SOURCE_DATE_EPOCH = String(sourceDateEpoch);

    const args = ['release', '--out', out, '--prefix', rel.name, '--format', format, '--cache', cache, '--quiet'];
    if (opts.level !== undefined) args.push('--level', String(opts.level));
    if (opts.offline) args.push('--offline');
    if (opts.config) args.push('--config', join(checkout, opts.config));
    for (const w of inputs.without) args.push('--without', w);
    info(`cutting ${rel.name} again from ${commit.slice(0, 12)} in ${checkout}`);
    const r = await runChild([...opts.command, ...args], { cwd: checkout, env, umask, user });
    if (r.code !== 0)
      throw new XenrelError(
        'E_REPRODUCE_RELEASE',
        `the release could not be cut again (exit ${r.code}):\n${(r.stderr || r.stdout).trim()}`,
        {
          exitCode: ([1, 2, 3].includes(r.code) ? r.code : ExitCode.usage) as ExitCodeValue,
        },
      );

    const again = join(out, `${rel.name}${EXTENSIONS[format]}`);
    const labels: [string, string] = [basename(opts.tarball), 'the reproduction'];
    const comparison = await compareTarballs(opts.tarball, again, { labels });
    return {
      reproduced: comparison.identical,
      name: rel.name,
      commit,
      commitFrom,
      varied,
      notVaried,
      sourceDateEpoch,
      comparison,
      differences: describeComparison(comparison, labels),
      ...(rel.xenrel !== XENREL_VERSION ? { otherXenrel: rel.xenrel } : {}),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
