import { isFullCommit } from '../util/patterns.js';
import type { ComponentSpec, Config } from '../model/config.js';
import type { MakeVar } from './make-eval.js';
import { knownComponents, stubdomLibOf, varWithSuffix } from './knowledge.js';
import type { StubdomLib, XenPins } from './read-pins.js';

/** Where a component's pin came from: the make variables behind its url / ref. */
export interface PinSource {
  /** `url`, `git` or `ref`. */
  field: 'url' | 'git' | 'ref';
  variable: string;
  value: string;
  /** `Config.mk:223`, `.config:3`, `command line`, `environment`. */
  where: string;
}

export interface DerivedComponent {
  name: string;
  spec: ComponentSpec;
  sources: PinSource[];
}

export interface DerivedConfig {
  config: Config;
  components: DerivedComponent[];
  /** Things a person should look at: unknown pins, pins xenrel cannot use as they are. */
  notes: string[];
}

export function whereOf(v: MakeVar): string {
  if (v.file) return `${v.file}:${v.line ?? 0}`;
  return v.origin;
}

/** A local path is what git-checkout.sh accepts too; the config wants a URL. */
function asUrl(value: string): string {
  return value.startsWith('/') ? `file://${value}` : value;
}

function gitComponent(
  name: string,
  known: ComponentSpec,
  pins: XenPins,
  notes: string[],
): DerivedComponent | undefined {
  const urlVar = varWithSuffix(known, '_URL');
  const revVar = varWithSuffix(known, '_REVISION');
  const url = urlVar ? pins.vars[urlVar] : undefined;
  if (!urlVar || !revVar || !url?.value) return undefined;
  const rev = pins.vars[revVar];
  const sources: PinSource[] = [{ field: 'git', variable: urlVar, value: url.value, where: whereOf(url) }];
  let ref = rev?.value ?? '';
  if (rev) sources.push({ field: 'ref', variable: revVar, value: rev.value, where: whereOf(rev) });
  if (!ref) {
    // git-checkout.sh skips the checkout when the revision is empty: the remote's default branch.
    notes.push(
      `${name}: ${revVar} is empty, so Xen builds the default branch of ${url.value}; pinned as HEAD (it floats)`,
    );
    ref = 'HEAD';
  } else if (!isFullCommit(ref) && !/\d/.test(ref)) {
    notes.push(
      `${name}: ${revVar} is "${ref}", which looks like a branch; lock resolves it to a commit, but it floats`,
    );
  }
  const locVar = varWithSuffix(known, '_LOC');
  const loc = locVar ? pins.vars[locVar] : undefined;
  if (loc?.value && loc.value !== url.value)
    notes.push(`${name}: ${locVar} is ${loc.value}, so the build uses that instead of cloning ${url.value}`);
  return { name, spec: { ...known, git: asUrl(url.value), ref }, sources };
}

function ipxeComponent(name: string, known: ComponentSpec, pins: XenPins): DerivedComponent | undefined {
  const v = pins.vars.IPXE_TARBALL_URL;
  if (!v?.value) return undefined;
  const sources: PinSource[] = [{ field: 'url', variable: 'IPXE_TARBALL_URL', value: v.value, where: whereOf(v) }];
  const tag = pins.vars.IPXE_GIT_TAG;
  if (tag) sources.push({ field: 'ref', variable: 'IPXE_GIT_TAG', value: tag.value, where: whereOf(tag) });
  return { name, spec: { ...known, url: asUrl(v.value) }, sources };
}

function stubdomComponent(
  name: string,
  known: ComponentSpec | undefined,
  lib: StubdomLib,
  pins: XenPins,
): DerivedComponent {
  const spec: ComponentSpec = {
    ...(known ?? {
      groups: ['stubdom'],
      description: `${lib.description} for stub domains`,
      vars: [`${lib.lib}_URL`, `${lib.lib}_VERSION`],
    }),
    url: asUrl(lib.fileUrl!),
    path: `stubdom/${lib.file}`,
  };
  const sources: PinSource[] = [];
  const u = pins.vars[`${lib.lib}_URL`];
  if (u) sources.push({ field: 'url', variable: `${lib.lib}_URL`, value: u.value, where: whereOf(u) });
  const ver = pins.vars[`${lib.lib}_VERSION`];
  if (ver) sources.push({ field: 'url', variable: `${lib.lib}_VERSION`, value: ver.value, where: whereOf(ver) });
  return { name, spec, sources };
}

/**
 * The config for this tree: its pins, with license, groups, path and configure switches
 * from xenrel's Xen knowledge (config/xen.yaml). A component the tree does not pin (GRUB
 * legacy on a tree that dropped pv-grub, qemu-xen-traditional after 4.20) is left out; grub2
 * is not a Xen pin at all and is kept as xenrel ships it.
 */
export function pinsToConfig(pins: XenPins): DerivedConfig {
  const known = knownComponents();
  const notes: string[] = [];
  const out: DerivedComponent[] = [];
  const usedLibs = new Set<string>();
  for (const [name, spec] of Object.entries(known)) {
    if (spec.git && spec.vars?.length) {
      const d = gitComponent(name, spec, pins, notes);
      if (d) out.push(d);
    } else if (spec.url && spec.vars?.includes('IPXE_TARBALL_URL')) {
      const d = ipxeComponent(name, spec, pins);
      if (d) out.push(d);
    } else if (spec.url && stubdomLibOf(spec)) {
      const libName = stubdomLibOf(spec)!;
      const lib = pins.stubdom.libs.find((l) => l.lib === libName);
      if (lib?.file && lib.fileUrl) {
        out.push(stubdomComponent(name, spec, lib, pins));
        usedLibs.add(libName);
      } else if (lib)
        notes.push(
          `${name}: stubdom/configure.ac declares ${libName} but no $(FETCHER) rule in stubdom/Makefile fetches it; left out`,
        );
    } else if (!spec.vars?.length) {
      out.push({ name, spec, sources: [] });
    }
  }
  for (const lib of pins.stubdom.libs) {
    if (usedLibs.has(lib.lib) || !lib.file || !lib.fileUrl) continue;
    const name = lib.file
      .replace(/-[0-9][^-]*(-gpl)?\.(tar\.gz|tar\.bz2|tar\.xz|tgz|tbz2)$/, '')
      .toLowerCase()
      .replace(/[^a-z0-9._-]/g, '-');
    out.push(stubdomComponent(name, undefined, lib, pins));
    notes.push(
      `${name}: stubdom library ${lib.lib} is not one xenrel knows; added from ${lib.rule?.file}:${lib.rule?.line} without a license — fill it in`,
    );
  }
  // Pins a fork added in Config.mk that xenrel has no component for.
  const knownVars = new Set(Object.values(known).flatMap((s) => s.vars ?? []));
  for (const v of Object.values(pins.vars))
    if (/_UPSTREAM_(URL|REVISION)$/.test(v.name) && !knownVars.has(v.name))
      notes.push(
        `${v.name} (${whereOf(v)}) = ${v.value} is not a variable of any component xenrel knows; add a component for it by hand`,
      );

  const config: Config = { version: 1, name: 'xen', mirrors: [], components: {} };
  for (const d of out) config.components[d.name] = d.spec;
  return { config, components: out, notes };
}
