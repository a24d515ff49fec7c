/**
 * SSH signatures (`ssh-keygen -Y`, the SSHSIG format git also uses) over the DSSE PAE, in
 * their own namespace so a provenance signature cannot be replayed as a git or file one.
 */
import { Buffer } from 'node:buffer';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode, XenrelError } from '../errors.js';
import type { DsseSignature } from './dsse.js';
import { lastLines, runTool } from './run.js';

export const SSH_NAMESPACE = 'xenrel-provenance';
/** The principal in the allowed_signers file verify builds from `--key`. */
const PRINCIPAL = 'xenrel';

/** The armored SSH signature of `data` by the key file (a private key, or a public one the agent holds). */
export async function sshSign(keyFile: string, data: Buffer): Promise<DsseSignature> {
  const r = await runTool('ssh-keygen', ['-q', '-Y', 'sign', '-f', keyFile, '-n', SSH_NAMESPACE], { input: data });
  const armored = r.stdout.toString('utf8');
  if (r.code !== 0 || !armored.startsWith('-----BEGIN SSH SIGNATURE-----'))
    throw new XenrelError(
      'E_SIGN',
      `--sign ${keyFile}: ssh-keygen could not sign the provenance: ${lastLines(r.stderr, r.code)}`,
      {
        exitCode: ExitCode.usage,
        hint: 'pass an OpenSSH private key file (mode 0600), or its .pub with the key in ssh-agent',
      },
    );
  const fp = await runTool('ssh-keygen', ['-l', '-E', 'sha256', '-f', keyFile]);
  const keyid = /(SHA256:[A-Za-z0-9+/=]+)/.exec(fp.stdout.toString('utf8'))?.[1] ?? '';
  return { keyid, sig: Buffer.from(armored, 'utf8').toString('base64') };
}

const sigError = (detail: string) =>
  new XenrelError('E_SIGNATURE', `provenance: DSSE signature: ${detail}`, {
    exitCode: ExitCode.checkFailed,
    hint: 'do not trust this provenance; check --key, and ask the publisher if the key changed',
  });

/** Checks the armored signature with exactly `publicKey` (an OpenSSH public key line). */
export async function sshVerify(publicKey: string, data: Buffer, armored: Buffer): Promise<string> {
  const [type, blob] = publicKey.trim().split(/\s+/);
  const dir = await mkdtemp(join(tmpdir(), 'xenrel-provenance-ssh-'));
  try {
    await writeFile(join(dir, 'allowed_signers'), `${PRINCIPAL} namespaces="${SSH_NAMESPACE}" ${type} ${blob}\n`);
    await writeFile(join(dir, 'sig'), armored);
    const r = await runTool(
      'ssh-keygen',
      [
        '-Y',
        'verify',
        '-f',
        join(dir, 'allowed_signers'),
        '-I',
        PRINCIPAL,
        '-n',
        SSH_NAMESPACE,
        '-s',
        join(dir, 'sig'),
      ],
      {
        input: data,
      },
    );
    const out = `${r.stdout.toString('utf8')}\n${r.stderr}`;
    if (r.code !== 0 || !/^Good "/m.test(out))
      throw sigError(
        /Could not verify signature|incorrect signature/i.test(out)
          ? 'made by a key other than --key, or over other bytes'
          : lastLines(out, r.code),
      );
    return /(SHA256:[A-Za-z0-9+/=]+)/.exec(out)?.[1] ?? type!;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
