import { afterAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { runInProcess } from '../helpers/in-process.js';
import { run } from '../helpers/netns.js';
import { tempDirs } from '../helpers/tmp.js';
import { commandTable } from '../../src/cli/commands.js';
import { overview } from '../../src/shell/overview.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

describe('command names', () => {
  it('a misspelt command exits 2 and names the nearest command, not the whole list', async () => {
    const dir = await tmp.make();
    const r = await runCli(['lcok'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "lcok"');
    expect(r.stderr).toContain('did you mean `xenrel lock`?');
    expect(r.stderr).not.toContain('verify');
    const far = await runCli(['frobnicate'], { cwd: dir });
    expect(far.code).toBe(2);
    expect(far.stderr).toContain('xenrel --help');
  });

  it("help CMD prints that command's help; help of a misspelt one suggests", async () => {
    const dir = await tmp.make();
    const r = await runCli(['help', 'lock'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Resolve every pin in the config into xenrel.lock');
    expect(r.stdout).toContain('xenrel lock --check');
    expect((await runCli(['lock', '--help'], { cwd: dir })).stdout).toBe(r.stdout);
    const bad = await runCli(['help', 'vrify'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('did you mean `xenrel verify`?');
  });

  it("the package's bin answers --version and --help as the command table does, and runs commands", async () => {
    const dir = await tmp.make();
    const root = join(import.meta.dirname, '..', '..');
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
      version: string;
      bin: { xenrel: string };
    };
    const bin = join(root, pkg.bin.xenrel);
    for (const a of ['--version', '-v']) expect((await run(bin, [a], { cwd: dir })).stdout).toBe(`${pkg.version}\n`);
    for (const a of [[], ['--help'], ['-h']]) {
      const r = await run(bin, a, { cwd: dir });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(overview());
    }
    const typo = await run(bin, ['lcok'], { cwd: dir });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('did you mean `xenrel lock`?');
  });

  it('--help groups the commands: pipeline, inspection, export', async () => {
    const dir = await tmp.make();
    const r = await runCli(['--help'], { cwd: dir });
    const section = (title: RegExp) => r.stdout.split(/\n\n/).find((s) => title.test(s.split('\n')[0]!)) ?? '';
    expect(section(/^Pipeline/)).toMatch(/^ {2}release /m);
    expect(section(/^Inspection/)).toMatch(/^ {2}status /m);
    expect(section(/^Export/)).toMatch(/^ {2}sbom /m);
    expect(section(/^Export/)).not.toMatch(/^ {2}release /m);
    expect(r.stdout).not.toContain('General commands');
  });

  it("every command's help names option values (--jobs N), never clipanion's #0", async () => {
    const dir = await tmp.make();
    // In-process: the help text is the command's, not the process's (a spawned CLI per
    // command cost seconds); `help lock` above goes through the binary.
    for (const c of commandTable) {
      const r = await runInProcess([c.name, '--help'], { cwd: dir });
      expect(r.code, `${c.name}: ${r.stderr}`).toBe(0);
      expect(r.stdout, c.name).not.toMatch(/#\d/);
      // The overview's one-liner is the command's own description.
      const plain = (t: string) => t.replace(/`/g, '').toLowerCase();
      expect(plain(r.stdout.split('\n')[0]!), c.name).toBe(plain(c.summary));
    }
    expect((await runInProcess(['fetch', '--help'], { cwd: dir })).stdout).toMatch(/--jobs,-j N +Downloads/);
    const bad = await runInProcess(['lock', '--bogus'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('[--jobs,-j N]');
  });
});

describe('--quiet keeps the primary output', () => {
  it('status --quiet still prints the component table', async () => {
    const dir = await tmp.make();
    await writeFile(
      join(dir, 'xenrel.config.yaml'),
      'version: 1\nname: xen\ncomponents:\n  mini-os:\n    git: https://example.org/mini-os.git\n    ref: v1\n    path: extras/mini-os\n',
    );
    const loud = await runCli(['status'], { cwd: dir, env: { XENREL_CACHE: await tmp.make() } });
    const quiet = await runCli(['status', '--quiet'], { cwd: dir, env: { XENREL_CACHE: await tmp.make() } });
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout).toMatch(/^COMPONENT +KIND/m);
    expect(quiet.stdout).toMatch(/^mini-os +git +v1/m);
    expect(loud.stdout).toContain('no xenrel.lock yet');
    expect(quiet.stdout).not.toContain('no xenrel.lock yet');
  });
});

/** Ask bash's programmable completion, as a TAB would, for the words of `line`. */
async function bashComplete(script: string, words: string[], cwd: string): Promise<string[]> {
  const file = join(cwd, 'xenrel.bash');
  await writeFile(file, script);
  const arr = words.map((w) => `'${w}'`).join(' ');
  const prog = [
    `source '${file}'`,
    // The function bash would call for `xenrel`, from its own registration.
    'fn=$(complete -p xenrel | sed -n "s/.*-F \\([^ ]*\\) .*/\\1/p")',
    `COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; COMP_LINE="${words.join(' ')}"; COMP_POINT=\${#COMP_LINE}`,
    '"$fn" xenrel "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const r = await run('bash', ['--norc', '--noprofile', '-c', prog], { cwd });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean).sort();
}

describe('shell completion, generated from the command definitions', () => {
  it('bash: commands, options, enumerated values and files, through real bash completion', async () => {
    const dir = await tmp.make();
    const gen = await runCli(['completion', 'bash'], { cwd: dir });
    expect(gen.code, gen.stderr).toBe(0);
    expect(await bashComplete(gen.stdout, ['xenrel', 've'], dir)).toEqual(['vendor', 'verify']);
    expect(await bashComplete(gen.stdout, ['xenrel', ''], dir)).toEqual(commandTable.map((c) => c.name).sort());
    expect(await bashComplete(gen.stdout, ['xenrel', 'fetch', '--of'], dir)).toEqual(['--offline']);
    expect(await bashComplete(gen.stdout, ['xenrel', 'lock', '--j'], dir)).toEqual(['--jobs', '--json']);
    expect(await bashComplete(gen.stdout, ['xenrel', 'export', '--format', ''], dir)).toEqual([
      'buildroot',
      'debian',
      'fedora',
      'yocto',
    ]);
    expect(await bashComplete(gen.stdout, ['xenrel', 'completion', ''], dir)).toEqual(['bash', 'zsh']);
    await writeFile(join(dir, 'xen-4.22.0.tar.gz'), '');
    expect(await bashComplete(gen.stdout, ['xenrel', 'verify', 'xen-4'], dir)).toEqual(['xen-4.22.0.tar.gz']);
    expect(await bashComplete(gen.stdout, ['xenrel', 'sbom', '--config', 'xen-'], dir)).toEqual(['xen-4.22.0.tar.gz']);
    // A file name with a space is one candidate, not two.
    await writeFile(join(dir, 'my lock.json'), '');
    expect(await bashComplete(gen.stdout, ['xenrel', 'diff', 'my'], dir)).toEqual(['my lock.json']);
  });

  it('bash: the generated script passes shellcheck', async () => {
    const dir = await tmp.make();
    const gen = await runCli(['completion', 'bash'], { cwd: dir });
    expect(gen.code, gen.stderr).toBe(0);
    const file = join(dir, 'xenrel.bash');
    await writeFile(file, gen.stdout);
    // No shellcheck is a failure, not a skip: .ci/run installs it.
    const r = await run('shellcheck', ['-s', 'bash', file], { cwd: dir });
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
  });

  it('zsh: the script parses and registers with compinit in a real zsh', async () => {
    const dir = await tmp.make();
    const gen = await runCli(['completion', 'zsh'], { cwd: dir });
    expect(gen.code, gen.stderr).toBe(0);
    await writeFile(join(dir, '_xenrel'), gen.stdout);
    expect((await run('zsh', ['-n', join(dir, '_xenrel')], { cwd: dir })).code).toBe(0);
    const r = await run(
      'zsh',
      [
        '-fc',
        `fpath=('${dir}' $fpath); autoload -Uz compinit; compinit -u -d '${dir}/zcompdump'; print -r -- $_comps[xenrel]`,
      ],
      {
        cwd: dir,
        env: { HOME: dir },
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('_xenrel');
  });

  it('an unknown shell is a usage error', async () => {
    const dir = await tmp.make();
    const r = await runCli(['completion', 'fish'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('xenrel completion bash');
  });
});
