/**
 * A throwaway OpenPGP keyring for tests: its own GNUPGHOME, keys made on the spot
 * (`gpg --quick-gen-key`, ed25519, no passphrase), never the user's keyring.
 */
import { execFileSync, spawnSync } from 'node:child_process';

export interface TestGpg {
  /** The GNUPGHOME folder. */
  home: string;
  /** gpg in batch mode on this keyring; its stdout. */
  run(args: string[], input?: Buffer): Buffer;
  /** A new signing key for `uid`; its fingerprint. */
  newKey(uid: string): string;
  /** An armored detached signature of `data` by `fpr`. */
  detachSign(fpr: string, data: Buffer | string): Buffer;
  /** Stops the agent gpg started for this keyring. */
  kill(): void;
}

export function testGpg(home: string): TestGpg {
  const env = { ...process.env, GNUPGHOME: home };
  const run = (args: string[], input?: Buffer) =>
    execFileSync('gpg', ['--batch', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], {
      env,
      input,
      stdio: ['pipe', 'pipe', 'ignore'],
    });
  return {
    home,
    run,
    newKey(uid) {
      run(['--quick-gen-key', uid, 'ed25519', 'sign', 'never']);
      return /^fpr:+([0-9A-F]+):/m.exec(run(['--with-colons', '--fingerprint', '--list-keys', uid]).toString())![1]!;
    },
    detachSign: (fpr, data) =>
      run(['--local-user', fpr, '--armor', '--detach-sign', '--output', '-'], Buffer.from(data)),
    kill: () => void spawnSync('gpgconf', ['--kill', 'all'], { env }),
  };
}
