import type { ComponentSpec } from '../model/config.js';
import { kindOf, type ComponentKind } from '../model/kind.js';
import type { LockedComponent } from '../model/lock.js';
import { git } from './git.js';
import type { ComponentDescription, KindOps } from './kind.js';
import { local } from './local.js';
import { tarball } from './tarball.js';

// Each implementation takes its own entry type (KindOps' methods accept it bivariantly);
// kindOf picks the one that matches, so each only ever sees its own kind.
const OPS: Record<ComponentKind, KindOps> = { git, tarball, local };

/** The implementation for a lock entry's kind. */
export const opsFor = (c: LockedComponent): KindOps => OPS[kindOf(c)];

/** The implementation for a config component's kind. */
export const specOps = (spec: ComponentSpec): KindOps => OPS[kindOf(spec)];

/** Origin, version and digest of a lock entry, whatever its kind. */
export const describeComponent = (c: LockedComponent): ComponentDescription => opsFor(c).describe(c);

export type { ComponentDescription, DigestAlgorithm, Drift, Fetched, KindOps, SourceContext } from './kind.js';
