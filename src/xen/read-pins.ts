import { access, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ExitCode, XenrelError } from '../errors.js';
import { TREE_PINS_VAR } from './locked-pins.js';
import { evalMakeVars, type MakeVar } from './make-eval.js';

/**
 * Read the pins of a Xen tree the way its build sees them: GNU make evaluates Config.mk
 * (which `-include`s `.config`), the iPXE variables of tools/firmware/etherboot/Makefile and
 * the stubdom library variables (config/Stubdom.mk when the tree is configured, else the
 * defaults stubdom/configure.ac would write), with command-line overrides applied.
 */

/** One stubdom library, as `AX_STUBDOM_LIB([NAME], [desc], [version], [upstream])` declares it. */
export interface StubdomLib {
  /** The make prefix: NEWLIB, ZLIB, LIBPCI, … */
  lib: string;
  description: string;
  version: string;
  /** Base URL the build uses (`$(NEWLIB_URL)`, expanded). */
  url: string;
  /** The 4th argument: the URL `--disable-extfiles` switches to. */
  upstreamUrl?: string;
  /** File name the stubdom Makefile fetches (`newlib-1.16.0.tar.gz`), if a fetch rule names this lib. */
  file?: string;
  /** Full URL of that file. */
  fileUrl?: string;
  /** Where the fetch rule is (stubdom/Makefile:line). */
  rule?: { file: string; line: number };
  /** Where the version is declared. */
  declared: { file: string; line: number };
}

export interface XenPins {
  root: string;
  /** Every pin-related variable, by name. File paths are relative to `root` where inside it. */
  vars: Record<string, MakeVar>;
  stubdom: {
    /** Where the library variables came from. */
    source: 'config/Stubdom.mk' | 'stubdom/configure.ac' | 'none';
    libs: StubdomLib[];
  };
  /** qemu-xen-traditional is pinned (Xen 4.19 and older). */
  qemuTraditional: boolean;
}

export interface ReadPinsOptions {
  /** `VAR=value` make command-line overrides. */
  overrides?: string[];
  env?: NodeJS.ProcessEnv;
  make?: string;
  /** For an unconfigured tree: what `--disable-extfiles` would give (default: extfiles on). */
  extfiles?: boolean;
  /**
   * Read the pins as make runs them, with xenrel's own `.config` block in effect (what a
   * release tarball's make asks for). Default: the tree's own pins, the block's left out.
   */
  lockedPins?: boolean;
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

const AX_STUBDOM_LIB_RE =
  /^\s*AX_STUBDOM_LIB(_NOEXT)?\(\s*\[(\w+)\]\s*,\s*\[([^\]]*)\]\s*,\s*\[([^\]]*)\](?:\s*,\s*\[([^\]]*)\])?\s*\)/;

interface DeclaredLib {
  lib: string;
  description: string;
  version: string;
  upstreamUrl?: string;
  noext: boolean;
  line: number;
}

export function parseStubdomConfigureAc(text: string): DeclaredLib[] {
  const out: DeclaredLib[] = [];
  text.split('\n').forEach((l, i) => {
    const m = AX_STUBDOM_LIB_RE.exec(l);
    if (m)
      out.push({
        noext: Boolean(m[1]),
        lib: m[2]!,
        description: m[3]!,
        version: m[4]!,
        upstreamUrl: m[5] || undefined,
        line: i + 1,
      });
  });
  return out;
}

/** Make's logical lines: continuation lines joined, each with its first physical line number. */
export function logicalLines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  const phys = text.split('\n');
  for (let i = 0; i < phys.length; i++) {
    const start = i;
    let cur = phys[i]!;
    while (cur.endsWith('\\') && i + 1 < phys.length) cur = `${cur.slice(0, -1)} ${phys[++i]!.trimStart()}`;
    out.push({ text: cur, line: start + 1 });
  }
  return out;
}

