import { Command, Option } from 'clipanion';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ExitCode, usageError } from '../errors.js';
import { assertKnownComponents } from '../components/names.js';
import type { FetchOutcome } from '../fetch/fetch-all.js';
import { lockDigest, requireLock } from '../lock/lockfile.js';
import type { Report } from '../report/report.js';
import { compareProject } from '../verify/anchors.js';
import { expectationsFromLock } from '../verify/expectations.js';
import type { VerifyResult } from '../verify/types.js';
import { verifyDir, verifyTarball } from '../verify/verify.js';
import { readEmbeddedLock } from '../verify/embedded-lock.js';
import { readRecord, type ReleaseRecord } from '../layout/release-record.js';
import { fileSha256, verifyRecordSignature } from '../release/record.js';
import { parseLockText } from '../lock/lockfile.js';
import type { Lockfile } from '../model/lock.js';
import { BaseCommand } from './base.js';
import { isLockedLocal } from '../model/kind.js';

/**
 * A line of the verdict. An `ok` line is information (--quiet drops it, as `sha256sum --quiet`
 * drops its OK lines); a finding is output, kept by --quiet.
 */
const verdictLine = (report: Report, ok: boolean, text: string) => (ok ? report.info(text) : report.output(text));

/** The findings. */
function printResult(report: Report, r: VerifyResult): void {
  const line = (ok: boolean, text: string) => verdictLine(report, ok, text);
  for (const c of r.components) {
    const detail = c.status === 'ok' ? '' : c.note ? ` (${c.note})` : '';
    line(c.status === 'ok', `${c.status === 'ok' ? 'ok      ' : c.status.padEnd(8)} ${c.name}  ${c.prefix}${detail}`);
    for (const p of c.modified) report.output(`    modified ${p}`);
    for (const p of c.missing) report.output(`    missing  ${p}`);
    for (const p of c.extra) report.output(`    extra    ${p}`);
  }
  for (const g of r.generated ?? [])
    if (g.status !== 'ok')
      report.output(
        `${g.status.padEnd(8)} ${g.path}  (xenrel's own file${g.note ? `: ${g.note}` : ', regenerated from the lock'})`,
      );
  for (const c of r.project?.against ?? []) {
    line(c.ok, `${c.ok ? 'ok      ' : 'modified'} project files (${r.project!.files}) against ${c.source}`);
    for (const p of c.modified) report.output(`    modified ${p}`);
    for (const p of c.missing) report.output(`    missing  ${p}`);
    for (const p of c.extra) report.output(`    extra    ${p}`);
  }
  for (const f of r.unsafe) report.output(`unsafe   ${f.code}: ${f.message}`);
  for (const p of r.problems) report.output(`problem  ${p}`);
  if (r.buildProducts?.length)
    report.info(
      `${r.buildProducts.length} absolute link(s) into the tree itself, made by the build (e.g. ${r.buildProducts[0]}): build products, not vendored content`,
    );
  if (r.tree.expected)
    line(
      r.tree.ok === true,
      `${r.tree.ok ? 'ok      ' : 'modified'} whole tree ${r.tree.actual}${r.tree.ok ? '' : ` (expected ${r.tree.expected})`}`,
    );
}

