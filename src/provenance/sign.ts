import { Buffer } from 'node:buffer';
import { ExitCode, XenrelError } from '../errors.js';
import { envelope, type DsseEnvelope } from './dsse.js';
import { keyRef, type KeyRef } from './key-kind.js';
import { gpgSign } from './sign-gpg.js';
import { runTool } from './run.js';
import { sshSign } from './sign-ssh.js';
import { canonicalJson, type ProvenanceStatement } from './statement.js';

/**
 * What `--sign KEY` names. Checked before anything is cut: a file that is no SSH key, or an
 * OpenPGP name without a secret key in the keyring, is refused up front.
 */
export async function signingKeyRef(key: string): Promise<Exclude<KeyRef, { kind: 'gpg-file' }>> {
  const ref = await keyRef(key);
  if (ref.kind === 'gpg-file')
    throw new XenrelError('E_USAGE', `--sign ${key}: a file that is not an OpenSSH key`, {
      exitCode: ExitCode.usage,
      hint: 'name an OpenPGP secret key by fingerprint or user id, or pass an OpenSSH private key file',
    });
  if (
    ref.kind === 'gpg-id' &&
    (await runTool('gpg', ['--batch', '--no-tty', '--list-secret-keys', '--', ref.id])).code !== 0
  )
    throw new XenrelError('E_SIGN', `--sign ${key}: no such secret key in the OpenPGP keyring`, {
      exitCode: ExitCode.usage,
      hint: 'list yours with `gpg --list-secret-keys` (GNUPGHOME selects the keyring), or pass an OpenSSH private key file',
    });
  return ref;
}

/**
 * The statement in a DSSE envelope signed by `key` (see key-kind.ts for how KEY is read).
 * The payload is the statement's canonical JSON, the same bytes as the unsigned line.
 */
export async function signProvenance(statement: ProvenanceStatement, key: string): Promise<DsseEnvelope> {
  const ref = await signingKeyRef(key);
  const body = Buffer.from(canonicalJson(statement), 'utf8');
  return envelope(body, (data) => (ref.kind === 'ssh' ? sshSign(ref.file, data) : gpgSign(ref.id, data)));
}
