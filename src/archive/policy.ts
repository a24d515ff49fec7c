import { posix } from 'node:path';
import { XenrelError, ExitCode } from '../errors.js';

/**
 * xenrel's entry policy for every tar it reads or writes, stated once.
 * Each rule has a stable code; a finding names the code and the entry.
 * Sources: ../shared/hostile-inputs.md §1.3/§1.4 (GNU tar, bsdtar, Go x/mod/zip, PEP 706).
 * Nothing is "stripped and continued": pinned sources never need it, so an anomaly means tampering.
 */
export const RULES = {
  E_TAR_TRAVERSAL: 'path has a `..` component',
  E_TAR_ABSOLUTE: 'path is absolute',
  E_TAR_BACKSLASH: 'path contains `\\` (a separator on Windows)',
  E_TAR_DRIVE: 'path or link target names a drive (`C:`) or a UNC share',
  E_TAR_BAD_CHAR: 'path contains NUL, a control character or `:`',
  E_TAR_BAD_PATH: 'path has an empty or `.` component in the middle, or is not valid UTF-8',
  E_TAR_NOT_NFC: 'path is not in Unicode NFC form',
  E_TAR_WINDOWS_NAME: 'path component is a Windows reserved or 8.3 short name, or ends in a dot or space',
  E_TAR_ROOT_ENTRY: 'entry (or link target) resolves to the archive root itself',
  E_TAR_LINK_ESCAPE: 'symlink or hard link resolves outside its top directory',
  E_TAR_HARDLINK: 'hard link does not name an earlier regular file of the archive',
  E_TAR_THROUGH_LINK: 'entry lies beneath a symlink or a file of the archive',
  E_TAR_SPECIAL: 'device, FIFO, contiguous, sparse or other special entry',
  E_TAR_DUPLICATE: 'same path twice',
  E_TAR_COLLISION: 'two paths equal under case folding or Unicode normalisation',
  E_TAR_MODE_BITS: 'setuid, setgid or sticky bit',
  E_TAR_GLOBAL_PAX: 'global pax header overrides path, linkpath or size',
  E_TAR_META_TOO_LARGE: 'pax or GNU long-name entry larger than the meta limit',
  E_TAR_LIMIT: 'a size, count, depth, path length or compression-ratio limit was exceeded',
  E_TAR_TRUNCATED: 'archive ends inside an entry or without an end-of-archive marker',
  E_TAR_CHECKSUM: 'header checksum mismatch',
  E_TAR_BAD_HEADER: 'header field or pax record cannot be parsed',
  E_TAR_TRAILING_GARBAGE: 'non-zero bytes after the end-of-archive marker, or after the compressed stream',
  E_TAR_COMPRESSION: 'the compressed stream is corrupt (bad CRC, bad data)',
} as const;
export type RuleCode = keyof typeof RULES;

export interface Limits {
  /** Sum of entry sizes (bytes). */
  maxTotalSize: number;
  /** Size of one entry (bytes). */
  maxEntrySize: number;
  maxEntries: number;
  /** Path components. */
  maxDepth: number;
  /** Bytes of a path. */
  maxPathLength: number;
  /** Bytes of one path component. */
  maxComponentLength: number;
  /** Pax headers and GNU long names (bytes). */
  maxMetaSize: number;
  /** Decompressed / compressed bytes, checked once `ratioGrace` bytes were decompressed. */
  maxRatio: number;
  ratioGrace: number;
  /** Apply the Windows-name rule (E_TAR_WINDOWS_NAME). */
  portableNames: boolean;
}

/** Safe defaults (hostile-inputs G2), sized for a whole Xen release with qemu and edk2. */
export const DEFAULT_LIMITS: Limits = {
  maxTotalSize: 8 * 2 ** 30,
  maxEntrySize: 4 * 2 ** 30,
  maxEntries: 150_000,
  maxDepth: 64,
  maxPathLength: 4096,
  maxComponentLength: 255,
  maxMetaSize: 1 << 20,
  maxRatio: 200,
  ratioGrace: 16 << 20,
  // Off by default: xenrel's sources build on POSIX systems, where these names are harmless,
  // and real upstreams have them (QEMU's hw/misc/aux.c). A component can turn it on.
  portableNames: false,
};

export const resolveLimits = (l?: Partial<Limits>): Limits => ({ ...DEFAULT_LIMITS, ...l });

export interface Finding {
  code: RuleCode;
  /** The entry's path as stored (or `<archive>` for whole-archive problems). */
  path: string;
  message: string;
}

export function finding(code: RuleCode, path: string, detail?: string): Finding {
  return { code, path, message: `${path}: ${detail ?? RULES[code]}` };
}

export function findingError(f: Finding, archive?: string): XenrelError {
  return new XenrelError(f.code, `${archive ? `${archive}: ` : ''}unsafe or invalid archive entry ${f.message}`, {
    exitCode: ExitCode.checkFailed,
    hint:
      f.code === 'E_TAR_LIMIT'
        ? 'if the archive is genuine, raise the limit for this component in the config'
        : 'the archive is corrupt or was tampered with; do not use it, re-fetch it from a trusted source',
    details: { finding: f },
  });
}

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;
const SHORT_NAME = /^[^.~]{1,6}~[0-9]+(\.[^.]{0,3})?$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Checks a path as stored in the archive and returns its canonical form: a single
 * leading `./` is dropped (`tar -C dir .` writes it), a trailing `/` is dropped for
 * directories. Returns "" for the root directory entry (`./`).
 */
