/**
 * DSSE (Dead Simple Signing Envelope): the signature covers the pre-authentication
 * encoding of the payload type and the payload, never the JSON around them, so the
 * envelope's own formatting cannot change what was signed.
 */
import { Buffer } from 'node:buffer';

export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export interface DsseSignature {
  keyid: string;
  sig: string;
}

export interface DsseEnvelope {
  payloadType: string;
  payload: string;
  signatures: DsseSignature[];
}

/** `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in bytes, as ASCII decimal. */
export function pae(payloadType: string, body: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body]);
}

/** The envelope for `body`, signed by `sign` (which gets the PAE bytes). */
export async function envelope(
  body: Buffer,
  sign: (data: Buffer) => Promise<DsseSignature>,
  payloadType = INTOTO_PAYLOAD_TYPE,
): Promise<DsseEnvelope> {
  const signature = await sign(pae(payloadType, body));
  // Field order as the DSSE specification shows it; the line is written with exactly these keys.
  return {
    payloadType,
    payload: body.toString('base64'),
    signatures: [{ keyid: signature.keyid, sig: signature.sig }],
  };
}
