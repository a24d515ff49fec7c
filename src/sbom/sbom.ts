import { XenrelError, ExitCode } from '../errors.js';
import type { Lockfile } from '../model/lock.js';
import { collectInventory, type InventoryOptions, type SbomInventory } from './inventory.js';
import { toCycloneDx } from './cyclonedx.js';
import { toSpdx } from './spdx.js';

export const SBOM_FORMATS = ['spdx', 'cyclonedx'] as const;
export type SbomFormat = (typeof SBOM_FORMATS)[number];

/** File names: `<name>.spdx.json` / `<name>.cdx.json` (the names both ecosystems recognise). */
export const SBOM_EXTENSIONS: Record<SbomFormat, string> = { spdx: '.spdx.json', cyclonedx: '.cdx.json' };

/** 1980-01-01, the same floor as release timestamps. */
const MIN_EPOCH = 315532800;

/**
 * The document's creation time, never the wall clock (so the same lock gives the same
 * bytes): $SOURCE_DATE_EPOCH, else the fallback (release passes its tarball mtime; the
 * command the project's HEAD commit time), else 1980-01-01.
 */
export function sbomEpoch(fallback?: number, env: NodeJS.ProcessEnv = process.env): number {
  const v = env.SOURCE_DATE_EPOCH;
  if (v !== undefined && v !== '') {
    if (!/^\d+$/.test(v))
      throw new XenrelError('E_USAGE', `SOURCE_DATE_EPOCH must be a whole number of seconds, not "${v}"`, {
        exitCode: ExitCode.usage,
      });
    return Math.max(MIN_EPOCH, Number(v));
  }
  return Math.max(MIN_EPOCH, fallback ?? MIN_EPOCH);
}

export interface SbomOptions extends InventoryOptions {
  format: SbomFormat;
}

export function renderSbom(inv: SbomInventory, format: SbomFormat): string {
  return `${JSON.stringify(format === 'spdx' ? toSpdx(inv) : toCycloneDx(inv), null, 2)}\n`;
}

/** The SBOM of a lock as JSON text (2-space indent, final newline); deterministic. */
export async function generateSbom(lock: Lockfile, o: SbomOptions): Promise<string> {
  const inv = await collectInventory(lock, o);
  return renderSbom(inv, o.format);
}
