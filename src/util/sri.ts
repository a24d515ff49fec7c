import ssri from 'ssri';

/** The hex digest an SRI string holds for `algo` (sha512, sha256, …), if it holds one. */
export function sriHex(integrity: string, algo: 'sha512' | 'sha384' | 'sha256'): string | undefined {
  const h = ssri.parse(integrity, { strict: true })[algo]?.[0];
  return h ? Buffer.from(h.digest, 'base64').toString('hex') : undefined;
}
