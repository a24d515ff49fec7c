/**
 * OpenPGP signatures over the DSSE PAE. Signing uses the user's own keyring (GNUPGHOME);
 * verifying never does: the key is copied into a throwaway keyring holding nothing else
 * (src/sources/signature.ts), so "some key I happen to trust" never passes for KEY.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ExitCode, XenrelError } from '../errors.js';
import { verifyDetached, type SignatureSubject } from '../sources/signature.js';
import type { DsseSignature } from './dsse.js';
import { lastLines, runTool } from './run.js';

const BASE = ['--batch', '--no-tty', '--no-auto-key-retrieve', '--no-auto-key-locate'];
export const PROVENANCE_SUBJECT: SignatureSubject = { label: 'provenance', keyOption: '--key' };

/** A binary detached signature by `key` (fingerprint or user id); keyid is the signing key's fingerprint. */
export async function gpgSign(key: string, data: Buffer): Promise<DsseSignature> {
  const r = await runTool('gpg', [...BASE, '--status-fd', '2', '--local-user', key, '--detach-sign', '--output', '-'], {
    input: data,
  });
  const created = /^\[GNUPG:\] SIG_CREATED .* ([0-9A-F]{40,64})$/m.exec(r.stderr);
  if (r.code !== 0 || !created || !r.stdout.length)
    throw new XenrelError(
      'E_SIGN',
      `--sign ${key}: gpg could not sign the provenance: ${lastLines(r.stderr, r.code)}`,
      {
        exitCode: ExitCode.usage,
        hint: 'name a secret key of your keyring (`gpg --list-secret-keys`), or an SSH private key file',
      },
    );
  return { keyid: created[1]!, sig: r.stdout.toString('base64') };
}

const FINGERPRINT = /^(0x)?([0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$/;

/**
 * Checks `sig` over `data` with exactly one key: a public key file, or a fingerprint whose
 * key is exported from the user's keyring. Returns the signer's primary fingerprint.
 */
export async function gpgVerify(key: { file: string } | { id: string }, data: Buffer, sig: Buffer): Promise<string> {
  if ('file' in key) return verifyDetached(PROVENANCE_SUBJECT, key.file, Readable.from([data]), sig, 'DSSE signature');
  const fpr = key.id.replace(/\s+/g, '');
  if (!FINGERPRINT.test(fpr))
    throw new XenrelError('E_USAGE', `--key ${key.id}: not a file, and not an OpenPGP fingerprint`, {
      exitCode: ExitCode.usage,
      hint: 'pass the public key file, the full fingerprint (40 or 64 hex digits), or an SSH public key file',
    });
  const exported = await runTool('gpg', [...BASE, '--export', '--armor', fpr]);
  if (exported.code !== 0 || !exported.stdout.length)
    throw new XenrelError('E_USAGE', `--key ${key.id}: no such public key in the keyring`, {
      exitCode: ExitCode.usage,
      hint: 'import it first (`gpg --import KEYFILE`), or pass the key file',
    });
  const dir = await mkdtemp(join(tmpdir(), 'xenrel-provenance-key-'));
  try {
    await writeFile(join(dir, 'key.asc'), exported.stdout);
    return await verifyDetached(PROVENANCE_SUBJECT, join(dir, 'key.asc'), Readable.from([data]), sig, 'DSSE signature');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
