import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ExitCode, XenrelError } from '../errors.js';
import { RECORD_SUFFIX, releaseRecordSchema, renderRecord, type ReleaseRecord } from '../layout/release-record.js';
import { lockDigest } from '../lock/lockfile.js';
import { verifyDetached } from '../sources/signature.js';
import { manifestLine, treeHash, type TreeEntry } from '../tree/hash.js';
import type { Lockfile } from '../model/lock.js';
import { writeFileAtomic } from '../util/atomic.js';
import { schemaProblem } from '../util/untrusted-json.js';
import { XENREL_VERSION } from '../version.js';

export interface RecordInput {
  outDir: string;
  name: string;
  tarball: string;
  sha256: string;
  size: number;
  lock: Lockfile;
  sbom: string;
  without: string[];
  project: { entries: TreeEntry[]; commit?: string; repository?: string };
}

/**
 * Writes (or extends) `<outDir>/<name>.release.json`. A record of the same content (same
 * project, lock, SBOM and left-out set) keeps its other tarballs; anything else replaces it.
 */
export async function writeRecord(o: RecordInput): Promise<{ file: string; sha256: string }> {
  const file = join(o.outDir, `${o.name}${RECORD_SUFFIX}`);
  const record: ReleaseRecord = {
    releaseRecordVersion: 1,
    name: o.name,
    xenrel: XENREL_VERSION,
    tarballs: { [basename(o.tarball)]: { sha256: o.sha256, size: o.size } },
    lock: { sha256: lockDigest(o.lock) },
    sbom: { sha256: createHash('sha256').update(o.sbom).digest('hex') },
    without: [...o.without].sort(),
    project: {
      tree: treeHash(o.project.entries),
      ...(o.project.commit ? { commit: o.project.commit } : {}),
      ...(o.project.repository ? { repository: o.project.repository } : {}),
      files: o.project.entries.map((e) => manifestLine(e).slice(0, -1)),
    },
  };
  const old = await readFile(file, 'utf8').catch(() => undefined);
  const prev = old === undefined ? undefined : schemaProblem(releaseRecordSchema, old, file);
  if (prev && 'value' in prev) {
    const same = (r: ReleaseRecord) => JSON.stringify({ ...r, tarballs: undefined });
    if (same(prev.value) === same(record)) record.tarballs = { ...prev.value.tarballs, ...record.tarballs };
  }
  record.tarballs = Object.fromEntries(
    Object.entries(record.tarballs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  const text = renderRecord(record);
  await writeFileAtomic(file, text);
  return { file, sha256: createHash('sha256').update(text).digest('hex') };
}

/** Checks `<record>.asc` (or `sig`) with only `keyFile`'s key; returns the signer's fingerprint. */
export async function verifyRecordSignature(file: string, keyFile: string, sigFile = `${file}.asc`): Promise<string> {
  const sig = await readFile(sigFile).catch(() => {
    throw new XenrelError('E_SIGNATURE', `${sigFile}: no signature for the release record`, {
      exitCode: ExitCode.checkFailed,
      hint: 'the release manager signs it with `gpg --armor --detach-sign NAME.release.json`',
    });
  });
  return verifyDetached(
    { label: 'the release record', keyOption: '--record-key' },
    keyFile,
    createReadStream(file),
    sig,
    file,
  );
}

/** sha256 (hex) of a file, streamed. */
export async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}
