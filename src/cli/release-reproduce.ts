import { basename, relative, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { ExitCode, usageError } from '../errors.js';
import type { Report } from '../report/report.js';
import type { LoadedConfig } from '../config/load.js';

/** `release --reproduce TARBALL`: cut it again elsewhere and otherwise, and compare. */
export async function runReproduce(
  report: Report,
  o: {
    tarball: string;
    cwd: string;
    loaded: LoadedConfig;
    cacheDir: string;
    config?: string;
    level?: string;
    offline: boolean;
  },
): Promise<void> {
  if (o.level !== undefined && !/^[0-9]{1,2}$/.test(o.level))
    throw usageError(`--level must be a whole number, not "${o.level}"`);
  const tarball = resolve(o.cwd, o.tarball);
  if (!(await stat(tarball).catch(() => undefined))?.isFile()) throw usageError(`${o.tarball}: no such file`);
  const { reproduceRelease } = await import('../reproduce/reproduce.js');
  const r = await reproduceRelease({
    tarball,
    projectRoot: o.loaded.root,
    config: o.config ? relative(o.loaded.root, o.loaded.file) : undefined,
    cacheDir: o.cacheDir,
    // This very xenrel, run again as a new process.
    command: [process.execPath, process.argv[1]!],
    level: o.level === undefined ? undefined : Number(o.level),
    offline: o.offline,
    onInfo: (l) => report.info(l),
  });
  report.set('reproduce', r);
  report.info(`varied: ${r.varied.join(', ')}`);
  for (const n of r.notVaried) report.info(n);
  if (r.sourceDateEpoch !== undefined)
    report.info(
      `SOURCE_DATE_EPOCH=${r.sourceDateEpoch}: the mtime in ${basename(tarball)}, which is not the commit's time`,
    );
  if (r.otherXenrel)
    report.warn(`${basename(tarball)} was cut by xenrel ${r.otherXenrel}: another version may write other bytes`);
  const [ours, again] = r.comparison.sha256;
  if (r.reproduced) {
    report.output(`reproduced ${basename(tarball)} byte for byte: sha256 ${ours}`);
    return;
  }
  report.output(`NOT reproduced: ${basename(tarball)} has sha256 ${ours}, the reproduction ${again}`);
  for (const [i, d] of r.differences.entries()) report.output(`  ${i === 0 ? 'first difference:' : 'also:'} ${d}`);
  if (r.comparison.compressed && o.level === undefined)
    report.info('the compression level is not recorded in a tarball: pass the --level it was cut with');
  report.failWith(ExitCode.checkFailed);
}
