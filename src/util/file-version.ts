import { basename } from 'node:path';

/** `newlib-1.16.0.tar.gz` → `1.16.0`. */
export function versionFromFileName(file: string): string | undefined {
  const stem = file.replace(/\.(tar\.(gz|bz2|xz|zst|lz|Z)|tgz|tbz2?|txz|zip|gz|bz2|xz)$/i, '');
  return /[-_]v?(\d[0-9A-Za-z.+~]*)$/.exec(stem)?.[1];
}

/** The file name a URL downloads as (its path's last segment); the string's own for a non-URL. */
export const fileNameOfUrl = (url: string): string => {
  try {
    return basename(new URL(url).pathname);
  } catch {
    return basename(url);
  }
};
