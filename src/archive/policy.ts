import { XenrelError, ExitCode } from '../errors.js';
import { isAsciiName, nameByteLength, showName } from '../tree/name-bytes.js';
import { LinkTree } from './link-resolve.js';

/**
 * xenrel's entry policy for every tar it reads or writes, stated once.
 * Each rule has a stable code; a finding names the code and the entry.
 * The rules follow what GNU tar, bsdtar, Go's x/mod/zip and Python's tarfile filters (PEP 706)
 * refuse or normalise.
 * Nothing is "stripped and continued": pinned sources never need it, so an anomaly means tampering.
 */
export const RULES = {
  E_TAR_TRAVERSAL: 'path has a `..` component',
  E_TAR_ABSOLUTE: 'path is absolute',
  E_TAR_BACKSLASH: 'path contains `\\` (a separator on Windows)',
  E_TAR_DRIVE: 'path or link target names a drive (`C:`) or a UNC share',
  E_TAR_BAD_CHAR: 'path contains NUL, a newline or another control character, or `:`',
  E_TAR_BAD_PATH: 'path is empty or a non-directory entry ends in `/`',
  E_TAR_NOT_NFC: 'path is not in Unicode NFC form',
  E_TAR_WINDOWS_NAME: 'path component is a Windows reserved or 8.3 short name, or ends in a dot or space',
  E_TAR_ROOT_ENTRY: 'entry (or link target) resolves to the archive root itself',
  E_TAR_LINK_ESCAPE: 'symlink or hard link resolves outside its top directory',
  E_TAR_HARDLINK: 'hard link does not name an earlier regular file of the archive',
  E_TAR_THROUGH_LINK: 'entry lies beneath a symlink or a file of the archive',
  E_TAR_SPECIAL: 'device, FIFO, multi-volume, dump-directory or other special entry',
  E_TAR_AMBIGUOUS: 'header declares data that tar readers disagree about (one would read it, another skip it)',
  E_TAR_DUPLICATE: 'same path twice',
  E_TAR_COLLISION: 'two paths equal under case folding or Unicode normalisation',
  E_TAR_GLOBAL_PAX: 'global pax header overrides path, linkpath, size or a sparse map',
  E_TAR_META_TOO_LARGE: 'pax or GNU long-name entry larger than the meta limit',
  E_TAR_LIMIT: 'a size, count, path length, link target length or time limit was exceeded',
  E_TAR_TRUNCATED: 'archive ends inside an entry',
  E_TAR_CHECKSUM: 'header checksum mismatch',
  E_TAR_BAD_HEADER: 'header field, pax record or sparse map cannot be parsed',
  E_TAR_TRAILING_GARBAGE: 'non-zero bytes after the end-of-archive marker, or after the compressed stream',
  E_TAR_COMPRESSION: 'the compressed stream is corrupt (bad CRC, bad data)',
} as const;
export type RuleCode = keyof typeof RULES;

export interface Limits {
  /** Sum of the sizes of every entry's content, holes of sparse files included (bytes). */
  maxTotalSize: number;
  /** Size of one entry (bytes). */
  maxEntrySize: number;
  maxEntries: number;
  /** Path components (a 4095-byte path holds at most 2048). */
  maxDepth: number;
  /** Bytes of a path (Linux PATH_MAX is 4096 with the terminating NUL). */
  maxPathLength: number;
  /** Bytes of one path component (NAME_MAX). */
  maxComponentLength: number;
  /** Bytes of a symlink target (Linux refuses longer ones). */
  maxLinkTarget: number;
  /** Pax headers and GNU long names (bytes). */
  maxMetaSize: number;
  /**
   * Decompressed / compressed bytes, checked once `ratioGrace` bytes were decompressed.
   * Off by default: a zero-padded firmware image compresses 1000:1, so a ratio refuses
   * real trees; `maxTotalSize` is what bounds a bomb's cost.
   */
  maxRatio: number;
  ratioGrace: number;
  /** Apply the Windows-name rule (E_TAR_WINDOWS_NAME). */
  portableNames: boolean;
}

/**
 * Defaults sized for what a filesystem holds and for a whole Xen release with QEMU, edk2
 * and GRUB: a bomb is stopped at 8 GiB or 150,000 entries, whichever comes first.
 */
