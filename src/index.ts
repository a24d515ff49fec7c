/**
 * xenrel as a library: every pipeline stage is a function first, a CLI command second.
 * init → plan → lock → fetch → vendor → release → verify, and the tools around them
 * (status, bump, diff, sbom, export, mirror). Every name is listed: nothing leaks by `export *`.
 */

// The data model: config, lock, progress. Config and lock types are inferred from their schemas.
export type {
  ComponentConfigure,
  ComponentLimits,
  ComponentSpec,
  Config,
  Manifest,
  UpstreamGit,
} from './model/config.js';
export type {
  LockedChild,
  LockedChildFile,
  LockedChildGit,
  LockedComponent,
  LockedGit,
  LockedLocal,
  LockedPatch,
  LockedTarball,
  Lockfile,
} from './model/lock.js';
export {
  isLockedGit,
  isLockedLocal,
  isLockedTarball,
  kindOf,
  lockedIntegrity,
  vendoredTreeOf,
  type ComponentKind,
} from './model/kind.js';
export type { FieldChange, ProgressSink } from './types.js';
export { ExitCode, XenrelError } from './errors.js';

// Config
export {
  ConfigError,
  loadConfig,
  loadManifest,
  parseConfigText,
  parseManifestText,
  type LoadedConfig,
  type LoadedManifest,
} from './config/load.js';
export { findConfig } from './config/find-config.js';

// init and plan: what a Xen tree pins and downloads
export { readXenTree, renderConfigYaml, renderManifestYaml, type TreeReading } from './xen/init.js';
export { planBuild, type BuildPlan, type PlanOptions } from './xen/plan.js';

// lock
export { LOCKFILE_NAME, parseLockText, readLock, requireLock, serializeLock, writeLock } from './lock/lockfile.js';
export { checkLock, lockProject, type LockOptions, type LockResult } from './lock/resolve.js';
export { diffLocks, formatChanges, type ComponentChange } from './lock/diff.js';
export { diffReleases, formatShortLogs, type LockDiff, type ShortLog } from './lock/changelog.js';

// fetch and the verified cache
export { fetchAll, type FetchOptions, type FetchOutcome } from './fetch/fetch-all.js';
export { Cache, defaultCacheDir } from './content-cache/cache.js';
export { fetchTarball } from './sources/tarball.js';
export { exportTree, gitTreeEntries } from './sources/git/tree.js';
export { fetchGit, lockGit } from './sources/git/source.js';

// vendor
export { clean, vendor, vendorCheck, type VendorOptions, type VendorResult } from './vendoring/vendor.js';

// release and verify
export { release, type ReleaseOptions, type ReleaseResult } from './release/release.js';
export { verifyDir, verifyTarball } from './verify/verify.js';
export type { VerifyOptions, VerifyResult } from './verify/types.js';
export { reproduceRelease, type ReproduceOptions, type ReproduceResult } from './reproduce/reproduce.js';
export { compareTarballs, describeComparison, type TarballComparison } from './reproduce/compare-tarballs.js';
export { compareTarballWithGit, type TarballGitComparison, type TarballGitOptions } from './verify/tarball-git.js';
export {
  describeTarDifference,
  diffTarStreams,
  type TarDiffOptions,
  type TarDiffResult,
  type TarDifference,
} from './reproduce/tar-diff.js';

// Provenance: SLSA v1 statements beside each tarball, DSSE-signed with gpg or ssh-keygen
export {
  buildProvenance,
  canonicalJson,
  PROVENANCE_SUFFIX,
  resolvedDependencies,
  SLSA_PROVENANCE_V1,
  STATEMENT_TYPE,
  XENREL_BUILD_TYPE,
  XENREL_BUILDER_ID,
  type ExternalParameters,
  type ProvenanceInput,
  type ProvenanceStatement,
  type ResourceDescriptor,
} from './provenance/statement.js';
export { envelope, INTOTO_PAYLOAD_TYPE, pae, type DsseEnvelope, type DsseSignature } from './provenance/dsse.js';
export { signProvenance } from './provenance/sign.js';
export { writeProvenance, type WriteProvenanceOptions } from './provenance/write.js';
export { parseProvenance, type ParsedProvenance } from './provenance/parse.js';
export {
  verifyProvenance,
  type ProvenanceCheck,
  type VerifyProvenanceOptions,
} from './provenance/verify-provenance.js';

// status and bump
export { upstreamStatus, type UpstreamOptions, type UpstreamStatus } from './upstream/check.js';
export { bump, type BumpOptions, type BumpResult } from './bump/bump.js';

// Tree hashes and archives
export { diffEntries, treeHash, type TreeEntry } from './tree/hash.js';
export { hashDir, walkTree } from './tree/walk.js';
export { hashTarball, readTar } from './archive/reader.js';
export { safeExtract } from './archive/extract.js';
export { writeArchive } from './archive/write-archive.js';

// SBOM, distribution exports, mirror
export { generateSbom, renderSbom, sbomEpoch, type SbomFormat } from './sbom/sbom.js';
export { collectInventory, type SbomInventory, type SbomItem } from './sbom/inventory.js';
export { toSpdx } from './sbom/spdx.js';
export { toCycloneDx } from './sbom/cyclonedx.js';
export { exportDebian } from './export/debian.js';
export { exportFedora } from './export/fedora.js';
export { exportBuildroot } from './export/buildroot.js';
export { exportYocto, yoctoFragment } from './export/yocto.js';
export { exportMirror, type MirrorOptions, type MirrorResult } from './mirror/export.js';
