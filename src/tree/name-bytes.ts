/**
 * File names are bytes. xenrel carries them as JS strings that round-trip those bytes
 * exactly: valid UTF-8 decodes as usual; every byte that is not part of a valid UTF-8
 * sequence becomes the lone surrogate U+DC00+byte (Python's "surrogateescape"). Valid
 * UTF-8 never decodes to a lone surrogate, so the mapping is one-to-one. `nameToBytes` is
 * the one encoder used wherever a name becomes bytes again: tree-hash lines, bytewise sort,
 * filesystem paths, tar headers.
 */

import { isAscii } from 'node:buffer';

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const SURROGATE = /[\uD800-\uDFFF]/;
const ASCII = /^[\u0000-\u007f]*$/;

/** True when every character is ASCII: one byte each, and no normalisation or case folding beyond ASCII applies. */
export const isAsciiName = (s: string): boolean => ASCII.test(s);

/** The string form of raw name bytes (lossless). */
export function nameFromBytes(b: Uint8Array): string {
  if (b.length === 0) return ''; // most headers' link name
  // Nearly every name is ASCII: one byte per character, no decoder needed
  if (isAscii(b)) return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
  try {
    return strict.decode(b);
  } catch {
    return decodeEscaped(b);
  }
}

function decodeEscaped(b: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < b.length) {
    const n = validSequence(b, i);
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + b[i]!);
      i++;
    } else {
      out += strict.decode(b.subarray(i, i + n));
      i += n;
    }
  }
  return out;
}

/** Length of the valid UTF-8 sequence starting at i (RFC 3629 table), or 0. */
function validSequence(b: Uint8Array, i: number): number {
  const c = b[i]!;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/** The raw bytes of a name produced by `nameFromBytes` (or any well-formed string). */
export function nameToBytes(s: string): Buffer {
  if (!SURROGATE.test(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let run = '';
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u >= 0xd800 && u <= 0xdbff && i + 1 < s.length) {
      const v = s.charCodeAt(i + 1);
      if (v >= 0xdc00 && v <= 0xdfff) {
        run += s[i]! + s[i + 1]!;
        i++;
        continue;
      }
    }
    if (u >= 0xdc80 && u <= 0xdcff) {
      if (run) parts.push(Buffer.from(run, 'utf8'));
      run = '';
      parts.push(Buffer.of(u - 0xdc00));
      continue;
    }
    if (u >= 0xd800 && u <= 0xdfff)
      throw new Error(`name ${JSON.stringify(s)} holds a lone surrogate that stands for no byte`);
    run += s[i]!;
  }
  if (run) parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

/** Bytes of the name's raw form (what `nameToBytes(s).length` is), without building them. */
export function nameByteLength(s: string): number {
  if (ASCII.test(s)) return s.length;
  return SURROGATE.test(s) ? nameToBytes(s).length : Buffer.byteLength(s, 'utf8');
}

/** True when the name's bytes are not valid UTF-8. */
export const hasRawBytes = (s: string): boolean => SURROGATE.test(s) && /[\uDC80-\uDCFF]/.test(s);

/** A name for messages: JSON-quoted, raw bytes shown as \xNN. */
export function showName(s: string): string {
  return JSON.stringify(s)
    .slice(1, -1)
    .replace(/\\udc([89a-f][0-9a-f])/gi, (_m, h: string) => `\\x${h.toLowerCase()}`);
}

/** A filesystem path for `abs`: a string when lossless, else the raw bytes. */
export const fsPath = (abs: string): string | Buffer => (hasRawBytes(abs) ? nameToBytes(abs) : abs);
