import ssri from 'ssri';

/** The hex digest an SRI string holds for `algo` (sha512, sha256, …), if it holds one. */
export function sriHex(integrity: string, algo: 'sha512' | 'sha384' | 'sha256'): string | undefined {
  const h = ssri.parse(integrity, { strict: true })[algo]?.[0];
  return h ? Buffer.from(h.digest, 'base64').toString('hex') : undefined;
}

/** A single-hash SRI string (what the lock pins) → its algorithm and hex digest. */
export function sriDigest(integrity: string): { algorithm: 'sha512' | 'sha384' | 'sha256'; hex: string } {
  const dash = integrity.indexOf('-');
  return {
    algorithm: integrity.slice(0, dash) as 'sha512' | 'sha384' | 'sha256',
    hex: Buffer.from(integrity.slice(dash + 1), 'base64').toString('hex'),
  };
}
