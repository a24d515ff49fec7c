/**
 * OpenPGP signatures: where a component names
 * `signingKey:` (a public key file, relative to the config), its signed git tag or its
 * detached tarball signature (`<url>.asc`, else `<url>.sig`) is verified with `gpg --verify`
 * against that key ONLY — a temporary GNUPGHOME holding nothing else, so the user's
 * keyring and trust settings play no part. The signer's primary-key fingerprint goes into
 * the lock (`signer`); later runs require the same signer. A signature is an extra check,
 * never a replacement for the commit or integrity pin.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { ExitCode, XenrelError } from '../errors.js';
import { runGit } from './git/run.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function gpg(args: string[], home: string, input?: Readable): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('gpg', ['--batch', '--no-tty', '--no-auto-key-retrieve', '--no-auto-key-locate', ...args], {
      env: { ...process.env, GNUPGHOME: home, LC_ALL: 'C' },
      stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', (err) =>
      reject(
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? new XenrelError('E_NO_GPG', 'gpg is not installed, and a component names a signingKey', {
              exitCode: ExitCode.usage,
              hint: 'install GnuPG (gpg)',
            })
          : err,
      ),
    );
    if (input && child.stdin) {
      input.on('error', (e) => child.stdin!.destroy(e));
      child.stdin.on('error', () => {});
      input.pipe(child.stdin);
    }
    child.on('close', (code) => resolvePromise({ code: code ?? 1, stdout, stderr }));
  });
}

/**
 * Who a signature check is for: a component (its `signingKey:`), or another subject such
 * as the release record (`--record-key`). Messages and hints name it and its key option.
 */
export interface SignatureSubject {
  /** "component seabios", "the release record" */
  label: string;
  /** The option that names the key: "signingKey", "--record-key". */
  keyOption: string;
}

const componentSubject = (name: string): SignatureSubject => ({ label: `component ${name}`, keyOption: 'signingKey' });
const subjectOf = (name: string | SignatureSubject): SignatureSubject =>
  typeof name === 'string' ? componentSubject(name) : name;

function sigError(name: string | SignatureSubject, what: string, detail: string, hint: string): XenrelError {
  const s = subjectOf(name);
  return new XenrelError('E_SIGNATURE', `${s.label}: ${what}: ${detail}`, {
    exitCode: ExitCode.checkFailed,
    hint,
    details: typeof name === 'string' ? { component: name } : { subject: s.label },
  });
}

/** A throwaway keyring holding only the key in `keyFile`; removed after `fn`. */
async function withKeyring<T>(
  name: string | SignatureSubject,
  keyFile: string,
  fn: (home: string, fingerprints: string[]) => Promise<T>,
): Promise<T> {
  const { label, keyOption } = subjectOf(name);
  const home = await mkdtemp(join(tmpdir(), 'xenrel-gpg-'));
  try {
    const key = await readFile(keyFile).catch((err: NodeJS.ErrnoException) => {
      throw new XenrelError('E_CONFIG', `${label}: cannot read ${keyOption} ${keyFile}: ${err.message}`, {
        exitCode: ExitCode.usage,
        hint:
          keyOption === 'signingKey'
            ? 'signingKey is an OpenPGP public key file, relative to the config file'
            : `${keyOption} is an OpenPGP public key file`,
      });
    });
    await writeFile(join(home, 'key'), key);
    const imp = await gpg(['--import', join(home, 'key')], home);
    const list = await gpg(['--with-colons', '--fingerprint', '--list-keys'], home);
    // The first fpr after each pub line is the primary key's.
    const fprs: string[] = [];
    let wantPrimary = false;
    for (const line of list.stdout.split('\n')) {
      const f = line.split(':');
      if (f[0] === 'pub') wantPrimary = true;
      else if (f[0] === 'fpr' && wantPrimary) {
        fprs.push(f[9]!);
        wantPrimary = false;
      }
    }
    if (imp.code !== 0 || fprs.length === 0)
      throw new XenrelError('E_CONFIG', `${label}: ${keyOption} ${keyFile} holds no OpenPGP public key`, {
        exitCode: ExitCode.usage,
        hint: 'export the key with `gpg --armor --export FINGERPRINT > FILE`',
      });
    return await fn(home, fprs);
  } finally {
    await rm(home, { recursive: true, force: true }).catch(() => {});
  }
}

