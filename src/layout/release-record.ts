import { readFile } from 'node:fs/promises';
import * as z from 'zod/mini';
import '../util/zod-messages.js';
import { ExitCode, XenrelError } from '../errors.js';
import { sizeNumber, treeHashString } from '../model/config.js';
import { treeHash, type TreeEntry, type TreeMode } from '../tree/hash.js';
import { commitId } from '../util/patterns.js';
import { schemaProblem } from '../util/untrusted-json.js';

/**
 * The release record, `<name>.release.json`, published beside the tarball: the anchor for
 * what the lock cannot hold. The lock is committed inside the project, so it cannot name
 * the commit (or the tree) that holds it; the record names both, with the lock's digest,
 * the SBOM's digest and each tarball's sha256. Its own sha256 goes into SHA256SUMS, and a
 * detached OpenPGP signature (`<name>.release.json.asc`) can vouch for it.
 */
export const RECORD_SUFFIX = '.release.json';

const hex64 = z.string().check(z.regex(/^[0-9a-f]{64}$/, 'expected 64 hex digits (sha256)'));
const LINE = /^(100644|100755|120000) ([0-9a-f]{64}) (.+)$/;

export const releaseRecordSchema = z
  .strictObject({
    releaseRecordVersion: z.literal(1),
    /** The tarballs' top directory. */
    name: z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'expected a tarball name')),
    xenrel: z.string().check(z.minLength(1)),
    /** One entry per tarball cut from the same content (gz, xz, zst), by file name. */
    tarballs: z.record(
      z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'expected a file name')),
      z.strictObject({ sha256: hex64, size: sizeNumber }),
    ),
    /** sha256 of the lock's bytes (`xenrel.lock` as written: sorted keys, final newline). */
    lock: z.strictObject({ sha256: hex64 }),
    sbom: z.strictObject({ sha256: hex64 }),
    without: z.array(z.string().check(z.minLength(1))),
    project: z.strictObject({
      tree: treeHashString,
      /** The commit the project's files came from (none for a plain folder or uncommitted changes). */
      commit: z.optional(commitId),
      /** Where that commit can be fetched, when the config says (`release.repository`). */
      repository: z.optional(z.string().check(z.minLength(1))),
      /** Tree-hash lines `<mode> <sha256> <path>` of the project's files, so verify can name each change. */
      files: z.array(z.string().check(z.regex(LINE, 'expected "<mode> <sha256> <path>"'))),
    }),
  })
  .check(
    z.superRefine((r, ctx) => {
      if (treeHash(r.project.files.map(lineEntry)) !== r.project.tree)
        ctx.addIssue({
          code: 'custom',
          path: ['project', 'files'],
          message: 'the file lines do not hash to project.tree',
        });
    }),
  );

export type ReleaseRecord = z.infer<typeof releaseRecordSchema>;

function lineEntry(line: string): TreeEntry {
  const m = LINE.exec(line)!;
  return { mode: m[1] as TreeMode, sha256: m[2]!, path: m[3]! };
}

export const recordProjectEntries = (r: ReleaseRecord): TreeEntry[] => r.project.files.map(lineEntry);

export function renderRecord(r: ReleaseRecord): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

const recordError = (message: string, hint?: string) =>
  new XenrelError('E_RECORD', message, { exitCode: ExitCode.usage, hint });

/** Reads a release record given by the user; a schema failure names the key path. */
export async function readRecord(file: string, display = file): Promise<ReleaseRecord> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw recordError(
      `${display}: cannot read the release record (${err.code ?? err.message})`,
      'pass the <name>.release.json published beside the tarball',
    );
  });
  const r = schemaProblem(releaseRecordSchema, text, display);
  if ('problem' in r)
    throw new XenrelError('E_RECORD_INVALID', `${r.problem}`, {
      exitCode: ExitCode.checkFailed,
      hint: 'obtain the release record again from where the release is published',
    });
  return r.value;
}
