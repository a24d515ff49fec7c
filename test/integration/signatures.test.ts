/**
 * `signingKey:`: signed git tags and detached
 * tarball signatures (`<url>.asc`) verified with `gpg --verify` against that key only, the
 * signer's fingerprint recorded in the lock, and checked again on later fetches. Keys are
 * throwaway ones made here (`gpg --quick-gen-key`) in a temporary GNUPGHOME.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDirs } from '../helpers/tmp.js';
import { testGpg, type TestGpg } from '../helpers/gpg.js';
import { recordOutcome } from '../helpers/outcome.js';
import { GitFixtures, type TestRepo } from '../helpers/git-repos.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { makeTarGz, runXenrel } from '../helpers/hardening.js';

const tmp = tempDirs();
const hasGpg = spawnSync('gpg', ['--version']).status === 0;
let fx: GitFixtures;
let repo: TestRepo;
let server: TestHttpServer;
let keyring: TestGpg;
let gnupg: string;
let fprA: string;
let fprB: string;
let keyA: string;
let zlibTgz: Buffer;

beforeAll(async () => {
  if (!hasGpg) return;
  keyring = testGpg(await tmp.make('xenrel-gnupg-'));
  gnupg = keyring.home;
  fprA = keyring.newKey('Upstream A <a@upstream.invalid>');
  fprB = keyring.newKey('Someone Else <b@elsewhere.invalid>');
  keyA = keyring.run(['--armor', '--export', fprA]).toString();

  fx = await GitFixtures.create();
  repo = await fx.repo('mini-os', { files: { 'Config.mk': 'X=1\n' } });
  await repo.commit('first');
  const env = { GNUPGHOME: gnupg };
  const tag = (name: string, args: string[]) => fx.git(['tag', ...args, '-m', `release ${name}`, name], repo.dir, env);
  await tag('signed', ['-s', '-u', fprA]);
  await tag('other-signer', ['-s', '-u', fprB]);
  await tag('unsigned', ['-a']);

  const work = await tmp.make();
  const good = makeTarGz(work, 'zlib-1.2.3', { 'zlib.h': '/* zlib */\n' });
  zlibTgz = good;
  const other = makeTarGz(work, 'lwip-1.3.0', { 'lwip.h': '/* lwip */\n' });
  server = await startHttpServer({
    files: {
      '/zlib-1.2.3.tar.gz': good,
      '/zlib-1.2.3.tar.gz.asc': keyring.detachSign(fprA, good),
      '/lwip-1.3.0.tar.gz': other,
      // A signature by the right key, but over other bytes.
      '/lwip-1.3.0.tar.gz.asc': keyring.detachSign(fprA, Buffer.concat([other, Buffer.from('x')])),
      '/nosig-1.0.tar.gz': makeTarGz(work, 'nosig-1.0', { a: 'a\n' }),
    },
  });
}, 120_000);

afterAll(async () => {
  keyring?.kill();
  await server?.close();
  await fx?.cleanup();
  await tmp.cleanup();
});

async function project(components: string) {
  const dir = await tmp.make('xenrel-sig-');
  await mkdir(join(dir, 'keys'));
  await writeFile(join(dir, 'keys', 'upstream.asc'), keyA);
  await writeFile(join(dir, 'xenrel.config.yaml'), `version: 1\nname: xen\ncomponents:\n${components}`);
  const run = (args: string[], cache = join(dir, '.cache')) =>
    runXenrel([...args, '--cache', cache], { cwd: dir, env: fx.env });
  return { dir, run, lock: async () => JSON.parse(await readFile(join(dir, 'xenrel.lock'), 'utf8')) };
}

const gitComponent = (ref: string) =>
  `  mini-os:\n    git: ${repo.url}\n    ref: ${ref}\n    path: extras/mini-os\n    signingKey: keys/upstream.asc\n`;
const tarComponent = (name: string, file: string) =>
  `  ${name}:\n    url: ${server.url}/${file}\n    path: stubdom/${file}\n    signingKey: keys/upstream.asc\n`;

describe.skipIf(!hasGpg)('signingKey', () => {
  it('a signed tag and a signed tarball: the lock records the signer; a fresh fetch checks it again', async () => {
    const p = await project(gitComponent('signed') + tarComponent('zlib', 'zlib-1.2.3.tar.gz'));
    const r = await p.run(['lock']);
    expect(r.code, r.stderr).toBe(0);
    const lock = await p.lock();
    expect(lock.components['mini-os'].signer).toBe(fprA);
    expect(lock.components.zlib.signer).toBe(fprA);
    const f = await p.run(['fetch'], join(p.dir, '.cache-fresh'));
    expect(f.code, f.stderr).toBe(0);

    // Upstream's signature file replaced by one from another key: the next download fails.
    server.setFile('/zlib-1.2.3.tar.gz.asc', keyring.detachSign(fprB, zlibTgz));
    try {
      const again = await p.run(['fetch'], join(p.dir, '.cache-fresh2'));
      recordOutcome('fetch with a signature by another key', again.code);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(
        /component zlib: signature of .*zlib-1\.2\.3\.tar\.gz: made by a key other than signingKey/,
      );
    } finally {
      server.setFile('/zlib-1.2.3.tar.gz.asc', keyring.detachSign(fprA, zlibTgz));
    }
  }, 120_000);

  it.each([
    ['unsigned', /component mini-os: tag "unsigned": is not signed/],
    ['other-signer', /component mini-os: tag "other-signer": made by a key other than signingKey/],
  ])(
    'tag %s: exit 1 naming the component, no lockfile written',
    async (ref, message) => {
      const p = await project(gitComponent(ref));
      const r = await p.run(['lock']);
      recordOutcome(`lock: ${r.stderr.split('\n')[0]!.replace(/^error: /, '')}`, r.code);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      await expect(readFile(join(p.dir, 'xenrel.lock'))).rejects.toThrow();
    },
    60_000,
  );

  it('a tarball whose signature covers other bytes, and one without a signature: exit 1 naming the component', async () => {
    const bad = await project(tarComponent('lwip', 'lwip-1.3.0.tar.gz'));
    const r = await bad.run(['lock']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/component lwip: signature of .*lwip-1\.3\.0\.tar\.gz: BAD signature/);

    const none = await project(tarComponent('nosig', 'nosig-1.0.tar.gz'));
    const n = await none.run(['lock']);
    expect(n.code).toBe(1);
    expect(n.stderr).toMatch(/component nosig: no signature found for .*nosig-1\.0\.tar\.gz \(signingKey is set\)/);
  }, 60_000);

  it('a key file that holds no key is a config error (exit 2)', async () => {
    const p = await project(tarComponent('zlib', 'zlib-1.2.3.tar.gz'));
    await writeFile(join(p.dir, 'keys', 'upstream.asc'), 'not a key\n');
    const r = await p.run(['lock']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/component zlib: signingKey .*upstream\.asc holds no OpenPGP public key/);
  }, 60_000);
});
