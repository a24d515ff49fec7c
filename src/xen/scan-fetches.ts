import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComponentSpec } from '../model/config.js';
import { compareBytewise } from '../tree/hash.js';
import { knownComponents } from './knowledge.js';
import { logicalLines } from './read-pins.js';

/**
 * Find every place in a Xen tree's build files that downloads something, and say which
 * component each one fetches, so that a fork's new download is never missed silently.
 * Scanned: Makefiles, *.mk, *-makefile, *.sh anywhere, and shell scripts (by shebang)
 * under tools/, stubdom/ and scripts/. Not scanned: automation/ (CI, not part of make),
 * .git, and autoconf's generated `configure` (it only looks for wget to set FETCHER).
 */

export type FetchKind = 'fetcher' | 'git-checkout' | 'git' | 'wget' | 'curl' | 'archive-source' | 'meson' | 'pip';

export interface FetchSite {
  /** Relative to the tree root. */
  file: string;
  line: number;
  kind: FetchKind;
  /** The (joined) line, trimmed and shortened. */
  text: string;
  /** The component it fetches, when known. */
  component?: string;
  /** How it was mapped: the make variable, the recipe, or a known helper. */
  via?: string;
}

export interface ScanResult {
  sites: FetchSite[];
  unmapped: FetchSite[];
  filesScanned: number;
}

const KINDS: [FetchKind, RegExp][] = [
  ['fetcher', /\$\(FETCHER\)|\$\{FETCHER\}|\$FETCHER\b/],
  ['git-checkout', /git-checkout\.sh\b/],
  [
    'git',
    /(?:\$\(GIT\)|\$\{GIT\}|\$GIT\b|(?<![\w/.-])git)\s+(?:-\S+\s+)*(?:clone|fetch|pull|ls-remote|submodule\s+(?:update|add|sync))\b/,
  ],
  ['wget', /(?<![\w-])wget\b|\$\(WGET\)|\$\{WGET\}/],
  ['curl', /(?<![\w-])curl\b/],
  ['archive-source', /archive-source\.sh\b/],
  ['meson', /\bmeson\s+subprojects\s+download\b/],
  ['pip', /\bpip3?\s+(?:-\S+\s+)*(?:install|download)\b/],
];

/** Download sites that name no variable but are known: file → component (or helper note). */
const KNOWN_SITES: { file: RegExp; kind?: FetchKind; component?: string; via: string }[] = [
  {
    file: /^scripts\/git-checkout\.sh$/,
    via: 'scripts/git-checkout.sh itself (each caller is listed on its own line)',
  },
  {
    file: /^tools\/firmware\/ovmf-makefile$/,
    kind: 'git',
    component: 'ovmf',
    via: 'OVMF submodules (git submodule update --init --recursive)',
  },
  {
    file: /^tools\/misc\/mktarball$/,
    kind: 'archive-source',
    component: 'qemu-xen',
    via: 'QEMU archive-source.sh: meson subprojects of qemu-xen',
  },
];

const SKIP_DIRS = new Set(['.git', 'automation', 'node_modules', '.xenrel']);
const SCRIPT_DIRS = ['tools/', 'stubdom/', 'scripts/'];

function isBuildFileName(name: string): boolean {
  return /^(GNU)?[Mm]akefile/.test(name) || name.endsWith('.mk') || name.endsWith('-makefile') || name.endsWith('.sh');
}

async function hasShellShebang(path: string): Promise<boolean> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return false;
  try {
    const buf = Buffer.alloc(64);
    const { bytesRead } = await fh.read(buf, 0, 64, 0);
    return /^#!\s*\S*(?:\/(?:ba|da|k|z)?sh|env\s+(?:ba|da)?sh)\b/.test(buf.subarray(0, bytesRead).toString('latin1'));
  } finally {
    await fh.close();
  }
}

async function listBuildFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string) {
    const entries = await readdir(join(root, rel), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) await walk(r);
        continue;
      }
      if (!e.isFile() || e.name === 'configure') continue;
      if (isBuildFileName(e.name)) out.push(r);
      else if (
        !e.name.includes('.') &&
        SCRIPT_DIRS.some((d) => r.startsWith(d)) &&
        (await hasShellShebang(join(root, r)))
      )
        out.push(r);
    }
  }
  await walk('');
  return out.sort(compareBytewise);
}

