import { unlink } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Lockfile } from '../model/lock.js';
import { writeFileAtomic } from '../util/atomic.js';
import { signProvenance } from './sign.js';
import {
  buildProvenance,
  PROVENANCE_SUFFIX,
  renderProvenanceLine,
  type ExternalParameters,
  type ProvenanceInput,
} from './statement.js';

export interface WriteProvenanceOptions {
  tarball: string;
  sha256: string;
  lock: Lockfile;
  parameters: ExternalParameters;
  project: ProvenanceInput['project'];
  /** false: write none, and remove one an earlier release left for this tarball name. */
  write: boolean;
  sign?: string;
}

/** `<tarball>.intoto.jsonl`: the statement, or its signed envelope, as one line; returns the file. */
export async function writeProvenance(o: WriteProvenanceOptions): Promise<string | undefined> {
  const file = `${o.tarball}${PROVENANCE_SUFFIX}`;
  // A provenance left from an earlier cut would describe other bytes under this name: it
  // goes first, so a failed signature cannot leave it beside the new tarball.
  await unlink(file).catch(() => {});
  if (!o.write) return undefined;
  const statement = buildProvenance({
    tarball: { name: basename(o.tarball), sha256: o.sha256 },
    lock: o.lock,
    parameters: o.parameters,
    project: o.project,
  });
  // An envelope keeps the DSSE field order; a bare statement is canonical (sorted) JSON.
  const line = o.sign
    ? `${JSON.stringify(await signProvenance(statement, o.sign))}\n`
    : renderProvenanceLine(statement);
  await writeFileAtomic(file, line);
  return file;
}
