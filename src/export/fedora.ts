import { basename, dirname } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { compareBytewise } from '../tree/hash.js';
import { exportError, exportFiles, type ExportContext } from './context.js';
import type { ExportedFile } from './sources.js';

/** Fedora's `sources` line (what `fedpkg new-sources` writes, BSD-tag form `sha512sum -c` reads). */
export const fedoraLine = (f: ExportedFile) => `SHA512 (${f.file}) = ${f.sha512}\n`;

/**
 * Writes `out` (the `sources` file) and every file it names beside it: upload those to the
 * lookaside cache (`fedpkg new-sources $(awk -F'[()]' '{print $2}' sources)`).
 */
export async function exportFedora(ctx: ExportContext, out: string): Promise<{ file: string; files: ExportedFile[] }> {
  const files = (await exportFiles(ctx, dirname(out))).sort((a, b) => compareBytewise(a.file, b.file));
  if (files.some((f) => f.file === basename(out)))
    throw exportError(`--out ${out} would overwrite an exported file of the same name`, 'choose another --out name');
  await writeFileAtomic(out, files.map(fedoraLine).join(''));
  return { file: out, files };
}
