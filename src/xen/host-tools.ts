import type { BuildChoices } from './build-choices.js';

/**
 * The programs Xen's configure stops without (tools/configure.ac, stubdom/configure.ac and
 * m4/*.m4 of Xen 4.19–4.22: AX_PATH_PROG_OR_FAIL, AX_DEPENDS_PATH_PROG, AC_CHECK_PROGS with
 * an error, the PKG_CHECK_MODULES and AC_PROG_CC checks), each with the condition under
 * which configure looks for it, so `plan` can say "configure will fail" before a build
 * machine finds out. Library checks (lzma, yajl, zlib, …) are not listed: they need
 * headers, not a program on PATH.
 */

export interface ConfigureFlags {
  /** Last `--enable-X` / `--disable-X` (or `=no`) per feature name, as configure's `enable_X`. */
  enable: Record<string, boolean>;
  /** `VAR=value` arguments (AC_ARG_VAR presets such as AS86=/opt/bin/as86). */
  vars: Record<string, string>;
}

export function configureFlags(args: string[]): ConfigureFlags {
  const enable: Record<string, boolean> = {};
  const vars: Record<string, string> = {};
  for (const a of args) {
    const m = /^--(enable|disable)-([\w-]+)(?:=(.*))?$/.exec(a);
    if (m) enable[m[2]!] = m[1] === 'enable' && m[3] !== 'no';
    const v = /^([A-Za-z_]\w*)=(.*)$/.exec(a);
    if (v) vars[v[1]!] = v[2]!;
  }
  return { enable, vars };
}

interface ToolCheck {
  /** AC_ARG_VAR that presets the path (`AS86=/path ./configure`). */
  variable: string;
  /** Programs configure tries, in order. */
  programs: string[];
  /** Why configure checks it in this configuration; undefined when it does not. */
  when(c: BuildChoices, f: ConfigureFlags, tree: TreeFacts): string | undefined;
  /** configure's own error. */
  error: string;
  /** Where the check is. */
  where: string;
  /** Debian package, when its name is not the program's. */
  debian?: string;
}

export interface TreeFacts {
  /** tools/configure.ac still has --enable-qemu-traditional (Xen 4.20 and older). */
  qemuTraditional: boolean;
}

const toolsBuilt = (c: BuildChoices) => c.tools !== false;
const stubdomBuilt = (c: BuildChoices) => (c.stubdom ?? (c.x86 && !c.freebsd)) === true;

/** ROMBIOS: `--enable-rombios`, else on with `--enable-ipxe` (and, in 4.19, `--enable-qemu-traditional`). */
function rombiosBy(c: BuildChoices, f: ConfigureFlags, tree: TreeFacts): string | undefined {
  if (!toolsBuilt(c)) return undefined;
  if (f.enable.rombios !== undefined) return f.enable.rombios ? '--enable-rombios' : undefined;
  if (f.enable.ipxe === true) return '--enable-ipxe turns ROMBIOS on';
  if (tree.qemuTraditional && f.enable['qemu-traditional'] === true)
    return '--enable-qemu-traditional turns ROMBIOS on';
  return undefined;
}

const always = (c: BuildChoices) => (toolsBuilt(c) ? 'the tools build' : undefined);