export const DEFAULT_LIMITS: Limits = {
  maxTotalSize: 8 * 2 ** 30,
  maxEntrySize: 4 * 2 ** 30,
  maxEntries: 150_000,
  maxDepth: 2048,
  maxPathLength: 4095,
  maxComponentLength: 255,
  maxLinkTarget: 4095,
  maxMetaSize: 1 << 20,
  maxRatio: Infinity,
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
export const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Checks a path as stored in the archive and returns its canonical form, normalised as GNU
 * tar does on extraction: leading `./`, repeated `/` and `.` components are dropped, and a
 * trailing `/` on a directory. Returns "" for the root directory entry (`./`).
 */
export function checkPath(
  raw: string,
  limits: Limits,
  isDir: boolean,
): { path: string; parts: string[] } | { finding: Finding } {
  const bad = (code: RuleCode, detail?: string) => ({ finding: finding(code, showName(raw), detail) });
  if (raw.includes('\0') || CONTROL.test(raw)) return bad('E_TAR_BAD_CHAR');
  if (/^[A-Za-z]:/.test(raw) || raw.startsWith('\\\\')) return bad('E_TAR_DRIVE');
  if (raw.includes('\\')) return bad('E_TAR_BACKSLASH');
  if (raw.startsWith('/')) return bad('E_TAR_ABSOLUTE');
  if (raw.endsWith('/') && !isDir) return bad('E_TAR_BAD_PATH', 'a non-directory entry ends in `/`');
  const ascii = isAsciiName(raw);
  const split = raw.split('/');
  const parts = split.includes('') || split.includes('.') ? split.filter((c) => c !== '' && c !== '.') : split;
  const p = parts === split ? raw : parts.join('/');
  if (p === '') return { path: '', parts: [] };
  // The stored form is what GNU tar hands to the kernel: measure that, not the canonical one.
  if ((ascii ? raw.length : nameByteLength(raw)) > limits.maxPathLength)
    return bad('E_TAR_LIMIT', `path longer than ${limits.maxPathLength} bytes`);
  if (parts.length > limits.maxDepth) return bad('E_TAR_LIMIT', `deeper than ${limits.maxDepth} components`);
  for (const c of parts) {
    if (c === '..') return bad('E_TAR_TRAVERSAL');
    if (c.includes(':')) return bad('E_TAR_BAD_CHAR');
    if ((ascii ? c.length : nameByteLength(c)) > limits.maxComponentLength)
      return bad('E_TAR_LIMIT', `a component is longer than ${limits.maxComponentLength} bytes`);
    if (limits.portableNames && (WINDOWS_RESERVED.test(c) || SHORT_NAME.test(c) || /[. ]$/.test(c)))
      return bad('E_TAR_WINDOWS_NAME');
  }
  if (!ascii && p.normalize('NFC') !== p) return bad('E_TAR_NOT_NFC');
  return { path: p, parts };
}

/** The key under which two paths collide on a case-insensitive or normalising filesystem. */
export const collisionKey = (p: string) =>
  isAsciiName(p) ? p.toLowerCase() : p.normalize('NFC').toUpperCase().toLowerCase().normalize('NFC');

/** Lexical checks on a symlink target (the bytes that would be written). */
export function checkLinkTarget(
  linkPath: string,
  target: string,
  limits: Limits = DEFAULT_LIMITS,
  absolute: AbsoluteLinks = 'refuse',
): Finding | undefined {
  const f = (code: RuleCode, d?: string) =>
    finding(code, showName(linkPath), d ?? `${RULES[code]} (target ${JSON.stringify(showName(target))})`);
  if (target === '') return f('E_TAR_BAD_PATH', 'empty link target');
  if (nameByteLength(target) > limits.maxLinkTarget)
    return f('E_TAR_LIMIT', `link target longer than ${limits.maxLinkTarget} bytes`);
  if (target.includes('\0') || CONTROL.test(target)) return f('E_TAR_BAD_CHAR');
  if (/^[A-Za-z]:/.test(target) || target.startsWith('\\\\')) return f('E_TAR_DRIVE');
  if (target.includes('\\')) return f('E_TAR_BACKSLASH');
  if (target.startsWith('/') && absolute === 'refuse') return f('E_TAR_LINK_ESCAPE');
  return undefined;
}

/**
 * Absolute symlink targets: 'refuse' for what will be extracted from an upstream tarball;
 * 'inert' where the link is only hashed or is created last and never followed (a pinned git
 * tree, a release's read-back): accepted, but no other link may resolve through it.
 */
export type AbsoluteLinks = 'refuse' | 'inert';

export interface SymlinkCheckOptions {
  limits?: Limits;
  absolute?: AbsoluteLinks;
  /**
   * true (archives): a link nested under a top directory must stay inside it. false (a
   * tree checked relative to its own root): staying inside the root is enough.
   */
  topDirRule?: boolean;
}

/**
 * Full symlink validation once every entry is known: the target, resolved through other
 * links of the archive (linear time, see link-resolve.ts), must stay inside the link's own
 * top directory (for links nested under one) and must not be the root itself.
 */
export function checkSymlinks(links: ReadonlyMap<string, string>, opts: SymlinkCheckOptions = {}): Finding[] {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const absolute = opts.absolute ?? 'refuse';
  const tree = new LinkTree();
  for (const [p, target] of links) tree.addSymlink(p, target);
  const out: Finding[] = [];
  for (const [p, target] of links) {
    const lex = checkLinkTarget(p, target, limits, absolute);
    if (lex) {
      out.push(lex);
      continue;
    }
    const shown = showName(p);
    const t = JSON.stringify(showName(target));
    const r = tree.resolve(p);
    if (r === 'absolute' && target.startsWith('/')) continue; // inert (checkLinkTarget allowed it)
    if (r === 'loop' || r === 'too-deep') {
      out.push(
        finding(
          'E_TAR_LINK_ESCAPE',
          shown,
          `${r === 'loop' ? 'symlink loop' : 'chain of more than 40 symlinks'} (target ${t})`,
        ),
      );
      continue;
    }
    if (typeof r === 'string') {
      out.push(
        finding(
          'E_TAR_LINK_ESCAPE',
          shown,
          `${RULES.E_TAR_LINK_ESCAPE} (target ${t}${r === 'absolute' ? ', through an absolute symlink' : ''})`,
        ),
      );
      continue;
    }
    if (r.isRoot) {
      out.push(finding('E_TAR_ROOT_ENTRY', shown, `symlink resolves to the archive root (target ${t})`));
      continue;
    }
    const top = p.split('/')[0]!;
    if ((opts.topDirRule ?? true) && p.includes('/') && r.top !== top)
      out.push(
        finding(
          'E_TAR_LINK_ESCAPE',
          shown,
          `${RULES.E_TAR_LINK_ESCAPE} (target ${t} resolves to ${JSON.stringify(showName(r.path))})`,
        ),
      );
  }
  return out;
}
