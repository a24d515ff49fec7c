/**
 * The provenance of a release tarball: an in-toto Statement v1 whose predicate is SLSA
 * Provenance v1, written as one canonical JSON line (`NAME.intoto.jsonl`). Everything in it
 * is derived from the release's inputs — the lock, the project commit and the options that
 * change the output — so two releases of the same inputs write the same bytes: no clock,
 * no host, no paths.
 */
import { describeComponent } from '../components/dispatch.js';
import { isLockedGit, vendoredTreeOf } from '../model/kind.js';
import type { Lockfile } from '../model/lock.js';
import { sortKeys } from '../lock/lockfile.js';
import { treeHashHex } from '../tree/hash.js';
import { sriDigest } from '../util/sri.js';
import { XENREL_VERSION } from '../version.js';

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
/** What `xenrel release` does with the parameters below; documented in the README. */
export const XENREL_BUILD_TYPE = 'https://xenrel.dev/release/v1';
/** xenrel run by whoever cut the release: the trust is in that person (and their signature). */
export const XENREL_BUILDER_ID = 'https://xenrel.dev/builder/local/v1';
/** File name beside the tarball, as slsa-github-generator names its attestations. */
export const PROVENANCE_SUFFIX = '.intoto.jsonl';

export type DigestSet = Record<string, string>;

export interface ResourceDescriptor {
  name?: string;
  uri?: string;
  digest?: DigestSet;
  annotations?: Record<string, unknown>;
}

/** Which part of the release a resolved dependency is (annotation `xenrelRole`). */
export type DependencyRole = 'project' | 'component' | 'nested';

export interface ProvenanceStatement {
  _type: typeof STATEMENT_TYPE;
  subject: ResourceDescriptor[];
  predicateType: typeof SLSA_PROVENANCE_V1;
  predicate: {
    buildDefinition: {
      buildType: string;
      externalParameters: ExternalParameters;
      internalParameters?: Record<string, unknown>;
      resolvedDependencies?: ResourceDescriptor[];
    };
    runDetails: { builder: { id: string; version?: Record<string, string> }; metadata?: Record<string, unknown> };
  };
}

/** The release options that change the tarball's bytes. */
export interface ExternalParameters {
  /** The top directory and file name. */
  prefix: string;
  version: string;
  compression: { format: string; level: number };
  sourceDateEpoch: number;
  /** Components left out (`--without`), sorted. */
  without: string[];
  /** The project's commit, when the release was cut from one (else the project is a folder or dirty). */
  project: { commit?: string; repository?: string };
}

export interface ProvenanceInput {
  /** The tarball's file name and sha256 (hex). */
  tarball: { name: string; sha256: string };
  lock: Lockfile;
  parameters: ExternalParameters;
  /** The project's own files: their tree hash, and the commit when there is one. */
  project: { tree: string; commit?: string; repository?: string };
}

/** `sha512-<base64>` → `{sha512: <hex>}`: the digest the lock pins, in in-toto's spelling. */
export function sriToDigest(sri: string): DigestSet {
  const d = sriDigest(sri);
  return { [d.algorithm]: d.hex };
}

/** `sha256-<base64>` tree hash → hex, for a digest where there is no commit and no file digest. */
const treeDigest = (tree: string): DigestSet => ({ xenrelTree: treeHashHex(tree) });

/** The project, then every placed component and its nested sources: what the lock pins, nothing else. */
export function resolvedDependencies(
  lock: Lockfile,
  project: ProvenanceInput['project'],
  without: string[],
): ResourceDescriptor[] {
  const deps: ResourceDescriptor[] = [
    {
      name: lock.name,
      ...(project.repository ? { uri: `git+${project.repository}` } : {}),
      digest: project.commit ? { gitCommit: project.commit } : treeDigest(project.tree),
      annotations: { xenrelRole: 'project', tree: project.tree },
    },
  ];
  const byName = (a: [string, unknown], b: [string, unknown]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  for (const [name, c] of Object.entries(lock.components).sort(byName)) {
    if (without.includes(name)) continue;
    const tree = vendoredTreeOf(c);
    const annotations: Record<string, unknown> = { xenrelRole: 'component', path: c.path, ...(tree ? { tree } : {}) };
    const d = describeComponent(c);
    // The pin as written, where the URL does not say it: a git ref, a local path.
    const pin = d.kind === 'git' ? { ref: d.version } : d.kind === 'local' ? { local: d.origin } : {};
    // Cited by what identifies its content; where that is only a tree hash (a local folder),
    // by the tree vendor places, as `annotations.tree` names it.
    const digest =
      d.digest && d.digest.algorithm !== 'xenrelTree' ? { [d.digest.algorithm]: d.digest.hex } : treeDigest(tree ?? '');
    deps.push({ name, ...(d.url ? { uri: d.url } : {}), digest, annotations: { ...annotations, ...pin } });
    // Nested sources are git components' own (submodules, meson wraps).
    if (isLockedGit(c))
      for (const [p, child] of Object.entries(c.children ?? {}).sort(byName)) {
        const nested = { xenrelRole: 'nested', tree: child.tree };
        if (child.kind === 'wrap-file')
          deps.push({
            name: `${name}/${p}`,
            uri: child.url,
            digest: sriToDigest(child.integrity),
            annotations: nested,
          });
        else
          deps.push({ name: `${name}/${p}`, uri: child.git, digest: { gitCommit: child.commit }, annotations: nested });
      }
  }
  return deps;
}

export function buildProvenance(input: ProvenanceInput): ProvenanceStatement {
  const p = input.parameters;
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: input.tarball.name, digest: { sha256: input.tarball.sha256 } }],
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: XENREL_BUILD_TYPE,
        externalParameters: { ...p, without: [...p.without].sort() },
        internalParameters: { xenrelVersion: XENREL_VERSION },
        resolvedDependencies: resolvedDependencies(input.lock, input.project, p.without),
      },
      runDetails: { builder: { id: XENREL_BUILDER_ID, version: { xenrel: XENREL_VERSION } } },
    },
  };
}

/** Canonical JSON (keys sorted, no spaces), one line with its newline: the same statement, the same bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

export const renderProvenanceLine = (value: unknown): string => `${canonicalJson(value)}\n`;