const CHECKS: ToolCheck[] = [
  ...(['as86', 'ld86', 'bcc'] as const).map(
    (p): ToolCheck => ({
      variable: p.toUpperCase(),
      programs: [p],
      when: rombiosBy,
      error: `Unable to find ${p}, please install ${p}`,
      where: 'tools/configure.ac (ROMBIOS)',
      debian: p === 'bcc' ? 'bcc' : 'bin86',
    }),
  ),
  {
    variable: 'PERL',
    programs: ['perl'],
    when: always,
    error: 'Unable to find perl, please install perl',
    where: 'tools/configure.ac',
  },
  {
    variable: 'AWK',
    programs: ['awk'],
    when: always,
    error: 'Unable to find awk, please install awk',
    where: 'tools/configure.ac',
  },
  {
    variable: 'BASH',
    programs: ['bash'],
    when: (c) => (toolsBuilt(c) && !c.freebsd ? 'the tools build (not on FreeBSD)' : undefined),
    error: 'Unable to find bash, please install bash',
    where: 'tools/configure.ac',
  },
  {
    variable: 'PYTHON',
    programs: ['python3', 'python', 'python2'],
    when: always,
    error: 'No python interpreter found',
    where: 'tools/configure.ac',
    debian: 'python3',
  },
  {
    variable: 'IASL',
    programs: ['iasl'],
    when: (c) => (toolsBuilt(c) && (c.x86 || /^aarch64/.test(c.host)) ? `the tools build for ${c.host}` : undefined),
    error: 'Unable to find iasl, please install iasl',
    where: 'tools/configure.ac',
    debian: 'acpica-tools',
  },
  {
    variable: 'BISON',
    programs: ['bison'],
    when: (c, f) => {
      if (!toolsBuilt(c)) return undefined;
      if (f.enable.pvshim !== undefined) return f.enable.pvshim ? '--enable-pvshim' : undefined;
      return /^x86_64/.test(c.host)
        ? 'the PV shim (on by default for x86_64; --disable-pvshim turns it off)'
        : undefined;
    },
    error: 'Unable to find bison, please install bison',
    where: 'tools/configure.ac',
  },
  {
    variable: 'PKG_CONFIG',
    programs: ['pkg-config', 'pkgconf'],
    when: (c) =>
      toolsBuilt(c) && (c.qemuXen ?? (c.x86 || c.arm)) ? 'qemu-xen (PKG_CHECK_MODULES for glib and pixman)' : undefined,
    error: 'The pkg-config script could not be found or is too old',
    where: 'tools/configure.ac',
    debian: 'pkgconf',
  },
  {
    variable: 'CHECKPOLICY',
    programs: ['checkpolicy'],
    when: (c, f) => (toolsBuilt(c) && f.enable.xsmpolicy === true ? '--enable-xsmpolicy' : undefined),
    error: 'XSM policy compilation enabled, but unable to find checkpolicy',
    where: 'tools/configure.ac, m4/checkpolicy.m4',
  },
  {
    variable: 'OCAMLOPT',
    programs: ['ocamlopt', 'ocamlopt.opt'],
    when: (c, f) => (toolsBuilt(c) && f.enable.ocamltools === true ? '--enable-ocamltools' : undefined),
    error: 'Ocaml tools enabled, but missing ocamlopt or ocamlfind',
    where: 'tools/configure.ac, m4/ocaml.m4',
    debian: 'ocaml-nox',
  },
  {
    variable: 'OCAMLFIND',
    programs: ['ocamlfind'],
    when: (c, f) => (toolsBuilt(c) && f.enable.ocamltools === true ? '--enable-ocamltools' : undefined),
    error: 'Ocaml tools enabled, but missing ocamlopt or ocamlfind',
    where: 'tools/configure.ac, m4/ocaml.m4',
    debian: 'ocaml-findlib',
  },
  {
    variable: 'GO',
    programs: ['go'],
    when: (c, f) => (toolsBuilt(c) && f.enable.golang === true ? '--enable-golang' : undefined),
    error: 'Go tools enabled, but missing go compiler',
    where: 'tools/configure.ac, m4/golang.m4',
    debian: 'golang-go',
  },
  {
    variable: 'CC',
    programs: ['gcc', 'cc'],
    when: (c) => (toolsBuilt(c) || stubdomBuilt(c) ? 'tools/configure and stubdom/configure (AC_PROG_CC)' : undefined),
    error: 'no acceptable C compiler found in $PATH',
    where: 'tools/configure.ac, stubdom/configure.ac',
    debian: 'gcc',
  },
];

/** The AC_ARG_VAR presets of those checks: configure arguments plan understands. */
export const TOOL_VARIABLES = new Set(CHECKS.map((c) => c.variable));

/**
 * One warning per check configure would fail, in the words configure would use. `has`
 * says whether a program is on the build machine's PATH; a preset variable (given to
 * configure or in the environment) counts as found when it is not empty.
 */
export async function hostToolWarnings(
  c: BuildChoices,
  f: ConfigureFlags,
  tree: TreeFacts,
  has: (program: string) => Promise<boolean>,
  env: NodeJS.ProcessEnv = {},
): Promise<string[]> {
  const out: string[] = [];
  for (const check of CHECKS) {
    const why = check.when(c, f, tree);
    if (!why) continue;
    const preset = f.vars[check.variable] ?? env[check.variable];
    if (preset !== undefined && preset !== '') continue;
    let found = false;
    for (const p of check.programs) if ((found = await has(p))) break;
    if (found) continue;
    const install = check.debian && check.debian !== check.programs[0] ? ` (Debian: ${check.debian})` : '';
    out.push(
      `configure will fail: ${why}, and ${check.programs.join(' / ')} is not on PATH — "${check.error}" (${check.where}); install it${install} or pass ${check.variable}=PATH`,
    );
  }
  return out;
}