export interface FetchRule {
  /** Target as written: `newlib-$(NEWLIB_VERSION).tar.gz`. */
  target: string;
  /** URL expression with `$@` replaced by the target: `$(NEWLIB_URL)/newlib-$(NEWLIB_VERSION).tar.gz`. */
  urlExpr: string;
  /** The `<LIB>` of a `$(<LIB>_URL)` in the URL, if any. */
  lib?: string;
  /** Line of the `$(FETCHER)` recipe line. */
  line: number;
}

/** `target:` followed by a recipe line `$(FETCHER) $@ URL` (the stubdom Makefile's pattern). */
export function parseFetcherRules(text: string): FetchRule[] {
  const rules: FetchRule[] = [];
  let target: string | undefined;
  for (const { text: l, line } of logicalLines(text)) {
    if (l.startsWith('\t')) {
      const m = /\$\(FETCHER\)\s+(\S+)\s+(\S+)/.exec(l);
      if (m && target) {
        const out = m[1] === '$@' ? target : m[1]!;
        const urlExpr = m[2]!.split('$@').join(out);
        rules.push({ target: out, urlExpr, lib: /\$\((\w+)_URL\)/.exec(urlExpr)?.[1], line });
      }
      continue;
    }
    const t = /^([^\s:#=]+)\s*:(?!=)/.exec(l);
    target = t ? t[1] : l.trim() === '' || l.startsWith('#') ? target : undefined;
  }
  return rules;
}

/** Assignments of `IPXE_*` in the etherboot Makefile, to replay after Config.mk. */
function etherbootAssignments(text: string): { text: string; line: number }[] {
  return logicalLines(text).filter((l) => /^IPXE_\w+\s*(\?|:|::|\+)?=/.test(l.text));
}

export async function readXenPins(rootDir: string, opts: ReadPinsOptions = {}): Promise<XenPins> {
  const root = resolve(rootDir);
  if (/\s/.test(root))
    throw new XenrelError('E_XEN_TREE', `the Xen tree path "${root}" contains white space, which make cannot handle`, {
      exitCode: ExitCode.usage,
      hint: 'move or link the tree to a path without spaces',
    });
  if (!(await exists(join(root, 'Config.mk'))))
    throw new XenrelError('E_XEN_TREE', `${root} is not a Xen source tree: it has no Config.mk`, {
      exitCode: ExitCode.usage,
      hint: 'run in the top folder of a Xen checkout, or pass --xen-tree DIR',
    });

  // The generated makefile, with a map from its lines back to the files they were copied from.
  const body: string[] = [];
  const origin = new Map<number, { file: string; line: number }>();
  const emit = (text: string, from?: { file: string; line: number }) => {
    body.push(text);
    if (from) origin.set(body.length, from);
  };
  emit('# generated by xenrel: prints the pins of this Xen tree; builds nothing');
  emit(`XEN_ROOT := ${root}`);
  emit('include $(XEN_ROOT)/Config.mk');

  const etherboot = 'tools/firmware/etherboot/Makefile';
  const etherText = await readFile(join(root, etherboot), 'utf8').catch(() => undefined);
  if (etherText) for (const a of etherbootAssignments(etherText)) emit(a.text, { file: etherboot, line: a.line });

  const configureAc = 'stubdom/configure.ac';
  const declared = parseStubdomConfigureAc(await readFile(join(root, configureAc), 'utf8').catch(() => ''));
  const configured = await exists(join(root, 'config/Stubdom.mk'));
  let source: XenPins['stubdom']['source'] = 'none';
  if (configured) {
    source = 'config/Stubdom.mk';
    emit('-include $(XEN_ROOT)/config/Stubdom.mk');
  } else if (declared.length) {
    source = configureAc;
    const extfiles = opts.extfiles ?? true;
    for (const d of declared) {
      // What configure writes into config/Stubdom.mk (m4/stubdom.m4): extfiles unless disabled.
      const url = d.noext || (!extfiles && d.upstreamUrl) ? (d.upstreamUrl ?? '') : '$(XEN_EXTFILES_URL)';
      emit(`${d.lib}_VERSION := ${d.version}`, { file: configureAc, line: d.line });
      emit(`${d.lib}_URL := ${url}`, { file: configureAc, line: d.line });
    }
  }

  const stubMakefile = 'stubdom/Makefile';
  const rules = parseFetcherRules(await readFile(join(root, stubMakefile), 'utf8').catch(() => ''));
  rules.forEach((r, i) => {
    emit(`XENREL_STUBDOM_FILE_${i} := ${r.target}`);
    emit(`XENREL_STUBDOM_URL_${i} := ${r.urlExpr}`);
  });

  const libNames = declared.map((d) => d.lib);
  const names = [
    '%_UPSTREAM_URL',
    '%_UPSTREAM_REVISION',
    '%_UPSTREAM_LOC',
    '%_UPSTREAM_INTREE',
    '%_UPSTREAM_TAG',
    'QEMU_TRADITIONAL_%',
    'XEN_EXTFILES_URL',
    'IPXE_%',
    'GIT',
    'FETCHER',
    'XEN_OS',
    'XEN_TARGET_ARCH',
    'XENREL_STUBDOM_%',
    ...libNames.flatMap((l) => [`${l}_URL`, `${l}_VERSION`]),
    // Configured stubdom trees may add libraries configure.ac no longer lists.
    ...rules.filter((r) => r.lib).flatMap((r) => [`${r.lib}_URL`, `${r.lib}_VERSION`]),
  ];
  const evaluated = await evalMakeVars(body.join('\n'), [...new Set(names)], {
    cwd: root,
    overrides: [...(opts.overrides ?? []), ...(opts.lockedPins ? [] : [`${TREE_PINS_VAR}=y`])],
    env: opts.env,
    make: opts.make,
  });

  const vars: Record<string, MakeVar> = {};
  for (const [name, v] of evaluated) {
    if (name.startsWith('XENREL_')) continue;
    const from = v.generatedLine !== undefined ? origin.get(v.generatedLine) : undefined;
    const file = from?.file ?? (v.file ? relativeTo(root, v.file) : undefined);
    vars[name] = { name, value: v.value, origin: v.origin, ...(file ? { file, line: from?.line ?? v.line } : {}) };
  }

  const libs: StubdomLib[] = [];
  const seen = new Set<string>();
  const ruleOf = (lib: string) => rules.findIndex((r) => r.lib === lib);
  const addLib = (lib: string, d?: DeclaredLib) => {
    if (seen.has(lib)) return;
    seen.add(lib);
    const i = ruleOf(lib);
    const file = i >= 0 ? evaluated.get(`XENREL_STUBDOM_FILE_${i}`)?.value : undefined;
    const fileUrl = i >= 0 ? evaluated.get(`XENREL_STUBDOM_URL_${i}`)?.value : undefined;
    const version = vars[`${lib}_VERSION`]?.value ?? d?.version ?? '';
    const declaredAt = vars[`${lib}_VERSION`]?.file
      ? { file: vars[`${lib}_VERSION`]!.file!, line: vars[`${lib}_VERSION`]!.line ?? 0 }
      : { file: configureAc, line: d?.line ?? 0 };
    libs.push({
      lib,
      description: d?.description ?? lib.toLowerCase(),
      version,
      url: vars[`${lib}_URL`]?.value ?? '',
      ...(d?.upstreamUrl ? { upstreamUrl: d.upstreamUrl } : {}),
      ...(file ? { file, fileUrl, rule: { file: stubMakefile, line: rules[i]!.line } } : {}),
      declared: declaredAt,
    });
  };
  for (const d of declared) addLib(d.lib, d);
  for (const r of rules) if (r.lib && vars[`${r.lib}_URL`]) addLib(r.lib);

  return {
    root,
    vars,
    stubdom: { source, libs },
    qemuTraditional: Boolean(vars.QEMU_TRADITIONAL_URL?.value),
  };
}

function relativeTo(root: string, file: string): string {
  const abs = resolve(root, file);
  return abs.startsWith(`${root}/`) ? abs.slice(root.length + 1) : abs;
}