/** Primary fingerprint from `[GNUPG:] VALIDSIG …` (its last field), when the signature is good. */
function validSigner(status: string): string | undefined {
  if (!/^\[GNUPG:\] GOODSIG /m.test(status)) return undefined;
  const m = /^\[GNUPG:\] VALIDSIG (.+)$/m.exec(status);
  if (!m) return undefined;
  const fields = m[1]!.trim().split(/\s+/);
  return fields[fields.length - 1];
}

function describeFailure(r: Run, keyOption = 'signingKey'): string {
  if (/^\[GNUPG:\] (ERRSIG|NO_PUBKEY) /m.test(r.stdout)) return `made by a key other than ${keyOption}`;
  if (/^\[GNUPG:\] BADSIG /m.test(r.stdout)) return 'BAD signature (the signed content was changed)';
  if (/no valid OpenPGP data|no signature found/i.test(r.stderr)) return 'no valid OpenPGP signature';
  return r.stderr.trim().split('\n').slice(-2).join(' ') || `gpg exit code ${r.code}`;
}

export function signingKeyPath(configRoot: string, key: string): string {
  return isAbsolute(key) ? key : resolve(configRoot, key);
}

/** Verify `sig` over `data` with only `keyFile`'s key; returns the signer's primary fingerprint. */
export async function verifyDetached(
  name: string | SignatureSubject,
  keyFile: string,
  data: Readable,
  sig: Buffer,
  what: string,
): Promise<string> {
  const { keyOption } = subjectOf(name);
  return withKeyring(name, keyFile, async (home) => {
    await writeFile(join(home, 'sig'), sig);
    const r = await gpg(['--status-fd', '1', '--verify', join(home, 'sig'), '-'], home, data);
    const signer = validSigner(r.stdout);
    if (r.code !== 0 || !signer)
      throw sigError(
        name,
        what,
        describeFailure(r, keyOption),
        `do not use these bytes; check the signature file and ${keyOption}, and ask ${keyOption === 'signingKey' ? 'upstream' : 'the publisher'} if the key changed`,
      );
    return signer;
  });
}

/**
 * Verify the annotated tag object `tagObject` in `mirrorDir`: it must carry an OpenPGP
 * signature by `keyFile`'s key and point at `commit`. Returns the signer's fingerprint.
 */
export async function verifyTag(
  name: string,
  keyFile: string,
  mirrorDir: string,
  tagObject: string,
  commit: string,
  ref: string,
): Promise<string> {
  const what = `tag "${ref}"`;
  const r = await runGit(['cat-file', 'tag', tagObject], { gitDir: mirrorDir });
  if (r.code !== 0)
    throw sigError(
      name,
      what,
      'is not an annotated tag, so it cannot be signed',
      'signingKey needs "ref:" to be a signed annotated tag (`git tag -s`)',
    );
  const text = r.stdout.toString('utf8');
  const at = text.indexOf('-----BEGIN PGP SIGNATURE-----');
  if (at < 0)
    throw sigError(name, what, 'is not signed', 'ask upstream for a signed tag (`git tag -s`), or drop signingKey');
  const object = /^object ([0-9a-f]{40,64})$/m.exec(text)?.[1];
  if (object !== commit)
    throw sigError(
      name,
      what,
      `the signed tag names ${object}, the lock pins ${commit}`,
      'the tag was moved; review and re-lock',
    );
  const { Readable } = await import('node:stream');
  return verifyDetached(
    name,
    keyFile,
    Readable.from([Buffer.from(text.slice(0, at))]),
    Buffer.from(text.slice(at)),
    what,
  );
}

/** Same signer as the lock recorded, else E_SIGNER_CHANGED. */
export function assertSameSigner(name: string, locked: string | undefined, now: string): void {
  if (locked === undefined || locked === now) return;
  throw new XenrelError('E_SIGNER_CHANGED', `component ${name}: signed by ${now}, the lock records ${locked}`, {
    exitCode: ExitCode.checkFailed,
    hint: `if upstream really changed its signing key, verify that out of band, then run \`xenrel lock --update ${name}\``,
    details: { component: name, locked, now },
  });
}
