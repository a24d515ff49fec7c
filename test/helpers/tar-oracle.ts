import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { nameFromBytes } from '../../src/tree/name-bytes.js';

/**
 * The oracle of the archive contract: what real `tar -x` (GNU tar, and bsdtar to agree)
 * writes on disk, and the tree hash of that tree computed by an independent implementation
 * of the README's definition (Python, names as raw bytes) — never by xenrel's own code.
 */

export interface Extracted {
  exit: number;
  stderr: string;
}

export function extractWith(tool: 'gnu' | 'bsdtar', archive: string, dest: string, timeoutMs = 60_000): Extracted {
  mkdirSync(dest, { recursive: true });
  const [cmd, args] =
    tool === 'gnu'
      ? ['tar', ['--no-same-owner', '-xf', archive, '-C', dest]]
      : ['bsdtar', ['-xf', archive, '-C', dest]];
  const runIn = (locale: string) =>
    spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, LC_ALL: locale } });
  let r = runIn('C.UTF-8');
  // bsdtar converts pax (UTF-8) names to the locale: in a UTF-8 locale it refuses names that
  // are not UTF-8, in the C locale names that are not ASCII. A locale artefact, not a
  // disagreement about the archive: such a name is extracted again in the C locale.
  if (tool === 'bsdtar' && r.status !== 0 && /can't be converted/.test(r.stderr ?? '')) {
    spawnSync('rm', ['-rf', dest]);
    mkdirSync(dest, { recursive: true });
    r = runIn('C');
  }
  return { exit: r.status ?? 128, stderr: (r.stderr ?? '').slice(0, 2000) };
}

export interface OracleTree {
  /** `sha256-<base64>` over the whole extracted folder. */
  hash: string;
  /** Files and symlinks, bytewise sorted, names as xenrel's lossless strings. */
  entries: string[];
  /** Hash of each top-level directory's own content. */
  tops: Record<string, string>;
}

const PY = String.raw`
import os, sys, json, hashlib, base64, stat
# Walks through directory fds, so paths longer than PATH_MAX from here still hash; an
# explicit stack (one fd per level) keeps a 5000-deep tree linear, where os.fwalk's
# relpath of every folder from the root made it quadratic (minutes for one archive).
def entries(root):
    out = []
    stack = []
    # Like os.fwalk, a folder that cannot be opened or listed is skipped.
    def enter(name, dir_fd, rel):
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
        except OSError:
            return
        try:
            with os.scandir(fd) as it:
                names = [os.fsencode(e.name) for e in it]
        except OSError:
            os.close(fd)
            return
        stack.append((fd, rel, names))
    enter(root, None, b'')
    while stack:
        dfd, rel_dir, names = stack[-1]
        if not names:
            os.close(dfd)
            stack.pop()
            continue
        n = names.pop()
        rel = rel_dir + b'/' + n if rel_dir else n
        st = os.lstat(n, dir_fd=dfd)
        if stat.S_ISLNK(st.st_mode):
            out.append((rel, '120000', hashlib.sha256(os.readlink(n, dir_fd=dfd)).hexdigest()))
        elif stat.S_ISREG(st.st_mode):
            h = hashlib.sha256()
            fd = os.open(n, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dfd)
            with os.fdopen(fd, 'rb') as f:
                for chunk in iter(lambda: f.read(1 << 20), b''):
                    h.update(chunk)
            out.append((rel, '100755' if st.st_mode & 0o100 else '100644', h.hexdigest()))
        elif stat.S_ISDIR(st.st_mode):
            enter(n, dfd, rel)
    out.sort(key=lambda e: e[0])
    return out
def tree_hash(es):
    h = hashlib.sha256()
    for rel, mode, hx in es:
        h.update(mode.encode() + b' ' + hx.encode() + b' ' + rel + b'\n')
    return 'sha256-' + base64.b64encode(h.digest()).decode()
res = []
for d in sys.argv[1:]:
    d = os.fsencode(d)
    es = entries(d)
    tops = {}
    for n in sorted(os.listdir(d)):
        p = os.path.join(d, n)
        if os.path.isdir(p) and not os.path.islink(p):
            # A top folder's own entries: the whole tree's below n/, n/ cut off.
            pre = n + b'/'
            tops[n.hex()] = tree_hash([(rel[len(pre):], mode, hx) for rel, mode, hx in es if rel.startswith(pre)])
    res.append({'hash': tree_hash(es), 'entries': [e[0].hex() for e in es], 'tops': tops})
print(json.dumps(res))
`;

/** Tree hashes of several extracted folders, in one Python process. */
export function oracleTrees(dirs: string[]): OracleTree[] {
  if (dirs.length === 0) return [];
  const r = spawnSync('python3', ['-c', PY, ...dirs], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`oracle hashing failed: ${r.stderr}`);
  const raw = JSON.parse(r.stdout) as { hash: string; entries: string[]; tops: Record<string, string> }[];
  const name = (hex: string) => nameFromBytes(Buffer.from(hex, 'hex'));
  return raw.map((t) => ({
    hash: t.hash,
    entries: t.entries.map(name),
    tops: Object.fromEntries(Object.entries(t.tops).map(([k, v]) => [name(k), v])),
  }));
}
