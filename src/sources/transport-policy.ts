/**
 * Transport rules that are not specific to one fetcher:
 *
 * - A git source over an unauthenticated transport (`git://`, plain `http://`) may be locked
 *   only when its ref is a full commit id: then the content is named by its hash and git
 *   checks every object against it. A tag or branch resolved over such a transport could be
 *   forged in transit, so it is refused (loopback hosts excepted: tests and local daemons).
 *   Once locked, every later fetch works from the locked commit, so the lock pins it.
 * - TLS verification cannot be turned off from the environment: `NODE_TLS_REJECT_UNAUTHORIZED=0`
 *   (Node) or `GIT_SSL_NO_VERIFY` (git) make xenrel refuse to touch the network, instead of
 *   silently trusting any certificate.
 */
import { ExitCode, XenrelError } from '../errors.js';
import { FULL_COMMIT_ANY, isLoopbackHost } from '../util/patterns.js';

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

/** `git://` or `http://` (not https, ssh or file). */
export function isUnauthenticatedGitUrl(url: string): boolean {
  return /^(git|http):\/\//i.test(url);
}

/** Throws E_INSECURE_URL when `url` cannot be trusted to resolve `ref` (see the module comment). */
export function assertGitTransport(name: string, url: string, ref: string): void {
  if (!isUnauthenticatedGitUrl(url)) return;
  if (FULL_COMMIT_ANY.test(ref)) return;
  const host = hostOf(url);
  if (host && isLoopbackHost(host)) return;
  const scheme = url.slice(0, url.indexOf(':'));
  throw new XenrelError(
    'E_INSECURE_URL',
    `component ${name}: ${url} uses ${scheme}://, which neither encrypts nor authenticates; the ref "${ref}" resolved over it could be forged in transit`,
    {
      exitCode: ExitCode.usage,
      hint: `use an https:// or ssh:// URL for ${name}, or pin "ref:" to the full 40-hex commit id (the content is then checked against it)`,
      details: { component: name, url, ref },
    },
  );
}

/** Which environment variable turns TLS verification off, if any. */
export function tlsVerificationDisabledBy(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.NODE_TLS_REJECT_UNAUTHORIZED === '0') return 'NODE_TLS_REJECT_UNAUTHORIZED=0';
  const g = env.GIT_SSL_NO_VERIFY;
  if (g !== undefined && g !== '' && !/^(0|false|no|off)$/i.test(g)) return `GIT_SSL_NO_VERIFY=${g}`;
  return undefined;
}

/** Refuse network access while TLS verification is disabled from the environment. */
export function assertTlsVerification(what: string, env: NodeJS.ProcessEnv = process.env): void {
  const by = tlsVerificationDisabledBy(env);
  if (!by) return;
  throw new XenrelError(
    'E_TLS_DISABLED',
    `${what}: refusing to use the network while ${by} turns TLS certificate verification off`,
    {
      exitCode: ExitCode.usage,
      hint: `unset ${by.split('=')[0]}; to trust a private CA, add it to the system store (or NODE_EXTRA_CA_CERTS), which keeps verification on`,
      details: { variable: by },
    },
  );
}
