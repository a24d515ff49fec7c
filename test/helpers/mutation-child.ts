/**
 * Reads archives through xenrel in its own process, so the mutation test can time each case
 * and kill a hang. Reads one archive path per stdin line; for each prints "start I", then one
 * JSON line with what the lock-time tree hash, readTar and safeExtract made of it.
 * Usage: node --import tsx test/helpers/mutation-child.ts SCRATCH_DIR
 */
import { createInterface } from 'node:readline';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hashTarball, readTar } from '../../src/archive/reader.js';
import { safeExtract } from '../../src/archive/extract.js';
import { XenrelError } from '../../src/errors.js';

export interface ChildResult {
  i: number;
  /** Lock-time tree hash: accepted (no findings), or the first finding's code. */
  hash?: string;
  entries?: string[];
  findings: { code: string; message: string }[];
  /** readTar (throwing mode): the XenrelError code, or 'ok'. */
  read: string;
  /** safeExtract: the tree hash of what it wrote, or the XenrelError code. */
  extract: string;
  /** Any error that is not a XenrelError: the "unexpected error" a user would see. */
  unexpected?: string;
}

const scratch = process.argv[2]!;
const describe = (e: unknown) =>
  e instanceof XenrelError ? e.code : `UNEXPECTED ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const [idx, file] = line.split('\t') as [string, string];
  const i = Number(idx);
  process.stdout.write(`start ${i}\n`);
  const r: ChildResult = { i, findings: [], read: '', extract: '' };
  try {
    const h = await hashTarball(file, { collect: true });
    r.findings = h.findings.map((f) => ({ code: f.code, message: f.message }));
    if (!h.findings.length) {
      r.hash = h.hash;
      r.entries = h.entries.map((e) => e.path).sort();
    }
  } catch (e) {
    r.unexpected = `hashTarball: ${describe(e)}`;
  }
  r.read = await readTar(file).then(
    () => 'ok',
    (e: unknown) => describe(e),
  );
  const dest = join(scratch, `x${i}`);
  r.extract = await safeExtract(file, dest).then(
    (x) => x.hash,
    (e: unknown) => describe(e),
  );
  await rm(dest, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