export function checkPath(raw: string, limits: Limits, isDir: boolean): { path: string } | { finding: Finding } {
  const bad = (code: RuleCode, detail?: string) => ({ finding: finding(code, JSON.stringify(raw).slice(1, -1), detail) });
  if (raw.includes('\0') || CONTROL.test(raw)) return bad('E_TAR_BAD_CHAR');
  if (/^[A-Za-z]:/.test(raw) || raw.startsWith('\\\\')) return bad('E_TAR_DRIVE');
  if (raw.includes('\\')) return bad('E_TAR_BACKSLASH');
  if (raw.startsWith('/')) return bad('E_TAR_ABSOLUTE');
  if (Buffer.byteLength(raw, 'utf8') > limits.maxPathLength) return bad('E_TAR_LIMIT', `path longer than ${limits.maxPathLength} bytes`);
  let p = raw;
  while (p.startsWith('./')) p = p.slice(2);
  if (p.endsWith('/')) {
    if (!isDir) return bad('E_TAR_BAD_PATH', 'a non-directory entry ends in `/`');
    p = p.replace(/\/+$/, '');
  }
  if (p === '' || p === '.') return { path: '' };
  const parts = p.split('/');
  if (parts.length > limits.maxDepth) return bad('E_TAR_LIMIT', `deeper than ${limits.maxDepth} components`);
  for (const c of parts) {
    if (c === '..') return bad('E_TAR_TRAVERSAL');
    if (c === '' || c === '.') return bad('E_TAR_BAD_PATH');
    if (c.includes(':')) return bad('E_TAR_BAD_CHAR');
    if (Buffer.byteLength(c, 'utf8') > limits.maxComponentLength)
      return bad('E_TAR_LIMIT', `a component is longer than ${limits.maxComponentLength} bytes`);
    if (limits.portableNames && (WINDOWS_RESERVED.test(c) || SHORT_NAME.test(c) || /[. ]$/.test(c))) return bad('E_TAR_WINDOWS_NAME');
  }
  if (p.normalize('NFC') !== p) return bad('E_TAR_NOT_NFC');
  return { path: p };
}

/** The key under which two paths collide on a case-insensitive or normalising filesystem. */
export const collisionKey = (p: string) => p.normalize('NFC').toUpperCase().toLowerCase().normalize('NFC');

/** Lexical checks on a symlink target (the bytes that would be written). */
export function checkLinkTarget(linkPath: string, target: string): Finding | undefined {
  const f = (code: RuleCode, d?: string) => finding(code, linkPath, d ?? `${RULES[code]} (target ${JSON.stringify(target)})`);
  if (target === '') return f('E_TAR_BAD_PATH', 'empty link target');
  if (target.includes('\0') || CONTROL.test(target)) return f('E_TAR_BAD_CHAR');
  if (/^[A-Za-z]:/.test(target) || target.startsWith('\\\\')) return f('E_TAR_DRIVE');
  if (target.includes('\\')) return f('E_TAR_BACKSLASH');
  if (target.startsWith('/')) return f('E_TAR_LINK_ESCAPE');
  return undefined;
}

/**
 * Resolves `path` inside the archive's namespace, following the archive's own symlinks
 * (as a filesystem would after extraction). Returns the resolved path ("" is the root),
 * or a finding when the walk leaves the root. `links` maps symlink path → target.
 */
export function resolveInArchive(path: string, links: ReadonlyMap<string, string>, linkPath: string): string | Finding {
  let hops = 0;
  const walk = (start: string[], rest: string[]): string[] | Finding => {
    const cur = [...start];
    const todo = [...rest];
    while (todo.length) {
      const c = todo.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (cur.length === 0) return finding('E_TAR_LINK_ESCAPE', linkPath, `${RULES.E_TAR_LINK_ESCAPE} (through ${JSON.stringify(path)})`);
        cur.pop();
        continue;
      }
      cur.push(c);
      const t = links.get(cur.join('/'));
      if (t !== undefined) {
        if (++hops > 40) return finding('E_TAR_LINK_ESCAPE', linkPath, 'symlink loop');
        if (t.startsWith('/') || t.includes('\\') || /^[A-Za-z]:/.test(t)) return finding('E_TAR_LINK_ESCAPE', linkPath);
        cur.pop();
        todo.unshift(...t.split('/'));
      }
    }
    return cur;
  };
  const r = walk([], path.split('/'));
  return Array.isArray(r) ? r.join('/') : r;
}

/**
 * Full symlink validation once every entry is known: the target, resolved through other
 * links of the archive, must stay inside the link's own top directory (for links nested
 * under one) and must not be the root itself.
 */
export function checkSymlinks(links: ReadonlyMap<string, string>): Finding[] {
  const out: Finding[] = [];
  for (const [p, target] of links) {
    const lex = checkLinkTarget(p, target);
    if (lex) {
      out.push(lex);
      continue;
    }
    const dir = posix.dirname(p);
    const joined = dir === '.' ? target : `${dir}/${target}`;
    const r = resolveInArchive(joined, links, p);
    if (typeof r !== 'string') {
      out.push({ ...r, message: `${p}: ${RULES.E_TAR_LINK_ESCAPE} (target ${JSON.stringify(target)})` });
      continue;
    }
    if (r === '') {
      out.push(finding('E_TAR_ROOT_ENTRY', p, `symlink resolves to the archive root (target ${JSON.stringify(target)})`));
      continue;
    }
    const top = p.split('/')[0]!;
    if (p.includes('/') && r !== top && !r.startsWith(`${top}/`))
      out.push(finding('E_TAR_LINK_ESCAPE', p, `${RULES.E_TAR_LINK_ESCAPE} (target ${JSON.stringify(target)} resolves to ${JSON.stringify(r)})`));
  }
  return out;
}
