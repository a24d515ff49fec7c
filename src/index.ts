/**
 * xenrel as a library: every pipeline stage is a function first, a CLI command second.
 * manifest → lock → fetch → vendor → release → verify.
 */
export * from './types.js';
export { XenrelError, ExitCode } from './errors.js';
export { loadManifest, parseManifestText, ConfigError } from './manifest/load.js';
export { findConfig } from './manifest/find-config.js';
export { readLock, requireLock, writeLock, parseLockText, serializeLock, LOCKFILE_NAME } from './lock/lockfile.js';
export { lockProject, checkLock } from './lock/resolve.js';
export { diffLocks, formatChanges } from './lock/diff.js';
export { fetchAll } from './fetch/fetch-all.js';
export { Cache, defaultCacheDir } from './content-cache/cache.js';
export { treeHash, diffEntries } from './tree/hash.js';
export { hashDir, walkTree } from './tree/walk.js';
export { fetchTarball } from './sources/tarball.js';
export { lockGit, fetchGit, exportTree, gitTreeEntries } from './sources/git.js';
export { hashTarball, readTar } from './archive/reader.js';
export { safeExtract } from './archive/extract.js';
export { writeArchive } from './archive/write-archive.js';
export { verifyTarball, verifyDir } from './verify/verify.js';
export { vendor, vendorCheck, clean } from './vendoring/vendor.js';
export { generateSbom, renderSbom, sbomEpoch, type SbomFormat } from './sbom/sbom.js';
export { collectInventory, type SbomInventory, type SbomItem } from './sbom/inventory.js';
export { toSpdx } from './sbom/spdx.js';
export { toCycloneDx } from './sbom/cyclonedx.js';
export { diffReleases, formatShortLogs, type LockDiff, type ShortLog } from './lock/changelog.js';
export { exportDebian } from './export/debian.js';
export { exportFedora } from './export/fedora.js';
export { exportYocto, yoctoFragment } from './export/yocto.js';
export { exportBuildroot } from './export/buildroot.js';
