import { XenrelError, ExitCode } from '../errors.js';

/**
 * Meson wrap files (`subprojects/<name>.wrap`), the subset that decides what a build
 * downloads. Meson reads them with Python's configparser (no interpolation): `[section]`,
 * `key = value` or `key: value`, keys case-insensitive, `#`/`;` comment lines, indented
 * continuation lines.
 *
 * Meson's rule that makes vendoring work: when `subprojects/<directory>` exists and holds a
 * `meson.build` (or the file of the wrap's `method`), it is used as it is — nothing is
 * downloaded, `packagecache/` is not consulted. So xenrel places the directory, with
 * `patch_directory` copied over it and `diff_files` applied, exactly as meson would have
 * left it after a download.
 */

export interface WrapGit {
  type: 'git';
  /** The wrap's name: its file name without `.wrap`. */
  name: string;
  /** Relative to the `.wrap` file's folder (`subprojects/`). */
  directory: string;
  url: string;
  revision: string;
  patchDirectory?: string;
  diffFiles: string[];
  cloneRecursive: boolean;
}

export interface WrapFile {
  type: 'file';
  name: string;
  directory: string;
  sourceUrl: string;
  sourceFilename: string;
  /** sha256, lower-case hex. */
  sourceHash: string;
  leadDirectoryMissing: boolean;
  patchDirectory?: string;
  diffFiles: string[];
  /** A wrapdb-style patch archive; not supported yet (reported as an error). */
  patchUrl?: string;
}

/** `[wrap-redirect]` (meson writes these itself) or another kind xenrel does not vendor. */
export interface WrapOther {
  type: 'redirect' | 'hg' | 'svn';
  name: string;
}

export type Wrap = WrapGit | WrapFile | WrapOther;

function wrapError(file: string, message: string, hint: string): XenrelError {
  return new XenrelError('E_WRAP', `${file}: ${message}`, { exitCode: ExitCode.usage, hint, details: { file } });
}

/** Sections of an INI text as configparser reads it (keys lower-cased). */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let cur: Map<string, string> | undefined;
  let lastKey: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*[#;]/.test(raw) || raw.trim() === '') {
      lastKey = undefined;
      continue;
    }
    if (/^\s/.test(raw) && cur && lastKey !== undefined) {
      cur.set(lastKey, `${cur.get(lastKey)}\n${raw.trim()}`);
      continue;
    }
    const sec = /^\[([^\]]+)\]\s*$/.exec(raw);
    if (sec) {
      cur = sections.get(sec[1]!.trim()) ?? new Map();
      sections.set(sec[1]!.trim(), cur);
      lastKey = undefined;
      continue;
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(raw);
    if (kv && cur) {
      lastKey = kv[1]!.trim().toLowerCase();
      cur.set(lastKey, kv[2]!.trim());
    }
  }
  return sections;
}

const oneSegment = (s: string) =>
  s !== '' && s !== '.' && s !== '..' && !s.includes('/') && !s.includes('\\') && s.toLowerCase() !== '.git';

/** Parse one wrap file. `file` is its path (for messages); its name gives the wrap's name. */
export function parseWrap(file: string, text: string): Wrap {
  const name = file
    .split('/')
    .pop()!
    .replace(/\.wrap$/, '');
  const sections = parseIni(text);
  const kinds = [...sections.keys()].filter((k) => k.startsWith('wrap-'));
  if (kinds.length !== 1)
    throw wrapError(
      file,
      `expected exactly one [wrap-*] section, found ${kinds.length ? kinds.join(', ') : 'none'}`,
      'fix the wrap file upstream, or patch it (patches:)',
    );
  const kind = kinds[0]!;
  const v = sections.get(kind)!;
  if (kind === 'wrap-redirect') return { type: 'redirect', name };
  if (kind === 'wrap-hg' || kind === 'wrap-svn') return { type: kind.slice(5) as 'hg' | 'svn', name };
  const directory = v.get('directory') ?? name;
  if (!oneSegment(directory))
    throw wrapError(file, `directory ${JSON.stringify(directory)} must be one folder name`, 'fix the wrap file');
  const patchDirectory = v.get('patch_directory');
  if (patchDirectory !== undefined && (patchDirectory === '' || patchDirectory.split('/').some((s) => !oneSegment(s))))
    throw wrapError(
      file,
      `patch_directory ${JSON.stringify(patchDirectory)} must be a relative path inside subprojects/packagefiles`,
      'fix the wrap file',
    );
  const diffFiles = (v.get('diff_files') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const d of diffFiles)
    if (d.split('/').some((s) => !oneSegment(s)))
      throw wrapError(
        file,
        `diff_files entry ${JSON.stringify(d)} must be a relative path inside subprojects/packagefiles`,
        'fix the wrap file',
      );
  if (kind === 'wrap-git') {
    const url = v.get('url');
    const revision = v.get('revision');
    if (!url) throw wrapError(file, '[wrap-git] has no url', 'fix the wrap file');
    if (!revision || revision.toLowerCase() === 'head')
      throw wrapError(
        file,
        `[wrap-git] ${url} has no fixed revision (${revision ?? 'none'}): a floating HEAD cannot be locked`,
        'pin "revision" to a commit or tag in the wrap (a patch in patches: will do)',
      );
    return {
      type: 'git',
      name,
      directory,
      url,
      revision,
      ...(patchDirectory ? { patchDirectory } : {}),
      diffFiles,
      cloneRecursive: v.get('clone-recursive')?.toLowerCase() === 'true',
    };
  }
  if (kind === 'wrap-file') {
    const sourceUrl = v.get('source_url');
    const sourceFilename = v.get('source_filename');
    const sourceHash = v.get('source_hash')?.toLowerCase();
    if (!sourceUrl || !sourceFilename || !sourceHash)
      throw wrapError(file, '[wrap-file] needs source_url, source_filename and source_hash', 'fix the wrap file');
    if (!/^[0-9a-f]{64}$/.test(sourceHash))
      throw wrapError(
        file,
        `source_hash ${JSON.stringify(sourceHash)} is not a sha256 (64 hex digits)`,
        'fix the wrap file',
      );
    const patchUrl = v.get('patch_url');
    return {
      type: 'file',
      name,
      directory,
      sourceUrl,
      sourceFilename,
      sourceHash,
      leadDirectoryMissing: v.get('lead_directory_missing')?.toLowerCase() === 'true',
      ...(patchDirectory ? { patchDirectory } : {}),
      diffFiles,
      ...(patchUrl ? { patchUrl } : {}),
    };
  }
  throw wrapError(
    file,
    `unknown section [${kind}]`,
    'meson knows wrap-file, wrap-git, wrap-hg, wrap-svn and wrap-redirect',
  );
}

/** `sha256-<base64>` for a hex sha256. */
export const sriFromSha256Hex = (hex: string) => `sha256-${Buffer.from(hex, 'hex').toString('base64')}`;
