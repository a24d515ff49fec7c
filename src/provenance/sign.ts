import { Buffer } from 'node:buffer';
import { ExitCode, XenrelError } from '../errors.js';
import { envelope, type DsseEnvelope } from './dsse.js';
import { keyRef, type KeyRef } from './key-kind.js';
import { gpgSign } from './sign-gpg.js';
import { sshSign } from './sign-ssh.js';
import { canonicalJson, type ProvenanceStatement } from './statement.js';

/** What `--sign KEY` names; a file that is no SSH key is refused before anything is cut. */
export async function signingKeyRef(key: string): Promise<Exclude<KeyRef, { kind: 'gpg-file' }>> {
  const ref = await keyRef(key);
  if (ref.kind === 'gpg-file')
    throw new XenrelError('E_USAGE', `--sign ${key}: a file that is not an OpenSSH key`, {
      exitCode: ExitCode.usage,
      hint: 'name an OpenPGP secret key by fingerprint or user id, or pass an OpenSSH private key file',
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
