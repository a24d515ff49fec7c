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
  const ours = renderRecord(record);
  const old = await readFile(file, 'utf8').catch(() => undefined);
  const text = old === undefined ? ours : (mergedText(old, ours, record.tarballs) ?? merged(old, file, record, ours));
  await writeFileAtomic(file, text);
  return { file, sha256: createHash('sha256').update(text).digest('hex') };
}

type Tarballs = ReleaseRecord['tarballs'];
const sortedTarballs = (t: Tarballs): Tarballs =>
  Object.fromEntries(Object.entries(t).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
const tarballsSchema = releaseRecordSchema.def.shape.tarballs;
const TARBALLS = '\n  "tarballs": {';

/** A rendered record cut around its `tarballs` object (which closes at two spaces of indentation). */
function splitTarballs(text: string): [string, string, string] | undefined {
  const i = text.indexOf(TARBALLS);
  const j = i < 0 ? -1 : text.indexOf('\n  }', i + TARBALLS.length);
  if (j < 0) return undefined;
  return [text.slice(0, i + TARBALLS.length - 1), text.slice(i + TARBALLS.length - 1, j + 4), text.slice(j + 4)];
}

/**
 * The new record with the old one's tarballs, when the old file is a record as xenrel
 * renders it with the same content: decided on the text around `tarballs`, so a record
 * listing every file of a large tree is not parsed again. Undefined when the text does not
 * tell (the full comparison decides).
 */
function mergedText(old: string, ours: string, tarballs: Tarballs): string | undefined {
  const o = splitTarballs(old);
  const n = splitTarballs(ours);
  if (!o || !n || o[0] !== n[0] || o[2] !== n[2]) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(o[1]);
  } catch {
    return undefined;
  }
  const prev = tarballsSchema.safeParse(parsed);
  if (!prev.success) return undefined;
  const all = sortedTarballs({ ...prev.data, ...tarballs });
  return `${n[0]}${JSON.stringify(all, null, 2).replaceAll('\n', '\n  ')}${n[2]}`;
}

/**
 * A record of the same content (same project, lock, SBOM and left-out set) keeps its other
 * tarballs; otherwise `ours` (the record rendered alone) replaces it.
 */
function merged(old: string, file: string, record: ReleaseRecord, ours: string): string {
  const prev = schemaProblem(releaseRecordSchema, old, file);
  if ('value' in prev) {
    const same = (r: ReleaseRecord) => JSON.stringify({ ...r, tarballs: undefined });
    if (same(prev.value) === same(record))
      return renderRecord({ ...record, tarballs: sortedTarballs({ ...prev.value.tarballs, ...record.tarballs }) });
  }
  return ours;
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