/** `FETCHER := /usr/bin/wget -c -O` (configure's output) names the tool; it fetches nothing. */
const TOOL_ASSIGNMENT = /^(?:override\s+|export\s+)*(?:FETCHER|WGET|FTP|GIT|CURL)\s*[:?+!]*=/;
/**
 * Shell assignments in front of (or instead of) a command: `GIT=$(GIT) …/git-checkout.sh URL`
 * runs the helper with GIT in its environment, so only a line that is nothing but
 * assignments is a tool assignment there.
 */
const SHELL_ASSIGNMENTS = /^(?:(?:export\s+)?[A-Za-z_]\w*=(?:"[^"]*"|'[^']*'|[^\s;'"]*)\s*;?\s*)+$/;

const VAR_RE = /\$\((\w+)\)|\$\{(\w+)\}/g;
const varsIn = (text: string) => [...text.matchAll(VAR_RE)].map((m) => m[1] ?? m[2]!);

export async function scanFetches(
  root: string,
  opts: { components?: Record<string, ComponentSpec> } = {},
): Promise<ScanResult> {
  const components = opts.components ?? knownComponents();
  const byVar = new Map<string, string>();
  for (const [name, spec] of Object.entries(components)) for (const v of spec.vars ?? []) byVar.set(v, name);
  const mapVars = (vs: string[]) => {
    for (const v of vs) if (byVar.has(v)) return { component: byVar.get(v)!, via: `$(${v})` };
    return undefined;
  };

  const files = await listBuildFiles(root);
  const sites: FetchSite[] = [];
  for (const file of files) {
    const text = await readFile(join(root, file), 'utf8').catch(() => '');
    const isMake = !file.endsWith('.sh') && /(^|\/)((GNU)?[Mm]akefile[^/]*|[^/]*\.mk|[^/]*-makefile)$/.test(file);
    // For a recipe line: the other lines of the same recipe (a force-update target names its
    // component only in the `reset --hard $(X_REVISION)` line after the `git fetch`).
    let recipe: { text: string; line: number }[] = [];
    const lines = logicalLines(text);
    const recipeOf = new Map<number, { text: string; line: number }[]>();
    if (isMake)
      for (const l of lines) {
        if (l.text.startsWith('\t')) {
          recipe.push(l);
          recipeOf.set(l.line, recipe);
        } else if (l.text.trim() !== '' && !l.text.trimStart().startsWith('#')) recipe = [];
      }
    for (const l of lines) {
      const t = l.text.trim();
      if (!t || t.startsWith('#')) continue;
      const shellLine = !isMake || l.text.startsWith('\t');
      if (TOOL_ASSIGNMENT.test(t) && (!shellLine || SHELL_ASSIGNMENTS.test(t))) continue;
      const kind = KINDS.find(([, re]) => re.test(t))?.[0];
      if (!kind) continue;
      const site: FetchSite = { file, line: l.line, kind, text: t.replace(/\s+/g, ' ').slice(0, 200) };
      const mapped =
        mapVars(varsIn(t)) ??
        (recipeOf.has(l.line) ? mapVars(recipeOf.get(l.line)!.flatMap((r) => varsIn(r.text))) : undefined) ??
        KNOWN_SITES.filter((k) => k.file.test(file) && (!k.kind || k.kind === kind)).map((k) => ({
          component: k.component,
          via: k.via,
        }))[0];
      if (mapped) {
        if (mapped.component) site.component = mapped.component;
        site.via = mapped.via;
      }
      sites.push(site);
    }
  }
  return { sites, unmapped: sites.filter((s) => !s.via), filesScanned: files.length };
}

/** `file:line: text` for people. */
export function formatSite(s: FetchSite): string {
  return `${s.file}:${s.line}: ${s.text}${s.component ? `  → ${s.component}` : s.via ? `  (${s.via})` : ''}`;
}
