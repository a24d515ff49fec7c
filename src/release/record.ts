import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { ExitCode, XenrelError } from '../errors.js';
import { serializeLock, treeHashString } from '../lock/lockfile.js';
import { verifyDetached } from '../sources/signature.js';
import { manifestLine, treeHash, type TreeEntry, type TreeMode } from '../tree/hash.js';
import type { Lockfile } from '../types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { commitId } from '../util/patterns.js';
import { XENREL_VERSION } from '../version.js';
import { schemaProblem } from '../verify/untrusted-json.js';

/**
 * The release record, `<name>.release.json`, published beside the tarball: the anchor for
 * what the lock cannot hold. The lock is committed inside the project, so it cannot name
 * the commit (or the tree) that holds it; the record names both, with the lock's digest,
 * the SBOM's digest and each tarball's sha256. Its own sha256 goes into SHA256SUMS, and a
 * detached OpenPGP signature (`<name>.release.json.asc`) can vouch for it.
 */
export const RECORD_SUFFIX = '.release.json';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 hex digits (sha256)');
const LINE = /^(100644|100755|120000) ([0-9a-f]{64}) (.+)$/;

export const releaseRecordSchema = z
  .strictObject({
    releaseRecordVersion: z.literal(1),
    /** The tarballs' top directory. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'expected a tarball name'),
    xenrel: z.string().min(1),
    /** One entry per tarball cut from the same content (gz, xz, zst), by file name. */
    tarballs: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'expected a file name'), z.strictObject({ sha256: hex64, size: z.number().int().nonnegative() })),
    /** sha256 of the lock's bytes (`xenrel.lock` as written: sorted keys, final newline). */
    lock: z.strictObject({ sha256: hex64 }),
    sbom: z.strictObject({ sha256: hex64 }),
    without: z.array(z.string().min(1)),
    project: z.strictObject({
      tree: treeHashString,
      /** The commit the project's files came from (none for a plain folder or uncommitted changes). */
      commit: commitId.optional(),
      /** Where that commit can be fetched, when the config says (`release.repository`). */
      repository: z.string().min(1).optional(),
      /** Tree-hash lines `<mode> <sha256> <path>` of the project's files, so verify can name each change. */
      files: z.array(z.string().regex(LINE, 'expected "<mode> <sha256> <path>"')),
    }),
  })
  .superRefine((r, ctx) => {
    if (treeHash(r.project.files.map(lineEntry)) !== r.project.tree)
      ctx.addIssue({ code: 'custom', path: ['project', 'files'], message: 'the file lines do not hash to project.tree' });
  });

export type ReleaseRecord = z.infer<typeof releaseRecordSchema>;

function lineEntry(line: string): TreeEntry {
  const m = LINE.exec(line)!;
  return { mode: m[1] as TreeMode, sha256: m[2]!, path: m[3]! };
}

export const recordProjectEntries = (r: ReleaseRecord): TreeEntry[] => r.project.files.map(lineEntry);

export const lockDigest = (lock: Lockfile): string => createHash('sha256').update(serializeLock(lock)).digest('hex');

export function renderRecord(r: ReleaseRecord): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

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
  record.tarballs = Object.fromEntries(Object.entries(record.tarballs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const text = renderRecord(record);
  await writeFileAtomic(file, text);
  return { file, sha256: createHash('sha256').update(text).digest('hex') };
}

const recordError = (message: string, hint?: string) => new XenrelError('E_RECORD', message, { exitCode: ExitCode.usage, hint });

/** Reads a release record given by the user; a schema failure names the key path. */
export async function readRecord(file: string, display = file): Promise<ReleaseRecord> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw recordError(`${display}: cannot read the release record (${err.code ?? err.message})`, 'pass the <name>.release.json published beside the tarball');
  });
  const r = schemaProblem(releaseRecordSchema, text, display);
  if ('problem' in r) throw new XenrelError('E_RECORD_INVALID', `${r.problem}`, { exitCode: ExitCode.checkFailed, hint: 'obtain the release record again from where the release is published' });
  return r.value;
}

/** Checks `<record>.asc` (or `sig`) with only `keyFile`'s key; returns the signer's fingerprint. */
export async function verifyRecordSignature(file: string, keyFile: string, sigFile = `${file}.asc`): Promise<string> {
  const sig = await readFile(sigFile).catch(() => {
    throw new XenrelError('E_SIGNATURE', `${sigFile}: no signature for the release record`, {
      exitCode: ExitCode.checkFailed,
      hint: 'the release manager signs it with `gpg --armor --detach-sign NAME.release.json`',
    });
  });
  return verifyDetached({ label: 'the release record', keyOption: '--record-key' }, keyFile, createReadStream(file), sig, file);
}

/** sha256 (hex) of a file, streamed. */
export async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}
