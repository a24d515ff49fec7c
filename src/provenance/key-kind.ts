/**
 * What `--sign KEY` and `--key KEY` name. A file holding an OpenSSH private key, or an
 * OpenSSH public key (`ssh-ed25519 AAAA…`, the agent signs), or a file with `KEY.pub`
 * beside it, is an SSH key; any other file is an OpenPGP public key (verification only);
 * anything that is not a file is an OpenPGP key id, fingerprint or user id for gpg.
 */
import { readFile, stat } from 'node:fs/promises';

export type KeyRef =
  | { kind: 'ssh'; file: string; publicKey?: string }
  | { kind: 'gpg-file'; file: string }
  | { kind: 'gpg-id'; id: string };

const SSH_PRIVATE = '-----BEGIN OPENSSH PRIVATE KEY-----';
const SSH_PUBLIC = /^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+/;

const isFile = async (p: string) => (await stat(p).catch(() => undefined))?.isFile() ?? false;

/** `KEY` as given on the command line (already resolved against the working folder when a path). */
export async function keyRef(key: string): Promise<KeyRef> {
  if (!(await isFile(key))) return { kind: 'gpg-id', id: key };
  const text = (await readFile(key, 'utf8').catch(() => '')).trimStart();
  if (SSH_PUBLIC.test(text)) return { kind: 'ssh', file: key, publicKey: text.split('\n')[0]!.trim() };
  const pub = `${key}.pub`;
  if (text.startsWith(SSH_PRIVATE) || (await isFile(pub))) {
    const pubText = (await readFile(pub, 'utf8').catch(() => '')).trim();
    return { kind: 'ssh', file: key, ...(SSH_PUBLIC.test(pubText) ? { publicKey: pubText.split('\n')[0]! } : {}) };
  }
  return { kind: 'gpg-file', file: key };
}
