import { PackageURL } from 'packageurl-js';
import type { SbomItem } from './inventory.js';

/**
 * The identities vulnerability scanners match on: a purl for every source (`pkg:generic`,
 * with where the bytes come from and their checksum), a CPE 2.3 name where the NVD has a
 * product, the supplier (who distributes these bytes: the host of the URL) and the
 * originator (the upstream project).
 */

interface Product {
  /** Matched against the component's name, and the stem of its URL's file name. */
  test: RegExp;
  vendor: string;
  product: string;
  originator: string;
  firmware?: boolean;
  /** false: the pinned tag names another project's version (qemu-xen tags are Xen's). */
  versioned?: boolean;
}

const PRODUCTS: Product[] = [
  { test: /^qemu(-xen|-traditional)?$/, vendor: 'qemu', product: 'qemu', originator: 'QEMU', versioned: false },
  { test: /^seabios$/, vendor: 'seabios', product: 'seabios', originator: 'SeaBIOS', firmware: true },
  { test: /^ipxe$/, vendor: 'ipxe', product: 'ipxe', originator: 'iPXE', firmware: true },
  { test: /^(ovmf|edk2)$/, vendor: 'tianocore', product: 'edk2', originator: 'TianoCore', firmware: true },
  { test: /^zlib$/, vendor: 'zlib', product: 'zlib', originator: 'zlib' },
  { test: /^gmp$/, vendor: 'gmplib', product: 'gmp', originator: 'GMP' },
  { test: /^newlib$/, vendor: 'newlib_project', product: 'newlib', originator: 'newlib' },
  { test: /^polarssl$/, vendor: 'polarssl', product: 'polarssl', originator: 'PolarSSL' },
  { test: /^mbedtls$/, vendor: 'arm', product: 'mbed_tls', originator: 'Mbed TLS' },
  { test: /^grub2$/, vendor: 'gnu', product: 'grub2', originator: 'GNU Project' },
];

/** Hosts whose owner is not in the name. */
const HOST_SUPPLIERS: Record<string, string> = {
  'xenbits.xen.org': 'Xen Project',
  'xenbits.xenproject.org': 'Xen Project',
  'git.savannah.gnu.org': 'GNU Project',
  'ftp.gnu.org': 'GNU Project',
  'git.qemu.org': 'QEMU',
  'gitlab.com': 'GitLab',
};

function urlParts(url: string | undefined): { host?: string; owner?: string; stem?: string } {
  if (!url) return {};
  try {
    const u = new URL(url.replace(/^git\+/, ''));
    const segs = u.pathname.split('/').filter(Boolean);
    const file = segs[segs.length - 1] ?? '';
    const stem = file
      .replace(/\.git$/, '')
      .replace(/\.(tar\.\w+|tgz|tbz2?|txz|zip)$/, '')
      .replace(/[-_]v?\d.*$/, '');
    return {
      host: u.hostname,
      owner: /^(github\.com|gitlab\.com)$/.test(u.hostname) ? segs[0] : undefined,
      stem: stem.toLowerCase(),
    };
  } catch {
    return {};
  }
}

export function productOf(item: SbomItem): Product | undefined {
  const names = [item.name.split('/').pop()!.toLowerCase(), urlParts(item.url).stem].filter((n): n is string =>
    Boolean(n),
  );
  return PRODUCTS.find((p) => names.some((n) => p.test.test(n)));
}

/** `rel-1.16.3` → `1.16.3`, `edk2-stable202408` → `202408`, `grub-2.12` → `2.12`; a commit: none. */
export function upstreamVersion(item: SbomItem): string | undefined {
  const v = item.version;
  if (!v || /^[0-9a-f]{40}$/.test(v)) return undefined;
  return /(\d+(?:\.\d+)*(?:[a-z]\w*)?)$/i.exec(v)?.[1];
}

/** CPE 2.3 formatted-string escaping: anything but letters, digits, `_`, `-` and `.` gets a backslash. */
const cpeEscape = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, (c) => `\\${c}`);

/**
 * `cpe:2.3:a:VENDOR:PRODUCT:VERSION:*:*:*:*:*:*:*`; the version is `*` (any) where the pin
 * says nothing about the upstream version, so a scanner over-reports rather than misses.
 */
export function cpeOf(item: SbomItem): string | undefined {
  const p = productOf(item);
  if (!p) return undefined;
  const version = p.versioned === false ? undefined : upstreamVersion(item);
  return `cpe:2.3:a:${p.vendor}:${p.product}:${version ? cpeEscape(version) : '*'}:*:*:*:*:*:*:*`;
}

/** `pkg:generic/NAME@VERSION?download_url=…&checksum=sha256:…` or `…?vcs_url=git+URL@COMMIT`. */
export function purlOf(item: SbomItem): string {
  const qualifiers: Record<string, string> = {};
  if (item.url && item.commit)
    qualifiers.vcs_url = `${item.url.startsWith('git+') ? '' : 'git+'}${item.url}@${item.commit}`;
  else if (item.url) qualifiers.download_url = item.url;
  const sums = [...(item.sha256 ? [`sha256:${item.sha256}`] : []), ...(item.sha512 ? [`sha512:${item.sha512}`] : [])];
  if (sums.length) qualifiers.checksum = sums.join(',');
  return new PackageURL(
    'generic',
    undefined,
    item.name.split('/').pop()!,
    item.version ?? item.commit,
    Object.keys(qualifiers).length ? qualifiers : undefined,
    undefined,
  ).toString();
}

/** Who distributes the bytes: the URL's host (its owner on GitHub or GitLab). */
export function supplierOf(item: SbomItem): string | undefined {
  const { host, owner } = urlParts(item.url);
  if (!host) return undefined;
  return owner ?? HOST_SUPPLIERS[host] ?? host;
}

export function originatorOf(item: SbomItem): string | undefined {
  return productOf(item)?.originator;
}

export function isFirmware(item: SbomItem): boolean {
  return Boolean(productOf(item)?.firmware) || Boolean(item.groups?.includes('firmware'));
}
