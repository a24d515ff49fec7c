/**
 * `plan` against what Xen's configure does: the host programs it stops without (read from
 * tools/configure.ac and stubdom/configure.ac of RELEASE-4.19.0 and RELEASE-4.22.0) and the
 * `<LIB>_URL=` variables stubdom/configure.ac declares with AC_ARG_VAR.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { splitArgs } from '../../src/xen/configure-options.js';
import { loadXenKnowledge } from '../../src/xen/knowledge.js';
import { planBuild } from '../../src/xen/plan.js';
import { tempDirs } from '../helpers/tmp.js';
import { stubdomConfigureAc } from '../helpers/xen-pins-tree.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

const X86 = 'x86_64-pc-linux-gnu';
/** A build machine with everything but the listed programs. */
const without =
  (...missing: string[]) =>
  async (p: string) =>
    !missing.includes(p);

/** A tree with only the configure.ac lines plan reads: 4.19 still has qemu-traditional. */
async function tree(version: '4.19' | '4.22'): Promise<string> {
  const root = await tmp.make();
  await mkdir(join(root, 'tools'), { recursive: true });
  await mkdir(join(root, 'stubdom'), { recursive: true });
  await writeFile(
    join(root, 'tools/configure.ac'),
    version === '4.19'
      ? 'AC_ARG_ENABLE([qemu-traditional],\n    AS_HELP_STRING([--enable-qemu-traditional],\n'
      : 'AC_ARG_ENABLE([ipxe],\n',
  );
  await writeFile(join(root, 'stubdom/configure.ac'), stubdomConfigureAc());
  return root;
}

const plan = async (version: '4.19' | '4.22', args: string, missing: string[] = [], env: NodeJS.ProcessEnv = {}) =>
  planBuild({
    config: loadXenKnowledge(),
    root: await tree(version),
    configure: splitArgs(args),
    host: X86,
    cmake: false,
    hasProgram: without(...missing),
    env,
  });

const as86 =
  /configure will fail: (.*), and as86 is not on PATH — "Unable to find as86, please install as86" \(tools\/configure\.ac \(ROMBIOS\)\); install it \(Debian: bin86\) or pass AS86=PATH/;

describe('plan: configure checks for host programs', () => {
  it.each<['4.19' | '4.22', string, string]>([
    ['4.22', '--enable-ovmf --enable-ipxe', '--enable-ipxe turns ROMBIOS on'],
    ['4.19', '--enable-ovmf --enable-ipxe', '--enable-ipxe turns ROMBIOS on'],
    ['4.19', '--enable-qemu-traditional', '--enable-qemu-traditional turns ROMBIOS on'],
    ['4.22', '--enable-rombios', '--enable-rombios'],
  ])('%s %s: as86 missing → configure will fail', async (version, args, why) => {
    const p = await plan(version, args, ['as86']);
    const w = p.warnings.filter((x) => as86.test(x));
    expect(w).toHaveLength(1);
    expect(as86.exec(w[0]!)![1]).toBe(why);
    // The downloads are still listed: the warning does not hide them.
    expect(p.components.map((c) => c.name)).toContain('seabios');
  });

  it.each<['4.19' | '4.22', string]>([
    ['4.22', '--enable-qemu-traditional'], // gone in 4.21: configure ignores the option
    ['4.22', '--enable-ovmf'],
    ['4.19', '--enable-ipxe --disable-rombios'],
    ['4.22', '--enable-ipxe --disable-tools'],
  ])('%s %s: ROMBIOS stays off, no as86 warning', async (version, args) => {
    expect(
      (await plan(version, args, ['as86', 'ld86', 'bcc'])).warnings.filter((w) => /as86|ld86|bcc/.test(w)),
    ).toEqual([]);
  });

  it('a preset AS86= (configure argument or environment) counts as found', async () => {
    expect((await plan('4.22', '--enable-ipxe AS86=/opt/bin86/as86', ['as86'])).warnings).toEqual([]);
    expect((await plan('4.22', '--enable-ipxe', ['as86'], { AS86: '/opt/bin86/as86' })).warnings).toEqual([]);
    expect(
      (await plan('4.22', '--enable-ipxe', ['ld86', 'bcc'])).warnings.map((w) => /and (\S+) is not/.exec(w)?.[1]),
    ).toEqual(['ld86', 'bcc']);
  });

  it('every other program configure stops without, with the condition that makes it look', async () => {
    const missing = [
      'iasl',
      'bison',
      'perl',
      'awk',
      'bash',
      'python3',
      'python',
      'python2',
      'pkg-config',
      'pkgconf',
      'gcc',
      'cc',
      'checkpolicy',
      'ocamlfind',
      'go',
    ];
    const p = await plan('4.22', '--enable-xsmpolicy --enable-ocamltools --enable-golang', missing);
    const found = p.warnings.map((w) => /.*, and (.+?) is not on PATH — "([^"]+)"/.exec(w)!.slice(1, 3).join(': '));
    expect(found).toEqual([
      'perl: Unable to find perl, please install perl',
      'awk: Unable to find awk, please install awk',
      'bash: Unable to find bash, please install bash',
      'python3 / python / python2: No python interpreter found',
      'iasl: Unable to find iasl, please install iasl',
      'bison: Unable to find bison, please install bison',
      'pkg-config / pkgconf: The pkg-config script could not be found or is too old',
      'checkpolicy: XSM policy compilation enabled, but unable to find checkpolicy',
      'ocamlfind: Ocaml tools enabled, but missing ocamlopt or ocamlfind',
      'go: Go tools enabled, but missing go compiler',
      'gcc / cc: no acceptable C compiler found in $PATH',
    ]);
    // --disable-pvshim drops bison; --with-system-qemu drops pkg-config.
    const q = await plan('4.22', '--disable-pvshim --with-system-qemu=/usr/bin/qemu', missing);
    expect(q.warnings.some((w) => /bison|pkg-config/.test(w))).toBe(false);
    // Nothing missing: nothing to say.
    expect((await plan('4.22', '--enable-ipxe --enable-ovmf')).warnings).toEqual([]);
  });
});

describe("plan: configure's <LIB>_URL variables", () => {
  it('NEWLIB_URL= and ZLIB_URL= change where those tarballs come from, over --disable-extfiles', async () => {
    const p = await plan(
      '4.22',
      'NEWLIB_URL=https://mirror.example/newlib/ ZLIB_URL=https://mirror.example/z --disable-extfiles',
    );
    const url = (n: string) => p.components.find((c) => c.name === n)!;
    expect(url('newlib')).toMatchObject({ url: 'https://mirror.example/newlib/newlib-1.16.0.tar.gz' });
    expect(url('newlib').because).toMatch(/URL from NEWLIB_URL=https:\/\/mirror\.example\/newlib\/$/);
    expect(url('zlib').url).toBe('https://mirror.example/z/zlib-1.2.3.tar.gz');
    // The others follow --disable-extfiles (pciutils has an upstream), or stay (none here).
    expect(url('pciutils').url).toBe(
      'https://mirrors.edge.kernel.org/pub/software/utils/pciutils/pciutils-2.2.9.tar.bz2',
    );
    expect(p.ignored).toEqual([]);
  });

  it('a *_URL configure does not declare is still an option that changes no download', async () => {
    const p = await plan('4.22', 'FOO_URL=https://x.example LIBPCI_URL=https://m.example');
    expect(p.ignored).toEqual(['FOO_URL=https://x.example']);
    expect(p.components.find((c) => c.name === 'pciutils')!.url).toBe('https://m.example/pciutils-2.2.9.tar.bz2');
  });
});