export class VerifyCommand extends BaseCommand {
  static override paths = [['verify']];
  static override usage = Command.Usage({
    description: 'Verify a release tarball or a vendored tree against its lock, offline or against upstream',
    details: `
      Streams the tarball once, without extracting it, recomputes the tree hash of every
      component and of the whole, and names each missing, extra or modified file under its
      component. Unsafe entries (\`..\`, absolute paths, links leaving the tree, devices, setuid
      bits, duplicates, oversize) are reported, never followed. Exit 1 on any finding.

      By default the expectations are the tarball's own \`.xenrel/release.json\` and
      \`xenrel.lock\`: that proves only that the tarball is self-consistent. \`--lock FILE\`
      checks every component against a lockfile you obtained independently and regenerates
      xenrel's own files (shim, \`.config\` block, release.json, lock copies) from it, byte for
      byte. \`--record NAME.release.json\` (published beside the tarball, its sha256 in
      SHA256SUMS, optionally signed: \`--record-key KEY\` checks \`NAME.release.json.asc\`)
      anchors the project's own files, the lock and the SBOM. \`--upstream\` also re-fetches every
      pin, and the project's commit (from \`--project-repo URL\` or the record), into a
      temporary cache and compares: the packager's proof that the tarball is what upstream
      published. A tarball component whose config sets \`upstreamGit: {url, tag}\` is also
      compared with \`git archive\` of that tag (run in the project, or with \`--config\`).
      Each extra, missing or changed file is named.

      \`--provenance NAME.tar.gz.intoto.jsonl\` (written by \`release\`) also checks the SLSA
      provenance: its subject must be this tarball's sha256, its dependencies exactly the lock's
      pins (the lock inside, or \`--lock\`), its project commit release.json's. A signed one
      (a DSSE envelope) needs \`--key KEY\` and must be signed by exactly that key: an OpenPGP
      public key file or fingerprint, or an OpenSSH public key file; with \`--key\`, an unsigned
      provenance fails.

      A folder argument verifies a vendored tree the same way.
    `,
    examples: [
      ['Verify a release tarball offline', '$0 verify xen-4.22.0.tar.gz'],
      ["Against the lockfile from the project's git", '$0 verify xen-4.22.0.tar.gz --lock xenrel.lock'],
      [
        'Every byte, against the published record',
        '$0 verify xen-4.22.0.tar.gz --record xen-4.22.0.release.json --lock xenrel.lock',
      ],
      [
        'Against upstream, for machines',
        '$0 verify xen-4.22.0.tar.gz --upstream --project-repo https://xenbits.xen.org/git-http/xen.git --json',
      ],
      [
        'With its signed provenance',
        '$0 verify xen-4.22.0.tar.gz --provenance xen-4.22.0.tar.gz.intoto.jsonl --key release-key.asc',
      ],
      ['A vendored Xen tree', '$0 verify .'],
    ],
  });

  target = Option.String({ name: 'TARBALL|DIR' });
  lock = Option.String('--lock', { description: 'Verify against this lockfile instead of the one inside' });
  without = Option.Array('--without', [], {
    description: 'With --lock: a component the release left out (`release --without`; repeatable)',
  });
  upstream = Option.Boolean('--upstream', false, {
    description: 'Also re-fetch every pin from upstream into a temporary cache and compare',
  });
  record = Option.String('--record', {
    description:
      'The release record published beside the tarball (NAME.release.json): anchors the project files, the lock and the SBOM',
  });
  recordKey = Option.String('--record-key', {
    description: 'OpenPGP public key file: require NAME.release.json.asc, signed by it',
  });
  projectRepo = Option.String('--project-repo', {
    description: "With --upstream: the git URL of the project itself (default: the record's repository)",
  });
  provenance = Option.String('--provenance', {
    description: 'The SLSA provenance (NAME.intoto.jsonl): check it names this tarball and the lock',
  });
  key = Option.String('--key', {
    description:
      'With --provenance: require a signature by this key (OpenPGP key file or fingerprint, OpenSSH public key file)',
  });
  portable = Option.Boolean('--portable', false, {
    description: 'Also refuse names Windows cannot hold (CON, aux.c, trailing dots)',
  });

