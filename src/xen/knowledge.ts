import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configSchema, type ComponentSpec, type Config } from '../model/config.js';
import { packageRoot } from '../version.js';

/** The default Xen config shipped with xenrel: licenses, groups, paths, configure switches. */
export const XEN_CONFIG_PATH = join(packageRoot, 'config', 'xen.yaml');
/**
 * The same, parsed, as the build writes it: every command that checks a lock reads the
 * knowledge, and JSON spares them the YAML parser.
 */
export const XEN_KNOWLEDGE_JSON = join(packageRoot, 'config', 'xen.json');

let cached: Config | undefined;

export function loadXenKnowledge(): Config {
  cached ??= configSchema.parse(JSON.parse(readFileSync(XEN_KNOWLEDGE_JSON, 'utf8')));
  return cached;
}

/**
 * Components older Xen releases fetch that the 4.22 config does not carry.
 * qemu-xen-traditional was removed in 4.21 (commit 1eb944f650).
 */
export const LEGACY_COMPONENTS: Record<string, ComponentSpec> = {
  'qemu-xen-traditional': {
    git: 'https://xenbits.xen.org/git-http/qemu-xen-traditional.git',
    ref: 'xen-4.19.0',
    path: 'tools/qemu-xen-traditional-dir-remote',
    license: 'GPL-2.0-only',
    vars: ['QEMU_TRADITIONAL_URL', 'QEMU_TRADITIONAL_REVISION', 'QEMU_TRADITIONAL_LOC'],
    groups: ['qemu'],
    description: "Xen's fork of QEMU 0.10 (the old device model, and the ioemu stub domain); Xen 4.20 and older",
    configure: {
      enable: '--enable-qemu-traditional',
      default: false,
      when: 'tools or stubdom configured with --enable-qemu-traditional',
    },
  },
};

/** Every component xenrel knows, by name: the 4.22 config plus legacy ones. */
export function knownComponents(): Record<string, ComponentSpec> {
  return { ...loadXenKnowledge().components, ...LEGACY_COMPONENTS };
}

/** The make variable of `spec` that ends with `suffix` (`_URL`, `_REVISION`, …). */
export function varWithSuffix(spec: ComponentSpec, suffix: string): string | undefined {
  return spec.vars?.find((v) => v.endsWith(suffix) && !v.endsWith(`_TARBALL${suffix}`) && !v.endsWith(`_GIT${suffix}`));
}

/** The stubdom library prefix (`NEWLIB`) of a tarball component, from its `<LIB>_VERSION` var. */
export function stubdomLibOf(spec: ComponentSpec): string | undefined {
  return spec.vars?.find((v) => v.endsWith('_VERSION'))?.slice(0, -'_VERSION'.length);
}
