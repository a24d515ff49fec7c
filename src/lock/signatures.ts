/**
 * `signingKey:` at lock and fetch time (see src/sources/signature.ts): the signer's
 * fingerprint is recorded in the lock, and later runs must see the same signer.
 */
import type { Readable } from 'node:stream';
import type { Cache } from '../content-cache/cache.js';
import { ExitCode, XenrelError } from '../errors.js';
import { resolveRef } from '../sources/git/refs.js';
import { runGit, runGitRemote } from '../sources/git/run.js';
import { assertSameSigner, signingKeyPath, verifyDetached, verifyTag } from '../sources/signature.js';
import { fetchTarball, openVerifiedContent } from '../sources/tarball.js';
import type { ComponentSpec } from '../model/config.js';
import type { LockedGit, LockedTarball } from '../model/lock.js';
import { isLockedGit } from '../model/kind.js';

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** The signed tag `locked.ref` of `locked.git`, checked with the component's key: its signer. */
export async function gitSigner(
  name: string,
  spec: ComponentSpec,
  locked: LockedGit,
  cache: Cache,
  configRoot: string,
  opts: { offline?: boolean } = {},
): Promise<string> {
  const key = signingKeyPath(configRoot, spec.signingKey!);
  const mirror = cache.gitMirrorDir(locked.git);
  const resolved = await resolveRef(locked.git, locked.ref, cache, { label: name, offline: opts.offline });
  if (!resolved.tagObject)
    throw new XenrelError(
      'E_SIGNATURE',
      `component ${name}: "${locked.ref}" is not an annotated tag, so it carries no signature`,
      {
        exitCode: ExitCode.checkFailed,
        hint: 'signingKey needs "ref:" to be a signed tag (`git tag -s`)',
      },
    );
  if ((await runGit(['cat-file', '-e', resolved.tagObject], { gitDir: mirror })).code !== 0 && !opts.offline)
    await runGitRemote(
      ['fetch', '--quiet', '--no-write-fetch-head', 'origin', `+refs/tags/${locked.ref}:refs/tags/${locked.ref}`],
      {
        gitDir: mirror,
        url: locked.git,
        label: name,
      },
    );
  return verifyTag(name, key, mirror, resolved.tagObject, locked.commit, locked.ref);
}

/** The detached signature `<url>.asc` (else `<url>.sig`) over the cached bytes: its signer. */
export async function tarballSigner(
  name: string,
  spec: ComponentSpec,
  locked: Pick<LockedTarball, 'url' | 'integrity'>,
  cache: Cache,
  configRoot: string,
  opts: { offline?: boolean } = {},
): Promise<string> {
  const key = signingKeyPath(configRoot, spec.signingKey!);
  let sig: Buffer | undefined;
  const tried: string[] = [];
  for (const url of [`${locked.url}.asc`, `${locked.url}.sig`]) {
    try {
      const got = await fetchTarball({
        name: `${name} (signature)`,
        url,
        mirrors: [],
        sourcesMode: 'url-only',
        cache,
        allowHttp: true,
        offline: opts.offline,
        retry: { retries: 1 },
      });
      sig = await readAll(openVerifiedContent(cache, got.integrity));
      break;
    } catch (err) {
      tried.push(`${url}: ${(err as Error).message.split('\n').pop()!.trim()}`);
    }
  }
  if (!sig)
    throw new XenrelError(
      'E_SIGNATURE',
      `component ${name}: no signature found for ${locked.url} (signingKey is set)\n  ${tried.join('\n  ')}`,
      {
        exitCode: ExitCode.checkFailed,
        hint: 'upstream must publish a detached signature next to the file (<url>.asc or <url>.sig); or drop signingKey',
      },
    );
  return verifyDetached(name, key, openVerifiedContent(cache, locked.integrity), sig, `signature of ${locked.url}`);
}

/** Verify and compare with what the lock recorded (undefined: first lock). */
export async function checkSigner(
  name: string,
  spec: ComponentSpec | undefined,
  locked: LockedGit | LockedTarball,
  cache: Cache,
  configRoot: string,
  opts: { offline?: boolean; expected?: string } = {},
): Promise<string | undefined> {
  if (!spec?.signingKey) return undefined;
  const signer = isLockedGit(locked)
    ? await gitSigner(name, spec, locked, cache, configRoot, opts)
    : await tarballSigner(name, spec, locked, cache, configRoot, opts);
  assertSameSigner(name, opts.expected, signer);
  return signer;
}