  async run(report: Report): Promise<void> {
    const target = resolve(this.cwd, this.target);
    const st = await stat(target).catch(() => undefined);
    if (!st) throw usageError(`${this.target}: no such file or folder`);
    const lock = this.lock ? await requireLock(resolve(this.cwd, this.lock), this.lock) : undefined;
    // What was left out is part of the anchor: the tarball's own WITHOUT list vouches for nothing.
    if (this.without.length && !lock)
      throw usageError('--without needs --lock FILE (a release record names what its release left out)');
    if (this.without.length && this.record)
      throw usageError('--without and --record: the record names what was left out');
    if (lock) assertKnownComponents(this.without, Object.keys(lock.components));
    const record = this.record ? await this.readRecord() : undefined;
    if (!this.record && this.recordKey) throw usageError('--record-key needs --record FILE');
    if (!this.provenance && this.key) throw usageError('--key needs --provenance FILE');
    if (this.provenance && st.isDirectory())
      throw usageError('--provenance applies to a release tarball, not a folder');
    const limits = this.portable ? { portableNames: true } : undefined;
    let result: VerifyResult;
    if (st.isDirectory()) {
      if (record) throw usageError('--record applies to a release tarball, not a folder');
      result = await verifyDir(target, { expect: lock ? expectationsFromLock(lock, this.without) : undefined, limits });
    } else {
      result = await verifyTarball(target, {
        lock,
        without: this.without,
        record,
        limits,
        tarballSha256: record ? await fileSha256(target) : undefined,
        progress: report,
      });
    }
    if (this.upstream && !st.isDirectory())
      result = await this.upstreamProject(report, target, result, { lock, record, limits });
    report.set('verify', result);
    if (result.expectations === 'none')
      report.warn('no lock or release.json inside and no --lock given: only entry safety was checked');
    else if (!lock && !record)
      report.info(
        `expectations: the ${result.expectations === 'release.json' ? '.xenrel/release.json' : 'xenrel.lock'} inside ${this.target}, which vouches only for itself (pass --lock FILE and --record NAME.release.json for an independent check)`,
      );
    else if (result.anchors?.project === 'none' && !this.upstream)
      report.warn(
        `the project's own files (${result.project?.files ?? 0}) are not anchored: pass --record NAME.release.json or --upstream`,
      );

    if (this.upstream) {
      const upstreamLock = lock ?? (await readEmbeddedLock(target, st.isDirectory()));
      if (!upstreamLock) throw usageError('--upstream needs a lock: none inside the target, and no --lock given');
      const dir = await mkdtemp(join(tmpdir(), 'xenrel-upstream-'));
      let outcomes: FetchOutcome[] = [];
      // Fetching (undici, cacache, git) loads only when asked for
      const [{ fetchAll }, { Cache }] = await Promise.all([
        import('../fetch/fetch-all.js'),
        import('../content-cache/cache.js'),
      ]);
      try {
        report.info(
          `re-fetching ${Object.keys(upstreamLock.components).length} pins from upstream into a temporary cache`,
        );
        const names = Object.entries(upstreamLock.components)
          .filter(([, c]) => !isLockedLocal(c))
          .map(([n]) => n);
        try {
          outcomes = await fetchAll({ lock: upstreamLock, cache: new Cache(dir), names, progress: report });
        } catch (err) {
          outcomes = ((err as { details?: { outcomes?: FetchOutcome[] } }).details?.outcomes ?? []) as FetchOutcome[];
          if (!outcomes.length) throw err;
        }
        // Tarballs with an upstreamGit cross-reference, against their git tag (the xz-utils lesson).
        const { checkTarballsAgainstGit } = await import('./verify-tarball-git.js');
        const failedNames = new Set(outcomes.filter((o) => o.status === 'failed').map((o) => o.name));
        const againstGit = await checkTarballsAgainstGit(report, {
          cwd: this.cwd,
          config: this.config,
          lock: upstreamLock,
          cache: new Cache(dir),
          skip: failedNames,
        });
        if (againstGit.length) report.set('tarballAgainstGit', againstGit);
        if (againstGit.some((c) => !c.ok)) report.failWith(ExitCode.checkFailed);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      report.set('upstream', outcomes);
      printResult(report, result);
      for (const o of outcomes)
        verdictLine(
          report,
          o.status !== 'failed',
          `${o.status === 'failed' ? 'MISMATCH' : 'upstream'} ${o.name}${o.error ? `: ${o.error.message}` : ': same content as the lock'}`,
        );
      const failed = outcomes.filter((o) => o.status === 'failed');
      if (failed.length)
        report.failWith(
          failed.some(
            (f) =>
              f.error?.exitCode === ExitCode.checkFailed ||
              /INTEGRITY|SIZE_MISMATCH|TREE_MISMATCH/.test(f.error?.code ?? ''),
          )
            ? ExitCode.checkFailed
            : ExitCode.fetch,
        );
    }
    if (!this.upstream) printResult(report, result);
    if (this.provenance) await this.checkProvenance(report, target, result, lock);
    if (!result.ok) report.failWith(ExitCode.checkFailed);
    if (report.exitCode === ExitCode.ok && result.expectations === 'none')
      report.info(
        `${this.target}: safe to extract (${result.files} files), but NOT verified: nothing says what it should hold (no lock or release.json inside, no --lock)`,
      );
    else if (report.exitCode === ExitCode.ok)
      report.info(`${this.target}: verified (${result.files} files${this.upstream ? ', matches upstream' : ''})`);
    else report.info(`${this.target}: does NOT verify (exit ${report.exitCode})`);
  }

  /** The provenance against this tarball, the lock it was checked with, and release.json's project. */
  private async checkProvenance(report: Report, target: string, result: VerifyResult, given?: Lockfile): Promise<void> {
    const lock = given ?? (await readEmbeddedLock(target, false));
    if (!lock) throw usageError('--provenance needs a lock: none inside the tarball, and no --lock given');
    const { verifyProvenance } = await import('../provenance/verify-provenance.js');
    const check = await verifyProvenance({
      file: resolve(this.cwd, this.provenance!),
      display: this.provenance,
      tarballSha256: await fileSha256(target),
      lock,
      project: { commit: result.project?.commit, tree: result.project?.tree },
      key: this.key,
    });
    report.set('provenance', { ok: check.ok, signed: check.signed, signer: check.signer, problems: check.problems });
    for (const p of check.problems) report.output(p);
    if (!check.ok) return report.failWith(ExitCode.checkFailed);
    report.info(`ok       provenance ${this.provenance}${check.signer ? ` (signed by ${check.signer})` : ''}`);
  }

  private async readRecord(): Promise<ReleaseRecord> {
    const file = resolve(this.cwd, this.record!);
    if (this.recordKey) await verifyRecordSignature(file, resolve(this.cwd, this.recordKey));
    return readRecord(file, this.record);
  }

  /**
   * The project's own files against its commit re-fetched from upstream. The lock committed
   * there anchors the lock too: without --lock, the tarball is checked again against it.
   */
  private async upstreamProject(
    report: Report,
    target: string,
    result: VerifyResult,
    o: { lock?: Lockfile; record?: ReleaseRecord; limits?: { portableNames: boolean } },
  ): Promise<VerifyResult> {
    const url = this.projectRepo ?? o.record?.project.repository;
    const commit = o.record?.project.commit ?? result.project?.commit;
    if (!url || !commit) {
      report.warn(
        `the project's own files were not compared with upstream: ${!url ? 'pass --project-repo URL (or a --record naming the repository)' : 'no commit is known for them (the release was cut from a folder or with uncommitted changes)'}`,
      );
      return result;
    }
    const dir = await mkdtemp(join(tmpdir(), 'xenrel-upstream-project-'));
    try {
      report.info(`re-fetching the project from ${url} at ${commit}`);
      const embedded = o.lock ?? (await readEmbeddedLock(target, false));
      const [{ upstreamProject }, { Cache }] = await Promise.all([
        import('../verify/upstream-project.js'),
        import('../content-cache/cache.js'),
      ]);
      const up = await upstreamProject(
        url,
        commit,
        embedded ?? { lockfileVersion: 1, name: '-', components: {} },
        new Cache(dir),
      );
      const source = `${url} @ ${commit}`;
      let committed: Lockfile | undefined;
      const problems: string[] = [];
      if (up.lockText === undefined)
        problems.push(`${source} has no xenrel.lock: the lock is not anchored by the project's commit`);
      else {
        try {
          committed = parseLockText(up.lockText, `${source}:xenrel.lock`);
        } catch (err) {
          problems.push((err as Error).message);
        }
      }
      if (committed && !o.lock && !result.anchors)
        result = await verifyTarball(target, {
          lock: committed,
          record: o.record,
          limits: o.limits,
          tarballSha256: o.record ? await fileSha256(target) : undefined,
        });
      else if (committed && lockDigest(committed) !== lockDigest(o.lock ?? embedded!))
        problems.push(`the lock committed at ${commit} differs from the lock the tarball was checked against`);
      compareProject(result, up.entries, 'upstream', source);
      if (problems.length) {
        result.problems.push(...problems);
        result.ok = false;
      }
      return result;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
