/**
 * What configure decided, as parsed from its arguments (./configure-options.ts) and read by
 * the host-tool checks (./host-tools.ts): its own module, so neither imports the other.
 */

export type Tri = boolean | undefined;

export interface BuildChoices {
  host: string;
  x86: boolean;
  arm: boolean;
  freebsd: boolean;
  cmake: boolean;
  tools: Tri;
  stubdom: Tri;
  qemuXen: Tri;
  qemuTraditional: Tri;
  seabios: Tri;
  ovmf: Tri;
  ipxe: Tri;
  extfiles: boolean;
  /** configure's `<LIB>_URL=…` (AC_ARG_VAR of AX_STUBDOM_LIB): base URL by library prefix. */
  libUrls: Record<string, string>;
  /** Stub domains by configure name: c, grub, xenstore, xenstorepvh, vtpm, vtpmmgr, ioemu. */
  stubdoms: Record<string, Tri>;
  /** The option that last set each choice, for "excluded by". */
  setBy: Record<string, string>;
}
