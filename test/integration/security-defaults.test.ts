/**
 * Security defaults, through the built CLI:
 *   - a `git://`/`http://` git source is locked only when its ref is a full commit id
 *     (loopback hosts excepted); a tag or branch over it is refused before any network use;
 *   - TLS verification cannot be turned off from the environment: with
 *     NODE_TLS_REJECT_UNAUTHORIZED=0 or GIT_SSL_NO_VERIFY, network commands refuse (exit 2),
 *     while offline work from the cache still runs;
 *   - a tag moved upstream after locking: `fetch` keeps building the locked commit (the lock
 *     pins it), `lock --check` names both commits.
 * (Credentials across hosts: test/integration/tarball-fetch-tls.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDirs } from '../helpers/tmp.js';
import { recordOutcome } from '../helpers/outcome.js';
import { GitFixtures, type GitDaemon, type TestRepo } from '../helpers/git-repos.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { runXenrel } from '../helpers/hardening.js';
import { assertGitTransport, tlsVerificationDisabledBy } from '../../src/sources/transport-policy.js';
import { XenrelError } from '../../src/errors.js';

const tmp = tempDirs();
let fx: GitFixtures;
let repo: TestRepo;
let daemon: GitDaemon;
let server: TestHttpServer;

beforeAll(async () => {
  fx = await GitFixtures.create();
  repo = await fx.repo('mini-os', { files: { 'Config.mk': 'X=1\n' } });
  await repo.commit('first');
  await repo.tag('xen-4.22.0', { annotated: true });
  daemon = await fx.startDaemon();
  server = await startHttpServer({ files: { '/ipxe.bin': Buffer.from('a prebuilt blob\n') } });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
  await tmp.cleanup();
});

async function project(
  components: string,
): Promise<{ dir: string; run: (args: string[], env?: NodeJS.ProcessEnv) => ReturnType<typeof runXenrel> }> {
  const dir = await tmp.make('xenrel-sec-');
  await writeFile(join(dir, 'xenrel.config.yaml'), `version: 1\nname: xen\ncomponents:\n${components}`);
  const cache = join(dir, '.cache');
  return {
    dir,
    run: (args, env = {}) => runXenrel([...args, '--cache', cache], { cwd: dir, env: { ...fx.env, ...env } }),
  };
}

describe('unauthenticated git transports', () => {
  it.each([
    ['git://git.example.invalid/mini-os.git', 'xen-4.22.0'],
    ['http://git.example.invalid/mini-os.git', 'master'],
  ])(
    'refuses %s at ref %s before touching the network (exit 2, names the component, hints https or a commit)',
    async (url, ref) => {
      const p = await project(`  mini-os:\n    git: ${url}\n    ref: ${ref}\n    path: extras/mini-os\n`);
      const r = await p.run(['lock']);
      recordOutcome(
        `lock: ${/neither encrypts nor authenticates/.test(r.stderr) ? 'insecure transport refused' : r.stderr.split('\n')[0]}`,
        r.code,
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(
        `error: component mini-os: ${url} uses ${url.split(':')[0]}://, which neither encrypts nor authenticates`,
      );
      expect(r.stderr).toMatch(
        /hint: use an https:\/\/ or ssh:\/\/ URL for mini-os, or pin "ref:" to the full 40-hex commit id/,
      );
      await expect(readFile(join(p.dir, 'xenrel.lock'))).rejects.toThrow();
    },
  );

  it('accepts a full commit id over git:// (content-addressed) and any ref on loopback', () => {
    expect(() => assertGitTransport('m', 'git://git.example.invalid/m.git', 'a'.repeat(40))).not.toThrow();
    expect(() => assertGitTransport('m', 'http://git.example.invalid/m.git', 'a'.repeat(39))).toThrow(XenrelError);
    expect(() => assertGitTransport('m', 'https://git.example.invalid/m.git', 'main')).not.toThrow();
    expect(() => assertGitTransport('m', 'git://127.0.0.1:9418/m', 'main')).not.toThrow();
  });

  it('locks a tag over git:// from a loopback daemon; after a re-tag, fetch builds the locked commit and lock --check names both', async () => {
    const p = await project(
      `  mini-os:\n    git: ${daemon.url(repo)}\n    ref: xen-4.22.0\n    path: extras/mini-os\n`,
    );
    const r = await p.run(['lock']);
    expect(r.code, r.stderr).toBe(0);
    const locked = JSON.parse(await readFile(join(p.dir, 'xenrel.lock'), 'utf8')).components['mini-os'];
    const old = await repo.revParse('xen-4.22.0^{commit}');
    expect(locked.commit).toBe(old);

    const moved = await repo.commit('sneaky', { 'Config.mk': 'X=2\n' });
    await repo.moveTag('xen-4.22.0', moved, { annotated: true });
    try {
      const f = await p.run(['fetch']);
      expect(f.code, f.stderr).toBe(0);
      expect(JSON.parse(await readFile(join(p.dir, 'xenrel.lock'), 'utf8')).components['mini-os'].commit).toBe(old);
      const check = await p.run(['lock', '--check']);
      recordOutcome('fetch after re-tag', f.code);
      recordOutcome('lock --check after re-tag', check.code);
      expect(check.code).toBe(1);
      expect(check.stdout).toContain(old);
      expect(check.stdout).toContain(moved);
    } finally {
      await repo.moveTag('xen-4.22.0', old, { annotated: true });
    }
  }, 60_000);
});

describe('TLS verification cannot be turned off from the environment', () => {
  it('reads the variables', () => {
    expect(tlsVerificationDisabledBy({ NODE_TLS_REJECT_UNAUTHORIZED: '0' })).toBe('NODE_TLS_REJECT_UNAUTHORIZED=0');
    expect(tlsVerificationDisabledBy({ NODE_TLS_REJECT_UNAUTHORIZED: '1' })).toBeUndefined();
    expect(tlsVerificationDisabledBy({ GIT_SSL_NO_VERIFY: 'true' })).toBe('GIT_SSL_NO_VERIFY=true');
    expect(tlsVerificationDisabledBy({ GIT_SSL_NO_VERIFY: '0' })).toBeUndefined();
    expect(tlsVerificationDisabledBy({})).toBeUndefined();
  });

  it.each([{ NODE_TLS_REJECT_UNAUTHORIZED: '0' }, { GIT_SSL_NO_VERIFY: '1' }])(
    'with %o: lock and fetch refuse (exit 2); offline work from the cache still runs',
    async (bad) => {
      const p = await project(
        `  mini-os:\n    git: ${repo.url}\n    ref: xen-4.22.0\n    path: extras/mini-os\n  ipxe:\n    url: ${server.url}/ipxe.bin\n    path: tools/firmware/ipxe.bin\n`,
      );
      const before = server.requests.length;
      const refused = await p.run(['lock'], bad);
      recordOutcome(
        `lock: ${/refusing to use the network/.test(refused.stderr) ? 'TLS off refused' : refused.stderr.split('\n')[0]}`,
        refused.code,
      );
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(new RegExp(`refusing to use the network while ${Object.keys(bad)[0]}=`));
      expect(refused.stderr).toContain('hint: unset ');
      expect(server.requests.length, 'no request while refusing').toBe(before);

      expect((await p.run(['lock'])).code).toBe(0);
      const f = await runXenrel(['fetch', '--cache', join(p.dir, '.cache2')], {
        cwd: p.dir,
        env: { ...fx.env, ...bad },
      });
      expect(f.code).toBe(2);
      expect(f.stderr).toContain('turns TLS certificate verification off');
      // Everything already cached: no network needed, so no refusal.
      const offline = await p.run(['fetch', '--offline'], bad);
      expect(offline.code, offline.stderr).toBe(0);
    },
    60_000,
  );
});
